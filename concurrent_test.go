package session

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server/memory"
)

// tabs is a site on the auto engine and two browser tabs that share one
// cookie, as tabs do, and send requests that overlap.
type tabs struct {
	t     *testing.T
	m     *Manager
	srv   *httptest.Server
	route map[string]http.HandlerFunc
}

func newTabs(t *testing.T) *tabs {
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	m, _ := mwManager(t, Config{Engine: EngineAuto, Store: store, CookieMaxSize: 1000})
	tb := &tabs{t: t, m: m, route: map[string]http.HandlerFunc{
		// /grow makes a session too large for the cookie: it spills.
		"/grow": func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			s.Set("user", "ada")
			s.Set("pad", randomText(2000))
		},
	}}
	tb.srv = httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tb.route[r.URL.Path](w, r)
	})))
	t.Cleanup(tb.srv.Close)
	return tb
}

// do sends a request to path carrying the session cookie value and
// returns the status and the session cookie the response set ("" for
// none).
func (tb *tabs) do(path, value string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, tb.srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: "sessionid", Value: value})
	resp, err := tb.srv.Client().Do(req)
	if err != nil {
		tb.t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == "sessionid" {
			return resp.StatusCode, c.Value
		}
	}
	return resp.StatusCode, ""
}

func (tb *tabs) kind(value string) codec.Kind {
	d, err := tb.m.openCookie(value)
	if err != nil {
		tb.t.Fatalf("cookie does not decode: %v", err)
	}
	return d.Kind
}

// TestAutoShrinkWithAnOverlappingTab checks two tabs at the boundary: tab
// A shrinks a spilled session back into the cookie while tab B's request,
// sent with the previous reference cookie, is still in flight. B must read
// the session (not an empty one) and its write must land, never replace
// the good cookie with an empty session.
func TestAutoShrinkWithAnOverlappingTab(t *testing.T) {
	tb := newTabs(t)
	tb.route["/shrink"] = func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Delete("pad") }
	bRead := make(chan map[string]any, 1)
	aDone := make(chan struct{})
	tb.route["/add"] = func(w http.ResponseWriter, r *http.Request) {
		<-aDone // B's session is read only after A's response is back
		s := FromRequest(r)
		bRead <- s.Values()
		s.Set("item", "book")
	}

	_, ref := tb.do("/grow", "")
	if tb.kind(ref) != codec.KindReference {
		t.Fatal("the grown session was not spilled")
	}
	type result struct {
		status int
		cookie string
	}
	bDone := make(chan result, 1)
	go func() {
		st, c := tb.do("/add", ref) // tab B, with the reference
		bDone <- result{st, c}
	}()
	st, data := tb.do("/shrink", ref) // tab A, with the same reference
	if st != http.StatusOK || tb.kind(data) != codec.KindData {
		t.Fatalf("tab A: status %d; the shrunk session is not back in the cookie", st)
	}
	close(aDone)
	b := <-bDone
	if got := <-bRead; got["user"] != "ada" {
		t.Fatalf("tab B, in flight with the previous reference, read %v: not the session", got)
	}
	if b.status != http.StatusOK || b.cookie == "" {
		t.Fatalf("tab B: status %d, cookie %q: its write did not land", b.status, b.cookie)
	}
	var got map[string]any
	tb.route["/read"] = func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r).Values() }
	tb.do("/read", b.cookie)
	if want := map[string]any{"user": "ada", "item": "book"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after both tabs the session holds %v, want %v", got, want)
	}
}

// TestAutoShrinkAfterConcurrentLogout checks that a request that shrinks
// a spilled session into the cookie after a concurrent logout deleted it
// answers ErrInterrupted, and sends no cookie that would undo the logout.
func TestAutoShrinkAfterConcurrentLogout(t *testing.T) {
	tb := newTabs(t)
	loaded := make(chan struct{})
	loggedOut := make(chan struct{})
	tb.route["/shrink"] = func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.Len()
		close(loaded)
		<-loggedOut
		s.Delete("pad")
	}
	tb.route["/logout"] = func(w http.ResponseWriter, r *http.Request) {
		if err := FromRequest(r).Flush(r.Context()); err != nil {
			t.Error(err)
		}
	}
	_, ref := tb.do("/grow", "")
	type result struct {
		status int
		cookie string
	}
	done := make(chan result, 1)
	go func() {
		st, c := tb.do("/shrink", ref)
		done <- result{st, c}
	}()
	<-loaded
	if st, _ := tb.do("/logout", ref); st != http.StatusOK {
		t.Fatalf("logout: status %d", st)
	}
	close(loggedOut)
	r := <-done
	if r.status != http.StatusBadRequest || r.cookie != "" {
		t.Fatalf("shrink after a concurrent logout: status %d, cookie %q; want 400 and no cookie", r.status, r.cookie)
	}
}
