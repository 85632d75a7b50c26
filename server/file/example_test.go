package file_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/server/file"
)

// Sessions in files, one per session, in a directory private to the
// application: Django's file backend, for a single server.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "sessions") // in production: a fixed directory, mode 0700
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := file.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.Config{
		SecretKey: []byte("an example secret key of at least 32 bytes"),
		Engine:    session.EngineServer,
		Store:     store,
	})
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Set("user", "ada")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))

	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(strings.HasPrefix(e.Name(), file.Prefix), len(e.Name())-len(file.Prefix))
	}
	// Output:
	// true 64
}
