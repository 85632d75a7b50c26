// Package sessionenv builds a session Manager, its server store included,
// from environment variables: the SESSION_* variables of
// session.ConfigFromEnv, and these for the store:
//
//	SESSION_STORE                memory | file | mysql | postgres | sqlite | redis | cached;
//	                             unset or empty: no store
//	SESSION_FILE_PATH            the file store's directory (required by file)
//	SESSION_MYSQL_DSN            user:password@tcp(host:port)/dbname (required by mysql)
//	SESSION_MYSQL_TABLE          the mysql store's table (optional, default sessions)
//	SESSION_POSTGRES_DSN         postgres://user:password@host:port/dbname?sslmode=require,
//	                             or host=... user=... keywords (required by postgres)
//	SESSION_POSTGRES_TABLE       the postgres store's table (optional, default sessions)
//	SESSION_SQLITE_PATH          the sqlite store's database file (required by sqlite;
//	                             created if missing, in a directory that exists)
//	SESSION_SQLITE_TABLE         the sqlite store's table (optional, default sessions)
//	SESSION_REDIS_URL            redis://[:password@]host:port/db: a single server
//	                             (redis needs this or SESSION_REDIS_CLUSTER_URL)
//	SESSION_REDIS_CLUSTER_URL    redis://[:password@]host:port?addr=host:port&addr=host:port:
//	                             a Redis Cluster, through any of its nodes (redis.OpenCluster)
//	SESSION_REDIS_PREFIX         the redis store's key prefix (optional, default
//	                             "sessionkit:", or "sessionkit:cache:" for a cache)
//	SESSION_REDIS_WAIT_REPLICAS  redis.Config.WaitReplicas: the replicas that must have
//	                             a write before it is acknowledged (optional, default 0)
//	SESSION_REDIS_WAIT_TIMEOUT   redis.Config.WaitTimeout, a duration such as 500ms (optional)
//	SESSION_CACHE_STORE          cached: the cache, memory | redis
//	SESSION_BACKING_STORE        cached: the store behind it, file | mysql | postgres | sqlite
//	SESSION_DJANGO_MYSQL_DSN     Django's database, which holds django_session
//	                             (default SESSION_MYSQL_DSN: one database for both)
//	SESSION_DJANGO_TABLE         the table of Django's sessions (optional, default
//	                             django_session; a custom session model's db_table)
//
// With SESSION_DJANGO set (see session.ConfigFromEnv) and Django's db or
// cached_db engine (SESSION_DJANGO_ENGINE, db unless set, as in Django),
// Load also opens Django's django_session table (mysql.OpenDjango; or
// SESSION_DJANGO_TABLE) as Config.Django.Store, and checks that it is
// there: Django's migrations create it.
//
// SESSION_STORE=cached puts the store named by SESSION_CACHE_STORE in front
// of the one named by SESSION_BACKING_STORE (package server/cached); each
// reads its own variables above, as it would alone. A memory cache lives in
// the process, so each process has its own; that suits a single process.
// Variables of the stores that SESSION_STORE does not name are ignored.
//
// The directory of SESSION_FILE_PATH must exist (Load does not create it);
// keep it private to the application (mode 0700). So must the directory of
// SESSION_SQLITE_PATH, which holds the database file and, beside it, its
// -wal and -shm files. Load checks that a MySQL or PostgreSQL server or a
// Redis store answers, and opens the SQLite file, so that a wrong address
// fails at start-up; a Redis cache is not checked, since the cached store
// works without it. Load does not create the MySQL, PostgreSQL or SQLite
// table: run `sessionkit migrate` once (cmd/sessionkit), or call Migrate,
// which needs the CREATE privilege.
//
// This package imports every store, and so the MySQL, PostgreSQL, SQLite
// and Redis drivers. A program that builds its Config itself, with the one
// store it uses, links only that store's driver; one that uses cookie
// sessions alone, none.
package sessionenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/cached"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/postgres"
	"github.com/sessionkit/session/server/redis"
	"github.com/sessionkit/session/server/sqlite"
)

