// Package envstore builds the server-side session store named by
// environment variables, for the programs of this module (the demo and
// clearsessions):
//
//	SESSION_STORE          memory | file | mysql | redis | cached; unset or empty: no store
//	SESSION_FILE_PATH      the file store's directory (required by file)
//	SESSION_MYSQL_DSN      user:password@tcp(host:port)/dbname (required by mysql)
//	SESSION_MYSQL_TABLE    the mysql store's table (optional, default sessions)
//	SESSION_REDIS_URL      redis://[:password@]host:port/db (required by redis)
//	SESSION_REDIS_PREFIX   the redis store's key prefix (optional, default
//	                       "sessionkit:", or "sessionkit:cache:" for a cache)
//	SESSION_CACHE_STORE    cached: the cache, memory | redis
//	SESSION_BACKING_STORE  cached: the store behind it, file | mysql
//
// SESSION_STORE=cached puts the store named by SESSION_CACHE_STORE in front
// of the one named by SESSION_BACKING_STORE (package server/cached); each
// reads its own variables above, as it would alone. A memory cache lives in
// the process, so each process has its own; that suits a single process.
//
// The directory of SESSION_FILE_PATH must exist (Open does not create it);
// keep it private to the application (mode 0700). With a mysql store, Open
// connects and creates the table if it does not exist (mysql.Store.Migrate,
// CREATE TABLE IF NOT EXISTS), so the user in the DSN needs the CREATE
// privilege on the database. With SESSION_STORE=redis, Open checks that the
// server answers (PING); a Redis cache is not checked, since the cached
// store works without it. Variables of the stores that SESSION_STORE does
// not name are ignored.
package envstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/cached"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/redis"
)

// The names of the variables Open reads.
const (
	VarStore        = "SESSION_STORE"
	VarFilePath     = "SESSION_FILE_PATH"
	VarMySQLDSN     = "SESSION_MYSQL_DSN"
	VarMySQLTable   = "SESSION_MYSQL_TABLE"
	VarRedisURL     = "SESSION_REDIS_URL"
	VarRedisPrefix  = "SESSION_REDIS_PREFIX"
	VarCacheStore   = "SESSION_CACHE_STORE"
	VarBackingStore = "SESSION_BACKING_STORE"
)

// DefaultCachePrefix is the key prefix of a Redis cache when
// SESSION_REDIS_PREFIX is not set: apart from the redis store's default,
// so that a cache and a store on one server never share keys.
const DefaultCachePrefix = "sessionkit:cache:"

// Stores lists the accepted values of SESSION_STORE.
var Stores = []string{"memory", "file", "mysql", "redis", "cached"}

// CacheStores and BackingStores list the accepted values of
// SESSION_CACHE_STORE and SESSION_BACKING_STORE.
var (
	CacheStores   = []string{"memory", "redis"}
	BackingStores = []string{"file", "mysql"}
)

