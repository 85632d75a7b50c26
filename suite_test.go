package session

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// The behaviour checklist that Django's SessionTestsMixin runs against every
// backend, run here against every engine. Cases that cannot apply to an
// engine say why.

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// engineCase is one engine set-up the suite runs against.
type engineCase struct {
	name string
	// keyed engines keep sessions in a store under a key.
	keyed bool
	// newStore returns the store, or nil for the cookie engine.
	newStore func(t *testing.T) server.Store
	engine   Engine
}

// engineCases lists the engines and stores. More stores register
// themselves through extraEngineCases.
func engineCases() []engineCase {
	mem := func(t *testing.T) server.Store {
		s := memory.New()
		t.Cleanup(func() { s.Close() })
		return s
	}
	cases := []engineCase{
		{name: "cookie", engine: EngineCookie},
		{name: "server-memory", engine: EngineServer, keyed: true, newStore: mem},
		// Small sessions stay in the cookie under the auto engine; the
		// spilled side is covered by auto_test.go.
		{name: "auto-memory", engine: EngineAuto, newStore: mem},
	}
	return append(cases, extraEngineCases...)
}

// extraEngineCases is filled by the test files of other stores.
var extraEngineCases []engineCase

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness plays a client: it holds the cookie the last response set and
// makes sessions for new requests.
type harness struct {
	t      *testing.T
	m      *Manager
	store  server.Store
	cookie string
	clock  *fakeClock
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newHarness(t *testing.T, ec engineCase, mutate ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: &fakeClock{now: time.Now()}, logs: &syncBuffer{}}
	cfg := Config{
		Engine:    ec.engine,
		SecretKey: testSecret,
		Logger:    slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       h.clock.Now,
	}
	if ec.newStore != nil {
		h.store = ec.newStore(t)
		cfg.Store = h.store
	}
	for _, f := range mutate {
		f(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.m = m
	return h
}

// session returns the session of a new request carrying the client's
// cookie.
func (h *harness) session() *Session {
	req := httptest.NewRequest("GET", "/", nil)
	if h.cookie != "" {
		req.AddCookie(&http.Cookie{Name: h.m.jar.Name(), Value: h.cookie})
	}
	s := new(Session)
	h.m.newSession(context.Background(), req, s)
	return s
}

// commit runs the response algorithm with the given status, keeps the
// cookie the response sets, and returns the response headers.
func (h *harness) commitStatus(s *Session, status int) (http.Header, error) {
	hdr := http.Header{}
	_, err := h.m.commit(s, hdr, status)
	if err != nil {
		return hdr, err
	}
	for _, line := range hdr.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			h.t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if c.MaxAge < 0 || c.Value == "" || c.Value == `""` {
			h.cookie = ""
		} else {
			h.cookie = c.Value
		}
	}
	return hdr, nil
}

func (h *harness) commit(s *Session) http.Header {
	h.t.Helper()
	hdr, err := h.commitStatus(s, http.StatusOK)
	if err != nil {
		h.t.Fatalf("commit: %v", err)
	}
	return hdr
}

// exists reports whether the store holds the session key.
func (h *harness) exists(key string) bool {
	h.t.Helper()
	if h.store == nil || key == "" {
		return false
	}
	_, err := h.store.Load(context.Background(), h.m.rowKey(key))
	if err != nil && !errors.Is(err, server.ErrNotFound) {
		h.t.Fatalf("store Load: %v", err)
	}
	return err == nil
}

// saved makes a session holding values and returns the client's view.
func (h *harness) saved(values map[string]any) *Session {
	h.t.Helper()
	s := h.session()
	s.Update(values)
	h.commit(s)
	if h.cookie == "" {
		h.t.Fatal("no cookie after saving")
	}
	return h.session()
}

func forEachEngine(t *testing.T, f func(t *testing.T, ec engineCase)) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) { f(t, ec) })
	}
}

func TestDjangoNewSession(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		s := newHarness(t, ec).session()
		if s.Modified() || s.Accessed() {
			t.Fatal("a new session is accessed or modified")
		}
		if v := s.Get("cat"); v != nil {
			t.Fatalf("Get on an empty session = %v", v)
		}
		if !s.Accessed() || s.Modified() {
			t.Fatal("Get must mark accessed only")
		}
		if !s.IsEmpty() {
			t.Fatal("fresh session is not empty")
		}
	})
}

