package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/cookie"
	"github.com/sessionkit/session/serializer"
	"github.com/sessionkit/session/server/memory"
)

// Helpers shared by the middleware, end-to-end and typed-getter tests.

var mwSecret = []byte("0123456789abcdef0123456789abcdef")

// mwManager returns a Manager for cfg, with mwSecret when cfg has no
// secret, and a logger that writes every level to the returned buffer.
func mwManager(t testing.TB, cfg Config) (*Manager, *syncBuffer) {
	t.Helper()
	if cfg.SecretKey == nil {
		cfg.SecretKey = mwSecret
	}
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, logs
}

// mwDo serves one GET request through m.Handler(h), carrying the session
// cookie value cookie unless it is empty.
func mwDo(m *Manager, h http.HandlerFunc, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", m.jar.Name()+"="+cookie)
	}
	rec := httptest.NewRecorder()
	m.Handler(h).ServeHTTP(rec, req)
	return rec
}

// mwCookie returns the session cookie that h sets, if any.
func mwCookie(m *Manager, h http.Header) (*http.Cookie, bool) {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == m.jar.Name() {
			return c, true
		}
	}
	return nil, false
}

// mwSave runs a request that stores values in a new session and returns
// the session cookie's value.
func mwSave(t testing.TB, m *Manager, values map[string]any) string {
	t.Helper()
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Update(values)
	}, "")
	c, ok := mwCookie(m, rec.Result().Header)
	if !ok || c.Value == "" {
		t.Fatalf("saving %v: no session cookie (status %d, headers %v, body %q)", values, rec.Code, rec.Header(), rec.Body)
	}
	return c.Value
}

// errMwStore is the failure that mwFailStore injects.
var errMwStore = errors.New("injected store failure")

// mwFailStore is a memory store whose operations fail on demand.
type mwFailStore struct {
	*memory.Store
	failLoad, failWrite, failDelete atomic.Bool
}

func (s *mwFailStore) Load(ctx context.Context, key string) ([]byte, error) {
	if s.failLoad.Load() {
		return nil, errMwStore
	}
	return s.Store.Load(ctx, key)
}

func (s *mwFailStore) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if s.failWrite.Load() {
		return errMwStore
	}
	return s.Store.Create(ctx, key, blob, expires)
}

func (s *mwFailStore) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if s.failWrite.Load() {
		return errMwStore
	}
	return s.Store.Update(ctx, key, blob, expires)
}

func (s *mwFailStore) Delete(ctx context.Context, key string) error {
	if s.failDelete.Load() {
		return errMwStore
	}
	return s.Store.Delete(ctx, key)
}

// mwVary reports whether h carries Vary: Cookie.
func mwVary(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.TrimSpace(f) == "Cookie" {
				return true
			}
		}
	}
	return false
}

// mwClock is a clock that the test moves.
type mwClock struct {
	mu sync.Mutex
	t  time.Time
}

func newMwClock() *mwClock { return &mwClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *mwClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Reset puts the clock back to where newMwClock starts it.
func (c *mwClock) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = newMwClock().t
}

func (c *mwClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mwErrors collects the errors given to Config.OnError.
type mwErrors struct {
	mu   sync.Mutex
	errs []error
}

func (e *mwErrors) OnError(_ *http.Request, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *mwErrors) All() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

func setHandler(key string, v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Set(key, v) }
}