// ErrConfig is matched by errors.Is for every error about a variable's
// value: unknown store, missing path or DSN, bad table name.
var ErrConfig = errors.New("invalid session store configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Open builds the store that the variables read through lookup describe
// (see the package documentation). lookup has the signature of
// os.LookupEnv; tests pass a map's.
//
// It returns the store and closeStore, which releases it (closes the MySQL
// connection pool, for one). With SESSION_STORE unset or empty it returns
// a nil store, a closeStore that does nothing and no error: the cookie
// engine needs no store. closeStore is never nil.
func Open(ctx context.Context, lookup func(string) (string, bool)) (store server.Store, closeStore func() error, err error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	kind := strings.ToLower(get(VarStore))
	switch kind {
	case "":
		return nil, noop, nil
	case "memory":
		m := memory.New()
		return m, m.Close, nil
	case "file":
		return openFile(get, VarStore+"=file")
	case "mysql":
		return openMySQL(ctx, get, VarStore+"=mysql")
	case "redis":
		st, closeStore, err := openRedis(get, VarStore+"=redis", redis.DefaultPrefix)
		if err != nil {
			return nil, noop, err
		}
		if err := st.Client().Ping(ctx).Err(); err != nil {
			_ = closeStore()
			// The error never holds the URL (nor so its password).
			return nil, noop, fmt.Errorf("%s=redis: the server named by %s does not answer: %w", VarStore, VarRedisURL, err)
		}
		return st, closeStore, nil
	case "cached":
		return openCached(ctx, get)
	default:
		return nil, noop, configErr("%s=%q: want one of %s, or leave it empty for no store", VarStore, get(VarStore), strings.Join(Stores, ", "))
	}
}

func noop() error { return nil }

// openFile opens the file store; kind names it in messages
// ("SESSION_STORE=file").
func openFile(get func(string) string, kind string) (server.Store, func() error, error) {
	dir := get(VarFilePath)
	if dir == "" {
		return nil, noop, configErr("%s needs %s, the directory that holds the session files", kind, VarFilePath)
	}
	st, err := file.New(dir)
	if err != nil {
		return nil, noop, fmt.Errorf("%w: %s: %w", ErrConfig, VarFilePath, err)
	}
	return st, noop, nil
}

// openMySQL opens the mysql store and creates its table.
func openMySQL(ctx context.Context, get func(string) string, kind string) (server.Store, func() error, error) {
	dsn := get(VarMySQLDSN)
	if dsn == "" {
		return nil, noop, configErr("%s needs %s (user:password@tcp(host:port)/dbname)", kind, VarMySQLDSN)
	}
	table := get(VarMySQLTable)
	if table != "" {
		if err := mysql.ValidateTable(table); err != nil {
			return nil, noop, fmt.Errorf("%w: %s=%q: %w", ErrConfig, VarMySQLTable, table, err)
		}
	}
	st, err := mysql.Open(dsn, mysql.Config{Table: table})
	if err != nil {
		// The DSN holds a password: name the variable, not its value.
		return nil, noop, fmt.Errorf("%w: %s: %w", ErrConfig, VarMySQLDSN, err)
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, noop, fmt.Errorf("%s: creating table %q on the server named by %s: %w", kind, st.Table(), VarMySQLDSN, err)
	}
	return st, st.Close, nil
}

// openRedis opens a redis store without connecting; prefix is the default
// for SESSION_REDIS_PREFIX.
func openRedis(get func(string) string, kind, prefix string) (*redis.Store, func() error, error) {
	url := get(VarRedisURL)
	if url == "" {
		return nil, noop, configErr("%s needs %s (redis://[:password@]host:port/db)", kind, VarRedisURL)
	}
	if p := get(VarRedisPrefix); p != "" {
		if err := redis.ValidatePrefix(p); err != nil {
			return nil, noop, fmt.Errorf("%w: %s=%q: %w", ErrConfig, VarRedisPrefix, p, err)
		}
		prefix = p
	}
	st, err := redis.Open(url, redis.Config{Prefix: prefix})
	if err != nil {
		// The URL may hold a password: name the variable, not its value.
		return nil, noop, fmt.Errorf("%w: %s: %w", ErrConfig, VarRedisURL, err)
	}
	return st, st.Close, nil
}

// openCached opens the cache and the backing store and puts one in front
// of the other.
func openCached(ctx context.Context, get func(string) string) (server.Store, func() error, error) {
	cacheKind, backingKind := strings.ToLower(get(VarCacheStore)), strings.ToLower(get(VarBackingStore))
	if !slices.Contains(CacheStores, cacheKind) {
		return nil, noop, configErr("%s=cached needs %s, one of %s; got %q", VarStore, VarCacheStore, strings.Join(CacheStores, ", "), get(VarCacheStore))
	}
	if !slices.Contains(BackingStores, backingKind) {
		return nil, noop, configErr("%s=cached needs %s, one of %s; got %q", VarStore, VarBackingStore, strings.Join(BackingStores, ", "), get(VarBackingStore))
	}
	var (
		cache      server.Store
		closeCache func() error
		err        error
	)
	what := VarStore + "=cached with " + VarCacheStore + "=" + cacheKind
	switch cacheKind {
	case "memory":
		m := memory.New(memory.Options{CleanupInterval: time.Minute})
		cache, closeCache = m, m.Close
	case "redis":
		cache, closeCache, err = openRedis(get, what, DefaultCachePrefix)
		if err != nil {
			return nil, noop, err
		}
	}
	what = VarStore + "=cached with " + VarBackingStore + "=" + backingKind
	var (
		backing      server.Store
		closeBacking func() error
	)
	switch backingKind {
	case "file":
		backing, closeBacking, err = openFile(get, what)
	case "mysql":
		backing, closeBacking, err = openMySQL(ctx, get, what)
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

// FromEnv is Open with os.LookupEnv.
func FromEnv(ctx context.Context) (server.Store, func() error, error) {
	return Open(ctx, os.LookupEnv)
}
