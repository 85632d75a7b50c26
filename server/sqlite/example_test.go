package sqlite_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/sqlite"
)

// Sessions in an SQLite file, with nothing else to run: open the store,
// create its table, remove expired sessions from time to time, and give
// the store to the Manager with the server engine.
func ExampleOpen() {
	store, err := sqlite.Open("/var/lib/app/sessions.db", sqlite.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil { // CREATE TABLE IF NOT EXISTS
		log.Fatal(err)
	}
	go server.Cleanup(ctx, store, 10*time.Minute, func(err error) { log.Print(err) })
	m, err := session.New(session.Config{
		SecretKey: []byte(os.Getenv("SESSION_SECRET_KEY")),
		Engine:    session.EngineServer,
		Store:     store,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	// ... handlers that use session.FromRequest(r) ...
	log.Fatal(http.ListenAndServe("127.0.0.1:8000", m.Handler(mux)))
}
