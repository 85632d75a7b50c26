package bench

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/sessions"

	session "github.com/sessionkit/session"
	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// The round trip is one request through a session middleware: the request
// carries the session cookie of the small session (userValues), the handler
// reads user_id and writes last_seen, and the response carries Set-Cookie.
//
//	baseline                  the same request and handler, no session at all
//	sessionkit-cookie         session.Manager, default Config: the session is the cookie
//	sessionkit-server-memory  session.Manager, EngineServer on server/memory
//	sessionkit-auto-spilled   session.Manager, EngineAuto on server/memory with a
//	                          200-byte cookie budget, so that the session lives in
//	                          the store and the cookie carries its reference
//	gorilla-cookiestore       gorilla/sessions CookieStore (hash and block keys):
//	                          store.Get, Values read and write, Session.Save
//	scs-memstore              scs.New() (its default memstore), LoadAndSave,
//	                          GetInt and Put
//
// Every variant serves a shallow copy of one prepared request, so that no
// state survives from one request to the next (gorilla keeps its session
// registry in the request's context).

const (
	// wantUserID is the user_id of userValues, which every handler checks.
	wantUserID = 48213
	// okBody is what every handler writes.
	okBody = "ok"
)

// seenAt is the value every handler writes under last_seen.
var seenAt = time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)

// variant is one session middleware set up for the round trip: login
// stores userValues and sets the cookie; action is the benchmarked handler.
type variant struct {
	name          string
	login, action http.Handler
	// wantCookie is whether action's response must carry Set-Cookie.
	wantCookie bool
	// lastSeen reads last_seen back through the middleware, for the tests.
	lastSeen http.Handler
}

// answer writes okBody, or answers 500 unless ok, so that a handler that read the wrong
// value fails the benchmark loop's check.
func answer(w http.ResponseWriter, ok bool) {
	if !ok {
		http.Error(w, "wrong user_id", http.StatusInternalServerError)
		return
	}
	io.WriteString(w, okBody)
}

// writeLastSeen writes the last_seen value a lastSeen handler read.
func writeLastSeen(w http.ResponseWriter, v any) {
	t, ok := v.(time.Time)
	if !ok {
		http.Error(w, "last_seen missing", http.StatusInternalServerError)
		return
	}
	io.WriteString(w, t.UTC().Format(time.RFC3339Nano))
}

func baselineVariant() variant {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, okBody)
	})
	return variant{name: "baseline", login: h, action: h, lastSeen: h}
}

// sessionkitVariant returns session.Manager's middleware built from cfg
// (its SecretKey is set here).
func sessionkitVariant(tb testing.TB, name string, cfg session.Config) variant {
	tb.Helper()
	cfg.SecretKey = secret
	m, err := session.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return variant{
		name: name,
		login: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			session.FromRequest(r).Update(userValues())
			io.WriteString(w, okBody)
		})),
		action: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := session.FromRequest(r)
			id, err := session.Get[int](s, "user_id")
			s.Set("last_seen", seenAt)
			answer(w, err == nil && id == wantUserID)
		})),
		lastSeen: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeLastSeen(w, session.FromRequest(r).Get("last_seen"))
		})),
		wantCookie: true,
	}
}

// sessionkitServerVariant is sessionkitVariant with EngineServer on st.
func sessionkitServerVariant(tb testing.TB, name string, st server.Store) variant {
	return sessionkitVariant(tb, name, session.Config{Engine: session.EngineServer, Store: st})
}

func gorillaVariant() variant {
	store := sessions.NewCookieStore(hashKey, blockKey)
	return variant{
		name: "gorilla-cookiestore",
		login: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := store.Get(r, cookieName)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			s.Values = gorillaValues(userValues())
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			io.WriteString(w, okBody)
		}),
		action: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := store.Get(r, cookieName)
			if err != nil || s.IsNew {
				http.Error(w, "no session", http.StatusInternalServerError)
				return
			}
			id, _ := s.Values["user_id"].(int)
			s.Values["last_seen"] = seenAt
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			answer(w, id == wantUserID)
		}),
		lastSeen: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := store.Get(r, cookieName)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			writeLastSeen(w, s.Values["last_seen"])
		}),
		wantCookie: true,
	}
}

// scsVariant returns sm's LoadAndSave middleware.
func scsVariant(name string, sm *scs.SessionManager) variant {
	return variant{
		name: name,
		login: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range userValues() {
				sm.Put(r.Context(), k, v)
			}
			io.WriteString(w, okBody)
		})),
		action: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := sm.GetInt(r.Context(), "user_id")
			sm.Put(r.Context(), "last_seen", seenAt)
			answer(w, id == wantUserID)
		})),
		lastSeen: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeLastSeen(w, sm.Get(r.Context(), "last_seen"))
		})),
		wantCookie: true,
	}
}

