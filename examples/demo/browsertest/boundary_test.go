package browsertest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/cookie"
	"github.com/sessionkit/session/server/memory"
)

const boundarySecret = "the browser test's boundary key, 32 bytes or more"

// value returns the session value of n bytes that the boundary server
// keeps: letters and digits that change from byte to byte, so that a
// value cut, shifted or mixed up with another does not compare equal.
func value(n int) string {
	const chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[(i*7+i/len(chars))%len(chars)]
	}
	return string(b)
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// boundaryConfig is the session configuration of the boundary server: the
// auto engine on a memory store, without compression, so that the cookie's
// size follows the value's length.
func boundaryConfig(name string, store *memory.Store) session.Config {
	return session.Config{
		Engine:      session.EngineAuto,
		Store:       store,
		SecretKey:   []byte(boundarySecret),
		Compression: "none",
		CookieName:  name,
	}
}

// setValue is the boundary server's /set?n=N&ttl=SECONDS: the session
// value "v" becomes value(N) and the session expires after SECONDS of
// inactivity.
func setValue(w http.ResponseWriter, r *http.Request) {
	n, err1 := strconv.Atoi(r.FormValue("n"))
	ttl, err2 := strconv.ParseInt(r.FormValue("ttl"), 10, 64)
	if err1 != nil || err2 != nil || n < 0 || ttl <= 0 {
		http.Error(w, "want n and ttl", http.StatusBadRequest)
		return
	}
	s := session.FromRequest(r)
	s.Set("v", value(n))
	s.SetExpiry(time.Duration(ttl) * time.Second)
	fmt.Fprintf(w, "<!doctype html><title>set</title><p id=\"set\">%d</p>\n", n)
}

// getValue is the boundary server's /get: the length and SHA-256 of the
// session value "v", and where the session lives.
func getValue(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	v, _ := session.Get[string](s, "v")
	where := "cookie"
	if s.Key() != "" {
		where = "store"
	}
	fmt.Fprintf(w, "<!doctype html><title>get</title><p id=\"len\">%d</p><p id=\"sum\">%s</p><p id=\"where\">%s</p>\n",
		len(v), digest(v), html.EscapeString(where))
}

// probe measures, in process, the Set-Cookie header that a session cookie
// holding the data would take: with the cookie engine and the boundary
// server's other settings, it is the header itself while it fits the
// budget, and the size that cookie.SizeError reports when it does not.
type probe struct {
	name    string
	handler http.Handler
	err     error // what the last request's ErrorHandler got
}

func newProbe(t *testing.T, name string) *probe {
	p := &probe{name: name}
	cfg := boundaryConfig(name, nil)
	cfg.Engine = session.EngineCookie
	cfg.Logger = slog.New(slog.DiscardHandler) // every probe over the budget is an error
	cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		p.err = err
		http.Error(w, "too large", http.StatusInternalServerError)
	}
	m, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.handler = m.Handler(http.HandlerFunc(setValue))
	return p
}

// size returns the length of the data cookie's Set-Cookie header for
// value(n) with an expiry of ttl seconds.
func (p *probe) size(t *testing.T, n int, ttl int64) int {
	t.Helper()
	p.err = nil
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/set?n=%d&ttl=%d", n, ttl), nil))
	if p.err != nil {
		var se *cookie.SizeError
		if !errors.As(p.err, &se) {
			t.Fatalf("probing n=%d ttl=%d: %v", n, ttl, p.err)
		}
		return se.Size
	}
	h := rec.Result().Header.Values("Set-Cookie")
	if len(h) != 1 || !strings.HasPrefix(h[0], p.name+"=") {
		t.Fatalf("probing n=%d ttl=%d: Set-Cookie %q", n, ttl, h)
	}
	return len(h[0])
}

// boundary is a session value and two expiries: with the first, the data
// cookie's Set-Cookie header is exactly the budget; with the second, one
// byte more.
type boundary struct {
	name         string // the cookie name
	n            int    // the value's length
	ttlIn, ttlUp int64  // 10^d-1 and 10^d seconds
}

