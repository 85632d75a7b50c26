// Package adaptertest is the test table that every framework adapter in
// contrib/ passes: the same requests, through a real server on loopback
// and the framework itself, with the same expectations, on the cookie and
// the server engine.
//
// An adapter's test builds an App: the framework's handler for a Manager,
// with the adapter's middleware and the routes below, each written in the
// framework's own idiom. s is the request's session; "answer" means a 200
// with the body given, written however the framework writes text.
//
//	/set?k=K&v=V     s.Set(K, V); answer "ok"
//	/get?k=K         answer s.Get(K) as a string ("" when absent)
//	/count           n := session.Get[int](s, "n"); s.Set("n", n+1); answer n+1
//	/flash?msg=M     s.AddFlash(M); redirect (303) to /flashes
//	/flashes         answer the flashes, joined by ","
//	/login?user=U    s.CycleKey(ctx); s.Set("user", U); answer "ok"
//	/logout          s.Flush(ctx); answer "ok"
//	/headers         set X-Custom: kept and Cache-Control: no-cache;
//	                 s.Set("via", "headers"); answer "ok"
//	/stream          s.Set("via", "stream"); stream "first\n", flush,
//	                 s.Set("late", "1"), stream "second\n" (the framework's
//	                 streaming API)
//	/bad             set Location: /next; s.Set("bad", BadValue()); redirect
//	                 (302) to /next
//	/bad-body        s.Set("bad", BadValue()); answer "handler body"
//
// plus App.Writes, each of which sets "via" to its last path element and
// answers in one more of the framework's ways, and App.Fails, each of
// which sets "via" to its last path element and ends in a 500 through one
// of the framework's error paths.
package adaptertest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/server/memory"
)

// App is an adapter's test application.
type App struct {
	// New returns the framework's handler that serves the routes of the
	// package documentation through the adapter's middleware for m.
	New func(m *session.Manager) http.Handler
	// Writes maps paths to the status they answer with. Each sets "via" to
	// its last path element and answers in one of the framework's ways
	// (JSON, a string, bytes, a file, a redirect, a status alone, the raw
	// writer...).
	Writes map[string]int
	// Fails are paths that set "via" to their last path element and end
	// in a 500 through each of the framework's error paths (an abort, an
	// error returned, a panic caught by the recovery middleware...).
	Fails []string
}

// BadValue returns a value that no serializer can save, so that saving
// the session fails.
func BadValue() any { return make(chan int) }

// Secret is the secret key of the suite's Managers.
var Secret = []byte("adaptertest: a secret key of 32 bytes or more")

// Run runs the table against app on the cookie and the server engine.
func Run(t *testing.T, app App) {
	for _, engine := range []session.Engine{session.EngineCookie, session.EngineServer} {
		t.Run(string(engine), func(t *testing.T) {
			newEnv := func(t *testing.T, cfg session.Config) *env {
				cfg.Engine = engine
				if engine == session.EngineServer {
					cfg.Store = memory.New()
				}
				return start(t, app, cfg)
			}
			t.Run("SetGet", func(t *testing.T) { testSetGet(t, newEnv(t, session.Config{})) })
			t.Run("Flash", func(t *testing.T) { testFlash(t, newEnv(t, session.Config{})) })
			t.Run("LoginLogout", func(t *testing.T) { testLoginLogout(t, newEnv(t, session.Config{}), engine) })
			t.Run("Writes", func(t *testing.T) { testWrites(t, newEnv(t, session.Config{}), app.Writes) })
			t.Run("Fails", func(t *testing.T) { testFails(t, newEnv(t, session.Config{}), app.Fails) })
			t.Run("Headers", func(t *testing.T) { testHeaders(t, newEnv(t, session.Config{})) })
			t.Run("Stream", func(t *testing.T) { testStream(t, newEnv(t, session.Config{})) })
			t.Run("ErrorResponse", func(t *testing.T) { testErrorResponse(t, newEnv(t, session.Config{})) })
			t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newEnv(t, session.Config{})) })
			t.Run("Token", func(t *testing.T) {
				testToken(t, newEnv(t, session.Config{TokenHeader: "Session-Token"}))
			})
		})
	}
}

// env is one Manager and the app on a loopback server.
type env struct {
	m   *session.Manager
	srv *httptest.Server
	mu  sync.Mutex
	// errs are the errors OnError was told about.
	errs []error
}