func TestMiddlewareCookieAttributes(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    []string // attributes that must be present
		notWant []string // attributes that must be absent
	}{
		{"defaults", Config{}, []string{"; Path=/", "; HttpOnly", "; SameSite=Lax", "; Max-Age=1209600"}, []string{"Secure", "Domain", "Partitioned", "Expires"}},
		{"secure", Config{CookieSecure: true}, []string{"; Secure", "; HttpOnly"}, nil},
		{"script access", Config{CookieScriptAccess: true}, []string{"; SameSite=Lax"}, []string{"HttpOnly", "Secure"}},
		{"strict", Config{CookieSameSite: http.SameSiteStrictMode}, []string{"; SameSite=Strict"}, []string{"SameSite=Lax"}},
		{"no SameSite", Config{CookieSameSite: http.SameSiteDefaultMode}, nil, []string{"SameSite"}},
		{"everything", Config{CookieName: "__Secure-sid", CookieDomain: "example.com", CookiePath: "/app", CookieSecure: true, CookieSameSite: http.SameSiteNoneMode, CookiePartitioned: true, CookieAge: time.Hour},
			[]string{"__Secure-sid=", "; Path=/app", "; Domain=example.com", "; Secure", "; HttpOnly", "; SameSite=None", "; Partitioned", "; Max-Age=3600"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := mwManager(t, tt.cfg)
			rec := mwDo(m, setHandler("k", "v"), "")
			sc := rec.Result().Header.Values("Set-Cookie")
			if len(sc) != 1 {
				t.Fatalf("Set-Cookie = %q, want one", sc)
			}
			for _, a := range tt.want {
				if !strings.Contains(sc[0], a) {
					t.Errorf("Set-Cookie %q lacks %q", sc[0], a)
				}
			}
			for _, a := range tt.notWant {
				if strings.Contains(sc[0], a) {
					t.Errorf("Set-Cookie %q has %q", sc[0], a)
				}
			}
			c, ok := mwCookie(m, rec.Result().Header)
			if !ok {
				t.Fatal("net/http does not parse the session cookie")
			}
			if c.HttpOnly == tt.cfg.CookieScriptAccess || c.Secure != tt.cfg.CookieSecure {
				t.Errorf("parsed cookie: HttpOnly %v, Secure %v", c.HttpOnly, c.Secure)
			}
		})
	}
}

func TestMiddlewareNoSaveOn5xx(t *testing.T) {
	m, _ := mwManager(t, Config{})
	old := mwSave(t, m, map[string]any{"n": 1})
	for _, status := range []int{499, 500, 503, 599} {
		for _, cookie := range []string{"", old} {
			rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
				FromRequest(r).Set("n", 2)
				w.WriteHeader(status)
			}, cookie)
			if rec.Code != status {
				t.Fatalf("status %d, want %d", rec.Code, status)
			}
			sc := rec.Result().Header.Values("Set-Cookie")
			if saved := len(sc) > 0; saved != (status < 500) {
				t.Errorf("status %d, incoming cookie %v: Set-Cookie %q", status, cookie != "", sc)
			}
			if !mwVary(rec.Result().Header) {
				t.Errorf("status %d: no Vary: Cookie on an accessed session", status)
			}
		}
	}
	// The handler's own http.Error counts as well.
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Set("n", 3)
		http.Error(w, "boom", http.StatusServiceUnavailable)
	}, old)
	if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 0 || rec.Code != 503 {
		t.Errorf("503 from http.Error: status %d, Set-Cookie %q", rec.Code, sc)
	}
}

func TestMiddlewareFlushDeletesCookie(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, `sessionid=""; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`},
		{Config{CookieName: "sid", CookieDomain: ".example.com", CookiePath: "/shop", CookieSameSite: http.SameSiteStrictMode},
			`sid=""; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/shop; Domain=.example.com; HttpOnly; SameSite=Strict`},
		{Config{CookieSecure: true, CookieScriptAccess: true},
			`sessionid=""; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; SameSite=Lax`},
	}
	for _, tt := range tests {
		m, _ := mwManager(t, tt.cfg)
		if got := m.jar.DeleteHeader(); got != tt.want {
			t.Errorf("DeleteHeader = %q, want %q", got, tt.want)
		}
		value := mwSave(t, m, map[string]any{"user_id": 7})
		rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
			if err := FromRequest(r).Flush(r.Context()); err != nil {
				t.Error(err)
			}
			w.WriteHeader(http.StatusNoContent)
		}, value)
		h := rec.Result().Header
		if sc := h.Values("Set-Cookie"); len(sc) != 1 || sc[0] != tt.want {
			t.Errorf("Flush with a cookie: Set-Cookie = %q, want [%s]", sc, tt.want)
		}
		if !mwVary(h) {
			t.Errorf("Flush with a cookie: no Vary: Cookie in %v", h)
		}
		// Flush without an incoming cookie: nothing to delete.
		rec = mwDo(m, func(w http.ResponseWriter, r *http.Request) {
			if err := FromRequest(r).Flush(r.Context()); err != nil {
				t.Error(err)
			}
		}, "")
		h = rec.Result().Header
		if sc := h.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("Flush without a cookie: Set-Cookie = %q", sc)
		}
		if !mwVary(h) {
			t.Errorf("Flush without a cookie: no Vary: Cookie in %v", h)
		}
	}
}

