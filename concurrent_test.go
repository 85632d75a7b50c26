package session

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

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
	// B's write cannot land on a session that now lives in A's cookie: it
	// answers ErrInterrupted and sends no cookie, so A's stays.
	if b.status != http.StatusBadRequest || b.cookie != "" {
		t.Fatalf("tab B: status %d, cookie %q; want 400 and no cookie", b.status, b.cookie)
	}
	var got map[string]any
	tb.route["/read"] = func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r).Values() }
	tb.do("/read", data)
	if want := map[string]any{"user": "ada"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after both tabs the session holds %v, want %v", got, want)
	}
}

// TestAutoShrinkThenLogout checks that the entry a move into the cookie
// leaves cannot undo a logout made afterwards with the new cookie: a
// request with the old reference can neither save (400, no cookie) nor,
// on the cookie engine, keep the entry alive by rewriting it.
func TestAutoShrinkThenLogout(t *testing.T) {
	tb := newTabs(t)
	tb.route["/shrink"] = func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Delete("pad") }
	tb.route["/logout"] = func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Flush(r.Context()) }
	tb.route["/login-again"] = func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Set("user", "mallory") }
	_, ref := tb.do("/grow", "")
	_, data := tb.do("/shrink", ref)
	if tb.kind(data) != codec.KindData {
		t.Fatal("the shrunk session is not in the cookie")
	}
	if st, _ := tb.do("/logout", data); st != http.StatusOK {
		t.Fatalf("logout: %d", st)
	}
	if st, c := tb.do("/login-again", ref); st != http.StatusBadRequest || c != "" {
		t.Fatalf("a write with the old reference after the logout: status %d, cookie %q; want 400 and no cookie", st, c)
	}

	// The cookie engine reads the old reference as a session to move into
	// the cookie: that rewrite is refused too, and skipped.
	store := newGraceStore(t)
	mServer, _ := mwManager(t, Config{Engine: EngineServer, Store: store})
	mAuto, _ := mwManager(t, Config{Engine: EngineAuto, Store: store})
	ref = mwSave(t, mServer, map[string]any{"user": "ada"})
	rec := mwDo(mAuto, setHandler("n", 1), ref) // moves it into the cookie
	if c, ok := mwCookie(mAuto, rec.Header()); !ok || codec.IsRef(c.Value) {
		t.Fatal("the session did not move into the cookie")
	}
	d, _ := mServer.openCookie(ref)
	rk := mServer.rowKey(d.Ref)
	mCookie, _ := mwManager(t, Config{Engine: EngineCookie, Store: store})
	rec = mwDo(mCookie, func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Len() }, ref)
	if len(rec.Header().Values("Set-Cookie")) != 0 || !store.Retired(rk) {
		t.Fatalf("a read with the old reference rewrote the moved entry: Set-Cookie %q, retired %v", rec.Header().Values("Set-Cookie"), store.Retired(rk))
	}
	if e := store.expiry[rk]; e.After(time.Now().Add(movedGrace)) {
		t.Fatalf("the moved entry's expiry was pushed to %v", e)
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
