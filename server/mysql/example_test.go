package mysql_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/server/mysql"
)

// Sessions in MySQL or MariaDB: open the store, create its table once
// (Migrate, or `sessionkit migrate` at deployment), and give it to the
// Manager with the server engine.
func ExampleOpen() {
	store, err := mysql.Open("sess:secret@tcp(db:3306)/app", mysql.Config{Table: "sessions"})
	if err != nil {
		log.Fatal(err)
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