// TestMiddlewareUntouched checks that a handler that never uses the session
// costs nothing: no header, and the cookie is not even decoded (a garbage
// cookie would otherwise be logged).
func TestMiddlewareUntouched(t *testing.T) {
	m, logs := mwManager(t, Config{})
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); !ok {
			t.Error("no session in the context")
		}
		io.WriteString(w, "hello")
	}, "garbage")
	h := rec.Result().Header
	if len(h.Values("Set-Cookie")) != 0 || len(h.Values("Vary")) != 0 {
		t.Errorf("untouched session: headers %v", h)
	}
	if rec.Body.String() != "hello" {
		t.Errorf("body %q", rec.Body)
	}
	if l := logs.String(); l != "" {
		t.Errorf("untouched session: the cookie was decoded, log:\n%s", l)
	}

	// The same cookie, read: it is decoded, logged, and deleted.
	rec = mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		if n := FromRequest(r).Len(); n != 0 {
			t.Errorf("garbage cookie: %d values", n)
		}
	}, "garbage")
	h = rec.Result().Header
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, `msg="session data corrupted"`) || !strings.Contains(l, "logger=session.security") {
		t.Errorf("garbage cookie read: no security warning, log:\n%s", l)
	}
	if sc := h.Values("Set-Cookie"); len(sc) != 1 || sc[0] != m.jar.DeleteHeader() {
		t.Errorf("garbage cookie read: Set-Cookie %q, want the deletion", sc)
	}
	if !mwVary(h) {
		t.Errorf("garbage cookie read: no Vary: Cookie")
	}
}

func TestMiddlewareReadOnly(t *testing.T) {
	m, logs := mwManager(t, Config{})
	value := mwSave(t, m, map[string]any{"user_id": 7})
	for _, cookie := range []string{value, ""} {
		rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			id, err := Get[int](s, "user_id")
			if cookie != "" && (err != nil || id != 7) {
				t.Errorf("Get = %v, %v", id, err)
			}
			io.WriteString(w, "ok")
		}, cookie)
		h := rec.Result().Header
		if sc := h.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("read-only access (cookie %v): Set-Cookie %q", cookie != "", sc)
		}
		if vs := h.Values("Vary"); len(vs) != 1 || vs[0] != "Cookie" {
			t.Errorf("read-only access (cookie %v): Vary %q, want [Cookie]", cookie != "", vs)
		}
	}
	// A handler's own Vary is kept, and Cookie is not added twice.
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		w.Header().Add("Vary", "Cookie")
		FromRequest(r).Get("user_id")
	}, value)
	if vs := rec.Result().Header.Values("Vary"); !slices.Equal(vs, []string{"Accept-Encoding", "Cookie"}) {
		t.Errorf("Vary %q, want [Accept-Encoding Cookie]", vs)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warnings:\n%s", logs)
	}
}

// mwStart lists the ways a handler starts its response. When failing is
// set, the session's commit fails and the start must report it where it
// can.
var mwStart = []struct {
	name  string
	start func(t *testing.T, w http.ResponseWriter, failing bool)
}{
	{"WriteHeader", func(t *testing.T, w http.ResponseWriter, failing bool) { w.WriteHeader(http.StatusCreated) }},
	{"Write", func(t *testing.T, w http.ResponseWriter, failing bool) {
		if n, err := io.WriteString(w, "body"); (err != nil) != failing || (n == 4) == failing {
			t.Errorf("Write = %d, %v", n, err)
		}
	}},
	{"Flusher", func(t *testing.T, w http.ResponseWriter, failing bool) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Fatal("the middleware's ResponseWriter is not an http.Flusher")
		}
		f.Flush()
	}},
	{"ResponseController.Flush", func(t *testing.T, w http.ResponseWriter, failing bool) {
		if err := http.NewResponseController(w).Flush(); (err != nil) != failing {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	}},
	{"io.Copy", func(t *testing.T, w http.ResponseWriter, failing bool) {
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Fatal("the middleware's ResponseWriter is not an io.ReaderFrom")
		}
		// A reader without WriteTo, so that io.Copy takes ReadFrom.
		if n, err := io.Copy(w, struct{ io.Reader }{strings.NewReader("body")}); (err != nil) != failing || (n == 4) == failing {
			t.Errorf("io.Copy = %d, %v", n, err)
		}
	}},
	{"return", func(t *testing.T, w http.ResponseWriter, failing bool) {}},
}

