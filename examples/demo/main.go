// Demo is a small web site that shows what package session does: a visit
// counter, login and logout with a flash message, a "Your sessions" page
// that lists the sessions of the user logged in and revokes them, a
// shopping cart that grows until it no longer fits in a cookie, and a page
// that shows the session as the server decoded it.
//
// Run it from the repository root:
//
//	go run ./examples/demo
//
// and open the URL it prints (http://127.0.0.1:8000/ unless -addr or
// DEMO_ADDR says otherwise). It builds its configuration, store included,
// with package sessionenv, from the SESSION_* variables of
// session.ConfigFromEnv and those of the store:
//
//	SESSION_STORE           memory | file | mysql | postgres | sqlite | redis | cached
//	SESSION_FILE_PATH       file: the directory of the session files
//	SESSION_MYSQL_DSN       mysql: user:password@tcp(host:port)/dbname
//	SESSION_MYSQL_TABLE     mysql: the table (default sessions, created if missing)
//	SESSION_POSTGRES_DSN    postgres: postgres://user:password@host:port/dbname
//	SESSION_POSTGRES_TABLE  postgres: the table (default sessions, created if missing)
//	SESSION_SQLITE_PATH     sqlite: the database file (created if missing)
//	SESSION_SQLITE_TABLE    sqlite: the table (default sessions, created if missing)
//	SESSION_REDIS_URL       redis: redis://[:password@]host:port/db
//	SESSION_REDIS_CLUSTER_URL  redis, for a Redis Cluster instead:
//	                        redis://[:password@]host:port?addr=host:port&addr=host:port
//	SESSION_REDIS_PREFIX    redis: the key prefix (default "sessionkit:", or
//	                        "sessionkit:cache:" for a cache)
//	SESSION_CACHE_STORE     cached: the cache in front, memory | redis
//	SESSION_BACKING_STORE   cached: the store behind it, file | mysql | postgres | sqlite
//
// For example:
//
//	SESSION_ENGINE=server SESSION_STORE=memory go run ./examples/demo
//	SESSION_ENGINE=auto SESSION_STORE=file SESSION_FILE_PATH=/tmp/sessions go run ./examples/demo
//	SESSION_ENGINE=server SESSION_STORE=sqlite SESSION_SQLITE_PATH=/tmp/sessions.db go run ./examples/demo
//	SESSION_ENGINE=server SESSION_STORE=postgres SESSION_POSTGRES_DSN='postgres://sess:secret@127.0.0.1:5432/app' go run ./examples/demo
//	SESSION_ENGINE=server SESSION_STORE=redis SESSION_REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/demo
//	SESSION_ENGINE=server SESSION_STORE=cached SESSION_CACHE_STORE=redis SESSION_REDIS_URL=redis://127.0.0.1:6379/0 \
//		SESSION_BACKING_STORE=mysql SESSION_MYSQL_DSN='sess:secret@tcp(127.0.0.1:3306)/app' go run ./examples/demo
//
// It creates the MySQL, PostgreSQL or SQLite table if it is missing
// (sessionenv.Migrate), as `sessionkit migrate` does, so the user in the
// DSN needs the CREATE privilege.
//
// Without SESSION_SECRET_KEY it makes up a random key for the run, so
// sessions do not survive a restart.
//
// Login asks for a user name only (this is a demo: there is no password)
// and binds the session to that user (Session.Login). The "Your sessions"
// page lists the user's sessions (Manager.UserSessions) from the user
// index, with a button to revoke each and one to log out everywhere else.
// On the server and auto engines the index is the store, and a revoked
// session is gone at once (the auto engine keeps a logged-in session in
// the store, however small). On the cookie engine the index is the store
// that SESSION_STORE names, if any (the cookie engine keeps no session in
// it, only the index); without SESSION_STORE the demo keeps the index in a
// memory store of its own (Config.Registry), which lives as long as the
// process. A cookie session learns of its revocation when it is next
// checked against the index, at most SESSION_REVALIDATE_INTERVAL seconds
// (default 60) after its last check:
//
//	SESSION_REVALIDATE_INTERVAL=2 go run ./examples/demo
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/sessionenv"
)

func main() {
	addr := os.Getenv("DEMO_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8000"
	}
	flag.StringVar(&addr, "addr", addr, "address to listen on (default from DEMO_ADDR)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run serves the demo on addr until ctx is done.
func run(ctx context.Context, addr string, out io.Writer) error {
	cfg, closeStore, err := configure(ctx, out)
	if err != nil {
		return err
	}
	defer closeStore()
	site, err := newSite(cfg)
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	defer wg.Wait() // runs before closeStore
	if cfg.Store != nil {
		// Remove expired sessions now and then, as `sessionkit
		// clear-expired` would from cron.
		wg.Go(func() {
			server.Cleanup(ctx, cfg.Store, 10*time.Minute, func(err error) {
				log.Printf("demo: removing expired sessions: %v", err)
			})
		})
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: site, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(out, "demo: serving on http://%s/ (press Ctrl-C to stop)\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// configure reads the session configuration and store from the
// environment, and creates the store's table if it needs one. Without
// SESSION_SECRET_KEY it uses a random key, and says so on out. On the
// cookie engine without a store it keeps the user index in a memory store
// (Config.Registry), and says so on out. The returned function releases
// the store and the registry.
func configure(ctx context.Context, out io.Writer) (session.Config, func() error, error) {
	cfg, closeStore, err := sessionenv.Load(ctx)
	if err != nil {
		return cfg, nil, err
	}
	if err := sessionenv.Migrate(ctx, cfg.Store); err != nil {
		closeStore()
		return cfg, nil, err
	}
	if len(cfg.SecretKey) == 0 {
		cfg.SecretKey = make([]byte, 32)
		rand.Read(cfg.SecretKey) // never fails (crypto/rand)
		fmt.Fprintln(out, "demo: SESSION_SECRET_KEY is not set: using a random key for this run; sessions will not survive a restart")
	}
	// With a store, the cookie engine keeps its user index there (Registry
	// nil means Store). Without one, cookie sessions could not be listed or
	// revoked: the demo keeps the index in memory.
	if cfg.Registry == nil && cfg.Store == nil && (cfg.Engine == "" || cfg.Engine == session.EngineCookie) {
		reg := memory.New(memory.Options{CleanupInterval: 10 * time.Minute})
		cfg.Registry = reg
		closeOthers := closeStore
		closeStore = func() error { return errors.Join(closeOthers(), reg.Close()) }
		fmt.Fprintln(out, "demo: SESSION_STORE is not set: keeping the cookie sessions' user index in memory (a memory store as the Registry); it is lost at restart")
	}
	return cfg, closeStore, nil
}
