package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/session/server/memory"
)

// Tests of the integration API, Load and Commit, as a framework adapter
// uses it: Load before the handler, Commit when the response starts.

// loadReq returns a GET request carrying m's session cookie value, if any.
func loadReq(m *Manager, value string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if value != "" {
		req.Header.Set("Cookie", m.jar.Name()+"="+value)
	}
	return req
}

// TestLoadIsLazy checks that Load reads nothing from the store: the
// session is loaded on its first use, and FromRequest finds the same
// session in the returned request.
func TestLoadIsLazy(t *testing.T) {
	st := &countingStore{Store: memory.New()}
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: st})
	value := mwSave(t, m, map[string]any{"user": "ada"})
	st.loads.Store(0)

	r, s := m.Load(loadReq(m, value))
	if n := st.loads.Load(); n != 0 {
		t.Fatalf("Load read the store %d times", n)
	}
	if FromRequest(r) != s {
		t.Fatal("FromRequest does not return the session Load returned")
	}
	if got := s.Get("user"); got != "ada" || st.loads.Load() != 1 {
		t.Fatalf("user = %v after %d loads", got, st.loads.Load())
	}
}

// TestCommitRules checks Commit against the middleware's rules, for each
// status an integration may pass.
func TestCommitRules(t *testing.T) {
	m, _ := mwManager(t, Config{})
	existing := mwSave(t, m, map[string]any{"user": "ada"})
	for _, tc := range []struct {
		name       string
		cookie     string
		status     int
		handler    func(w http.ResponseWriter, s *Session)
		wantCookie string // "set", "delete" or ""
		wantVary   bool
		wantCache  string
	}{
		{"modified, 200", "", 200, func(w http.ResponseWriter, s *Session) { s.Set("k", 1) }, "set", true, "private"},
		{"modified, status 0 is 200", "", 0, func(w http.ResponseWriter, s *Session) { s.Set("k", 1) }, "set", true, "private"},
		{"modified, 302", "", http.StatusFound, func(w http.ResponseWriter, s *Session) { s.Set("k", 1) }, "set", true, "private"},
		{"modified, 500 saves nothing", "", 500, func(w http.ResponseWriter, s *Session) { s.Set("k", 1) }, "", true, ""},
		{"modified, 503 saves nothing", existing, 503, func(w http.ResponseWriter, s *Session) { s.Set("k", 1) }, "", true, ""},
		{"read only", existing, 200, func(w http.ResponseWriter, s *Session) { s.Get("user") }, "", true, ""},
		{"untouched", existing, 200, func(w http.ResponseWriter, s *Session) {}, "", false, ""},
		{"flushed", existing, 200, func(w http.ResponseWriter, s *Session) { s.Flush(context.Background()) }, "delete", true, "private"},
		{"handler's Cache-Control kept", "", 200, func(w http.ResponseWriter, s *Session) {
			w.Header().Set("Cache-Control", "no-cache")
			s.Set("k", 1)
		}, "set", true, "no-cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, s := m.Load(loadReq(m, tc.cookie))
			rec := httptest.NewRecorder()
			tc.handler(rec, s)
			if err := m.Commit(rec, r, tc.status); err != nil {
				t.Fatal(err)
			}
			h := rec.Header()
			c, ok := mwCookie(m, h)
			switch {
			case tc.wantCookie == "" && ok:
				t.Errorf("Set-Cookie %v", h.Values("Set-Cookie"))
			case tc.wantCookie == "set" && (!ok || c.MaxAge <= 0 || c.Value == ""):
				t.Errorf("no session cookie set: %v", h.Values("Set-Cookie"))
			case tc.wantCookie == "delete" && (!ok || c.MaxAge >= 0):
				t.Errorf("the cookie is not deleted: %v", h.Values("Set-Cookie"))
			}
			if mwVary(h) != tc.wantVary {
				t.Errorf("Vary %q", h.Values("Vary"))
			}
			if got := h.Get("Cache-Control"); got != tc.wantCache {
				t.Errorf("Cache-Control %q, want %q", got, tc.wantCache)
			}
		})
	}
}

// TestCommitInterimStatus checks that a 1xx status commits nothing and
// leaves the commit to the final status, and that 101 commits.
func TestCommitInterimStatus(t *testing.T) {
	m, _ := mwManager(t, Config{})
	r, s := m.Load(loadReq(m, ""))
	s.Set("k", 1)
	rec := httptest.NewRecorder()
	if err := m.Commit(rec, r, http.StatusEarlyHints); err != nil {
		t.Fatal(err)
	}
	if _, ok := mwCookie(m, rec.Header()); ok {
		t.Fatal("103 committed the session")
	}
	s.Set("k", 2) // still before the commit: saved, not reported
	if err := m.Commit(rec, r, http.StatusOK); err != nil {
		t.Fatal(err)
	}
	c, ok := mwCookie(m, rec.Header())
	if !ok {
		t.Fatal("the final status did not commit")
	}
	if got := mwValues(t, m, c.Value)["k"]; got != int64(2) {
		t.Fatalf("k = %v, want 2", got)
	}

	r, s = m.Load(loadReq(m, ""))
	s.Set("k", 1)
	rec = httptest.NewRecorder()
	if err := m.Commit(rec, r, http.StatusSwitchingProtocols); err != nil {
		t.Fatal(err)
	}
	if _, ok := mwCookie(m, rec.Header()); !ok {
		t.Fatal("101 did not commit")
	}
}

// mwValues decodes a session cookie value of m.
func mwValues(t *testing.T, m *Manager, value string) map[string]any {
	t.Helper()
	r, s := m.Load(loadReq(m, value))
	_ = r
	return s.Values()
}