// TestMiddlewareCommitBeforeFirstByte checks that the session is saved
// before the response starts, however the handler starts it, and that a
// change made afterwards is reported and not saved.
func TestMiddlewareCommitBeforeFirstByte(t *testing.T) {
	for _, mode := range []string{"recorder", "server"} {
		for _, st := range mwStart {
			t.Run(mode+"/"+st.name, func(t *testing.T) {
				var oe mwErrors
				m, logs := mwManager(t, Config{OnError: oe.OnError})
				h := func(w http.ResponseWriter, r *http.Request) {
					s := FromRequest(r)
					s.Set("before", 1)
					st.start(t, w, false)
					if st.name == "return" {
						return
					}
					w.Header().Set("X-After", "1") // too late: must not be sent
					s.Set("after", 2)
				}
				var hdr http.Header
				switch mode {
				case "recorder":
					rec := mwDo(m, h, "")
					hdr = rec.Result().Header
				case "server":
					srv := httptest.NewServer(m.Handler(http.HandlerFunc(h)))
					defer srv.Close()
					resp, err := srv.Client().Get(srv.URL)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					hdr = resp.Header
				}
				c, ok := mwCookie(m, hdr)
				if !ok {
					t.Fatalf("no Set-Cookie in the response: %v", hdr)
				}
				if hdr.Get("X-After") != "" {
					t.Fatalf("a header set after %s was sent: the response had not started", st.name)
				}
				var keys []string
				mwDo(m, func(w http.ResponseWriter, r *http.Request) { keys = FromRequest(r).Keys() }, c.Value)
				if !slices.Equal(keys, []string{"before"}) {
					t.Errorf("saved keys %q, want [before]", keys)
				}
				errs := oe.All()
				if st.name == "return" {
					if len(errs) != 0 {
						t.Errorf("OnError got %v", errs)
					}
					return
				}
				if len(errs) != 1 || !errors.Is(errs[0], ErrLateChange) || !strings.Contains(errs[0].Error(), `"after"`) {
					t.Errorf("OnError got %v, want one ErrLateChange naming the key", errs)
				}
				if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, ErrLateChange.Error()) {
					t.Errorf("late change not logged:\n%s", l)
				}
			})
		}
	}
}

// TestMiddlewareResponseController checks that the ResponseController's
// other methods reach the server's writer through the middleware.
func TestMiddlewareResponseController(t *testing.T) {
	m, _ := mwManager(t, Config{})
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		FromRequest(r).Set("k", "v")
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := mwCookie(m, resp.Header); !ok || resp.StatusCode != 200 {
		t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	// A deadline in the past makes the write fail: the deadline really
	// reached the connection.
	srv2 := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		io.WriteString(w, "x")
		if err := rc.Flush(); err == nil {
			t.Error("Flush after a past write deadline succeeded")
		}
	})))
	defer srv2.Close()
	if resp, err := srv2.Client().Get(srv2.URL); err == nil {
		resp.Body.Close()
	}
}

// mwHijack serves h, whose handler hijacks the connection and answers by
// hand, and returns the raw response.
func mwHijackHandler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Set("hijacked", true)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		// The session was committed before the connection was handed
		// over: its Set-Cookie is in the header map for the hijacker.
		fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n")
		for _, sc := range w.Header().Values("Set-Cookie") {
			fmt.Fprintf(brw, "Set-Cookie: %s\r\n", sc)
		}
		fmt.Fprintf(brw, "\r\nhijacked")
		if err := brw.Flush(); err != nil {
			t.Error(err)
		}
	}
}

func mwHijack(t *testing.T, m *Manager) {
	t.Helper()
	srv := httptest.NewServer(m.Handler(mwHijackHandler(t)))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hijacked" {
		t.Fatalf("body %q", body)
	}
	c, ok := mwCookie(m, resp.Header)
	if !ok {
		t.Fatalf("no session cookie from the hijacker: %v", resp.Header)
	}
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		if v := FromRequest(r).Get("hijacked"); v != true {
			t.Errorf("after hijack the session holds %v", v)
		}
	}, c.Value)
}

func TestMiddlewareHijack(t *testing.T) {
	m, _ := mwManager(t, Config{})
	mwHijack(t, m)
}

func TestMiddlewareHijackServer(t *testing.T) {
	store := memory.New()
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: store})
	mwHijack(t, m)
	if store.Len() != 1 {
		t.Errorf("store holds %d sessions after the hijack, want 1", store.Len())
	}
}

