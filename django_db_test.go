package session

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/django"
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/mysql"
)

// djangoDB opens the django_session table of the test database, made by
// Django's own migration (scripts/django.sh runs it), and returns it with
// the DSN.
func djangoDB(t *testing.T) (*mysql.DjangoStore, string) {
	t.Helper()
	dsn := testenv.MySQLDSN(t)
	testenv.DjangoPython(t)
	st, err := mysql.OpenDjango(dsn, mysql.Config{})
	if err != nil {
		t.Fatalf("%v\n(scripts/django.sh runs Django's migrations on %s: source it and run django_setup)", err, testenv.MySQLDSNVar)
	}
	t.Cleanup(func() { st.Close() })
	return st, dsn
}

// startDjangoDBSite runs the Django site with Django's db engine on the
// test database; env adds or overrides its variables.
func startDjangoDBSite(t *testing.T, dsn string, env ...string) string {
	t.Helper()
	return startDjangoSite(t, append([]string{"DJANGO_SESSION_ENGINE=" + string(DjangoDB), "DJANGO_DB_DSN=" + dsn}, env...)...)
}

// djangoVersion returns the major and minor version of the Django site.
func djangoVersion(t *testing.T, site string) (major, minor int) {
	t.Helper()
	resp, err := http.Get(site + "/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	v, _ := io.ReadAll(resp.Body)
	if _, err := fmt.Sscanf(string(v), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("Django version %q: %v", v, err)
	}
	return major, minor
}

// row reads the row of key in Django's table as it is, expired or not.
func row(t *testing.T, st *mysql.DjangoStore, key string) (data string, expires time.Time, ok bool) {
	t.Helper()
	err := st.DB().QueryRowContext(context.Background(), "SELECT session_data, expire_date FROM django_session WHERE BINARY session_key = ?", key).Scan(&data, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return data, expires, true
}

func sqlExec(t *testing.T, st *mysql.DjangoStore, query string, args ...any) {
	t.Helper()
	if _, err := st.DB().ExecContext(context.Background(), query, args...); err != nil {
		t.Fatal(err)
	}
}

// typedValues are what Go sets in a session for Django to read, and
// djangoTyped how Django's json.dumps writes them back (keys sorted).
var (
	typedValues = map[string]any{
		"big":    new(big.Int).Lsh(big.NewInt(1), 70),
		"max":    int64(math.MaxInt64),
		"min":    int64(math.MinInt64),
		"f":      0.1,
		"e":      1e16,
		"tiny":   5e-324,
		"neg0":   math.Copysign(0, -1),
		"text":   "h\u00e9llo \U0001F600 \u65e5\u672c \"q\"",
		"nested": map[string]any{"cart": []any{map[string]any{"sku": "A-1", "qty": int64(2)}}, "flags": map[string]any{"beta": true, "gamma": nil}},
	}
	djangoTyped = []string{`"big":1180591620717411303424,`, `"e":1e+16,"f":0.1,`, `"max":9223372036854775807,"min":-9223372036854775808,"neg0":-0.0,"nested":{"cart":[{"qty":2,"sku":"A-1"}],"flags":{"beta":true,"gamma":null}},`, `"text":"h\u00e9llo \ud83d\ude00 \u65e5\u672c \"q\"","tiny":5e-324}`}
)

// dbHandlers are the Go site's handlers beyond goSite's for the db
// engine's tests; dj is the Django site.
func dbHandlers(t *testing.T, dj string) func(*http.ServeMux) {
	return func(mux *http.ServeMux) {
		mux.HandleFunc("POST /typed", func(w http.ResponseWriter, r *http.Request) {
			FromRequest(r).Update(typedValues)
		})
		mux.HandleFunc("GET /expiry", func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			json.NewEncoder(w).Encode(map[string]any{"age": int64(s.ExpiryAge() / time.Second), "key": s.Key(), "id": s.ID()})
		})
		mux.HandleFunc("POST /expire", func(w http.ResponseWriter, r *http.Request) {
			var n int64
			fmt.Sscan(r.URL.Query().Get("seconds"), &n)
			FromRequest(r).SetExpiry(time.Duration(n) * time.Second)
		})
		// race reads the session, has Django flush it (a logout in a
		// concurrent request), then changes it if ?modify=1.
		mux.HandleFunc("POST /race", func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			s.Get("x")
			c, _ := r.Cookie("sessionid")
			req, _ := http.NewRequest("POST", dj+"/flush", nil)
			req.AddCookie(c)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if r.URL.Query().Get("modify") == "1" {
				s.Set("late", true)
			}
		})
	}
}

