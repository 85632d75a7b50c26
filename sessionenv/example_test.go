package sessionenv_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sessionenv"
)

// The whole Manager from the environment: the variables of
// session.ConfigFromEnv, and SESSION_STORE with its store's variables.
func ExampleNew() {
	// Set by the deployment, not by the program.
	os.Setenv("SESSION_SECRET_KEY", "an example secret key of at least 32 bytes")
	os.Setenv("SESSION_ENGINE", "server")
	os.Setenv("SESSION_STORE", "memory") // or file, mysql, postgres, sqlite, redis, cached
	defer func() {
		for _, v := range []string{"SESSION_SECRET_KEY", "SESSION_ENGINE", "SESSION_STORE"} {
			os.Unsetenv(v)
		}
	}()

	m, closeStore, err := sessionenv.New(context.Background())
	if err != nil {
		log.Fatal(err) // names the variable at fault
	}
	defer closeStore()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("user", "ada")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(len(rec.Result().Cookies()[0].Value), "characters: a reference to the store")
	// Output:
	// 64 characters: a reference to the store
}

// Load gives the Config, store included, for a program that sets more
// fields before building the Manager; Migrate creates the table of a
// MySQL, PostgreSQL or SQLite store, if it is missing.
func ExampleLoad() {
	ctx := context.Background()
	cfg, closeStore, err := sessionenv.Load(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer closeStore()
	if err := sessionenv.Migrate(ctx, cfg.Store); err != nil {
		log.Fatal(err)
	}
	cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "Sessions are unavailable: try again shortly.", http.StatusServiceUnavailable)
	}
	m, err := session.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	_ = m // m.Handler(mux)
}