// TestMiddlewareEarlyHints checks that a 1xx response does not commit the
// session: the final status decides.
func TestMiddlewareEarlyHints(t *testing.T) {
	for _, final := range []int{http.StatusOK, http.StatusInternalServerError} {
		m, _ := mwManager(t, Config{})
		srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			FromRequest(r).Set("k", "v")
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(final)
			io.WriteString(w, "done")
		})))
		var mu sync.Mutex
		var hints []http.Header
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				mu.Lock()
				defer mu.Unlock()
				if code == http.StatusEarlyHints {
					hints = append(hints, http.Header(h))
				}
				return nil
			},
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		mu.Lock()
		if len(hints) != 1 || hints[0].Get("Link") == "" {
			t.Errorf("final %d: early hints %v, want one with Link", final, hints)
		} else if sc := hints[0].Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("final %d: the 103 carried Set-Cookie %q", final, sc)
		}
		mu.Unlock()
		_, saved := mwCookie(m, resp.Header)
		if resp.StatusCode != final || saved != (final < 500) {
			t.Errorf("final %d: status %d, Set-Cookie %q", final, resp.StatusCode, resp.Header.Values("Set-Cookie"))
		}
	}
}

// TestMiddlewareEncodeError checks that a session that cannot be encoded
// turns the response into the error response, and that the handler's own
// output is dropped.
func TestMiddlewareEncodeError(t *testing.T) {
	bad := map[string]any{"chan": make(chan int), "struct": struct{ a int }{1}, "func": func() {}}
	for key, v := range bad {
		for _, st := range mwStart {
			t.Run(key+"/"+st.name, func(t *testing.T) {
				var oe mwErrors
				m, logs := mwManager(t, Config{OnError: oe.OnError})
				value := mwSave(t, m, map[string]any{"ok": 1})
				rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
					FromRequest(r).Set(key, v)
					w.Header().Set("X-Handler", "1")
					st.start(t, w, true)
					if n, err := io.WriteString(w, "handler output"); err == nil || n != 0 {
						t.Errorf("Write after the failed commit = %d, %v; want an error", n, err)
					}
				}, value)
				if rec.Code != http.StatusInternalServerError || rec.Body.String() != "Internal Server Error\n" {
					t.Errorf("response %d %q, want the default 500", rec.Code, rec.Body)
				}
				if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 0 {
					t.Errorf("Set-Cookie %q on the error response", sc)
				}
				errs := oe.All()
				var ue *serializer.UnsupportedError
				if len(errs) != 1 || !errors.As(errs[0], &ue) || ue.Key != key || !strings.Contains(errs[0].Error(), `"`+key+`"`) {
					t.Errorf("OnError got %v, want one *serializer.UnsupportedError naming %q", errs, key)
				}
				if !strings.Contains(logs.String(), "session: request failed") {
					t.Errorf("failure not logged:\n%s", logs)
				}
			})
		}
	}
}

func TestMiddlewareCustomErrorHandler(t *testing.T) {
	var got []error
	m, _ := mwManager(t, Config{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = append(got, err)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "custom error page")
	}})
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Set("bad", make(chan int))
		io.WriteString(w, "handler output")
		io.WriteString(w, " and more")
	}, "")
	if rec.Code != http.StatusTeapot || rec.Body.String() != "custom error page" {
		t.Errorf("response %d %q, want the ErrorHandler's", rec.Code, rec.Body)
	}
	if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie %q", sc)
	}
	var ue *serializer.UnsupportedError
	if len(got) != 1 || !errors.As(got[0], &ue) || ue.Key != "bad" || !errors.Is(got[0], serializer.ErrUnsupported) {
		t.Errorf("ErrorHandler got %v", got)
	}
}