// findBoundary searches the longest value, and its expiry, whose data
// cookie takes exactly cookie.DefaultMaxSize bytes of Set-Cookie header,
// and one byte more with an expiry one second (one digit of Max-Age)
// longer.
//
// A value one byte longer cannot do it: the cookie value is padded base64
// of padded base64, so it grows in steps of 4 (or 8) bytes. Max-Age
// grows by one byte from 99999 to 100000 seconds, and so on, while the
// expiry, an int64 of the session, serializes to the same 5 bytes
// (MessagePack's uint32) from 65536 to 4294967295. Which of the four
// digit counts 5 to 8 lines up with the budget depends on the rest of the
// header; some alignments are not reachable at all, so longer cookie names
// are tried too.
func findBoundary(t *testing.T) boundary {
	t.Helper()
	const budget = cookie.DefaultMaxSize
	for extra := range 12 {
		name := "sessionid" + strings.Repeat("_", extra)
		p := newProbe(t, name)
		for d, ttlIn := 5, int64(99999); d <= 8; d, ttlIn = d+1, ttlIn*10+9 {
			ttlUp := ttlIn + 1
			// The longest value that fits: one less than the shortest
			// that does not (sizes grow with n).
			lo, hi := 0, budget
			for lo < hi {
				mid := (lo + hi) / 2
				if p.size(t, mid, ttlIn) > budget {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			n := lo - 1
			if n < 0 || p.size(t, n, ttlIn) != budget {
				continue
			}
			if got := p.size(t, n, ttlUp); got != budget+1 {
				t.Fatalf("cookie %s, value of %d bytes: %d bytes of header with an expiry of %d s, %d with %d s; want %d and %d",
					name, n, budget, ttlIn, got, ttlUp, budget, budget+1)
			}
			return boundary{name: name, n: n, ttlIn: ttlIn, ttlUp: ttlUp}
		}
	}
	t.Fatalf("no cookie name, value length and expiry give a Set-Cookie header of exactly %d bytes", budget)
	return boundary{}
}

// recorded is one request the boundary server answered.
type recorded struct {
	path      string
	cookie    []string // Cookie headers received
	setCookie []string // Set-Cookie headers sent
}

// boundaryServer serves setValue and getValue with the session middleware
// on 127.0.0.1, and records each request's cookies.
type boundaryServer struct {
	url   string
	store *memory.Store
	mu    sync.Mutex
	log   []recorded
}

func startBoundaryServer(t *testing.T, name string) *boundaryServer {
	t.Helper()
	bs := &boundaryServer{store: memory.New()}
	m, err := session.New(boundaryConfig(name, bs.store))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /set", setValue)
	mux.HandleFunc("GET /get", getValue)
	h := m.Handler(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		bs.mu.Lock()
		defer bs.mu.Unlock()
		bs.log = append(bs.log, recorded{r.URL.Path, r.Header.Values("Cookie"), w.Header().Values("Set-Cookie")})
	}))
	t.Cleanup(srv.Close)
	bs.url = srv.URL
	return bs
}

// last returns the last request the server answered for path.
func (bs *boundaryServer) last(t *testing.T, path string) recorded {
	t.Helper()
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for i := len(bs.log) - 1; i >= 0; i-- {
		if bs.log[i].path == path {
			return bs.log[i]
		}
	}
	t.Fatalf("the server answered no request for %s", path)
	return recorded{}
}

// pair returns the name=value part of a Set-Cookie header.
func pair(setCookie string) string {
	p, _, _ := strings.Cut(setCookie, ";")
	return p
}

