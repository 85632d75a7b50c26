package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server/memory"
)

// Tests of the token transport: the session token in a request header
// instead of the cookie, and the new token in a response header.

// tokenClient is an API client that keeps its token from the response
// header, as an app would, and never keeps cookies.
type tokenClient struct {
	t    *testing.T
	m    *Manager
	h    http.Handler
	auth bool   // send it as Authorization: Bearer
	tok  string // the token it holds
	has  bool   // whether it holds one (else it sends the header empty)
}

// do sends a request with the client's token and keeps the new one.
func (c *tokenClient) do(path string, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	c.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	switch {
	case c.auth:
		req.Header.Set("Authorization", "Bearer "+c.tok)
	default:
		req.Header.Set("Session-Token", c.tok)
	}
	for _, f := range mod {
		f(req)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	if vs, ok := rec.Header()["Session-Token"]; ok {
		if len(vs) != 1 {
			c.t.Fatalf("%d Session-Token headers", len(vs))
		}
		c.tok, c.has = vs[0], vs[0] != ""
	}
	if len(rec.Header().Values("Set-Cookie")) != 0 {
		c.t.Fatalf("%s: a token request got Set-Cookie %q", path, rec.Header().Values("Set-Cookie"))
	}
	return rec
}

// tokenApp is a small API: /login cycles the key and stores the user,
// /count counts visits, /whoami reads, /logout flushes, /fail sets a value
// and answers 500.
func tokenApp(m *Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		if err := s.CycleKey(r.Context()); err != nil {
			http.Error(w, err.Error(), 503)
			return
		}
		s.Set("user", "ada")
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, _ := Get[int](s, "n")
		s.Set("n", n+1)
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		u, _ := FromRequest(r).Get("user").(string)
		io.WriteString(w, u)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Flush(r.Context())
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Set("user", "mallory")
		w.WriteHeader(500)
	})
	return m.Handler(mux)
}

// TestTokenLifecycle runs login, use and logout over the token transport
// on every engine, with a custom header and with Authorization: Bearer.
func TestTokenLifecycle(t *testing.T) {
	for _, engine := range []Engine{EngineCookie, EngineServer, EngineAuto} {
		for _, auth := range []bool{false, true} {
			name := string(engine) + "/Session-Token"
			header := "Session-Token"
			if auth {
				name, header = string(engine)+"/Authorization", "Authorization"
			}
			t.Run(name, func(t *testing.T) {
				cfg := Config{Engine: engine, TokenHeader: header}
				if engine != EngineCookie {
					cfg.Store = memory.New()
				}
				m, _ := mwManager(t, cfg)
				c := &tokenClient{t: t, m: m, h: tokenApp(m), auth: auth}

				rec := c.do("/login")
				if !c.has || rec.Code != 200 {
					t.Fatalf("login: status %d, no token: %v", rec.Code, rec.Header())
				}
				if got := rec.Header().Get("Cache-Control"); got != "private" {
					t.Errorf("Cache-Control %q with a token", got)
				}
				if vary := rec.Header().Values("Vary"); !slices.Contains(vary, header) || !slices.Contains(vary, "Cookie") {
					t.Errorf("Vary %q", vary)
				}
				if engine == EngineServer && len(c.tok) != codec.RefLen {
					t.Errorf("a stored session's token is %d characters, want the %d of a compact reference", len(c.tok), codec.RefLen)
				}
				login := c.tok
				if got := c.do("/whoami").Body.String(); got != "ada" {
					t.Fatalf("whoami = %q", got)
				}

				rec = c.do("/count")
				_, resent := rec.Header()["Session-Token"]
				if engine == EngineServer && resent {
					t.Errorf("the server engine sent the same token again: %q", rec.Header()["Session-Token"])
				}
				if engine != EngineServer && (!resent || c.tok == login) {
					t.Errorf("the session in the token did not send its new token")
				}
				if got := c.do("/whoami").Body.String(); got != "ada" {
					t.Fatalf("whoami after count = %q", got)
				}

				before := c.tok
				if rec := c.do("/fail"); rec.Code != 500 || c.tok != before {
					t.Fatalf("a 500 changed the token: %v", rec.Header())
				}
				if got := c.do("/whoami").Body.String(); got != "ada" {
					t.Fatalf("the 500's change was saved: whoami = %q", got)
				}

				rec = c.do("/logout")
				if vs, ok := rec.Header()["Session-Token"]; !ok || len(vs) != 1 || vs[0] != "" {
					t.Fatalf("logout: Session-Token %q, want one empty header", vs)
				}
				if c.has {
					t.Fatal("the client still holds a token")
				}
				c.tok, c.has = before, true // a copy kept from before logout
				if got := c.do("/whoami").Body.String(); engine == EngineServer && got != "" {
					t.Fatalf("the logged-out token still reads user %q", got)
				}
			})
		}
	}
}

