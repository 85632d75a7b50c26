package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/django"
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server/memory"
)

const djangoSecret = "django-insecure-a-shared-secret-0123456789abcdef"

// startDjangoSite runs scripts/django/app.py, a Django site with the
// signed_cookies backend (unless env, the app's variables as NAME=value,
// says otherwise), and returns its URL.
func startDjangoSite(t *testing.T, env ...string) string {
	t.Helper()
	py := testenv.DjangoPython(t)
	app, _ := filepath.Abs("scripts/django/app.py")
	dir := t.TempDir()
	portFile := filepath.Join(dir, "port")
	cmd := exec.Command(py, "-I", app, portFile)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "DJANGO_SECRET_KEY="+djangoSecret), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if port, err := os.ReadFile(portFile); err == nil {
			return "http://127.0.0.1:" + string(port)
		}
		if cmd.ProcessState != nil {
			break
		}
	}
	t.Fatalf("the Django site did not start:\n%s", stderr.String())
	return ""
}

// browser is a client whose cookie jar both sites share: cookies ignore
// ports, so a Django site and a Go site on 127.0.0.1 are one domain.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (b *browser) do(method, u, body string) string {
	b.t.Helper()
	code, out := b.send(method, u, body)
	if code != http.StatusOK {
		b.t.Fatalf("%s %s: %d %s", method, u, code, out)
	}
	return out
}

// send is do for a response of any status.
func (b *browser) send(method, u, body string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if strings.Contains(u, "/whoami") || strings.Contains(u, "/expiry") { // Django's JsonResponse puts spaces after ':'
		return resp.StatusCode, strings.ReplaceAll(string(out), " ", "")
	}
	return resp.StatusCode, string(out)
}

func (b *browser) cookie(u string) string {
	pu, _ := url.Parse(u)
	for _, c := range b.c.Jar.Cookies(pu) {
		if c.Name == "sessionid" {
			return c.Value
		}
	}
	return ""
}

func (b *browser) setCookie(u, value string) {
	pu, _ := url.Parse(u)
	b.c.Jar.SetCookies(pu, []*http.Cookie{{Name: "sessionid", Value: value, Path: "/"}})
}

