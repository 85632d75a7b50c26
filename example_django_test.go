package session_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/django"
	"github.com/sessionkit/session/server/mysql"
)

// Share Django's db sessions with a running Django application on the
// same domain: both read and write its django_session table, and the
// session cookie (sessionid) holds Django's session key. A user logged in
// by Django is logged in here, and the other way round.
func ExampleDjangoConfig_db() {
	// The database of Django's settings.DATABASES, where Django's
	// migrations created django_session.
	table, err := mysql.OpenDjango("django:secret@tcp(db:3306)/app", mysql.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer table.Close()
	djangoSecret := []byte(os.Getenv("DJANGO_SECRET_KEY"))
	m, err := session.New(session.Config{
		SecretKey: []byte(os.Getenv("SESSION_SECRET_KEY")),
		Django: &session.DjangoConfig{
			SecretKey: djangoSecret, // Django's SECRET_KEY
			Mode:      session.DjangoShare,
			Engine:    session.DjangoDB, // Django's SESSION_ENGINE
			Store:     table,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		u, ok := django.UserOf(session.FromRequest(r).Values())
		// passwordHash: the password column of Django's auth_user for u.ID.
		if !ok || django.VerifyUser(u, passwordHash(u.ID), djangoSecret) < 0 {
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, "user", u.ID)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Flush(r.Context()) // deletes Django's row: logged out in Django too
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8000", m.Handler(mux)))
}

// Move off Django's db engine: a Manager in migrate mode reads each
// Django session from django_session and moves it into its own store on
// the session's next response, the user logged in throughout. Django's
// signed_cookies sessions are read too. Once Django's sessions have all
// moved or expired, drop Config.Django.
func ExampleDjangoConfig_migrate() {
	table, err := mysql.OpenDjango("django:secret@tcp(db:3306)/app", mysql.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer table.Close()
	// This package's own table, beside Django's; it may share the pool.
	store, err := mysql.Open("django:secret@tcp(db:3306)/app", mysql.Config{Table: "sessions"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(context.Background()); err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.Config{
		SecretKey: []byte(os.Getenv("SESSION_SECRET_KEY")),
		Engine:    session.EngineServer,
		Store:     store,
		Django: &session.DjangoConfig{
			SecretKey: []byte(os.Getenv("DJANGO_SECRET_KEY")),
			Mode:      session.DjangoMigrate,
			Store:     table,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:8000", m.Handler(http.NewServeMux())))
}

// passwordHash stands for a lookup of the password column of Django's
// auth_user table.
func passwordHash(id string) string { return "" }