// TestDjangoDBShare runs a Go site beside a real Django site that uses
// Django's db engine on the same MariaDB table, one session cookie for
// both: each reads what the other writes, logins and logouts hold on both
// sides, and a tampered, an expired and a concurrently deleted row are
// what Django says they are.
func TestDjangoDBShare(t *testing.T) {
	st, dsn := djangoDB(t)
	dj := startDjangoDBSite(t, dsn)
	m, logs := mwManager(t, Config{Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare, Store: st}})
	gs := goSite(t, m, dbHandlers(t, dj))
	b := newBrowser(t)

	// Django writes, Go reads.
	b.do("POST", dj+"/set", `{"text":"caf\u00e9 \ud83d\ude00","cart":[{"sku":"A-1","qty":2}],"big":123456789012345678901234567890,"ratio":0.1,"huge":1e300,"note":"`+strings.Repeat("compress me ", 60)+`"}`)
	key := b.cookie(dj)
	if !django.IsKey(key) {
		t.Fatalf("Django's cookie %q is not a db session key", key)
	}
	data, expires, ok := row(t, st, key)
	if !ok || !strings.HasPrefix(data, ".") {
		t.Fatalf("Django's row for %s: %q (want compressed session_data)", key, data)
	}
	// expire_date is naive UTC: two weeks from now in UTC, although
	// Django's TIME_ZONE is Europe/Paris.
	if d := time.Until(expires) - DefaultCookieAge; d > 5*time.Second || d < -time.Minute {
		t.Errorf("expire_date %s is not two weeks from now in UTC (off by %s)", expires, d)
	}
	got := b.do("GET", gs+"/get", "")
	for _, want := range []string{`"text":"café 😀"`, `"cart":[{"qty":2,"sku":"A-1"}]`, `"big":123456789012345678901234567890`, `"ratio":0.1`, `"huge":1e+300`, "compress me compress me"} {
		if !strings.Contains(got, want) {
			t.Errorf("Go read %s; want it to hold %s", got, want)
		}
	}
	var ex struct {
		Age int64
		Key string
		ID  string
	}
	json.Unmarshal([]byte(b.do("GET", gs+"/expiry", "")), &ex)
	if ex.Key != key || ex.Age != int64(DefaultCookieAge/time.Second) {
		t.Errorf("Go's view of Django's session: %+v", ex)
	}
	id := ex.ID
	json.Unmarshal([]byte(b.do("GET", gs+"/expiry", "")), &ex)
	if ex.ID != id || id == "" {
		t.Errorf("ID() changes between requests: %q, then %q", id, ex.ID)
	}
	if b.cookie(gs) != key {
		t.Errorf("reading changed the cookie")
	}

	// Go writes, Django reads, under the same key.
	b.do("POST", gs+"/typed", "")
	if b.cookie(gs) != key {
		t.Fatalf("Go's save moved the session from %s to %s", key, b.cookie(gs))
	}
	got = b.do("GET", dj+"/get", "")
	for _, want := range append(djangoTyped, `"cart":[{"qty":2,"sku":"A-1"}]`, `"huge":1e+300`) {
		if !strings.Contains(got, want) {
			t.Errorf("Django read\n  %s\nwant it to hold\n  %s", got, want)
		}
	}
	// Expiry set in Go is Django's too.
	b.do("POST", gs+"/expire?seconds=3600", "")
	if _, expires, _ := row(t, st, key); time.Until(expires) > time.Hour || time.Until(expires) < time.Hour-time.Minute {
		t.Errorf("after SetExpiry(1h) in Go, expire_date is %s", expires)
	}
	if got := b.do("GET", dj+"/expiry", ""); !strings.Contains(got, `"age":3600`) {
		t.Errorf("Django's expiry after SetExpiry(1h) in Go: %s", got)
	}

	// A login in Django (django.contrib.auth, a real user) holds in Go,
	// and the other way round.
	pw := url.QueryEscape(djangoPassword)
	b.do("POST", dj+"/login", `{"id":42,"password":"`+djangoPassword+`"}`)
	if k := b.cookie(dj); k == key || !django.IsKey(k) {
		t.Errorf("Django's login kept the key %s", k)
	} else if _, _, ok := row(t, st, key); ok {
		t.Errorf("Django's login left the row of the old key")
	}
	if got := b.do("GET", gs+"/whoami?password="+pw, ""); !strings.Contains(got, `"user":"42"`) {
		t.Errorf("after a Django login Go says %s", got)
	}
	b.do("POST", dj+"/user", `{"id":7,"password":"`+djangoPassword+`"}`)
	before := b.cookie(gs)
	b.do("POST", gs+"/login?password="+pw, "")
	if k := b.cookie(gs); k == before || !django.IsKey(k) {
		t.Errorf("Go's login (CycleKey) kept the key %s", k)
	} else if _, _, ok := row(t, st, before); ok {
		t.Errorf("Go's login left the row of the old key")
	}
	if got := b.do("GET", dj+"/whoami", ""); !strings.Contains(got, `"user":"7"`) {
		t.Errorf("after a Go login Django says %s", got)
	}
	// The password changes in Django: nobody on both sides, and Django's
	// get_user flushes the session.
	const newPassword = "pbkdf2_sha256$260000$djangoharnesssalt1$a-new-hash-after-a-password-change="
	b.do("POST", dj+"/user", `{"id":7,"password":"`+newPassword+`"}`)
	if got := b.do("GET", gs+"/whoami?password="+url.QueryEscape(newPassword), ""); !strings.Contains(got, `"user":null`) {
		t.Errorf("Go after a password change: %s", got)
	}
	loggedIn := b.cookie(gs)
	if got := b.do("GET", dj+"/whoami", ""); !strings.Contains(got, `"user":null`) {
		t.Errorf("Django after a password change: %s", got)
	}
	if _, _, ok := row(t, st, loggedIn); ok {
		t.Errorf("Django's get_user did not flush the session of a changed password")
	}

	// A logout in Go ends the session for Django: the row is gone.
	b.do("POST", dj+"/login", `{"id":42,"password":"`+djangoPassword+`"}`)
	k := b.cookie(dj)
	b.do("POST", gs+"/flush", "")
	if _, _, ok := row(t, st, k); ok {
		t.Errorf("Go's Flush left the row")
	}
	b.setCookie(gs, k)
	if got := b.do("GET", dj+"/whoami", ""); !strings.Contains(got, `"user":null`) {
		t.Errorf("Django after a Go logout: %s", got)
	}

	t.Run("tampered", func(t *testing.T) {
		b := newBrowser(t)
		b.do("POST", gs+"/set", `{"secret":"s3"}`)
		k := b.cookie(gs)
		sqlExec(t, st, "UPDATE django_session SET session_data = CONCAT(LEFT(session_data, LENGTH(session_data) - 3), 'AAA') WHERE session_key = ?", k)
		for _, site := range []string{dj, gs} {
			b.setCookie(gs, k)
			if got := b.do("GET", site+"/get", ""); strings.Contains(got, "s3") {
				t.Errorf("%s read a tampered row: %s", site, got)
			}
		}
		if !strings.Contains(logs.String(), "session data corrupted") {
			t.Errorf("Go did not log the tampered row:\n%s", logs)
		}
		// The client gets a new session, under a new key.
		b.setCookie(gs, k)
		b.do("POST", gs+"/set", `{"new":"value"}`)
		if nk := b.cookie(gs); nk == k || !django.IsKey(nk) {
			t.Errorf("a save after the tampered row kept its key (%q)", nk)
		}
	})

	t.Run("expired", func(t *testing.T) {
		b := newBrowser(t)
		b.do("POST", gs+"/set", `{"old":"value"}`)
		k := b.cookie(gs)
		sqlExec(t, st, "UPDATE django_session SET expire_date = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE session_key = ?", k)
		before, _, _ := row(t, st, k)
		for _, site := range []string{dj, gs} {
			b.setCookie(gs, k)
			if got := b.do("GET", site+"/get", ""); strings.Contains(got, "old") {
				t.Errorf("%s read an expired row: %s", site, got)
			}
		}
		b.setCookie(gs, k)
		b.do("POST", gs+"/set", `{"new":"value"}`)
		if nk := b.cookie(gs); nk == k || !django.IsKey(nk) {
			t.Errorf("a save after the expired row kept its key")
		}
		if after, _, _ := row(t, st, k); after != before {
			t.Errorf("the expired row was written to")
		}
	})

	t.Run("concurrent logout", func(t *testing.T) {
		// Django deletes the row while a Go request that changed the
		// session runs: 400, and the row is not brought back.
		b := newBrowser(t)
		b.do("POST", gs+"/set", `{"x":"1"}`)
		k := b.cookie(gs)
		if code, _ := b.send("POST", gs+"/race?modify=1", ""); code != http.StatusBadRequest {
			t.Errorf("a change to a session Django deleted meanwhile: %d, want 400", code)
		}
		if _, _, ok := row(t, st, k); ok {
			t.Errorf("the row Django deleted is back")
		}
		// Without a change, nothing is written and the request is served.
		b.setCookie(gs, "")
		b.do("POST", gs+"/set", `{"x":"2"}`)
		k = b.cookie(gs)
		if code, _ := b.send("POST", gs+"/race", ""); code != http.StatusOK {
			t.Errorf("reading a session Django deleted meanwhile: %d", code)
		}
		if _, _, ok := row(t, st, k); ok {
			t.Errorf("the row Django deleted is back")
		}
	})

	t.Run("key case", func(t *testing.T) {
		// The column compares keys case-insensitively; Go does not.
		b := newBrowser(t)
		b.do("POST", gs+"/set", `{"mine":"yes"}`)
		b.setCookie(gs, strings.ToUpper(b.cookie(gs)))
		if got := b.do("GET", gs+"/get", ""); strings.Contains(got, "mine") {
			t.Errorf("Go read a session under its key in upper case: %s", got)
		}
	})
}