// TestCommitOnce checks that only the first Commit commits: a second one
// adds no header, writes no second error response, and returns the first
// one's error.
func TestCommitOnce(t *testing.T) {
	m, _ := mwManager(t, Config{})
	r, s := m.Load(loadReq(m, ""))
	s.Set("k", 1)
	rec := httptest.NewRecorder()
	for range 2 {
		if err := m.Commit(rec, r, 200); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rec.Header().Values("Set-Cookie")); n != 1 {
		t.Fatalf("%d Set-Cookie headers", n)
	}

	r, s = m.Load(loadReq(m, ""))
	s.Set("bad", make(chan int))
	rec = httptest.NewRecorder()
	err1 := m.Commit(rec, r, 200)
	err2 := m.Commit(rec, r, 200)
	if err1 == nil || err2 != err1 {
		t.Fatalf("errors %v, %v", err1, err2)
	}
	if got := strings.Count(rec.Body.String(), http.StatusText(500)); got != 1 {
		t.Fatalf("the error response was written %d times: %q", got, rec.Body)
	}
}

// TestCommitErrorResponse checks that a session that cannot be saved makes
// Commit write the error response (the handler's headers dropped but the
// allow-list) and return the error, 400 for ErrInterrupted.
func TestCommitErrorResponse(t *testing.T) {
	m, _ := mwManager(t, Config{})
	r, s := m.Load(loadReq(m, ""))
	rec := httptest.NewRecorder()
	rec.Header().Set("Location", "/next")
	rec.Header().Set("X-Frame-Options", "DENY")
	s.Set("bad", make(chan int))
	err := m.Commit(rec, r, http.StatusFound)
	if err == nil {
		t.Fatal("no error")
	}
	if rec.Code != 500 || rec.Header().Get("Location") != "" || rec.Header().Get("X-Frame-Options") != "DENY" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}

	store := memory.New()
	m, _ = mwManager(t, Config{Engine: EngineServer, Store: store})
	value := mwSave(t, m, map[string]any{"user": "ada"})
	r, s = m.Load(loadReq(m, value))
	s.Get("user")
	if err := store.Delete(context.Background(), m.rowKey(s.Key())); err != nil { // a concurrent logout
		t.Fatal(err)
	}
	s.Set("cart", 1)
	rec = httptest.NewRecorder()
	if err := m.Commit(rec, r, 200); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if rec.Code != http.StatusBadRequest || len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
}

// TestCommitSkipsFailedRewrite checks that a rewrite the handler did not
// ask for (here: a cookie session moving into a store that fails) is
// skipped: no error, no error response, no Set-Cookie.
func TestCommitSkipsFailedRewrite(t *testing.T) {
	old, _ := mwManager(t, Config{})
	value := mwSave(t, old, map[string]any{"user": "ada"})
	st := &mwFailStore{Store: memory.New()}
	st.failWrite.Store(true)
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: st})
	r, s := m.Load(loadReq(m, value))
	if s.Get("user") != "ada" {
		t.Fatal("the cookie session is not read")
	}
	rec := httptest.NewRecorder()
	if err := m.Commit(rec, r, 200); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
}

// TestCommitLateChange checks that a change after Commit is reported to
// OnError and not saved.
func TestCommitLateChange(t *testing.T) {
	var errs []error
	m, _ := mwManager(t, Config{OnError: func(r *http.Request, err error) { errs = append(errs, err) }})
	r, s := m.Load(loadReq(m, ""))
	s.Set("k", 1)
	rec := httptest.NewRecorder()
	if err := m.Commit(rec, r, 200); err != nil {
		t.Fatal(err)
	}
	s.Set("late", 1)
	if len(errs) != 1 || !errors.Is(errs[0], ErrLateChange) {
		t.Fatalf("OnError got %v", errs)
	}
	c, _ := mwCookie(m, rec.Header())
	if _, ok := mwValues(t, m, c.Value)["late"]; ok {
		t.Fatal("the late change was saved")
	}
}

// TestCommitInsideHandler checks that a handler under Handler may call
// Commit with its own writer: the error response goes out, and the
// handler's writes after it are dropped.
func TestCommitInsideHandler(t *testing.T) {
	m, _ := mwManager(t, Config{})
	var err error
	var n int
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Set("bad", make(chan int))
		err = m.Commit(w, r, 200)
		n, _ = w.Write([]byte("the handler's body"))
	}, "")
	if err == nil || rec.Code != 500 || n != 0 || strings.Contains(rec.Body.String(), "handler") {
		t.Fatalf("err %v, status %d, body %q", err, rec.Code, rec.Body)
	}

	rec = mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Set("k", 1)
		err = m.Commit(w, r, 200)
		w.Write([]byte("ok"))
	}, "")
	if err != nil || rec.Code != 200 || len(rec.Header().Values("Set-Cookie")) != 1 || rec.Body.String() != "ok" {
		t.Fatalf("err %v, status %d, headers %v, body %q", err, rec.Code, rec.Header(), rec.Body)
	}
}

// TestCommitWithoutSessionPanics checks that Commit refuses a request
// that did not go through Load, or went through another Manager's.
func TestCommitWithoutSessionPanics(t *testing.T) {
	m, _ := mwManager(t, Config{})
	other, _ := mwManager(t, Config{})
	r, _ := other.Load(loadReq(other, ""))
	for _, req := range []*http.Request{loadReq(m, ""), r} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			m.Commit(httptest.NewRecorder(), req, 200)
		}()
	}
}