// The names of the store's variables.
const (
	varStore             = "SESSION_STORE"
	varFilePath          = "SESSION_FILE_PATH"
	varMySQLDSN          = "SESSION_MYSQL_DSN"
	varMySQLTable        = "SESSION_MYSQL_TABLE"
	varPostgresDSN       = "SESSION_POSTGRES_DSN"
	varPostgresTbl       = "SESSION_POSTGRES_TABLE"
	varSQLitePath        = "SESSION_SQLITE_PATH"
	varSQLiteTable       = "SESSION_SQLITE_TABLE"
	varRedisURL          = "SESSION_REDIS_URL"
	varRedisClusterURL   = "SESSION_REDIS_CLUSTER_URL"
	varRedisPrefix       = "SESSION_REDIS_PREFIX"
	varRedisWaitReplicas = "SESSION_REDIS_WAIT_REPLICAS"
	varRedisWaitTimeout  = "SESSION_REDIS_WAIT_TIMEOUT"
	varCacheStore        = "SESSION_CACHE_STORE"
	varBackingStore      = "SESSION_BACKING_STORE"
	varDjangoDSN         = "SESSION_DJANGO_MYSQL_DSN"
	varDjangoTable       = "SESSION_DJANGO_TABLE"
)

// defaultCachePrefix is the key prefix of a Redis cache when
// SESSION_REDIS_PREFIX is not set: apart from the redis store's default,
// so that a cache and a store on one server never share keys.
const defaultCachePrefix = "sessionkit:cache:"

var (
	stores        = []string{"memory", "file", "mysql", "postgres", "sqlite", "redis", "cached"}
	cacheStores   = []string{"memory", "redis"}
	backingStores = []string{"file", "mysql", "postgres", "sqlite"}
)

// configErr is an error about a variable's value; errors.Is matches it
// with session.ErrConfig.
func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", session.ErrConfig, fmt.Sprintf(format, args...))
}

// Load reads the session configuration and opens its store: the Config of
// session.ConfigFromEnv with Store set to the store SESSION_STORE names
// (nil when it is unset or empty: the cookie engine needs none). The
// returned function releases the store (closes the MySQL connection pool,
// for one); it is never nil, and does nothing when there is no store.
//
// An error about a variable's value (an unknown store, a missing path or
// DSN, SESSION_ENGINE=server without a store) matches session.ErrConfig
// and names the variable; an error reaching a server names the variable
// that points to it, never its password.
func Load(ctx context.Context) (session.Config, func() error, error) {
	cfg, err := session.ConfigFromEnv()
	if err != nil {
		return cfg, noop, err
	}
	store, closeStore, err := openStore(ctx, os.LookupEnv)
	if err != nil {
		return cfg, noop, err
	}
	if store == nil && (cfg.Engine == session.EngineServer || cfg.Engine == session.EngineAuto) {
		return cfg, noop, configErr("SESSION_ENGINE=%s keeps sessions in a server store: set %s to one of %s", cfg.Engine, varStore, strings.Join(stores, ", "))
	}
	cfg.Store = store
	if d := cfg.Django; d != nil && (d.Engine == session.DjangoDB || d.Engine == session.DjangoCachedDB) {
		st, err := openDjango(os.LookupEnv, d.Engine)
		if err != nil {
			_ = closeStore()
			return cfg, noop, err
		}
		d.Store = st
		closeBoth := closeStore
		closeStore = func() error { return errors.Join(st.Close(), closeBoth()) }
	}
	return cfg, closeStore, nil
}