// TestDjangoDBKeyRotation rotates Django's SECRET_KEY under a Go site
// that shares Django's db sessions with SecretKey new and Fallbacks
// [old]: Go reads rows signed with the old key and re-signs them with the
// new one, so that a Django with only the new key (3.2 has no
// SECRET_KEY_FALLBACKS) reads them; a user whose auth hash was made with
// the old key is logged in again with the new one (what Django 4.1+'s
// get_user does), and Django agrees. With Django 4.1+ Django's own
// SECRET_KEY_FALLBACKS reads the old rows too.
func TestDjangoDBKeyRotation(t *testing.T) {
	st, dsn := djangoDB(t)
	const newSecret = "django-insecure-the-key-after-rotation-0123456789"
	djOld := startDjangoDBSite(t, dsn)
	djNew := startDjangoDBSite(t, dsn, "DJANGO_SECRET_KEY="+newSecret)
	m, _ := mwManager(t, Config{Django: &DjangoConfig{SecretKey: []byte(newSecret), Fallbacks: [][]byte{[]byte(djangoSecret)}, Mode: DjangoShare, Store: st}})
	gs := goSite(t, m, func(mux *http.ServeMux) {
		// whoami with Django 4.1+'s rule: a hash made with a fallback key
		// logs the user in again with the current one.
		mux.HandleFunc("GET /whoami-rotating", func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			u, ok := django.UserOf(s.Values())
			pw := r.URL.Query().Get("password")
			k := django.VerifyUser(u, pw, []byte(newSecret), []byte(djangoSecret))
			if !ok || k < 0 {
				io.WriteString(w, `{"user":null}`)
				return
			}
			if k > 0 {
				s.CycleKey(r.Context())
				s.Update(django.LoginValues([]byte(newSecret), u.ID, pw, u.Backend))
			}
			fmt.Fprintf(w, `{"user":%q,"key":%d}`, u.ID, k)
		})
	})
	b := newBrowser(t)
	b.do("POST", djOld+"/set", `{"cart":["apple"]}`)
	b.do("POST", djOld+"/login", `{"id":42,"password":"`+djangoPassword+`"}`)
	oldKey := b.cookie(djOld)
	oldData, _, _ := row(t, st, oldKey)

	major, minor := djangoVersion(t, djNew)
	if major > 4 || major == 4 && minor >= 1 {
		// Django itself, with the old key as a fallback, reads the row.
		djBoth := startDjangoDBSite(t, dsn, "DJANGO_SECRET_KEY="+newSecret, "DJANGO_SECRET_KEY_FALLBACKS="+djangoSecret)
		if got := b.do("GET", djBoth+"/get", ""); !strings.Contains(got, `"cart":["apple"]`) {
			t.Errorf("Django %d.%d with SECRET_KEY_FALLBACKS read %s", major, minor, got)
		}
	} else if got := b.do("GET", djNew+"/get", ""); strings.Contains(got, "apple") {
		t.Errorf("Django %d.%d read a row signed with another key: %s", major, minor, got)
	}
	b.setCookie(gs, oldKey)

	// Go reads it and, with the user, re-signs it under the new key.
	if got := b.do("GET", gs+"/get", ""); !strings.Contains(got, `"cart":["apple"]`) {
		t.Fatalf("Go with the old key as a fallback read %s", got)
	}
	if data, _, _ := row(t, st, oldKey); data == oldData {
		t.Errorf("Go did not re-sign the row it read with a fallback key")
	}
	if got := b.do("GET", djNew+"/get", ""); !strings.Contains(got, `"cart":["apple"]`) {
		t.Errorf("Django with the new key only, after Go re-signed the row: %s", got)
	}
	if got := b.do("GET", gs+"/whoami-rotating?password="+url.QueryEscape(djangoPassword), ""); !strings.Contains(got, `"user":"42","key":1`) {
		t.Errorf("Go's whoami with the auth hash of the old key: %s", got)
	}
	if got := b.do("GET", djNew+"/whoami", ""); !strings.Contains(got, `"user":"42"`) {
		t.Errorf("Django with the new key after Go logged the user in again: %s", got)
	}
	if b.cookie(gs) == oldKey {
		t.Errorf("logging in again kept the session key")
	}
}