func TestDjangoSetAndPop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.session()
		s.Set("some key", 1)
		if !s.Modified() || !s.Accessed() {
			t.Fatal("Set must mark modified and accessed")
		}
		if v, ok := s.Pop("some key"); !ok || v != int64(1) { // as a later request reads it
			t.Fatalf("Pop = %v, %v", v, ok)
		}
		if s.Has("some key") {
			t.Fatal("key still there after Pop")
		}

		s = h.saved(map[string]any{"some key": "x"})
		if v, ok := s.Pop("some key"); !ok || v != "x" || !s.Accessed() || !s.Modified() {
			t.Fatalf("Pop(existing) = %v, %v; accessed %v modified %v", v, ok, s.Accessed(), s.Modified())
		}

		s = h.session()
		if v := s.PopDefault("missing", "default"); v != "default" || !s.Accessed() || s.Modified() {
			t.Fatalf("PopDefault(missing) = %v; accessed %v modified %v", v, s.Accessed(), s.Modified())
		}
		if v, ok := s.Pop("missing"); ok || v != nil {
			t.Fatalf("Pop(missing) = %v, %v; want nil, false", v, ok)
		}
		if s.Delete("missing") || s.Modified() {
			t.Fatal("Delete(missing) reported success or modified the session")
		}
	})
}

func TestDjangoSetDefaultAndUpdate(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.session()
		if v := s.SetDefault("foo", "bar"); v != "bar" {
			t.Fatalf("first SetDefault = %v", v)
		}
		if v := s.SetDefault("foo", "baz"); v != "bar" {
			t.Fatalf("second SetDefault = %v", v)
		}
		if !s.Accessed() || !s.Modified() {
			t.Fatal("SetDefault must mark accessed and modified")
		}
		s = h.session()
		s.Update(map[string]any{"update key": 1})
		if !s.Accessed() || !s.Modified() || s.Get("update key") != int64(1) {
			t.Fatal("Update")
		}
		s = h.session()
		s.Update(nil)
		if !s.Modified() {
			t.Fatal("Update of nothing must still mark modified, as Django does")
		}
	})
}

func TestDjangoReadersMarkAccessedOnly(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		h.saved(map[string]any{"x": 1, "y": "two"})
		readers := map[string]func(s *Session) any{
			"Has":    func(s *Session) any { return s.Has("x") },
			"Keys":   func(s *Session) any { return s.Keys() },
			"Values": func(s *Session) any { return len(s.Values()) },
			"Len":    func(s *Session) any { return s.Len() },
			"Lookup": func(s *Session) any { v, _ := s.Lookup("y"); return v },
		}
		want := map[string]any{"Has": true, "Keys": []string{"x", "y"}, "Values": 2, "Len": 2, "Lookup": "two"}
		for name, read := range readers {
			s := h.session()
			got := read(s)
			if n, ok := got.(int64); ok {
				got = int(n)
			}
			if !reflect.DeepEqual(got, want[name]) {
				t.Errorf("%s = %#v, want %#v", name, got, want[name])
			}
			if !s.Accessed() || s.Modified() {
				t.Errorf("%s: accessed %v modified %v; want true, false", name, s.Accessed(), s.Modified())
			}
		}
	})
}

func TestDjangoClear(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.saved(map[string]any{"x": 1})
		s.Clear()
		if s.Len() != 0 || !s.Accessed() || !s.Modified() {
			t.Fatal("Clear must empty the data and mark accessed and modified")
		}
	})
}

func TestDjangoSaveAndExists(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.session()
		s.Set("a", "b")
		h.commit(s)
		if got := s.Get("a"); got != "b" {
			t.Fatalf("saving cleared the in-memory data: %v", got)
		}
		if !ec.keyed {
			if s.Key() != "" {
				t.Fatalf("cookie session has a store key %q", s.Key())
			}
			return // Django: the cookie backend has nothing to exist
		}
		if s.Key() == "" || !h.exists(s.Key()) {
			t.Fatal("Save must make the key exist in the store")
		}
		if err := server.ValidateKey(s.Key()); err != nil || len(s.Key()) != 52 {
			t.Fatalf("session key %q: %v", s.Key(), err)
		}
	})
}

func TestDjangoFlush(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.saved(map[string]any{"foo": "bar"})
		old := s.Key()
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ec.keyed && h.exists(old) {
			t.Fatal("the old key still exists after Flush")
		}
		if s.Key() != "" || !s.Modified() || !s.Accessed() || s.Len() != 0 {
			t.Fatalf("after Flush: key %q modified %v accessed %v len %d", s.Key(), s.Modified(), s.Accessed(), s.Len())
		}
		hdr := h.commit(s)
		if got := hdr.Get("Set-Cookie"); !strings.HasPrefix(got, `sessionid=""`) {
			t.Fatalf("Flush with a cookie must delete it, got %q", got)
		}
		if h.cookie != "" || h.session().Len() != 0 {
			t.Fatal("data survived Flush")
		}
	})
}