func TestMiddlewareTooLarge(t *testing.T) {
	big := make([]byte, 8<<10)
	rand.Read(big)
	var oe mwErrors
	var handled []error
	m, _ := mwManager(t, Config{OnError: oe.OnError, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		handled = append(handled, err)
		http.Error(w, "too large", http.StatusInternalServerError)
	}})
	rec := mwDo(m, setHandler("blob", big), "")
	if rec.Code != http.StatusInternalServerError || rec.Body.String() != "too large\n" {
		t.Errorf("response %d %q", rec.Code, rec.Body)
	}
	if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie %d bytes", len(sc[0]))
	}
	for _, errs := range [][]error{oe.All(), handled} {
		var se *cookie.SizeError
		if len(errs) != 1 || !errors.Is(errs[0], cookie.ErrTooLarge) || !errors.As(errs[0], &se) || se.Size <= 4096 || se.Limit != 4096 {
			t.Errorf("errors %v, want one cookie.ErrTooLarge", errs)
		}
	}
	// Just under the budget still fits.
	m2, _ := mwManager(t, Config{})
	rec = mwDo(m2, setHandler("blob", big[:2<<10]), "")
	if sc := rec.Result().Header.Values("Set-Cookie"); rec.Code != 200 || len(sc) != 1 || len(sc[0]) > 4096 {
		t.Errorf("a 2 KB session: status %d, Set-Cookie %v", rec.Code, sc)
	}
}

// TestMiddlewareInterrupted is Django's SessionInterrupted: a session
// deleted by a concurrent request (a logout) is not brought back by a
// request that changes it; that request gets a 400.
func TestMiddlewareInterrupted(t *testing.T) {
	var oe mwErrors
	store := memory.New()
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: store, OnError: oe.OnError})
	value := mwSave(t, m, map[string]any{"n": 1})
	logout := func(w http.ResponseWriter, r *http.Request) {
		if err := FromRequest(r).Flush(r.Context()); err != nil {
			t.Error(err)
		}
	}
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, err := Get[int](s, "n")
		if err != nil || n != 1 {
			t.Fatalf("Get = %v, %v", n, err)
		}
		// A concurrent request logs out.
		if rec := mwDo(m, logout, value); rec.Result().Header.Get("Set-Cookie") != m.jar.DeleteHeader() {
			t.Errorf("logout: %v", rec.Result().Header)
		}
		s.Set("n", n+1)
		io.WriteString(w, "handler output")
	}, value)
	want := "session: the request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.\n"
	if rec.Code != http.StatusBadRequest || rec.Body.String() != want {
		t.Errorf("response %d %q, want 400 %q", rec.Code, rec.Body, want)
	}
	if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie %q", sc)
	}
	if errs := oe.All(); len(errs) != 1 || !errors.Is(errs[0], ErrInterrupted) {
		t.Errorf("OnError got %v, want ErrInterrupted", errs)
	}
	if store.Len() != 0 {
		t.Errorf("the deleted session came back: %d in the store", store.Len())
	}
}

// TestMiddlewareStoreErrors checks the server engine's failures: loading,
// saving and deleting.
func TestMiddlewareStoreErrors(t *testing.T) {
	var oe mwErrors
	store := &mwFailStore{Store: memory.New()}
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: store, OnError: oe.OnError})
	value := mwSave(t, m, map[string]any{"n": 1})

	// Loading fails: the session is empty, Err says why, and the response
	// is the error response.
	store.failLoad.Store(true)
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		if s.Get("n") != nil || !errors.Is(s.Err(), errMwStore) || !errors.Is(s.Err(), ErrStore) {
			t.Errorf("failed load: n = %v, Err = %v", s.Get("n"), s.Err())
		}
		if err := s.Flush(r.Context()); !errors.Is(err, ErrStore) {
			t.Errorf("Flush after a failed load: %v", err)
		}
		io.WriteString(w, "handler output")
	}, value)
	if rec.Code != 500 || rec.Body.String() != "Internal Server Error\n" || len(rec.Result().Header.Values("Set-Cookie")) != 0 {
		t.Errorf("failed load: %d %q %v", rec.Code, rec.Body, rec.Result().Header)
	}
	if errs := oe.All(); len(errs) != 1 || !errors.Is(errs[0], errMwStore) {
		t.Errorf("OnError got %v", errs)
	}

	// A handler that does not use the session does not reach the store.
	rec = mwDo(m, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") }, value)
	if rec.Code != 200 || rec.Body.String() != "fine" {
		t.Errorf("untouched session with a failing store: %d %q", rec.Code, rec.Body)
	}
	store.failLoad.Store(false)

	// Saving fails.
	store.failWrite.Store(true)
	for _, cookie := range []string{value, ""} {
		rec = mwDo(m, setHandler("n", 2), cookie)
		if rec.Code != 500 || len(rec.Result().Header.Values("Set-Cookie")) != 0 {
			t.Errorf("failed save: %d %v", rec.Code, rec.Result().Header)
		}
	}
	store.failWrite.Store(false)
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		if n, err := Get[int](FromRequest(r), "n"); n != 1 || err != nil {
			t.Errorf("after a failed save: n = %v, %v; want the old 1", n, err)
		}
	}, value)

	// Deleting fails: Flush reports it, and the response is the error
	// response, which keeps the cookie: the logout did not happen.
	store.failDelete.Store(true)
	rec = mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		if err := FromRequest(r).Flush(r.Context()); !errors.Is(err, errMwStore) || !errors.Is(err, ErrStore) {
			t.Errorf("Flush with a failing store: %v", err)
		}
		io.WriteString(w, "logged out")
	}, value)
	if rec.Code != 500 || len(rec.Result().Header.Values("Set-Cookie")) != 0 || strings.Contains(rec.Body.String(), "logged out") {
		t.Errorf("failed logout answered %d %v %q", rec.Code, rec.Result().Header, rec.Body)
	}
	store.failDelete.Store(false)
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		if n, err := Get[int](FromRequest(r), "n"); n != 1 || err != nil {
			t.Errorf("after a failed logout: n = %v, %v; the session must still be there", n, err)
		}
	}, value)
}