// failingStore is a server.Store whose writes fail while fail is set: a
// store that is down for writes.
type failingStore struct {
	server.Store
	fail bool
}

func (f *failingStore) Create(ctx context.Context, key string, blob []byte, exp time.Time) error {
	if f.fail {
		return errors.New("the store is down for writes")
	}
	return f.Store.Create(ctx, key, blob, exp)
}

// TestDjangoDBMigrate checks the move off Django's db engine: sessions
// Django made in django_session are read by a Manager in migrate mode,
// moved into this package's format and its own table on their next
// response, with their data and expiry, the user logged in throughout;
// the Django row is retired; requests still in flight with the old
// cookie read the session without undoing the move; a move that fails
// is not seen by the user; a concurrent logout is not undone.
func TestDjangoDBMigrate(t *testing.T) {
	st, dsn := djangoDB(t)
	dj := startDjangoDBSite(t, dsn)
	ours, err := mysql.Open(dsn, mysql.Config{Table: testenv.Unique("sessions_migrate_")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ours.DB().Exec("DROP TABLE IF EXISTS `" + ours.Table() + "`, `" + ours.Table() + mysql.UsersSuffix + "`")
		ours.Close()
	})
	if err := ours.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	store := &failingStore{Store: ours}
	m, logs := mwManager(t, Config{Engine: EngineServer, Store: store, Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Store: st}})
	gs := goSite(t, m, dbHandlers(t, dj))
	pw := url.QueryEscape(djangoPassword)
	ourRows := func() (n int) {
		ours.DB().QueryRow("SELECT COUNT(*) FROM `" + ours.Table() + "`").Scan(&n)
		return n
	}

	b := newBrowser(t)
	b.do("POST", dj+"/set", `{"cart":["apple","pear"],"text":"\u65e5\u672c \ud83d\ude00"}`)
	b.do("POST", dj+"/login", `{"id":42,"password":"`+djangoPassword+`"}`)
	b.do("POST", dj+"/expire", `{"seconds":3600}`)
	djangoKey := b.cookie(dj)

	// The move fails (our store is down for writes): the request is
	// served from Django's row and the client keeps its cookie.
	store.fail = true
	if got := b.do("GET", gs+"/whoami?password="+pw, ""); !strings.Contains(got, `"user":"42"`) {
		t.Fatalf("Go in migrate mode, its store down, says %s", got)
	}
	if b.cookie(gs) != djangoKey || ourRows() != 0 {
		t.Fatalf("a failed move changed the cookie (%q) or our table (%d rows)", b.cookie(gs), ourRows())
	}
	if !strings.Contains(logs.String(), "could not rewrite") {
		t.Errorf("the failed move was not logged:\n%s", logs)
	}
	if data, _, _ := row(t, st, djangoKey); strings.Contains(data, movedKey) {
		t.Errorf("a failed move retired the Django row")
	}
	store.fail = false

	// The move: the user is still logged in, the cookie is now ours, our
	// table has the session, Django's row is retired.
	if got := b.do("GET", gs+"/whoami?password="+pw, ""); !strings.Contains(got, `"user":"42"`) {
		t.Fatalf("Go in migrate mode says %s", got)
	}
	if c := b.cookie(gs); len(c) != codec.RefLen || ourRows() != 1 {
		t.Fatalf("the session did not move into our table (cookie %q, %d rows)", c, ourRows())
	}
	if _, expires, ok := row(t, st, djangoKey); !ok || time.Until(expires) > movedGrace {
		t.Errorf("the Django row is not retired: present %v, expires in %s", ok, time.Until(expires))
	}
	got := b.do("GET", gs+"/get", "")
	if !strings.Contains(got, `"cart":["apple","pear"]`) || !strings.Contains(got, `"text":"日本 😀"`) || strings.Contains(got, movedKey) {
		t.Errorf("after the move Go reads %s", got)
	}
	var ex struct{ Age int64 }
	json.Unmarshal([]byte(b.do("GET", gs+"/expiry", "")), &ex)
	if ex.Age != 3600 {
		t.Errorf("after the move the session's expiry age is %d s, want Django's set_expiry(3600)", ex.Age)
	}
	if got := b.do("GET", gs+"/whoami?password="+pw, ""); !strings.Contains(got, `"user":"42"`) {
		t.Errorf("after the move the user is %s", got)
	}

	// A request in flight with the old cookie reads the session, and
	// neither moves it again nor deletes the cookie.
	late := newBrowser(t)
	late.setCookie(gs, djangoKey)
	if got := late.do("GET", gs+"/whoami?password="+pw, ""); !strings.Contains(got, `"user":"42"`) {
		t.Errorf("a request with the old cookie just after the move: %s", got)
	}
	if late.cookie(gs) != djangoKey || ourRows() != 1 {
		t.Errorf("a request with the old cookie moved the session again (cookie %q, %d rows)", late.cookie(gs), ourRows())
	}

	// A logout in Django while Go moves the session: the move is undone.
	b2 := newBrowser(t)
	b2.do("POST", dj+"/login", `{"id":42,"password":"`+djangoPassword+`"}`)
	k := b2.cookie(dj)
	if code, _ := b2.send("POST", gs+"/race", ""); code != http.StatusOK {
		t.Errorf("a move that met a concurrent logout: %d, want the request served", code)
	}
	if b2.cookie(gs) != k || ourRows() != 1 {
		t.Errorf("a move that met a concurrent logout left a session (cookie %q, %d rows)", b2.cookie(gs), ourRows())
	}
	if _, _, ok := row(t, st, k); ok {
		t.Errorf("the row Django deleted is back")
	}
	b2.do("POST", dj+"/login", `{"id":42,"password":"`+djangoPassword+`"}`)
	if code, _ := b2.send("POST", gs+"/race?modify=1", ""); code != http.StatusBadRequest {
		t.Errorf("a change to a session Django deleted while Go moved it: %d, want 400", code)
	}

	// Into the cookie engine: the session moves into the cookie.
	mc, _ := mwManager(t, Config{Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Store: st}})
	gc := goSite(t, mc)
	b3 := newBrowser(t)
	b3.do("POST", dj+"/set", `{"cart":["fig"]}`)
	k = b3.cookie(dj)
	if got := b3.do("GET", gc+"/get", ""); !strings.Contains(got, `"cart":["fig"]`) {
		t.Errorf("the cookie engine in migrate mode read %s", got)
	}
	if c := b3.cookie(gc); c == k || len(c) <= codec.RefLen {
		t.Errorf("the session did not move into the cookie: %q", c)
	}
	if got := b3.do("GET", gc+"/get", ""); !strings.Contains(got, `"cart":["fig"]`) {
		t.Errorf("after the move into the cookie: %s", got)
	}

	// An expired Django row is not read.
	b4 := newBrowser(t)
	b4.do("POST", dj+"/set", `{"stale":"yes"}`)
	sqlExec(t, st, "UPDATE django_session SET expire_date = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE session_key = ?", b4.cookie(dj))
	if got := b4.do("GET", gs+"/get", ""); strings.Contains(got, "stale") {
		t.Errorf("an expired Django row read as %s", got)
	}
}