func TestDjangoCycleKey(t *testing.T) {
	for _, loadFirst := range []bool{true, false} {
		forEachEngine(t, func(t *testing.T, ec engineCase) {
			h := newHarness(t, ec)
			s := h.saved(map[string]any{"a": "c", "b": "d"})
			var old string
			if loadFirst {
				old = s.Key()
			} else {
				// Django's case: the key is known but nothing was
				// loaded; find the key through another session.
				old = h.session().Key()
			}
			oldCookie := h.cookie
			if err := s.CycleKey(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.commit(s)
			if ec.keyed {
				if s.Key() == old || s.Key() == "" {
					t.Fatalf("key did not change: %q", s.Key())
				}
				if h.exists(old) {
					t.Fatal("old key still exists")
				}
			}
			if h.cookie == oldCookie {
				t.Fatal("the cookie was not re-issued")
			}
			got := h.session().Values()
			if !reflect.DeepEqual(got, map[string]any{"a": "c", "b": "d"}) {
				t.Fatalf("data after CycleKey = %v", got)
			}
		})
	}
}

func TestDjangoUnknownKeyNotAdopted(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		if !ec.keyed {
			t.Skip("the cookie engine has no keys (Django skips this for cookies too)")
		}
		h := newHarness(t, ec)
		// A reference cookie, validly signed, to a key the store has
		// never seen (a deleted session, say).
		chosen := strings.Repeat("a", 52)
		v, err := h.m.jar.Encode(codec.Payload{Kind: codec.KindReference, Ref: chosen, Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		h.cookie = v
		s := h.session()
		if s.Len() != 0 || s.Key() != "" {
			t.Fatalf("unknown key loaded data or kept the key: %q", s.Key())
		}
		if h.exists(chosen) {
			t.Fatal("loading an unknown key created a record")
		}
		s.Set("x", 1)
		h.commit(s)
		if s.Key() == chosen || s.Key() == "" {
			t.Fatalf("saved under %q; the client's key must never be adopted", s.Key())
		}
		if h.exists(chosen) {
			t.Fatal("a record exists under the client's key")
		}
	})
}

func TestDjangoNoResurrection(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		if !ec.keyed {
			t.Skip("a cookie session cannot be revoked (Django skips this for cookies too)")
		}
		h := newHarness(t, ec)
		h.saved(map[string]any{"a": 1})
		s1 := h.session()
		s1.Len() // load
		s2 := h.session()
		if err := s2.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		s1.Set("b", 2)
		_, err := h.commitStatus(s1, http.StatusOK)
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("saving a deleted session: err = %v, want ErrInterrupted", err)
		}
		if h.session().Len() != 0 {
			t.Fatal("the deleted session came back")
		}
	})
}

func TestDjangoExpiryAge(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.session()
		now := h.clock.Now()
		if got := s.ExpiryAge(); got != DefaultCookieAge {
			t.Fatalf("default ExpiryAge = %v", got)
		}
		s.SetExpiry(0)
		if got := s.ExpiryAge(); got != DefaultCookieAge {
			t.Fatalf("ExpiryAge after SetExpiry(0) = %v, want the cookie age", got)
		}
		for name, set := range map[string]func(){
			"seconds":  func() { s.SetExpiry(10 * time.Second) },
			"absolute": func() { s.SetExpiryAt(now.Add(10 * time.Second)) },
		} {
			set()
			if got := s.ExpiryAge(); got != 10*time.Second {
				t.Errorf("%s: ExpiryAge = %v", name, got)
			}
			if got := s.ExpiryDate(); !got.Truncate(time.Second).Equal(now.Add(10 * time.Second).Truncate(time.Second)) {
				t.Errorf("%s: ExpiryDate = %v, want %v", name, got, now.Add(10*time.Second))
			}
		}
		s.ResetExpiry()
		if got := s.ExpiryAge(); got != DefaultCookieAge {
			t.Fatalf("ResetExpiry: ExpiryAge = %v", got)
		}
		// The custom expiry survives a save.
		s.SetExpiry(10 * time.Second)
		h.commit(s)
		if got := h.session().ExpiryAge(); got != 10*time.Second {
			t.Fatalf("after reload ExpiryAge = %v", got)
		}
	})
}

func TestDjangoExpireAtBrowserClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		for _, global := range []bool{false, true} {
			h := newHarness(t, ec, func(c *Config) { c.ExpireAtBrowserClose = global })
			s := h.session()
			check := func(what string, want bool) {
				t.Helper()
				if got := s.ExpireAtBrowserClose(); got != want {
					t.Errorf("global=%v %s: ExpireAtBrowserClose = %v, want %v", global, what, got, want)
				}
			}
			s.SetExpiry(10 * time.Second)
			check("10s", false)
			s.SetExpiry(0)
			check("0", true)
			s.ResetExpiry()
			check("reset", global)
		}
	})
}

func TestDjangoRoundTrip(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		want := map[string]any{"a test key": "a test value", "n": int64(7), "list": []any{"x", int64(1)}}
		s := h.saved(want)
		if got := s.Values(); !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip: %#v, want %#v", got, want)
		}
	})
}

func TestDjangoCorruptCookie(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		for _, bad := range []string{"Zmxhc2tkajphbGtkamY=", "bad:encoded:value", strings.Repeat("A", 200)} {
			h := newHarness(t, ec)
			h.cookie = bad
			s := h.session()
			if s.Len() != 0 || s.Err() != nil {
				t.Fatalf("corrupt cookie %q: len %d err %v", bad, s.Len(), s.Err())
			}
			if !strings.Contains(h.logs.String(), "session data corrupted") || !strings.Contains(h.logs.String(), "level=WARN") {
				t.Fatalf("no security warning logged: %s", h.logs.String())
			}
			hdr := h.commit(s)
			if !strings.HasPrefix(hdr.Get("Set-Cookie"), `sessionid=""`) {
				t.Fatalf("corrupt cookie not deleted: %q", hdr.Get("Set-Cookie"))
			}
		}
	})
}

func TestDjangoActualExpiry(t *testing.T) {
	// Django's cookie backend fails this one (#19201); ours enforces the
	// expiry inside the authenticated envelope.
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.session()
		s.Set("foo", "bar")
		s.SetExpiry(-10 * time.Second)
		cookieBefore := h.cookie
		h.commit(s)
		if h.cookie != cookieBefore {
			t.Fatal("an already expired session set a live cookie")
		}
		// A client that keeps the cookie anyway gets nothing back.
		s = h.session()
		s.Set("foo", "bar")
		s.SetExpiry(2 * time.Second)
		h.commit(s)
		h.clock.Add(3 * time.Second)
		if ec.keyed {
			// the store's own clock is the real one
			time.Sleep(2100 * time.Millisecond)
		}
		if got := h.session().Get("foo"); got != nil {
			t.Fatalf("expired session still has data: %v", got)
		}
	})
}

func TestDjangoTestCookie(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.session()
		if s.TestCookieWorked() {
			t.Fatal("worked before it was set")
		}
		s.SetTestCookie()
		h.commit(s)
		s = h.session()
		if !s.TestCookieWorked() {
			t.Fatal("test cookie did not come back")
		}
		s.DeleteTestCookie()
		if s.TestCookieWorked() {
			t.Fatal("still there after delete")
		}
	})
}

func TestFlashes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.session()
		s.AddFlash("saved")
		s.AddFlash("twice")
		h.commit(s)
		s = h.session()
		if got := s.Flashes(); !reflect.DeepEqual(got, []any{"saved", "twice"}) {
			t.Fatalf("Flashes = %#v", got)
		}
		if got := s.Flashes(); got != nil {
			t.Fatalf("second Flashes = %#v", got)
		}
		h.commit(s)
		if got := h.session().Flashes(); got != nil {
			t.Fatalf("flashes came back after being read: %#v", got)
		}
	})
}

func TestEmptiedKeyedSessionStillSaved(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		s := h.saved(map[string]any{"a": 1})
		s.Delete("a")
		hdr := h.commit(s)
		if ec.keyed {
			// Django: still keyed, so not empty: saved, cookie re-sent.
			if !strings.HasPrefix(hdr.Get("Set-Cookie"), "sessionid=") || strings.HasPrefix(hdr.Get("Set-Cookie"), `sessionid=""`) || hdr.Get("Vary") != "Cookie" {
				t.Fatalf("headers %v", hdr)
			}
			return
		}
		// A cookie session with no data is empty: the cookie goes.
		if !strings.HasPrefix(hdr.Get("Set-Cookie"), `sessionid=""`) {
			t.Fatalf("headers %v", hdr)
		}
	})
}

func TestNewKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k := newKey()
		if len(k) != 52 || server.ValidateKey(k) != nil || seen[k] {
			t.Fatalf("bad or repeated key %q", k)
		}
		seen[k] = true
	}
}