// TestTokenCycleKeySendsNewToken checks that CycleKey on a stored session
// sends the new token, and that the old one no longer works.
func TestTokenCycleKeySendsNewToken(t *testing.T) {
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: memory.New(), TokenHeader: "Session-Token"})
	c := &tokenClient{t: t, m: m, h: tokenApp(m)}
	c.do("/login")
	old := c.tok
	c.do("/login")
	if c.tok == old || !c.has {
		t.Fatal("CycleKey sent no new token")
	}
	c.tok = old
	if got := c.do("/whoami").Body.String(); got != "" {
		t.Fatalf("the old token still reads %q", got)
	}
}

// TestTokenMovesBetweenEngines checks that a token read under another
// engine is answered with the token in the current one.
func TestTokenMovesBetweenEngines(t *testing.T) {
	store := memory.New()
	cookieM, _ := mwManager(t, Config{TokenHeader: "Session-Token", Store: store})
	serverM, _ := mwManager(t, Config{Engine: EngineServer, TokenHeader: "Session-Token", Store: store})
	c := &tokenClient{t: t, m: cookieM, h: tokenApp(cookieM)}
	c.do("/login")
	if codec.IsRef(c.tok) {
		t.Fatal("the cookie engine made a reference")
	}
	c.h = tokenApp(serverM)
	if got := c.do("/whoami").Body.String(); got != "ada" || !codec.IsRef(c.tok) {
		t.Fatalf("whoami = %q, token %q: the session did not move into the store", got, c.tok)
	}
	if got := c.do("/whoami").Body.String(); got != "ada" {
		t.Fatalf("whoami with the moved token = %q", got)
	}
}

// TestTokenWinsOverCookie checks the rule for a request with both: the
// token is the session, the cookie is neither read nor written.
func TestTokenWinsOverCookie(t *testing.T) {
	m, _ := mwManager(t, Config{TokenHeader: "Session-Token"})
	h := tokenApp(m)
	browser := mwSave(t, m, map[string]any{"user": "bob"})
	c := &tokenClient{t: t, m: m, h: h}
	c.do("/login")
	withCookie := func(r *http.Request) { r.Header.Set("Cookie", m.jar.Name()+"="+browser) }
	if got := c.do("/whoami", withCookie).Body.String(); got != "ada" {
		t.Fatalf("whoami = %q, want the token's session", got)
	}
	forged := &tokenClient{t: t, m: m, h: h, tok: "forged", has: true}
	if got := forged.do("/whoami", withCookie).Body.String(); got != "" {
		t.Fatalf("a bad token fell back to the cookie's session %q", got)
	}
	c.do("/logout", withCookie) // do fails on any Set-Cookie: the cookie is left alone
	// A cookie-only request is the cookie's.
	if body, _ := get(h, "/whoami", m.jar.Name()+"="+browser); body != "bob" {
		t.Fatalf("the cookie's session: %q", body)
	}
}

// get is a cookie request through h.
func get(h http.Handler, path, cookie string) (string, http.Header) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Body.String(), rec.Header()
}

// TestTokenNeitherUsesCookie checks that a request with neither a cookie
// nor the token header gets a cookie, never a token (a browser's page
// script could read a token header), and that a cookie value works as a
// token, being the same value.
func TestTokenNeitherUsesCookie(t *testing.T) {
	m, _ := mwManager(t, Config{TokenHeader: "Session-Token"})
	h := tokenApp(m)
	_, hdr := get(h, "/login", "")
	if _, ok := hdr["Session-Token"]; ok {
		t.Fatalf("a request without the token header got a token: %v", hdr)
	}
	c, ok := mwCookie(m, hdr)
	if !ok {
		t.Fatal("no cookie")
	}
	tc := &tokenClient{t: t, m: m, h: h, tok: c.Value, has: true}
	if got := tc.do("/whoami").Body.String(); got != "ada" {
		t.Fatalf("the cookie's value as a token: %q", got)
	}
}

// TestTokenOnly checks that TokenOnly answers every request on the token
// transport and ignores cookies.
func TestTokenOnly(t *testing.T) {
	m, _ := mwManager(t, Config{TokenHeader: "Session-Token", TokenOnly: true})
	h := tokenApp(m)
	cookieM, _ := mwManager(t, Config{})
	browser := mwSave(t, cookieM, map[string]any{"user": "bob"})
	body, hdr := get(h, "/whoami", m.jar.Name()+"="+browser)
	if body != "" || len(hdr.Values("Set-Cookie")) != 0 {
		t.Fatalf("TokenOnly read or wrote the cookie: %q, %v", body, hdr)
	}
	if vary := hdr.Values("Vary"); slices.Contains(vary, "Cookie") || !slices.Contains(vary, "Session-Token") {
		t.Fatalf("Vary %q", vary)
	}
	_, hdr = get(h, "/login", "")
	tok := hdr.Get("Session-Token")
	if tok == "" || len(hdr.Values("Set-Cookie")) != 0 {
		t.Fatalf("login without a header: %v", hdr)
	}
	c := &tokenClient{t: t, m: m, h: h, tok: tok, has: true}
	if got := c.do("/whoami").Body.String(); got != "ada" {
		t.Fatalf("whoami = %q", got)
	}
}