// openDjango opens Django's django_session table on the database of
// SESSION_DJANGO_MYSQL_DSN, or else SESSION_MYSQL_DSN.
func openDjango(lookup func(string) (string, bool), engine session.DjangoEngine) (*mysql.DjangoStore, error) {
	get := getter(lookup)
	name := varDjangoDSN
	dsn := get(name)
	if dsn == "" {
		name = varMySQLDSN
		dsn = get(name)
	}
	if dsn == "" {
		return nil, configErr("SESSION_DJANGO_ENGINE=%s keeps Django's sessions in its django_session table: set %s (or %s) to Django's database, user:password@tcp(host:port)/dbname", engine, varDjangoDSN, varMySQLDSN)
	}
	table, err := tableVar(get, varDjangoTable, mysql.ValidateTable)
	if err != nil {
		return nil, err
	}
	st, err := mysql.OpenDjango(dsn, mysql.Config{Table: table})
	if err != nil {
		return nil, openErr(fmt.Sprintf("SESSION_DJANGO_ENGINE=%s", engine), name, err)
	}
	return st, nil
}

// New builds the Manager that the environment describes: Load, then
// session.New. The returned function releases the store; call it once the
// Manager is no longer used.
func New(ctx context.Context) (*session.Manager, func() error, error) {
	cfg, closeStore, err := Load(ctx)
	if err != nil {
		return nil, noop, err
	}
	m, err := session.New(cfg)
	if err != nil {
		_ = closeStore()
		return nil, noop, err
	}
	return m, closeStore, nil
}

// Migrate creates what store needs on its server before it is used, if it
// is not there: the table of a MySQL, PostgreSQL or SQLite store (their
// Migrate, CREATE TABLE IF NOT EXISTS), also behind a cache. It is safe to run on every
// start; for the other stores it does nothing.
func Migrate(ctx context.Context, store server.Store) error {
	if c, ok := store.(*cached.Store); ok {
		return errors.Join(Migrate(ctx, c.Cache()), Migrate(ctx, c.Backing()))
	}
	if m, ok := store.(interface{ Migrate(context.Context) error }); ok {
		return m.Migrate(ctx)
	}
	return nil
}

func noop() error { return nil }

// getter returns a variable's value, trimmed, as lookup gives it ("" when
// it is unset).
func getter(lookup func(string) (string, bool)) func(string) string {
	return func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
}

// tableVar returns the table that the variable name sets ("" when it is
// unset), checked by validate.
func tableVar(get func(string) string, name string, validate func(string) error) (string, error) {
	table := get(name)
	if table != "" {
		if err := validate(table); err != nil {
			return "", fmt.Errorf("%w: %s=%q: %w", session.ErrConfig, name, table, err)
		}
	}
	return table, nil
}

// openErr is the error of opening a store on the server that the
// variable name points to, for what (a SESSION_STORE or a
// SESSION_DJANGO_ENGINE setting). The DSN holds a password: it names the
// variable, not its value.
func openErr(what, name string, err error) error {
	if errors.Is(err, server.ErrUnavailable) {
		return fmt.Errorf("%s: the server named by %s does not answer: %w", what, name, err)
	}
	return fmt.Errorf("%w: %s: %w", session.ErrConfig, name, err)
}

// openStore builds the store that the variables read through lookup
// describe; with SESSION_STORE unset or empty, none.
func openStore(ctx context.Context, lookup func(string) (string, bool)) (server.Store, func() error, error) {
	get := getter(lookup)
	switch kind := strings.ToLower(get(varStore)); kind {
	case "":
		return nil, noop, nil
	case "memory":
		m := memory.New()
		return m, m.Close, nil
	case "file":
		return openFile(get, varStore+"=file")
	case "mysql":
		return openMySQL(ctx, get, varStore+"=mysql")
	case "postgres":
		return openPostgres(get, varStore+"=postgres")
	case "sqlite":
		return openSQLite(get, varStore+"=sqlite")
	case "redis":
		st, closeStore, err := openRedis(get, varStore+"=redis", redis.DefaultPrefix, false)
		if err != nil {
			return nil, noop, err
		}
		if err := st.Ping(ctx); err != nil {
			_ = closeStore()
			// The error never holds the URL (nor so its password).
			return nil, noop, fmt.Errorf("%s=redis: the server named by %s does not answer: %w", varStore, redisURLVar(get), err)
		}
		return st, closeStore, nil
	case "cached":
		return openCached(ctx, get)
	default:
		return nil, noop, configErr("%s=%q: want one of %s, or leave it empty for no store", varStore, get(varStore), strings.Join(stores, ", "))
	}
}