// goSite serves m with handlers that read and write the session as JSON,
// and those that more adds to the mux.
func goSite(t *testing.T, m *Manager, more ...func(*http.ServeMux)) string {
	mux := http.NewServeMux()
	for _, f := range more {
		f(mux)
	}
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(FromRequest(r).Values())
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		FromRequest(r).Update(v)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		if err := s.CycleKey(r.Context()); err != nil {
			t.Error(err)
		}
		s.Update(django.LoginValues([]byte(djangoSecret), 7, r.URL.Query().Get("password"), ""))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		u, ok := django.UserOf(FromRequest(r).Values())
		if !ok || django.VerifyUser(u, r.URL.Query().Get("password"), []byte(djangoSecret)) < 0 {
			io.WriteString(w, `{"user":null}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"user": u.ID})
	})
	mux.HandleFunc("POST /flush", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Flush(r.Context())
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return srv.URL
}

const djangoPassword = "pbkdf2_sha256$260000$djangoharnesssalt0$nsgM2f8gN0xq8VZ0f3u0m8S0cGdZs0J7m5S9u3a1o2c="

// TestDjangoShare runs a Go site beside a real Django site on one domain
// with one session cookie: each reads what the other writes, a login on
// either side holds on both, and a logout on either ends it on both.
func TestDjangoShare(t *testing.T) {
	dj := startDjangoSite(t)
	m, _ := mwManager(t, Config{Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare}})
	gs := goSite(t, m)
	b := newBrowser(t)

	// Django writes, Go reads: non-ASCII and non-BMP text, nesting, a
	// large integer, a float, a compressible value.
	b.do("POST", dj+"/set", `{"text":"caf\u00e9 \ud83d\ude00","cart":[{"sku":"A-1","qty":2}],"big":123456789012345678901234567890,"ratio":0.1,"note":"`+strings.Repeat("compress me ", 60)+`"}`)
	if c := b.cookie(dj); !strings.Contains(c, ":") {
		t.Fatalf("Django's cookie %q is not in its signed format", c)
	}
	got := b.do("GET", gs+"/get", "")
	for _, want := range []string{`"text":"café 😀"`, `"cart":[{"qty":2,"sku":"A-1"}]`, `"big":123456789012345678901234567890`, `"ratio":0.1`, "compress me compress me"} {
		if !strings.Contains(got, want) {
			t.Errorf("Go read %s; want it to hold %s", got, want)
		}
	}

	// Go writes, Django reads.
	b.do("POST", gs+"/set", `{"from_go":"h\u00e9llo \ud83d\ude00"}`)
	if c := b.cookie(gs); !strings.Contains(c, ":") {
		t.Fatalf("Go wrote %q, not Django's format", c)
	}
	got = b.do("GET", dj+"/get", "")
	if !strings.Contains(got, `"from_go":"h\u00e9llo \ud83d\ude00"`) || !strings.Contains(got, `"text":"caf\u00e9 \ud83d\ude00"`) {
		t.Errorf("Django read %s", got)
	}

	// A login in Django holds in Go, and the other way round.
	b.do("POST", dj+"/login", `{"id":42,"password":"`+djangoPassword+`"}`)
	if got := b.do("GET", gs+"/whoami?password="+url.QueryEscape(djangoPassword), ""); !strings.Contains(got, `"user":"42"`) {
		t.Errorf("after a Django login Go says %s", got)
	}
	b.do("POST", gs+"/login?password="+url.QueryEscape(djangoPassword), "")
	if got := b.do("GET", dj+"/whoami?password="+url.QueryEscape(djangoPassword), ""); !strings.Contains(got, `"user":"7"`) {
		t.Errorf("after a Go login Django says %s", got)
	}
	// Another password hash (the password changed): nobody on both.
	for _, site := range []string{dj, gs} {
		if got := b.do("GET", site+"/whoami?password=changed", ""); !strings.Contains(got, `"user":null`) {
			t.Errorf("%s: after a password change: %s", site, got)
		}
	}

	// A tampered cookie: an empty session on both sides.
	good := b.cookie(gs)
	b.setCookie(gs, good[:len(good)-2]+"xx")
	for _, site := range []string{gs, dj} {
		b.setCookie(gs, good[:len(good)-2]+"xx")
		if got := b.do("GET", site+"/get", ""); strings.Contains(got, "from_go") {
			t.Errorf("%s read a tampered cookie: %s", site, got)
		}
	}

	// A logout in Go ends the session for Django.
	b.setCookie(gs, good)
	b.do("POST", gs+"/flush", "")
	if got := b.do("GET", dj+"/get", ""); got != "{}" {
		t.Errorf("after a Go logout Django reads %s", got)
	}
}

// TestDjangoMigrate checks the move off Django: sessions Django made are
// read by a Manager in migrate mode, moved into its own format (here, the
// server engine's store) on their next response with their data, and the
// user stays logged in throughout. An expired Django cookie is not read.
func TestDjangoMigrate(t *testing.T) {
	dj := startDjangoSite(t)
	store := memory.New()
	defer store.Close()
	clock := newMwClock()
	clock.t = time.Now()
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: store, Now: clock.Now, Django: &DjangoConfig{SecretKey: []byte(djangoSecret)}})
	gs := goSite(t, m)
	b := newBrowser(t)
	b.do("POST", dj+"/set", `{"cart":["apple","pear"],"text":"\u65e5\u672c"}`)
	b.do("POST", dj+"/login", `{"id":42,"password":"`+djangoPassword+`"}`)
	djangoCookie := b.cookie(dj)

	if got := b.do("GET", gs+"/whoami?password="+url.QueryEscape(djangoPassword), ""); !strings.Contains(got, `"user":"42"`) {
		t.Fatalf("Go in migrate mode says %s", got)
	}
	ours := b.cookie(gs)
	if len(ours) != codec.RefLen || store.Len() != 1 {
		t.Fatalf("the Django session was not moved into the store (cookie %q, %d rows)", ours, store.Len())
	}
	got := b.do("GET", gs+"/get", "")
	if !strings.Contains(got, `"cart":["apple","pear"]`) || !strings.Contains(got, `"text":"日本"`) {
		t.Errorf("after the move Go reads %s", got)
	}
	if got := b.do("GET", gs+"/whoami?password="+url.QueryEscape(djangoPassword), ""); !strings.Contains(got, `"user":"42"`) {
		t.Errorf("after the move the user is %s", got)
	}

	// A Django cookie older than SESSION_COOKIE_AGE is not read, as
	// Django itself would not.
	clock.Advance(DefaultCookieAge + time.Minute)
	b2 := newBrowser(t)
	b2.setCookie(gs, djangoCookie)
	if got := b2.do("GET", gs+"/get", ""); got != "{}\n" {
		t.Errorf("an expired Django cookie read as %s", got)
	}
}

// TestDjangoConfigRules checks the rules of Config.Django that need no
// Django: what New refuses, the cookie budget before any HMAC, and that an
// expired Django cookie is not reported as tampering.
func TestDjangoConfigRules(t *testing.T) {
	dj := &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare}
	for _, cfg := range []Config{
		{Django: dj, MaxLifetime: time.Hour},
		{Django: dj, Engine: EngineServer, Store: memory.New()},
		{Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: "copy"}},
		{Django: &DjangoConfig{}},
	} {
		cfg.SecretKey = mwSecret
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	clock := newMwClock()
	m, logs := mwManager(t, Config{Now: clock.Now, Django: dj})
	signer, _ := django.NewSigner(django.SaltSignedCookies, []byte(djangoSecret), nil, clock.Now)
	old, _ := signer.Dumps(map[string]any{"user": "ada"})
	clock.Advance(DefaultCookieAge + time.Second)
	var got any
	mwDo(m, func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r).Get("user") }, old)
	if got != nil || strings.Contains(logs.String(), "session data corrupted") {
		t.Errorf("an expired Django cookie: user %v, logs:\n%s", got, logs)
	}
	huge := strings.Repeat("A", 5000) + ":" + old
	if _, err := m.openCookie(huge); !errors.Is(err, codec.ErrTooLarge) {
		t.Errorf("a Django value over the cookie budget: %v, want codec.ErrTooLarge before any HMAC", err)
	}
}

// TestDjangoShareExpiry checks what README says of expiry in DjangoShare
// mode: a Django signed cookie ends when its signature is older than
// CookieAge, and SetExpiry changes only the cookie's Max-Age.
func TestDjangoShareExpiry(t *testing.T) {
	clock := newMwClock()
	m, _ := mwManager(t, Config{Now: clock.Now, CookieAge: time.Hour, Django: &DjangoConfig{SecretKey: []byte(djangoSecret), Mode: DjangoShare}})
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.Set("user", "ada")
		s.SetExpiry(24 * time.Hour)
	}, "")
	c, ok := mwCookie(m, rec.Header())
	if !ok || c.MaxAge != 24*3600 {
		t.Fatalf("Set-Cookie %v: want Max-Age 86400 from SetExpiry", rec.Header().Values("Set-Cookie"))
	}
	read := func() any {
		var got any
		mwDo(m, func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r).Get("user") }, c.Value)
		return got
	}
	clock.Advance(59 * time.Minute)
	if got := read(); got != "ada" {
		t.Fatalf("within CookieAge: %v", got)
	}
	clock.Advance(2 * time.Minute) // past CookieAge, well within SetExpiry's day
	if got := read(); got != nil {
		t.Fatalf("past CookieAge the Django cookie still reads: %v", got)
	}
}