// TestTokenBad checks that a token that does not verify gives a new
// session, and that the response tells the client to drop it; and that
// Authorization with another scheme is not a token.
func TestTokenBad(t *testing.T) {
	m, _ := mwManager(t, Config{TokenHeader: "Authorization"})
	h := tokenApp(m)
	c := &tokenClient{t: t, m: m, h: h, auth: true, tok: "forged", has: true}
	rec := c.do("/whoami")
	if rec.Body.String() != "" || c.has {
		t.Fatalf("a forged token: body %q, Session-Token %q", rec.Body, rec.Header()["Session-Token"])
	}

	req := httptest.NewRequest(http.MethodGet, "/login", nil)
	req.Header.Set("Authorization", "Basic YWRhOnB3")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if _, ok := rec.Header()["Session-Token"]; ok || len(rec.Header().Values("Set-Cookie")) != 1 {
		t.Fatalf("Basic credentials were taken for a token: %v", rec.Header())
	}
	for _, v := range []string{"bearer   TOKEN", "BEARER TOKEN", "Bearer TOKEN  "} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", v)
		if tok, ok := m.requestToken(req); !ok || tok != "TOKEN" {
			t.Errorf("%q: token %q, %v", v, tok, ok)
		}
	}
}

// TestTokenExpired: a token whose session has expired, on each engine,
// gets the header empty (drop the token) and an empty session.
func TestTokenExpired(t *testing.T) {
	for _, engine := range []Engine{EngineCookie, EngineServer} {
		t.Run(string(engine), func(t *testing.T) {
			clock := &fakeClock{now: time.Now()}
			m, _ := mwManager(t, Config{Engine: engine, Store: memory.New(), TokenHeader: "Session-Token", Now: clock.Now, CookieAge: time.Hour})
			c := &tokenClient{t: t, m: m, h: tokenApp(m)}
			c.do("/login")
			if !c.has || c.do("/whoami").Body.String() != "ada" {
				t.Fatal("no session after the login")
			}
			clock.Add(time.Hour + time.Second)
			rec := c.do("/whoami")
			if rec.Body.String() != "" || c.has {
				t.Errorf("an expired token: body %q, Session-Token %q; want no user and the header empty", rec.Body, rec.Header()["Session-Token"])
			}
		})
	}
}

// TestTokenInterrupted checks that a token request whose session a
// concurrent logout deleted gets the 400, without a token.
func TestTokenInterrupted(t *testing.T) {
	store := memory.New()
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: store, TokenHeader: "Session-Token"})
	c := &tokenClient{t: t, m: m}
	c.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		if r.URL.Path == "/race" {
			s.Get("user")
			store.Delete(context.Background(), m.rowKey(s.Key()))
		}
		s.Set("user", "ada")
	}))
	c.do("/login")
	rec := c.do("/race")
	if _, ok := rec.Header()["Session-Token"]; rec.Code != 400 || ok {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
}

// TestTokenConfig checks the token settings New refuses and the defaults
// of the response header.
func TestTokenConfig(t *testing.T) {
	for _, cfg := range []Config{
		{TokenOnly: true},
		{TokenResponseHeader: "Session-Token"},
		{TokenHeader: "Bad Header"},
		{TokenHeader: "Cookie"},
		{TokenHeader: "Session-Token", TokenResponseHeader: "Set-Cookie"},
		{TokenHeader: "Session-Token", TokenResponseHeader: "Authorization"},
		{TokenHeader: "Session-Token", TokenResponseHeader: "a\nb"},
	} {
		cfg.SecretKey = mwSecret
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err = %v", cfg, err)
		}
	}
	for _, tc := range []struct{ in, resp, want string }{
		{"session-token", "", "Session-Token"},
		{"Authorization", "", "Session-Token"},
		{"X-Auth-Token", "", "X-Auth-Token"},
		{"Authorization", "x-new-token", "X-New-Token"},
	} {
		m, _ := mwManager(t, Config{TokenHeader: tc.in, TokenResponseHeader: tc.resp})
		if m.tokenResponse != tc.want {
			t.Errorf("%q, %q: response header %q, want %q", tc.in, tc.resp, m.tokenResponse, tc.want)
		}
	}
}

// TestTokenFromEnv checks the SESSION_TOKEN_* variables.
func TestTokenFromEnv(t *testing.T) {
	c, err := configFromLookup(configEnv(map[string]string{
		"SESSION_TOKEN_HEADER":          "Authorization",
		"SESSION_TOKEN_RESPONSE_HEADER": "X-Session-Token",
		"SESSION_TOKEN_ONLY":            "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenHeader != "Authorization" || c.TokenResponseHeader != "X-Session-Token" || !c.TokenOnly {
		t.Fatalf("%+v", c)
	}
	if _, err := configFromLookup(configEnv(map[string]string{"SESSION_TOKEN_ONLY": "maybe"})); !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v", err)
	}
}