// openFile opens the file store; kind names it in messages
// ("SESSION_STORE=file").
func openFile(get func(string) string, kind string) (server.Store, func() error, error) {
	dir := get(varFilePath)
	if dir == "" {
		return nil, noop, configErr("%s needs %s, the directory that holds the session files", kind, varFilePath)
	}
	st, err := file.New(dir)
	if err != nil {
		return nil, noop, fmt.Errorf("%w: %s: %w", session.ErrConfig, varFilePath, err)
	}
	return st, noop, nil
}

// openMySQL opens the mysql store and checks that its server answers.
func openMySQL(ctx context.Context, get func(string) string, kind string) (server.Store, func() error, error) {
	dsn := get(varMySQLDSN)
	if dsn == "" {
		return nil, noop, configErr("%s needs %s (user:password@tcp(host:port)/dbname)", kind, varMySQLDSN)
	}
	table, err := tableVar(get, varMySQLTable, mysql.ValidateTable)
	if err != nil {
		return nil, noop, err
	}
	st, err := mysql.Open(dsn, mysql.Config{Table: table})
	if err != nil {
		return nil, noop, openErr(kind, varMySQLDSN, err)
	}
	return st, st.Close, nil
}

// openPostgres opens the postgres store and checks that its server
// answers.
func openPostgres(get func(string) string, kind string) (server.Store, func() error, error) {
	dsn := get(varPostgresDSN)
	if dsn == "" {
		return nil, noop, configErr("%s needs %s (postgres://user:password@host:port/dbname)", kind, varPostgresDSN)
	}
	table, err := tableVar(get, varPostgresTbl, postgres.ValidateTable)
	if err != nil {
		return nil, noop, err
	}
	st, err := postgres.Open(dsn, postgres.Config{Table: table})
	if err != nil {
		return nil, noop, openErr(kind, varPostgresDSN, err)
	}
	return st, st.Close, nil
}

// openSQLite opens the sqlite store's file.
func openSQLite(get func(string) string, kind string) (server.Store, func() error, error) {
	path := get(varSQLitePath)
	if path == "" {
		return nil, noop, configErr("%s needs %s, the database file (created if missing)", kind, varSQLitePath)
	}
	table, err := tableVar(get, varSQLiteTable, sqlite.ValidateTable)
	if err != nil {
		return nil, noop, err
	}
	st, err := sqlite.Open(path, sqlite.Config{Table: table})
	if err != nil {
		return nil, noop, fmt.Errorf("%w: %s=%q: %w", session.ErrConfig, varSQLitePath, path, err)
	}
	return st, st.Close, nil
}

// redisURLVar returns the name of the variable that names the Redis
// server: SESSION_REDIS_CLUSTER_URL if it is set, else SESSION_REDIS_URL.
func redisURLVar(get func(string) string) string {
	if get(varRedisClusterURL) != "" {
		return varRedisClusterURL
	}
	return varRedisURL
}