// nilDjangoStore stands for a django.Store in the checks of Config that
// touch no store.
type nilDjangoStore struct{ django.Store }

// TestDjangoDBConfigRules checks what New refuses of Django's db engines.
func TestDjangoDBConfigRules(t *testing.T) {
	st := nilDjangoStore{}
	secret := []byte(djangoSecret)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"db without a Store", Config{Django: &DjangoConfig{SecretKey: secret, Engine: DjangoDB}}},
		{"cached_db without a Store", Config{Django: &DjangoConfig{SecretKey: secret, Engine: DjangoCachedDB}}},
		{"an unknown engine", Config{Django: &DjangoConfig{SecretKey: secret, Engine: "django.contrib.sessions.backends.cache", Store: st}}},
		{"sharing cached_db", Config{Django: &DjangoConfig{SecretKey: secret, Engine: DjangoCachedDB, Mode: DjangoShare, Store: st}}},
		{"sharing db with the server engine", Config{Engine: EngineServer, Store: server.Store(nil), Django: &DjangoConfig{SecretKey: secret, Mode: DjangoShare, Store: st}}},
		{"sharing db with MaxLifetime", Config{MaxLifetime: time.Hour, Django: &DjangoConfig{SecretKey: secret, Mode: DjangoShare, Store: st}}},
		{"sharing signed_cookies with a Store", Config{Django: &DjangoConfig{SecretKey: secret, Engine: DjangoSignedCookies, Mode: DjangoShare, Store: st}}},
	} {
		tc.cfg.SecretKey = mwSecret
		if _, err := New(tc.cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New = %v, want ErrConfig", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"sharing db", Config{Django: &DjangoConfig{SecretKey: secret, Mode: DjangoShare, Store: st}}},
		{"migrating cached_db", Config{Django: &DjangoConfig{SecretKey: secret, Engine: DjangoCachedDB, Store: st}}},
		{"migrating db and signed cookies", Config{Engine: EngineAuto, Store: noopStore{}, Django: &DjangoConfig{SecretKey: secret, Store: st}}},
	} {
		tc.cfg.SecretKey = mwSecret
		if _, err := New(tc.cfg); err != nil {
			t.Errorf("%s: New = %v", tc.name, err)
		}
	}
}