// TestMiddlewareClearedStoredSession is Django's "a session emptied of data
// but still keyed is still saved, and the cookie re-sent with Vary".
func TestMiddlewareClearedStoredSession(t *testing.T) {
	store := memory.New()
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: store})
	value := mwSave(t, m, map[string]any{"n": 1})
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Clear() }, value)
	h := rec.Result().Header
	c, ok := mwCookie(m, h)
	if !ok || c.Value == "" || c.MaxAge <= 0 || !mwVary(h) {
		t.Fatalf("cleared session: %v", h)
	}
	if store.Len() != 1 {
		t.Errorf("store holds %d", store.Len())
	}
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		if s.Len() != 0 || s.Key() == "" {
			t.Errorf("cleared session reloaded: %d values, key %q", s.Len(), s.Key())
		}
	}, c.Value)
}

// TestMiddlewareConcurrentSession has many goroutines of one request use
// its session at once; run with -race.
func TestMiddlewareConcurrentSession(t *testing.T) {
	const workers, rounds = 16, 200
	m, _ := mwManager(t, Config{})
	value := mwSave(t, m, map[string]any{"shared": 0})
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		var wg sync.WaitGroup
		for g := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				own := fmt.Sprintf("g%d", g)
				for i := range rounds {
					s.Set(own, i)
					if n, err := Get[int](s, own); err != nil || n != i {
						t.Errorf("%s: Get = %v, %v; want %d", own, n, err, i)
						return
					}
					s.Set("shared", i)
					s.Get("shared")
					s.Pop(own + "-tmp")
					s.SetDefault(own+"-tmp", i)
					if v, ok := s.Pop(own + "-tmp"); !ok || v != int64(i) {
						t.Errorf("%s: Pop = %v, %v", own, v, ok)
						return
					}
					_ = s.Keys()
					_ = s.Values()
					_ = s.Len()
					_ = s.Has(own)
					_ = s.Modified()
				}
			}()
		}
		wg.Wait()
		io.WriteString(w, "ok")
	}, value)
	c, ok := mwCookie(m, rec.Result().Header)
	if !ok {
		t.Fatal("no Set-Cookie")
	}
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		if s.Len() != workers+1 {
			t.Errorf("keys %v", s.Keys())
		}
		for g := range workers {
			if n, err := Get[int](s, fmt.Sprintf("g%d", g)); err != nil || n != rounds-1 {
				t.Errorf("g%d = %v, %v", g, n, err)
			}
		}
	}, c.Value)
}

// BenchmarkRoundTrip is the whole middleware on a request with a session
// cookie: decode, one read, one write, encode, Set-Cookie. Compare with
// BenchmarkRoundTripBaseline.
func BenchmarkRoundTrip(b *testing.B) {
	m, _ := mwManager(b, Config{Logger: slog.New(slog.DiscardHandler)})
	h, req := roundTripBench(b, m, map[string]any{"user_id": int64(42), "n": 1})
	loopRoundTrips(b, h, req)
}