func start(t *testing.T, app App, cfg session.Config) *env {
	t.Helper()
	e := &env{}
	cfg.SecretKey = Secret
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.OnError = func(r *http.Request, err error) {
		e.mu.Lock()
		e.errs = append(e.errs, err)
		e.mu.Unlock()
	}
	m, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	e.srv = httptest.NewServer(app.New(m))
	t.Cleanup(e.srv.Close)
	return e
}

// onErrors returns the errors reported to OnError so far.
func (e *env) onErrors() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

// client is a browser: it keeps cookies and does not follow redirects.
type client struct {
	t   testing.TB
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, e: e, jar: jar, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   string
}

// cookie returns the session cookie the response set, if any.
func (r response) cookie() (*http.Cookie, bool) {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "sessionid" {
			return c, true
		}
	}
	return nil, false
}

func (c *client) get(path string) response {
	c.t.Helper()
	resp, err := c.c.Get(c.e.srv.URL + path)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// value reads k through /get.
func (c *client) value(k string) string {
	c.t.Helper()
	r := c.get("/get?k=" + url.QueryEscape(k))
	if r.status != http.StatusOK {
		c.t.Fatalf("/get?k=%s: status %d: %s", k, r.status, r.body)
	}
	return r.body
}

// sessionCookie returns the session cookie the client holds.
func (c *client) sessionCookie() string {
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == "sessionid" {
			return ck.Value
		}
	}
	return ""
}

// withCookie returns a new client that holds the session cookie value v.
func (c *client) withCookie(v string) *client {
	o := c.e.client(c.t)
	u, _ := url.Parse(c.e.srv.URL)
	o.jar.SetCookies(u, []*http.Cookie{{Name: "sessionid", Value: v, Path: "/"}})
	return o
}

func testSetGet(t *testing.T, e *env) {
	c := e.client(t)
	r := c.get("/set?k=color&v=blue")
	if r.status != 200 || r.body != "ok" {
		t.Fatalf("/set: status %d, %q", r.status, r.body)
	}
	if _, ok := r.cookie(); !ok {
		t.Fatalf("/set: no session cookie: %v", r.header)
	}
	if got := c.value("color"); got != "blue" {
		t.Fatalf("color = %q, want blue", got)
	}
	c.get("/set?k=size&v=L")
	if got := c.value("color") + c.value("size"); got != "blueL" {
		t.Fatalf("color and size = %q, want blueL", got)
	}
	if r := c.get("/get?k=color"); len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("a read sent Set-Cookie %q", r.header.Values("Set-Cookie"))
	}
}

func testFlash(t *testing.T, e *env) {
	c := e.client(t)
	r := c.get("/flash?msg=saved")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/flashes" {
		t.Fatalf("/flash: status %d, Location %q", r.status, r.header.Get("Location"))
	}
	if _, ok := r.cookie(); !ok {
		t.Fatal("/flash: a redirect without the session cookie")
	}
	if got := c.get("/flashes").body; got != "saved" {
		t.Fatalf("flashes = %q, want saved", got)
	}
	if got := c.get("/flashes").body; got != "" {
		t.Fatalf("flashes the second time = %q, want none", got)
	}
}

func testLoginLogout(t *testing.T, e *env, engine session.Engine) {
	c := e.client(t)
	c.get("/set?k=cart&v=3")
	before := c.sessionCookie()
	r := c.get("/login?user=ada")
	after, ok := r.cookie()
	if r.status != 200 || !ok || after.Value == before {
		t.Fatalf("/login: status %d, the cookie is not new: %v", r.status, r.header)
	}
	if got := c.value("user") + "/" + c.value("cart"); got != "ada/3" {
		t.Fatalf("after login: user/cart = %q", got)
	}
	if engine == session.EngineServer {
		if got := c.withCookie(before).value("cart"); got != "" {
			t.Fatalf("the session from before login still reads cart=%q", got)
		}
	}
	loggedIn := c.sessionCookie()
	r = c.get("/logout")
	del, ok := r.cookie()
	if r.status != 200 || !ok || del.MaxAge >= 0 {
		t.Fatalf("/logout: status %d, the cookie is not deleted: %q", r.status, r.header.Values("Set-Cookie"))
	}
	if got := c.value("user"); got != "" {
		t.Fatalf("after logout: user = %q", got)
	}
	if engine == session.EngineServer {
		if got := c.withCookie(loggedIn).value("user"); got != "" {
			t.Fatalf("a copy of the logged-in cookie still reads user=%q", got)
		}
	}
}