// noopStore is a server.Store for configurations that are never run.
type noopStore struct{ server.Store }

// TestDjangoDBLegacyFormat checks rows in the format of Django before 3.1,
// which Django 3.2 still reads, and writes with DEFAULT_HASHING_ALGORITHM
// = "sha1": Go reads them and rewrites them in the current format, which
// a Django with the default setting reads.
func TestDjangoDBLegacyFormat(t *testing.T) {
	st, dsn := djangoDB(t)
	djSHA1 := startDjangoDBSite(t, dsn, "DJANGO_DEFAULT_HASHING_ALGORITHM=sha1")
	if major, _ := djangoVersion(t, djSHA1); major >= 4 {
		t.Skipf("Django %d no longer writes (nor reads) the format of Django before 3.1; the run with Debian's 3.2 checks it", major)
	}
	dj := startDjangoDBSite(t, dsn)
	m, _ := mwManager(t, Config{Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare, Store: st}})
	gs := goSite(t, m)
	b := newBrowser(t)
	b.do("POST", djSHA1+"/set", `{"cart":["plum"],"text":"\u00e9t\u00e9"}`)
	key := b.cookie(djSHA1)
	legacy, _, _ := row(t, st, key)
	if strings.Contains(legacy, ":") {
		t.Fatalf("Django with sha1 wrote %q, not the format before 3.1", legacy)
	}
	if got := b.do("GET", gs+"/get", ""); !strings.Contains(got, `"cart":["plum"]`) || !strings.Contains(got, `"text":"été"`) {
		t.Errorf("Go read a row of the format before 3.1 as %s", got)
	}
	if data, _, _ := row(t, st, key); !strings.Contains(data, ":") || b.cookie(gs) != key {
		t.Errorf("Go did not rewrite the row in the current format under its key: %q", data)
	}
	if got := b.do("GET", dj+"/get", ""); !strings.Contains(got, `"cart":["plum"]`) {
		t.Errorf("Django read Go's rewrite as %s", got)
	}
}

