package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/django"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/cached"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/postgres"
	"github.com/sessionkit/session/server/redis"
	"github.com/sessionkit/session/server/sqlite"
	"github.com/sessionkit/session/sessionenv"
)

// storeCommand makes a command that works on the store SESSION_STORE
// names, within -timeout (connecting included).
func storeCommand(name, summary, help string, timeout time.Duration, do func(ctx context.Context, e *env, cfg session.Config) error) *command {
	return &command{
		name:    name,
		summary: summary,
		help:    help,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			limit := fs.Duration("timeout", timeout, "give up after this long, connecting included")
			return func(ctx context.Context, e *env, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if *limit <= 0 {
					return usagef("-timeout %v: want a positive duration", *limit)
				}
				ctx, cancel := context.WithTimeout(ctx, *limit)
				defer cancel()
				err := withStore(ctx, e, do)
				if errors.Is(err, context.DeadlineExceeded) {
					err = fmt.Errorf("%w (-timeout %v)", err, *limit)
				}
				return err
			}
		},
	}
}

// withStore opens the stores the environment names (sessionenv.Load) and
// runs do with the configuration.
func withStore(ctx context.Context, e *env, do func(context.Context, *env, session.Config) error) error {
	cfg, closeStore, err := sessionenv.Load(ctx)
	if err != nil {
		return err
	}
	defer closeStore()
	return do(ctx, e, cfg)
}

// errNoStore is the error of a command that needs SESSION_STORE.
func errNoStore() error {
	return configf("SESSION_STORE is not set: the cookie engine keeps sessions in their cookies and nothing on the server; name the store (memory, file, mysql, postgres, sqlite, redis or cached) and its variables")
}

// theStore returns the store of cfg, or errNoStore.
func theStore(cfg session.Config) (server.Store, error) {
	if cfg.Store == nil {
		return nil, errNoStore()
	}
	return cfg.Store, nil
}

var clearExpiredCmd = storeCommand("clear-expired", "remove expired sessions from the store (cron)",
	`Removes the expired sessions from the store SESSION_STORE names, as Django's
clearsessions does, and prints "deleted N expired sessions". Run it from
cron for the mysql, postgres, sqlite and file stores; with cached, it clears
the backing store, which is the one that keeps expired sessions. Redis drops each session by
itself at its expiry: with SESSION_STORE=redis there is nothing to do. A
memory store lives in the serving process, where this command cannot reach
it (use server.Cleanup or memory.Options.CleanupInterval there).

With SESSION_DJANGO and Django's db or cached_db engine, it then removes the
expired rows of Django's django_session table (SESSION_DJANGO_TABLE) too, as
Django's clearsessions would, and prints "deleted N expired Django sessions
from django_session"; SESSION_STORE may then be unset.

  10 3 * * *  SESSION_STORE=mysql SESSION_MYSQL_DSN='user:password@tcp(db:3306)/app' sessionkit clear-expired
  10 3 * * *  SESSION_STORE=sqlite SESSION_SQLITE_PATH=/var/lib/app/sessions.db sessionkit clear-expired`,
	5*time.Minute,
	func(ctx context.Context, e *env, cfg session.Config) error {
		var dj django.Store
		if cfg.Django != nil {
			dj = cfg.Django.Store
		}
		if cfg.Store == nil && dj == nil {
			return errNoStore()
		}
		if cfg.Store != nil {
			if err := clearStore(ctx, e, cfg.Store); err != nil {
				return err
			}
		}
		if dj == nil {
			return nil
		}
		table := mysql.DjangoTable
		if t, ok := dj.(interface{ Table() string }); ok {
			table = t.Table()
		}
		n, err := dj.DeleteExpired(ctx)
		return reportDeleted(e, "expired Django sessions from "+table, n, err)
	})