func testWrites(t *testing.T, e *env, writes map[string]int) {
	if len(writes) == 0 {
		t.Fatal("the app lists no Writes")
	}
	for p, status := range writes {
		t.Run(strings.TrimPrefix(p, "/"), func(t *testing.T) {
			c := e.client(t)
			r := c.get(p)
			if r.status != status {
				t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
			}
			if _, ok := r.cookie(); !ok {
				t.Fatalf("no session cookie: %v", r.header)
			}
			if got, want := c.value("via"), path.Base(p); got != want {
				t.Fatalf("via = %q, want %q", got, want)
			}
		})
	}
}

func testFails(t *testing.T, e *env, fails []string) {
	if len(fails) == 0 {
		t.Fatal("the app lists no Fails")
	}
	for _, p := range fails {
		t.Run(strings.TrimPrefix(p, "/"), func(t *testing.T) {
			c := e.client(t)
			c.get("/set?k=via&v=before")
			r := c.get(p)
			if r.status != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", r.status)
			}
			if v := r.header.Values("Set-Cookie"); len(v) != 0 {
				t.Fatalf("a 500 sent Set-Cookie %q", v)
			}
			if got := c.value("via"); got != "before" {
				t.Fatalf("via = %q after the 500, want before: the 500 saved the session", got)
			}
		})
	}
}

func testHeaders(t *testing.T, e *env) {
	c := e.client(t)
	r := c.get("/headers")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if _, ok := r.cookie(); !ok {
		t.Fatal("no session cookie")
	}
	if got := r.header.Get("X-Custom"); got != "kept" {
		t.Errorf("X-Custom = %q", got)
	}
	if got := r.header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control = %q, want the handler's no-cache", got)
	}
	if !hasVary(r.header, "Cookie") {
		t.Errorf("Vary %q", r.header.Values("Vary"))
	}
	if got := c.value("via"); got != "headers" {
		t.Fatalf("via = %q", got)
	}
}

func hasVary(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

func testStream(t *testing.T, e *env) {
	c := e.client(t)
	resp, err := c.c.Get(e.srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The headers came with the first flush, before the handler's late
	// change: they must carry the session cookie already.
	r := response{resp.StatusCode, resp.Header, ""}
	if _, ok := r.cookie(); !ok {
		t.Fatalf("the streamed response has no session cookie: %v", resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	for _, want := range []string{"first\n", "second\n"} {
		line, err := br.ReadString('\n')
		if err != nil || line != want {
			t.Fatalf("streamed %q, %v; want %q", line, err, want)
		}
	}
	io.Copy(io.Discard, br)
	resp.Body.Close()
	if got := c.value("via"); got != "stream" {
		t.Fatalf("via = %q", got)
	}
	if got := c.value("late"); got != "" {
		t.Fatalf("the change after the first byte was saved: late = %q", got)
	}
	errs := e.onErrors()
	if len(errs) != 1 || !errors.Is(errs[0], session.ErrLateChange) {
		t.Fatalf("OnError got %v, want one ErrLateChange", errs)
	}
}

func testErrorResponse(t *testing.T, e *env) {
	c := e.client(t)
	r := c.get("/bad")
	if r.status != 500 || r.header.Get("Location") != "" || len(r.header.Values("Set-Cookie")) != 0 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("/bad: status %d, headers %v", r.status, r.header)
	}
	r = c.get("/bad-body")
	if r.status != 500 || strings.Contains(r.body, "handler body") || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("/bad-body: status %d, body %q, headers %v", r.status, r.body, r.header)
	}
}

func testConcurrent(t *testing.T, e *env) {
	const clients, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			c := e.client(t)
			for i := 1; i <= rounds; i++ {
				resp, err := c.c.Get(e.srv.URL + "/count")
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != strconv.Itoa(i) {
					errs <- fmt.Errorf("round %d: count %q", i, b)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testToken(t *testing.T, e *env) {
	token := ""
	do := func(p string) response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+p, nil)
		req.Header.Set("Session-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if vs, ok := resp.Header["Session-Token"]; ok {
			token = vs[0]
		}
		if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
			t.Fatalf("%s: Set-Cookie %q for a token request", p, v)
		}
		return response{resp.StatusCode, resp.Header, string(b)}
	}
	if r := do("/set?k=color&v=green"); r.status != 200 || token == "" {
		t.Fatalf("/set: status %d, no token: %v", r.status, r.header)
	}
	if got := do("/get?k=color").body; got != "green" {
		t.Fatalf("color = %q", got)
	}
	if r := do("/logout"); token != "" {
		t.Fatalf("/logout left the token: %v", r.header)
	}
}