// TestDjangoDBShareMovesOtherFormats checks that a Manager sharing
// Django's db sessions moves into Django's table, on their next response,
// the sessions it reads in other formats: Django's signed cookies (a site
// that switched Django from signed_cookies to db) and this package's own
// cookies; Django then reads them.
func TestDjangoDBShareMovesOtherFormats(t *testing.T) {
	st, dsn := djangoDB(t)
	djCookies := startDjangoSite(t)
	djDB := startDjangoDBSite(t, dsn)
	m, _ := mwManager(t, Config{Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare, Store: st}})
	gs := goSite(t, m)

	b := newBrowser(t)
	b.do("POST", djCookies+"/set", `{"from":"signed_cookies"}`)
	b.do("POST", djCookies+"/login", `{"id":42,"password":"`+djangoPassword+`"}`)
	if got := b.do("GET", gs+"/get", ""); !strings.Contains(got, `"from":"signed_cookies"`) {
		t.Fatalf("Go read Django's signed cookie as %s", got)
	}
	key := b.cookie(gs)
	if _, _, ok := row(t, st, key); !django.IsKey(key) || !ok {
		t.Fatalf("Django's signed cookie did not move into django_session: cookie %q", key)
	}
	if got := b.do("GET", djDB+"/get", ""); !strings.Contains(got, `"from":"signed_cookies"`) {
		t.Errorf("Django's db engine read the moved session as %s", got)
	}

	ownCookies, _ := mwManager(t, Config{})
	b2 := newBrowser(t)
	b2.do("POST", goSite(t, ownCookies)+"/set", `{"from":"ours"}`)
	if got := b2.do("GET", gs+"/get", ""); !strings.Contains(got, `"from":"ours"`) {
		t.Fatalf("Go read its own cookie as %s", got)
	}
	if k := b2.cookie(gs); !django.IsKey(k) {
		t.Fatalf("our own cookie did not move into django_session: %q", k)
	}
	if got := b2.do("GET", djDB+"/get", ""); !strings.Contains(got, `"from":"ours"`) {
		t.Errorf("Django's db engine read the moved session as %s", got)
	}
}

// TestDjangoDBShareUsers checks the user index beside Django's db
// sessions: a not-before leaves the sessions Django made to Django (they
// record no creation time); Session.Login binds a session of Django's
// table without rewriting it on every request; a revocation ends it when
// it is next checked, deleting the cookie both sites share.
func TestDjangoDBShareUsers(t *testing.T) {
	st, dsn := djangoDB(t)
	dj := startDjangoDBSite(t, dsn)
	clock := newMwClock()
	clock.t = time.Now()
	registry := memory.New()
	defer registry.Close()
	m, _ := mwManager(t, Config{Now: clock.Now, Registry: registry, NotBefore: time.Now().Add(-time.Minute), Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare, Store: st}})
	gs := goSite(t, m, func(mux *http.ServeMux) {
		mux.HandleFunc("POST /bind", func(w http.ResponseWriter, r *http.Request) {
			if err := FromRequest(r).Login(r.Context(), "ada"); err != nil {
				t.Error(err)
			}
		})
		mux.HandleFunc("GET /id", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, FromRequest(r).ID())
		})
	})
	b := newBrowser(t)
	b.do("POST", dj+"/set", `{"cart":["kiwi"]}`)
	if got := b.do("GET", gs+"/get", ""); !strings.Contains(got, `"cart":["kiwi"]`) {
		t.Fatalf("with a not-before, Go read Django's session as %s", got)
	}

	b.do("POST", gs+"/bind", "")
	key := b.cookie(gs)
	if !django.IsKey(key) {
		t.Fatalf("Login's save: cookie %q", key)
	}
	if got := b.do("GET", dj+"/get", ""); !strings.Contains(got, `"cart":["kiwi"]`) || !strings.Contains(got, `"_session_user":"ada"`) {
		t.Errorf("Django read the session Go logged in as %s", got)
	}
	before, _, _ := row(t, st, key)
	id := b.do("GET", gs+"/id", "")
	if after, _, _ := row(t, st, key); after != before {
		t.Errorf("a request that changed nothing rewrote the row")
	}
	list, err := m.UserSessions(context.Background(), "ada")
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("UserSessions = %+v, %v; want the one session %s", list, err, id)
	}

	if err := m.RevokeUserSessions(context.Background(), "ada", ""); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultRevalidateInterval + time.Second)
	if got := b.do("GET", gs+"/get", ""); got != "{}\n" {
		t.Errorf("a revoked session read as %s", got)
	}
	if c := b.cookie(gs); c != "" {
		t.Errorf("the revoked session's cookie was kept: %q", c)
	}
}

// TestDjangoDBShareMovesABoundSession: a session logged in in this
// package's format (the cookie engine, with a registry), read by a
// Manager that shares Django's db sessions, moves into Django's table
// under a new ID, its key's; its index entry moves with it, so that it is
// listed, as the current session, under the new ID only, and stays logged
// in at the next checks.
func TestDjangoDBShareMovesABoundSession(t *testing.T) {
	st, _ := djangoDB(t)
	clock := newMwClock()
	clock.t = time.Now()
	registry := memory.New()
	defer registry.Close()
	ours, _ := mwManager(t, Config{Now: clock.Now, Registry: registry})
	sharing, _ := mwManager(t, Config{Now: clock.Now, Registry: registry, Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare, Store: st}})
	routes := func(mux *http.ServeMux) {
		mux.HandleFunc("POST /bind", func(w http.ResponseWriter, r *http.Request) {
			if err := FromRequest(r).Login(r.Context(), "bo"); err != nil {
				t.Error(err)
			}
		})
		mux.HandleFunc("GET /who", func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			io.WriteString(w, s.UserID()+" "+s.ID())
		})
	}
	before, after := goSite(t, ours, routes), goSite(t, sharing, routes)
	b := newBrowser(t)
	b.do("POST", before+"/bind", "")
	oldID := strings.Fields(b.do("GET", before+"/who", ""))[1]
	b.setCookie(after, b.cookie(before))
	who := strings.Fields(b.do("GET", after+"/who", ""))
	if len(who) != 2 || who[0] != "bo" {
		t.Fatalf("the sharing site read the session as %q", who)
	}
	if key := b.cookie(after); !django.IsKey(key) {
		t.Fatalf("the sharing site's save: cookie %q, want a key of Django's table", key)
	}
	newID := strings.Fields(b.do("GET", after+"/who", ""))[1]
	if newID == oldID {
		t.Fatal("the session kept its ID in Django's table")
	}
	list, err := sharing.UserSessions(context.Background(), "bo")
	if err != nil || len(list) != 1 || list[0].ID != newID {
		t.Fatalf("UserSessions = %+v, %v; want the one session %s", list, err, newID)
	}
	for range 3 {
		clock.Advance(DefaultRevalidateInterval + time.Second)
		if got := strings.Fields(b.do("GET", after+"/who", "")); len(got) != 2 || got[0] != "bo" {
			t.Fatalf("at a later check the session reads as %q, want still logged in", got)
		}
	}
}

