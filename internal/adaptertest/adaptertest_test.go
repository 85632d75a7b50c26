package adaptertest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/adaptertest"
)

// The table against Manager.Handler on a plain http.ServeMux: the
// reference that every adapter matches.
func TestServeMux(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(file, []byte("a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	adaptertest.Run(t, adaptertest.App{
		New: func(m *session.Manager) http.Handler { return m.Handler(mux(file)) },
		Writes: map[string]int{
			"/write/string":   200,
			"/write/json":     200,
			"/write/file":     200,
			"/write/copy":     200,
			"/write/redirect": http.StatusFound,
			"/write/status":   http.StatusNoContent,
		},
		Fails: []string{"/fail/error", "/fail/status"},
	})
}

func mux(file string) *http.ServeMux {
	mux := http.NewServeMux()
	s := session.FromRequest
	q := func(r *http.Request, k string) string { return r.URL.Query().Get(k) }
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		s(r).Set(q(r, "k"), q(r, "v"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := s(r).Get(q(r, "k")).(string)
		io.WriteString(w, v)
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		n, _ := session.Get[int](s(r), "n")
		s(r).Set("n", n+1)
		io.WriteString(w, strconv.Itoa(n+1))
	})
	mux.HandleFunc("/flash", func(w http.ResponseWriter, r *http.Request) {
		s(r).AddFlash(q(r, "msg"))
		http.Redirect(w, r, "/flashes", http.StatusSeeOther)
	})
	mux.HandleFunc("/flashes", func(w http.ResponseWriter, r *http.Request) {
		var out []string
		for _, f := range s(r).Flashes() {
			out = append(out, f.(string))
		}
		io.WriteString(w, strings.Join(out, ","))
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := s(r).CycleKey(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		s(r).Set("user", q(r, "user"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		s(r).Flush(r.Context())
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Custom", "kept")
		w.Header().Set("Cache-Control", "no-cache")
		s(r).Set("via", "headers")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		s(r).Set("via", "stream")
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		s(r).Set("late", "1")
		io.WriteString(w, "second\n")
	})
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/next")
		s(r).Set("bad", adaptertest.BadValue())
		http.Redirect(w, r, "/next", http.StatusFound)
	})
	mux.HandleFunc("/bad-body", func(w http.ResponseWriter, r *http.Request) {
		s(r).Set("bad", adaptertest.BadValue())
		io.WriteString(w, "handler body")
	})
	via := func(r *http.Request) { s(r).Set("via", r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]) }
	mux.HandleFunc("/write/string", func(w http.ResponseWriter, r *http.Request) {
		via(r)
		io.WriteString(w, "text")
	})
	mux.HandleFunc("/write/json", func(w http.ResponseWriter, r *http.Request) {
		via(r)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int{"n": 1})
	})
	mux.HandleFunc("/write/file", func(w http.ResponseWriter, r *http.Request) {
		via(r)
		http.ServeFile(w, r, file)
	})
	mux.HandleFunc("/write/copy", func(w http.ResponseWriter, r *http.Request) {
		via(r)
		io.Copy(w, strings.NewReader("copied"))
	})
	mux.HandleFunc("/write/redirect", func(w http.ResponseWriter, r *http.Request) {
		via(r)
		http.Redirect(w, r, "/", http.StatusFound)
	})
	mux.HandleFunc("/write/status", func(w http.ResponseWriter, r *http.Request) {
		via(r)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/fail/error", func(w http.ResponseWriter, r *http.Request) {
		via(r)
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	mux.HandleFunc("/fail/status", func(w http.ResponseWriter, r *http.Request) {
		via(r)
		w.WriteHeader(http.StatusInternalServerError)
	})
	return mux
}
