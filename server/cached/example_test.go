package cached_test

import (
	"context"
	"log"
	"log/slog"

	"github.com/sessionkit/session/server/cached"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/redis"
)

// Redis in front of MySQL, as Django's cached_db puts the cache in front of
// the database.
func ExampleNew() {
	// A cache is tried on every request: fail fast when it is down.
	cache, err := redis.Open("redis://cache:6379/0?dial_timeout=200ms&read_timeout=200ms&max_retries=-1",
		redis.Config{Prefix: "myapp:session-cache:"})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	db, err := mysql.Open("sess:secret@tcp(db:3306)/app", mysql.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		log.Fatal(err)
	}
	st, err := cached.New(cache, db, cached.Options{Logger: slog.Default()})
	if err != nil {
		log.Fatal(err)
	}
	_ = st // Use st as session.Config.Store; st.Stats() tells how the cache does.
}
