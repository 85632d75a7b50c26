// Command chi serves a visit counter and a login with chi, to show that
// chi needs no adapter: its middleware is net/http's, so
// session.Manager.Handler goes into r.Use as it is.
//
//	go run . -addr 127.0.0.1:8000
//
// Its tests run the adapters' table (internal/adaptertest) through chi.
// It is a module of its own so that the session module never depends on
// chi.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/sessionkit/session"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address")
	flag.Parse()
	cfg, err := session.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	if cfg.SecretKey == nil {
		log.Print("SESSION_SECRET_KEY is not set: using a key made up for this run")
		cfg.SecretKey = []byte(fmt.Sprintf("a key for one run only, pid %d, not secret", os.Getpid()))
	}
	m, err := session.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on http://%s/", *addr)
	log.Fatal(http.ListenAndServe(*addr, router(m)))
}

// router is the application: Recoverer first, so that a panic's 500 goes
// out without the session (Handler never commits a request that panicked).
func router(m *session.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, m.Handler)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		n, _ := session.Get[int](s, "visits")
		s.Set("visits", n+1)
		user, _ := s.Get("user").(string)
		fmt.Fprintf(w, "visit %d, user %q\n", n+1, user)
	})
	r.Post("/login/{user}", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if err := s.CycleKey(r.Context()); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		s.Set("user", chi.URLParam(r, "user"))
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Flush(r.Context())
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return r
}