// TestCookieBudgetBoundary sets, through Chromium, a session whose data
// cookie's Set-Cookie header is exactly the 4096-byte budget, then the
// same session with one byte more of header, then exactly the budget
// again: at the budget the data stays in the cookie, which Chromium
// stores and sends back byte for byte; one byte over, it moves to the
// store and the cookie carries a reference, which Chromium stores and
// sends back; each time the session reads back whole.
func TestCookieBudgetBoundary(t *testing.T) {
	b := startBrowser(t)
	bd := findBoundary(t)
	t.Logf("cookie %s, a value of %d bytes: a %d-byte header with an expiry of %d s, %d bytes with %d s",
		bd.name, bd.n, cookie.DefaultMaxSize, bd.ttlIn, cookie.DefaultMaxSize+1, bd.ttlUp)
	bs := startBoundaryServer(t, bd.name)
	want := digest(value(bd.n))

	// readBack loads /get and checks that the session holds the value,
	// where it should be, and that the request carried exactly the
	// cookie pair of setCookie.
	readBack := func(what, setCookie, where string) {
		t.Helper()
		b.step(what+": reading the session back", open(bs.url+"/get"))
		if got := b.text("len"); got != strconv.Itoa(bd.n) {
			t.Fatalf("%s: the session value has %s bytes, want %d", what, got, bd.n)
		}
		if got := b.text("sum"); got != want {
			t.Fatalf("%s: the session value's SHA-256 is %s, want %s", what, got, want)
		}
		if got := b.text("where"); got != where {
			t.Fatalf("%s: the session is in the %s, want the %s", what, got, where)
		}
		rec := bs.last(t, "/get")
		if len(rec.cookie) != 1 || rec.cookie[0] != pair(setCookie) {
			t.Fatalf("%s: the server received the Cookie headers %.80q…, want exactly the %d-byte %.80q…", what, rec.cookie, len(pair(setCookie)), pair(setCookie))
		}
		if len(rec.setCookie) != 0 {
			t.Fatalf("%s: reading the session set cookies: %.80q", what, rec.setCookie)
		}
	}

	// set loads /set with the expiry ttl and returns the one Set-Cookie
	// header the browser received, after checking that the server sent
	// just that.
	set := func(what string, ttl int64) string {
		t.Helper()
		ex := b.step(what, open(fmt.Sprintf("%s/set?n=%d&ttl=%d", bs.url, bd.n, ttl)))
		if len(ex) != 1 || len(ex[0].SetCookie) != 1 {
			t.Fatalf("%s: %s; want one response with one Set-Cookie", what, describe(ex))
		}
		got := ex[0].SetCookie[0]
		if rec := bs.last(t, "/set"); len(rec.setCookie) != 1 || rec.setCookie[0] != got {
			t.Fatalf("%s: the browser received a %d-byte Set-Cookie header, not the one the server sent (%d headers)", what, len(got), len(rec.setCookie))
		}
		return got
	}

	const budget = cookie.DefaultMaxSize
	hdr := set("at the budget", bd.ttlIn)
	if len(hdr) != budget {
		t.Fatalf("at the budget: the browser received a %d-byte Set-Cookie header, want %d", len(hdr), budget)
	}
	if bs.store.Len() != 0 {
		t.Fatalf("at the budget: the store holds %d sessions, want none", bs.store.Len())
	}
	readBack("at the budget", hdr, "cookie")

	ref := set("one byte over", bd.ttlUp)
	if len(ref) >= budget/2 {
		t.Fatalf("one byte over: a %d-byte Set-Cookie header; want a reference to the store", len(ref))
	}
	if !strings.Contains(ref, "; Max-Age="+strconv.FormatInt(bd.ttlUp, 10)+";") {
		t.Fatalf("one byte over: the reference cookie %q does not have the Max-Age %d", ref, bd.ttlUp)
	}
	if bs.store.Len() != 1 {
		t.Fatalf("one byte over: the store holds %d sessions, want 1", bs.store.Len())
	}
	readBack("one byte over", ref, "store")

	hdr = set("back at the budget", bd.ttlIn)
	if len(hdr) != budget {
		t.Fatalf("back at the budget: the browser received a %d-byte Set-Cookie header, want %d", len(hdr), budget)
	}
	// The session is read from the cookie again (its store entry stays a
	// minute for requests still in flight with the reference).
	readBack("back at the budget", hdr, "cookie")
}

// TestBlockedCookieIsCaught checks the checks, with a cookie over what
// Chromium stores, set by a plain handler: a name and value of 4096 bytes
// (the limit of RFC 6265bis, which Chromium applies) are stored and sent
// back; of 4097 bytes, Chromium blocks the cookie, and the checks must say
// so, and that the old cookie is still held and sent instead. The session
// library never writes either: its budget, 4096 bytes, is for the whole
// Set-Cookie header, attributes included.
func TestBlockedCookieIsCaught(t *testing.T) {
	b := startBrowser(t)
	const name = "big"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// size is the length of the name and the value together.
		if n, err := strconv.Atoi(r.FormValue("size")); err == nil {
			w.Header().Add("Set-Cookie", name+"="+value(n-len(name))+"; Path=/")
		}
		fmt.Fprintln(w, "<!doctype html><title>cookie</title><p>ok</p>")
	}))
	t.Cleanup(srv.Close)

	b.step("a 4096-byte name and value", open(srv.URL+"/?size=4096"))
	b.step("sending it back", open(srv.URL+"/"))

	held, blocked := 4096-len(name), 4097-len(name) // the values' lengths
	_, problems := b.load("a 4097-byte name and value", open(srv.URL+"/?size=4097"))
	if !containsAll(problems, fmt.Sprintf("Chromium blocked the cookie of the %d-byte Set-Cookie header", len(name)+1+blocked+len("; Path=/")), "NameValuePairExceedsMaxSize") {
		t.Errorf("a 4097-byte cookie: the checks report %q; want the cookie blocked, for NameValuePairExceedsMaxSize", problems)
	}
	if !containsAll(problems, fmt.Sprintf("the browser holds cookie big with %d bytes of value, not the %d the server set", held, blocked)) {
		t.Errorf("a 4097-byte cookie: the checks report %q; want the old cookie still held", problems)
	}
	_, problems = b.load("after the blocked cookie", open(srv.URL+"/"))
	if !containsAll(problems, fmt.Sprintf("cookie big sent back as %d bytes", held), fmt.Sprintf("not the %d bytes", blocked)) {
		t.Errorf("after the blocked cookie: the checks report %q; want the old cookie sent instead of the new one", problems)
	}
}

// containsAll reports whether one of problems contains every one of subs.
func containsAll(problems []string, subs ...string) bool {
	for _, p := range problems {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(p, s)
		}
		if all {
			return true
		}
	}
	return false
}
