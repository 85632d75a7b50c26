package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An OnError hook may use the session it is told about: late changes are
// reported after the session's lock is released.
func TestLateChangeHookMayUseSession(t *testing.T) {
	var got []string
	m, err := New(Config{SecretKey: testSecret, OnError: func(r *http.Request, err error) {
		got = append(got, err.Error()+" user="+FromRequest(r).Get("user").(string))
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.Set("user", "alice")
		w.Write([]byte("hi"))
		s.Set("late", 1)
	}))
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: the OnError hook could not use the session")
	}
	if len(got) != 1 || !strings.Contains(got[0], `key "late"`) || !strings.Contains(got[0], "user=alice") {
		t.Fatalf("hook calls: %q", got)
	}
}

// The default error response does not carry the headers the handler meant
// for its own response.
func TestErrorResponseDropsHandlerHeaders(t *testing.T) {
	m, err := New(Config{SecretKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Set("bad", make(chan int)) // cannot be encoded
		w.Header().Set("Location", "/next")
		w.WriteHeader(http.StatusSeeOther)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Location") != "" || rec.Header().Get("Set-Cookie") != "" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
}
