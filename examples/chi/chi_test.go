package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/adaptertest"
)

// TestTable runs the adapters' table through chi, with Handler as chi
// middleware.
func TestTable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(file, []byte("a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	adaptertest.Run(t, adaptertest.App{
		New: func(m *session.Manager) http.Handler { return table(m, file) },
		Writes: map[string]int{
			"/write/string":   200,
			"/write/json":     200,
			"/write/file":     200,
			"/write/redirect": http.StatusFound,
			"/write/status":   http.StatusNoContent,
		},
		Fails: []string{"/fail/error", "/fail/panic"},
	})
}

// table is the table's application in chi's idiom.
func table(m *session.Manager, file string) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, m.Handler)
	s := session.FromRequest
	q := func(r *http.Request, k string) string { return r.URL.Query().Get(k) }
	r.Get("/set", func(w http.ResponseWriter, r *http.Request) {
		s(r).Set(q(r, "k"), q(r, "v"))
		io.WriteString(w, "ok")
	})
	r.Get("/get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := s(r).Get(q(r, "k")).(string)
		io.WriteString(w, v)
	})
	r.Get("/count", func(w http.ResponseWriter, r *http.Request) {
		n, _ := session.Get[int](s(r), "n")
		s(r).Set("n", n+1)
		io.WriteString(w, strconv.Itoa(n+1))
	})
	r.Get("/flash", func(w http.ResponseWriter, r *http.Request) {
		s(r).AddFlash(q(r, "msg"))
		http.Redirect(w, r, "/flashes", http.StatusSeeOther)
	})
	r.Get("/flashes", func(w http.ResponseWriter, r *http.Request) {
		var out []string
		for _, f := range s(r).Flashes() {
			out = append(out, f.(string))
		}
		io.WriteString(w, strings.Join(out, ","))
	})
	r.Get("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := s(r).CycleKey(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		s(r).Set("user", q(r, "user"))
		io.WriteString(w, "ok")
	})
	r.Get("/logout", func(w http.ResponseWriter, r *http.Request) {
		s(r).Flush(r.Context())
		io.WriteString(w, "ok")
	})
	r.Get("/headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Custom", "kept")
		w.Header().Set("Cache-Control", "no-cache")
		s(r).Set("via", "headers")
		io.WriteString(w, "ok")
	})
	r.Get("/stream", func(w http.ResponseWriter, r *http.Request) {
		s(r).Set("via", "stream")
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		s(r).Set("late", "1")
		io.WriteString(w, "second\n")
	})
	r.Get("/bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/next")
		s(r).Set("bad", adaptertest.BadValue())
		http.Redirect(w, r, "/next", http.StatusFound)
	})
	r.Get("/bad-body", func(w http.ResponseWriter, r *http.Request) {
		s(r).Set("bad", adaptertest.BadValue())
		io.WriteString(w, "handler body")
	})
	r.Route("/write", func(r chi.Router) {
		r.Use(via)
		r.Get("/string", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "text") })
		r.Get("/json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]int{"n": 1})
		})
		r.Get("/file", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, file) })
		r.Get("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusFound) })
		r.Get("/status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	})
	r.Route("/fail", func(r chi.Router) {
		r.Use(via)
		r.Get("/error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", 500) })
		r.Get("/panic", func(w http.ResponseWriter, r *http.Request) { panic("broken") })
	})
	return r
}

// via is chi middleware that sets "via" to the path's last element.
func via(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("via", r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
		next.ServeHTTP(w, r)
	})
}

// The example's router: log in, count visits, log out.
func Example() {
	m, err := session.New(session.Config{SecretKey: []byte("an example secret key of at least 32 bytes")})
	if err != nil {
		log.Fatal(err)
	}
	h := router(m)
	cookie := ""
	do := func(method, path string) {
		req := httptest.NewRequest(method, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			cookie = c.Name + "=" + c.Value
		}
		fmt.Print(rec.Body.String())
	}
	do("GET", "/")
	do("POST", "/login/ada")
	do("GET", "/")
	do("POST", "/logout")
	do("GET", "/")
	// Output:
	// visit 1, user ""
	// visit 2, user "ada"
	// visit 1, user ""
}