// TestDjangoDBShareCycleKeyRacingRevocation: sharing Django's db
// sessions, a request changes the key of a logged-in session while a
// revocation of the user's sessions completes. A revocation leaves Django's
// rows (an entry names no store key for them), so the key change learns of
// it from the old index entry: it is interrupted, and the session stays
// ended.
func TestDjangoDBShareCycleKeyRacingRevocation(t *testing.T) {
	st, _ := djangoDB(t)
	registry := memory.New()
	defer registry.Close()
	h := newHarness(t, engineCase{name: "django-share"}, func(c *Config) {
		c.Registry = registry
		c.Django = &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare, Store: st}
	})
	d := &device{h: h, ua: "D"}
	d.login("dora")
	if !django.IsKey(d.cookie) {
		t.Fatalf("login: cookie %q, want a key of Django's table", d.cookie)
	}
	old := d.cookie
	ctx, s, commit := d.begin()
	if err := s.CycleKey(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.m.RevokeUserSessions(context.Background(), "dora", ""); err != nil {
		t.Fatal(err)
	}
	if err := commit(); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("saving the key change of a session revoked meanwhile: %v, want ErrInterrupted", err)
	}
	loggedOut(t, h, "dora", old)
}

// TestDjangoDBShareMovesAStoredBoundSession: a logged-in session kept in
// Config.Store moves into Django's table under a new ID. Its old copy keeps
// the session, marked moved, for the requests in flight with the old
// cookie, and a logout through it ends the session under its new ID.
func TestDjangoDBShareMovesAStoredBoundSession(t *testing.T) {
	st, _ := djangoDB(t)
	clock := newMwClock()
	clock.t = time.Now()
	registry, ourStore := memory.New(), memory.New()
	defer registry.Close()
	defer ourStore.Close()
	ours, _ := mwManager(t, Config{Now: clock.Now, Engine: EngineServer, Store: ourStore, Registry: registry})
	sharing, _ := mwManager(t, Config{Now: clock.Now, Store: ourStore, Registry: registry, Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare, Store: st}})
	routes := func(mux *http.ServeMux) {
		mux.HandleFunc("POST /bind", func(w http.ResponseWriter, r *http.Request) {
			if err := FromRequest(r).Login(r.Context(), "cy"); err != nil {
				t.Error(err)
			}
		})
		mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
			if err := FromRequest(r).Logout(r.Context()); err != nil {
				t.Error(err)
			}
		})
		mux.HandleFunc("GET /who", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, FromRequest(r).UserID())
		})
	}
	before, after := goSite(t, ours, routes), goSite(t, sharing, routes)
	b := newBrowser(t)
	b.do("POST", before+"/bind", "")
	old := b.cookie(before)
	b.setCookie(after, old)
	if got := b.do("GET", after+"/who", ""); got != "cy" {
		t.Fatalf("the sharing site read the session as %q", got)
	}
	if key := b.cookie(after); !django.IsKey(key) {
		t.Fatalf("the sharing site's save: cookie %q, want a key of Django's table", key)
	}
	// A request in flight with the old cookie (another tab: a jar of its
	// own, since both sites are on 127.0.0.1) still reads the session.
	tab := newBrowser(t)
	tab.setCookie(before, old)
	if got := tab.do("GET", before+"/who", ""); got != "cy" {
		t.Errorf("the old cookie, right after the move, reads as %q, want the session", got)
	}
	if tab.cookie(before) != old {
		t.Error("a request that read the moved copy changed the cookie")
	}
	// A logout through it ends the session in Django's table too.
	tab.do("POST", before+"/logout", "")
	list, err := sharing.UserSessions(context.Background(), "cy")
	if err != nil || len(list) != 0 {
		t.Errorf("after a logout with the old cookie the user lists %d sessions (%v)", len(list), err)
	}
	clock.Advance(DefaultRevalidateInterval + time.Second)
	if got := b.do("GET", after+"/who", ""); got != "" {
		t.Errorf("after a logout with the old cookie the moved session reads as %q", got)
	}
}
