package postgres_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/server/postgres"
)

// Sessions in PostgreSQL: open the store, create its table once (Migrate,
// or `sessionkit migrate` at deployment), and give it to the Manager with
// the server engine.
func ExampleOpen() {
	store, err := postgres.Open("postgres://sess:secret@db:5432/app?sslmode=require", postgres.Config{Table: "sessions"})
	if err != nil {
		log.Fatal(err) // wraps server.ErrUnavailable when the server does not answer
	}
	defer store.Close()
	if err := store.Migrate(context.Background()); err != nil { // CREATE TABLE IF NOT EXISTS
		log.Fatal(err)
	}
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