// reportDeleted prints how many of what DeleteExpired deleted, also
// before an error, which it returns.
func reportDeleted(e *env, what string, n int64, err error) error {
	if err != nil {
		if n > 0 {
			fmt.Fprintf(e.stdout, "deleted %d %s before an error\n", n, what)
		}
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	_, err = fmt.Fprintf(e.stdout, "deleted %d %s\n", n, what)
	return err
}

// clearStore removes the expired sessions of st, for clear-expired.
func clearStore(ctx context.Context, e *env, st server.Store) error {
	if c, ok := st.(*cached.Store); ok {
		st = c.Backing() // a Redis cache drops its copies itself; a memory cache is in the server
	}
	switch st.(type) {
	case *memory.Store:
		return configf("SESSION_STORE=memory: a memory store lives inside the serving process, and another process cannot clear it; use server.Cleanup or memory.Options.CleanupInterval there")
	case *redis.Store:
		_, err := fmt.Fprintln(e.stdout, "nothing to clear: Redis drops each session by itself at its expiry")
		return err
	}
	n, err := st.DeleteExpired(ctx)
	if err != nil {
		err = fmt.Errorf("%w%s", err, migrateHint(err))
	}
	return reportDeleted(e, "expired sessions", n, err)
}

var migrateCmd = storeCommand("migrate", "create the store's table (MySQL, PostgreSQL, SQLite), if it is missing",
	`Creates what the store SESSION_STORE names needs before it is used: the
MySQL, PostgreSQL or SQLite tables, the sessions' and the user index's, and
their indexes (CREATE TABLE IF NOT EXISTS, also behind a cache; the user in
the DSN needs the CREATE privilege). It is safe to run on every deployment.
The other stores need nothing.`,
	time.Minute,
	func(ctx context.Context, e *env, cfg session.Config) error {
		st, err := theStore(cfg)
		if err != nil {
			return err
		}
		db := st
		if c, ok := st.(*cached.Store); ok {
			db = c.Backing()
		}
		if err := sessionenv.Migrate(ctx, st); err != nil {
			return err
		}
		if t, ok := db.(interface{ Table() string }); ok {
			_, err = fmt.Fprintf(e.stdout, "table %s is ready (created if it was missing)\n", t.Table())
		} else {
			_, err = fmt.Fprintf(e.stdout, "nothing to create: the %s store needs no table\n", storeName(db))
		}
		return err
	})

var pingCmd = storeCommand("ping", "check that the store answers",
	`Checks that the store SESSION_STORE names answers: it looks up a session key
that does not exist (which reads nothing and writes nothing), in the store
and, for SESSION_STORE=cached, in the cache and the backing store each, and
prints one line per store with the time it took. A MySQL, PostgreSQL or
SQLite table that is missing is reported: run sessionkit migrate.`,
	30*time.Second,
	func(ctx context.Context, e *env, cfg session.Config) error {
		st, err := theStore(cfg)
		if err != nil {
			return err
		}
		parts := []server.Store{st}
		if c, ok := st.(*cached.Store); ok {
			parts = []server.Store{c.Cache(), c.Backing()}
		}
		var b [16]byte
		rand.Read(b[:])
		probe := "sessionkitping" + hex.EncodeToString(b[:])
		var failed []error
		for i, p := range parts {
			what := storeName(p)
			if len(parts) > 1 {
				what = [...]string{"cache: ", "backing store: "}[i] + what
			}
			start := time.Now()
			_, err := p.Load(ctx, probe)
			took := time.Since(start).Round(time.Microsecond)
			if err == nil || errors.Is(err, server.ErrNotFound) {
				fmt.Fprintf(e.stdout, "%s: ok (%v)\n", what, took)
				continue
			}
			fmt.Fprintf(e.stdout, "%s: FAILED (%v): %v%s\n", what, took, err, migrateHint(err))
			failed = append(failed, fmt.Errorf("%s: %w", what, err))
		}
		if len(failed) > 0 {
			return fmt.Errorf("the store does not answer: %w", errors.Join(failed...))
		}
		return nil
	})

// storeName describes a store: its kind and where it keeps sessions.
func storeName(st server.Store) string {
	switch s := st.(type) {
	case *memory.Store:
		return "memory (in this process only)"
	case *file.Store:
		return "file"
	case *mysql.Store:
		return "mysql, table " + s.Table()
	case *postgres.Store:
		return "postgres, table " + s.Table()
	case *sqlite.Store:
		return "sqlite, " + s.Path() + ", table " + s.Table()
	case *redis.Store:
		if _, ok := s.Client().(*goredis.ClusterClient); ok {
			return "redis cluster, prefix " + s.Prefix()
		}
		return "redis, prefix " + s.Prefix()
	}
	return fmt.Sprintf("%T", st)
}

// migrateHint points to migrate when err says that the table does not
// exist: MySQL's error 1146, PostgreSQL's 42P01, SQLite's "no such
// table".
func migrateHint(err error) string {
	var me *gomysql.MySQLError
	var pe *pgconn.PgError
	if errors.As(err, &me) && me.Number == 1146 || errors.As(err, &pe) && pe.Code == "42P01" ||
		strings.HasPrefix(err.Error(), "session store sqlite: ") && strings.Contains(err.Error(), "no such table: ") {
		return " (run sessionkit migrate to create the table)"
	}
	return ""
}