// scsMemVariant is scs.New() as it comes: gob and memstore.
func scsMemVariant() variant {
	sm := scs.New()
	if _, ok := sm.Store.(*memstore.MemStore); !ok {
		panic("scs.New's default store is no longer memstore")
	}
	return scsVariant("scs-memstore", sm)
}

// roundTripVariants lists the round trip's variants, baseline first.
func roundTripVariants(tb testing.TB) []variant {
	return []variant{
		baselineVariant(),
		sessionkitVariant(tb, "sessionkit-cookie", session.Config{}),
		sessionkitServerVariant(tb, "sessionkit-server-memory", memory.New()),
		sessionkitVariant(tb, "sessionkit-auto-spilled", session.Config{Engine: session.EngineAuto, Store: memory.New(), CookieMaxSize: 200}),
		gorillaVariant(),
		scsMemVariant(),
	}
}

// loggedIn runs v.login once and returns a request that carries the
// session cookie it set (none for the baseline).
func loggedIn(tb testing.TB, v variant) *http.Request {
	tb.Helper()
	rec := httptest.NewRecorder()
	v.login.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("%s: login: status %d: %s", v.name, rec.Code, rec.Body)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	cookies := rec.Result().Cookies()
	if !v.wantCookie {
		// The baseline request carries a cookie of the same size as the
		// default sessionkit one, so that only the middleware differs.
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: base64.RawURLEncoding.EncodeToString(seeded(5, 261))})
		return req
	}
	if len(cookies) != 1 {
		tb.Fatalf("%s: login set %d cookies, want 1", v.name, len(cookies))
	}
	req.AddCookie(cookies[0])
	return req
}

// serve runs one request: a shallow copy of base through h. It returns an
// error message, or "" if the response is the expected one.
func serve(h http.Handler, base *http.Request, wantCookie bool) (*httptest.ResponseRecorder, string) {
	r := *base
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, &r)
	switch {
	case rec.Code != http.StatusOK:
		return rec, "status " + http.StatusText(rec.Code) + ": " + rec.Body.String()
	case rec.Body.String() != okBody:
		return rec, "body " + rec.Body.String()
	case wantCookie != (len(rec.Header().Values("Set-Cookie")) == 1):
		return rec, "unexpected Set-Cookie headers: " + rec.Header().Get("Set-Cookie")
	}
	return rec, ""
}

// BenchmarkRoundTrip runs the round trip of every variant; the overhead of
// a session middleware is its time minus the baseline's, in the same run.
func BenchmarkRoundTrip(b *testing.B) {
	for _, v := range roundTripVariants(b) {
		b.Run(v.name, func(b *testing.B) {
			req := loggedIn(b, v)
			b.ReportAllocs()
			for b.Loop() {
				if _, msg := serve(v.action, req, v.wantCookie); msg != "" {
					b.Fatalf("%s: %s", v.name, msg)
				}
			}
		})
	}
}

// TestRoundTrip checks that every variant of BenchmarkRoundTrip does what
// it is measured for: the handler finds user_id, the response sets the
// cookie, and the value written is there on the next request.
func TestRoundTrip(t *testing.T) {
	for _, v := range roundTripVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			checkVariant(t, v)
		})
	}
}

// checkVariant runs v's action twice and checks that it read user_id, set
// the cookie, and saved last_seen.
func checkVariant(t *testing.T, v variant) {
	t.Helper()
	req := loggedIn(t, v)
	for range 2 {
		rec, msg := serve(v.action, req, v.wantCookie)
		if msg != "" {
			t.Fatal(msg)
		}
		if !v.wantCookie {
			continue
		}
		next := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, c := range rec.Result().Cookies() {
			next.AddCookie(c)
		}
		got := httptest.NewRecorder()
		v.lastSeen.ServeHTTP(got, next)
		if want := seenAt.Format(time.RFC3339Nano); got.Code != http.StatusOK || got.Body.String() != want {
			t.Fatalf("last_seen after the action: status %d, %q; want %q", got.Code, got.Body, want)
		}
	}
}

// TestAutoSpilledVariant checks that the auto engine's variant measures
// what it says: the session lives in the store and the cookie is its
// compact reference.
func TestAutoSpilledVariant(t *testing.T) {
	for _, v := range roundTripVariants(t) {
		if v.name != "sessionkit-auto-spilled" {
			continue
		}
		req := loggedIn(t, v)
		rec, msg := serve(v.action, req, v.wantCookie)
		if msg != "" {
			t.Fatal(msg)
		}
		for _, c := range rec.Result().Cookies() {
			if len(c.Value) != codec.RefLen {
				t.Fatalf("the auto engine's cookie is %d characters: the session did not spill", len(c.Value))
			}
		}
		return
	}
	t.Fatal("no sessionkit-auto-spilled variant")
}