// openRedis opens a redis store, on a single server or a cluster, and
// checks that it answers unless it is a cache; prefix is the default for
// SESSION_REDIS_PREFIX.
func openRedis(get func(string) string, kind, prefix string, cache bool) (*redis.Store, func() error, error) {
	url, clusterURL := get(varRedisURL), get(varRedisClusterURL)
	switch {
	case url == "" && clusterURL == "":
		return nil, noop, configErr("%s needs %s (redis://[:password@]host:port/db) or, for a Redis Cluster, %s (redis://[:password@]host:port?addr=host:port&addr=host:port)", kind, varRedisURL, varRedisClusterURL)
	case url != "" && clusterURL != "":
		return nil, noop, configErr("%s: both %s and %s are set; set %s for a single server (or Sentinel), %s for a Redis Cluster", kind, varRedisURL, varRedisClusterURL, varRedisURL, varRedisClusterURL)
	}
	cfg := redis.Config{Prefix: prefix, SkipPing: cache}
	if p := get(varRedisPrefix); p != "" {
		if err := redis.ValidatePrefix(p); err != nil {
			return nil, noop, fmt.Errorf("%w: %s=%q: %w", session.ErrConfig, varRedisPrefix, p, err)
		}
		cfg.Prefix = p
	}
	if v := get(varRedisWaitReplicas); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, noop, configErr("%s=%q: want a number of replicas, 0 or more", varRedisWaitReplicas, v)
		}
		cfg.WaitReplicas = n
	}
	if v := get(varRedisWaitTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, noop, configErr("%s=%q: want a positive duration such as 500ms", varRedisWaitTimeout, v)
		}
		cfg.WaitTimeout = d
	}
	// A cache may be down when the application starts: the cached store
	// works without it, and tries it again.
	var (
		st  *redis.Store
		err error
	)
	urlVar := redisURLVar(get)
	if clusterURL != "" {
		st, err = redis.OpenCluster(clusterURL, cfg)
	} else {
		st, err = redis.Open(url, cfg)
	}
	if errors.Is(err, server.ErrUnavailable) {
		return nil, noop, fmt.Errorf("%s: the server named by %s does not answer: %w", kind, urlVar, err)
	}
	if err != nil {
		// The URL may hold a password: name the variable, not its value.
		return nil, noop, fmt.Errorf("%w: %s: %w", session.ErrConfig, urlVar, err)
	}
	return st, st.Close, nil
}

// openCached opens the cache and the backing store and puts one in front
// of the other.
func openCached(ctx context.Context, get func(string) string) (server.Store, func() error, error) {
	cacheKind, backingKind := strings.ToLower(get(varCacheStore)), strings.ToLower(get(varBackingStore))
	if !slices.Contains(cacheStores, cacheKind) {
		return nil, noop, configErr("%s=cached needs %s, one of %s; got %q", varStore, varCacheStore, strings.Join(cacheStores, ", "), get(varCacheStore))
	}
	if !slices.Contains(backingStores, backingKind) {
		return nil, noop, configErr("%s=cached needs %s, one of %s; got %q", varStore, varBackingStore, strings.Join(backingStores, ", "), get(varBackingStore))
	}
	var (
		cache      server.Store
		closeCache func() error
		err        error
	)
	what := varStore + "=cached with " + varCacheStore + "=" + cacheKind
	switch cacheKind {
	case "memory":
		m := memory.New(memory.Options{CleanupInterval: time.Minute})
		cache, closeCache = m, m.Close
	case "redis":
		cache, closeCache, err = openRedis(get, what, defaultCachePrefix, true)
		if err != nil {
			return nil, noop, err
		}
	}
	what = varStore + "=cached with " + varBackingStore + "=" + backingKind
	var (
		backing      server.Store
		closeBacking func() error
	)
	switch backingKind {
	case "file":
		backing, closeBacking, err = openFile(get, what)
	case "mysql":
		backing, closeBacking, err = openMySQL(ctx, get, what)
	case "postgres":
		backing, closeBacking, err = openPostgres(get, what)
	case "sqlite":
		backing, closeBacking, err = openSQLite(get, what)
	}
	if err != nil {
		_ = closeCache()
		return nil, noop, err
	}
	st, err := cached.New(cache, backing)
	if err != nil {
		_ = closeCache()
		_ = closeBacking()
		return nil, noop, err
	}
	return st, func() error { return errors.Join(closeBacking(), closeCache()) }, nil
}