// roundTripBench saves values in a new session of m, and returns a request
// that carries its cookie and m's middleware around a handler that reads
// "n" and writes n+1.
func roundTripBench(b *testing.B, m *Manager, values map[string]any) (http.Handler, *http.Request) {
	b.Helper()
	value := mwSave(b, m, values)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, _ := Get[int](s, "n")
		s.Set("n", n+1)
		io.WriteString(w, "ok")
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", m.jar.Name()+"="+value)
	return h, req
}

// loopRoundTrips serves req through h for each iteration of b, and fails
// b unless every response is a 200 that sets the cookie.
func loopRoundTrips(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || len(rec.Header().Values("Set-Cookie")) != 1 {
			b.Fatalf("status %d, headers %v", rec.Code, rec.Header())
		}
	}
}

// BenchmarkRoundTripBaseline is BenchmarkRoundTrip's request and handler
// shape without the middleware.
func BenchmarkRoundTripBaseline(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	m, _ := mwManager(b, Config{})
	value := mwSave(b, m, map[string]any{"user_id": int64(42), "n": 1})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", "sessionid="+value)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkRoundTripAutoSpilled is BenchmarkRoundTrip under EngineAuto
// with a session too large for a cookie (a 20-item cart, each item with a
// 300-character note of pseudo-random hex that compression cannot shrink),
// which lives in server/memory: each request reads it from the store,
// changes one value and writes it back.
func BenchmarkRoundTripAutoSpilled(b *testing.B) {
	m, _ := mwManager(b, Config{Logger: slog.New(slog.DiscardHandler), Engine: EngineAuto, Store: memory.New()})
	rng := mrand.New(mrand.NewPCG(1, 2))
	cart := make([]any, 20)
	for i := range cart {
		note := make([]byte, 150)
		for j := range note {
			note[j] = byte(rng.Uint32())
		}
		cart[i] = map[string]any{"sku": int64(1000 + i), "note": hex.EncodeToString(note)}
	}
	h, req := roundTripBench(b, m, map[string]any{"user_id": int64(42), "n": 1, "cart": cart})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	c, ok := mwCookie(m, rec.Result().Header)
	if !ok {
		b.Fatal("no Set-Cookie")
	}
	if d, err := m.openCookie(c.Value); err != nil || d.Kind != codec.KindReference {
		b.Fatalf("the session is not spilled: the cookie decodes to kind %v, %v", d.Kind, err)
	}
	loopRoundTrips(b, h, req)
}

// TestHandlerTwice: Handler applied twice to a request (around the site
// and around a route) gives the handler the outer Handler's session and
// one Set-Cookie; Load of a request that has a session of the Manager
// returns that session; another Manager's Handler still gives its own.
func TestHandlerTwice(t *testing.T) {
	for _, engine := range []Engine{EngineCookie, EngineServer} {
		t.Run(string(engine), func(t *testing.T) {
			cfg := Config{Engine: engine}
			if engine == EngineServer {
				cfg.Store = memory.New()
			}
			m, _ := mwManager(t, cfg)
			var outer, inner *Session
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				outer = FromRequest(r)
				m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					inner = FromRequest(r)
					n, _ := Get[int](inner, "n")
					inner.Set("n", n+1)
					fmt.Fprint(w, n+1)
				})).ServeHTTP(w, r)
			}))
			cookie := ""
			for want := 1; want <= 2; want++ {
				req := httptest.NewRequest("GET", "/", nil)
				if cookie != "" {
					req.AddCookie(&http.Cookie{Name: m.jar.Name(), Value: cookie})
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if outer != inner {
					t.Fatal("the inner Handler made a session of its own")
				}
				set := rec.Result().Header.Values("Set-Cookie")
				if rec.Code != http.StatusOK || rec.Body.String() != strconv.Itoa(want) || len(set) != 1 {
					t.Fatalf("request %d: status %d, body %q, Set-Cookie %q; want 200, %d and one cookie", want, rec.Code, rec.Body, set, want)
				}
				cookie = rec.Result().Cookies()[0].Value
			}

			r1, s1 := m.Load(httptest.NewRequest("GET", "/", nil))
			if r2, s2 := m.Load(r1); r2 != r1 || s2 != s1 {
				t.Error("Load of a request that has a session of the Manager made another")
			}
			other, _ := mwManager(t, Config{CookieName: "other"})
			if _, s3 := other.Load(r1); s3 == s1 {
				t.Error("another Manager's Load returned the first Manager's session")
			}
		})
	}
}
