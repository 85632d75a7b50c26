package sessionenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/cached"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/postgres"
	"github.com/sessionkit/session/server/redis"
	"github.com/sessionkit/session/server/sqlite"
)

// env returns a lookup function over m, standing in for os.LookupEnv.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

const testKey = "sessionenvtestkey000000000000000"

// roundTrip checks that s really stores: Create, Load, Delete.
func roundTrip(t *testing.T, s server.Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.Create(ctx, testKey, []byte("blob"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := s.Load(ctx, testKey)
	if err != nil || string(got) != "blob" {
		t.Fatalf("Load = %q, %v; want \"blob\"", got, err)
	}
	// A cached store whose cache is down reports the logout as not done
	// (cached.ErrCacheNotTold), and still removed it from the backing store.
	if err := s.Delete(ctx, testKey); err != nil && !errors.Is(err, cached.ErrCacheNotTold) {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Load(ctx, testKey); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load after Delete: %v, want ErrNotFound", err)
	}
}

func TestNoStore(t *testing.T) {
	for _, m := range []map[string]string{{}, {varStore: ""}, {varStore: "  "}} {
		s, closeStore, err := openStore(context.Background(), env(m))
		if s != nil || err != nil {
			t.Errorf("openStore(%v) = %v, %v; want no store and no error", m, s, err)
		}
		if closeStore == nil {
			t.Fatalf("openStore(%v): nil close function", m)
		}
		if err := closeStore(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

func TestMemory(t *testing.T) {
	for _, v := range []string{"memory", " Memory "} {
		s, closeStore, err := openStore(context.Background(), env(map[string]string{varStore: v}))
		if err != nil {
			t.Fatalf("openStore(%s=%q): %v", varStore, v, err)
		}
		if _, ok := s.(*memory.Store); !ok {
			t.Fatalf("openStore(%s=%q) = %T, want *memory.Store", varStore, v, s)
		}
		roundTrip(t, s)
		if err := closeStore(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	s, closeStore, err := openStore(context.Background(), env(map[string]string{varStore: "file", varFilePath: dir}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer closeStore()
	if _, ok := s.(*file.Store); !ok {
		t.Fatalf("Open = %T, want *file.Store", s)
	}
	// The store writes in the directory the variable names.
	if err := s.Create(context.Background(), testKey, []byte("blob"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, file.Prefix+testKey)); err != nil {
		t.Fatalf("no session file in %s: %v", dir, err)
	}
	if err := s.Delete(context.Background(), testKey); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s)
}

// TestErrors checks that every bad configuration is an ErrConfig whose
// message names the variable at fault and what it accepts, and that no
// message repeats the DSN (it holds a password).
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"unknown store", map[string]string{varStore: "memcached"}, []string{"SESSION_STORE", `"memcached"`, "memory, file, mysql, postgres, sqlite, redis, cached"}},
		{"redis without URL", map[string]string{varStore: "redis"}, []string{"SESSION_STORE=redis", "SESSION_REDIS_URL", "redis://"}},
		{"bad redis URL", map[string]string{varStore: "redis", varRedisURL: "http://:hunter2@cache:6379/0"}, []string{"SESSION_REDIS_URL", "invalid URL scheme"}},
		{"bad redis prefix", map[string]string{varStore: "redis", varRedisURL: "redis://:hunter2@cache:6379/0", varRedisPrefix: "two words"}, []string{"SESSION_REDIS_PREFIX", "printable ASCII without spaces"}},
		{"redis with both URLs", map[string]string{varStore: "redis", varRedisURL: "redis://:hunter2@cache:6379/0", varRedisClusterURL: "redis://:hunter2@cache:7000"}, []string{"SESSION_STORE=redis", "both SESSION_REDIS_URL and SESSION_REDIS_CLUSTER_URL"}},
		{"bad redis cluster URL", map[string]string{varStore: "redis", varRedisClusterURL: "http://:hunter2@cache:7000"}, []string{"SESSION_REDIS_CLUSTER_URL", "invalid URL scheme"}},
		{"bad redis cluster address", map[string]string{varStore: "redis", varRedisClusterURL: "redis://:hunter2@cache:7000?addr=cache"}, []string{"SESSION_REDIS_CLUSTER_URL", "addr"}},
		{"bad wait replicas", map[string]string{varStore: "redis", varRedisURL: "redis://:hunter2@cache:6379/0", varRedisWaitReplicas: "-1"}, []string{"SESSION_REDIS_WAIT_REPLICAS", `"-1"`}},
		{"wait replicas not a number", map[string]string{varStore: "redis", varRedisURL: "redis://:hunter2@cache:6379/0", varRedisWaitReplicas: "all"}, []string{"SESSION_REDIS_WAIT_REPLICAS", `"all"`}},
		{"bad wait timeout", map[string]string{varStore: "redis", varRedisURL: "redis://:hunter2@cache:6379/0", varRedisWaitReplicas: "1", varRedisWaitTimeout: "500"}, []string{"SESSION_REDIS_WAIT_TIMEOUT", "500ms"}},
		{"wait timeout over the read timeout", map[string]string{varStore: "redis", varRedisURL: "redis://:hunter2@cache:6379/0", varRedisWaitReplicas: "1", varRedisWaitTimeout: "5s"}, []string{"SESSION_REDIS_URL", "ReadTimeout"}},
		{"cached redis cluster without URL", map[string]string{varStore: "cached", varCacheStore: "redis", varBackingStore: "file"}, []string{"SESSION_CACHE_STORE=redis", "SESSION_REDIS_CLUSTER_URL"}},
		{"cached without cache", map[string]string{varStore: "cached", varBackingStore: "file"}, []string{"SESSION_CACHE_STORE", "memory, redis"}},
		{"cached with unknown cache", map[string]string{varStore: "cached", varCacheStore: "file", varBackingStore: "file"}, []string{"SESSION_CACHE_STORE", "memory, redis", `"file"`}},
		{"cached without backing", map[string]string{varStore: "cached", varCacheStore: "memory"}, []string{"SESSION_BACKING_STORE", "file, mysql, postgres, sqlite"}},
		{"cached with unknown backing", map[string]string{varStore: "cached", varCacheStore: "memory", varBackingStore: "redis"}, []string{"SESSION_BACKING_STORE", "file, mysql, postgres, sqlite", `"redis"`}},
		{"cached redis without URL", map[string]string{varStore: "cached", varCacheStore: "redis", varBackingStore: "file"}, []string{"SESSION_CACHE_STORE=redis", "SESSION_REDIS_URL"}},
		{"cached file without path", map[string]string{varStore: "cached", varCacheStore: "memory", varBackingStore: "file"}, []string{"SESSION_BACKING_STORE=file", "SESSION_FILE_PATH"}},
		{"cached mysql without DSN", map[string]string{varStore: "cached", varCacheStore: "redis", varRedisURL: "redis://:hunter2@cache:6379/0", varBackingStore: "mysql"}, []string{"SESSION_BACKING_STORE=mysql", "SESSION_MYSQL_DSN"}},
		{"file without path", map[string]string{varStore: "file"}, []string{"SESSION_FILE_PATH", "directory"}},
		{"file with missing directory", map[string]string{varStore: "file", varFilePath: "/nonexistent/sessions"}, []string{"SESSION_FILE_PATH", "does not exist"}},
		{"mysql without DSN", map[string]string{varStore: "mysql"}, []string{"SESSION_MYSQL_DSN", "user:password@tcp(host:port)/dbname"}},
		{"mysql with blank DSN", map[string]string{varStore: "mysql", varMySQLDSN: "  "}, []string{"SESSION_MYSQL_DSN"}},
		{"bad DSN", map[string]string{varStore: "mysql", varMySQLDSN: "sess:hunter2@tcp(127.0.0.1:1)"}, []string{"SESSION_MYSQL_DSN", "invalid DSN"}},
		{"bad table", map[string]string{varStore: "mysql", varMySQLDSN: "sess:hunter2@tcp(127.0.0.1:1)/db", varMySQLTable: "sessions; DROP TABLE x"}, []string{"SESSION_MYSQL_TABLE", "letters, digits or underscores"}},
		{"postgres without DSN", map[string]string{varStore: "postgres"}, []string{"SESSION_STORE=postgres", "SESSION_POSTGRES_DSN", "postgres://"}},
		{"bad postgres DSN", map[string]string{varStore: "postgres", varPostgresDSN: "postgres://sess:hunter2@127.0.0.1:notaport/db"}, []string{"SESSION_POSTGRES_DSN", "cannot parse"}},
		{"bad postgres table", map[string]string{varStore: "postgres", varPostgresDSN: "postgres://sess:hunter2@127.0.0.1:1/db", varPostgresTbl: "a.b"}, []string{"SESSION_POSTGRES_TABLE", "letters, digits or underscores"}},
		{"sqlite without path", map[string]string{varStore: "sqlite"}, []string{"SESSION_STORE=sqlite", "SESSION_SQLITE_PATH"}},
		{"sqlite in a missing directory", map[string]string{varStore: "sqlite", varSQLitePath: "/nonexistent/dir/sessions.db"}, []string{"SESSION_SQLITE_PATH", "/nonexistent/dir/sessions.db"}},
		{"bad sqlite table", map[string]string{varStore: "sqlite", varSQLitePath: "/tmp/x.db", varSQLiteTable: "sqlite_master"}, []string{"SESSION_SQLITE_TABLE", "sqlite_"}},
		{"cached postgres without DSN", map[string]string{varStore: "cached", varCacheStore: "memory", varBackingStore: "postgres"}, []string{"SESSION_BACKING_STORE=postgres", "SESSION_POSTGRES_DSN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, closeStore, err := openStore(context.Background(), env(tc.env))
			if err == nil {
				closeStore()
				t.Fatalf("Open succeeded with %T; want an error", s)
			}
			if s != nil || closeStore == nil {
				t.Errorf("on error: store %v, close function nil: %v", s, closeStore == nil)
			}
			if !errors.Is(err, session.ErrConfig) {
				t.Errorf("error %v does not match session.ErrConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q reveals the DSN's password", err)
			}
		})
	}
}

func TestMySQLTableErrorWrapsStoreError(t *testing.T) {
	_, _, err := openStore(context.Background(), env(map[string]string{varStore: "mysql", varMySQLDSN: "u:p@tcp(127.0.0.1:1)/db", varMySQLTable: "1bad"}))
	if !errors.Is(err, mysql.ErrMisconfigured) {
		t.Errorf("error %v does not match mysql.ErrMisconfigured", err)
	}
}

// TestUnreachable checks that a server store whose server does not
// answer (a closed port on the loopback interface) is an error wrapping
// server.ErrUnavailable and naming the variable that names the server,
// not a configuration error, that it comes back within the context's
// deadline (opening the store pings it), and that it does not repeat the
// password.
func TestUnreachable(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		name string // the variable the error names, and what else it must say
		also string
	}{
		{map[string]string{varStore: "mysql", varMySQLDSN: "u:hunter2@tcp(127.0.0.1:1)/db"}, "SESSION_MYSQL_DSN", ""},
		{map[string]string{varStore: "postgres", varPostgresDSN: "postgres://u:hunter2@127.0.0.1:1/db"}, "SESSION_POSTGRES_DSN", "127.0.0.1:1"},
		{map[string]string{varStore: "redis", varRedisURL: "redis://:hunter2@127.0.0.1:1/0?max_retries=-1"}, "SESSION_REDIS_URL", ""},
		{map[string]string{varStore: "redis", varRedisClusterURL: "redis://:hunter2@127.0.0.1:1?addr=127.0.0.1:2"}, "SESSION_REDIS_CLUSTER_URL", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _, err := openStore(ctx, env(c.vars))
			if err == nil {
				t.Fatal("Open succeeded against a closed port")
			}
			if errors.Is(err, session.ErrConfig) || !errors.Is(err, server.ErrUnavailable) {
				t.Errorf("error %v: want server.ErrUnavailable, not ErrConfig: the configuration is valid, the server is not there", err)
			}
			if msg := err.Error(); !strings.Contains(msg, c.name) || !strings.Contains(msg, c.also) || strings.Contains(msg, "hunter2") {
				t.Errorf("error %q should name %s and %q, and not reveal the password", msg, c.name, c.also)
			}
		})
	}
}

func TestMySQL(t *testing.T) {
	dsn := testenv.MySQLDSN(t)
	table := testenv.Unique("sessionenv_test_")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s, closeStore, err := openStore(ctx, env(map[string]string{varStore: "mysql", varMySQLDSN: dsn, varMySQLTable: table}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	st, ok := s.(*mysql.Store)
	if !ok {
		t.Fatalf("Open = %T, want *mysql.Store", s)
	}
	t.Cleanup(func() {
		if _, err := st.DB().ExecContext(context.Background(), "DROP TABLE IF EXISTS `"+table+"`, `"+table+mysql.UsersSuffix+"`"); err != nil {
			t.Errorf("drop table: %v", err)
		}
		if err := closeStore(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if st.Table() != table {
		t.Errorf("Table() = %q, want %q", st.Table(), table)
	}
	// Opening does not create the table; Migrate does, and may run again.
	tables := func() int {
		t.Helper()
		var n int
		err := st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tables(); n != 0 {
		t.Fatalf("table %s after opening the store: %d, want none", table, n)
	}
	for range 2 {
		if err := Migrate(ctx, s); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	if n := tables(); n != 1 {
		t.Fatalf("table %s after Migrate: %d, want it created", table, n)
	}
	roundTrip(t, s)

	// Opening again on the existing table is fine.
	s2, close2, err := openStore(ctx, env(map[string]string{varStore: "mysql", varMySQLDSN: dsn, varMySQLTable: table}))
	if err != nil {
		t.Fatalf("second Open on an existing table: %v", err)
	}
	roundTrip(t, s2)
	if err := close2(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	table := testenv.Unique("sessionenv_test_")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vars := map[string]string{varStore: "Postgres", varPostgresDSN: dsn, varPostgresTbl: table}
	s, closeStore, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	st, ok := s.(*postgres.Store)
	if !ok {
		t.Fatalf("Open = %T, want *postgres.Store", s)
	}
	t.Cleanup(func() {
		if _, err := st.Pool().Exec(context.Background(), `DROP TABLE IF EXISTS "`+table+`", "`+table+postgres.UsersSuffix+`"`); err != nil {
			t.Errorf("drop table: %v", err)
		}
		if err := closeStore(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if st.Table() != table {
		t.Errorf("Table() = %q, want %q", st.Table(), table)
	}
	exists := func() bool {
		t.Helper()
		var ok bool
		if err := st.Pool().QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", `"`+table+`"`).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if exists() {
		t.Fatal("opening the store created its table")
	}
	for range 2 {
		if err := Migrate(ctx, s); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	if !exists() {
		t.Fatal("no table after Migrate")
	}
	roundTrip(t, s)

	// Behind a memory cache.
	vars[varStore], vars[varCacheStore], vars[varBackingStore] = "cached", "memory", "postgres"
	s2, close2, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	defer close2()
	if b, ok := s2.(*cached.Store).Backing().(*postgres.Store); !ok || b.Table() != table {
		t.Fatalf("backing store %T", s2.(*cached.Store).Backing())
	}
	roundTrip(t, s2)
}

func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	ctx := context.Background()
	vars := map[string]string{varStore: "sqlite", varSQLitePath: path, varSQLiteTable: "web_sessions"}
	s, closeStore, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer closeStore()
	st, ok := s.(*sqlite.Store)
	if !ok || st.Path() != path || st.Table() != "web_sessions" {
		t.Fatalf("Open = %T %+v, want *sqlite.Store on %s, table web_sessions", s, st, path)
	}
	if _, err := s.Load(ctx, testKey); err == nil {
		t.Fatal("the table is there before Migrate")
	}
	if err := Migrate(ctx, s); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s)

	vars[varStore], vars[varCacheStore], vars[varBackingStore] = "cached", "memory", "sqlite"
	s2, close2, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	defer close2()
	if _, ok := s2.(*cached.Store).Backing().(*sqlite.Store); !ok {
		t.Fatalf("backing store %T", s2.(*cached.Store).Backing())
	}
	roundTrip(t, s2)
}

func TestRedis(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.Unique("sessionkit-test:sessionenv:") + ":"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, closeStore, err := openStore(ctx, env(map[string]string{varStore: "Redis", varRedisURL: url, varRedisPrefix: prefix}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer closeStore()
	st, ok := s.(*redis.Store)
	if !ok {
		t.Fatalf("Open = %T, want *redis.Store", s)
	}
	if st.Prefix() != prefix {
		t.Errorf("Prefix() = %q, want %q", st.Prefix(), prefix)
	}
	if err := s.Create(ctx, testKey, []byte("blob"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The store writes under the prefix the variable names.
	if n, err := st.Client().Exists(ctx, prefix+testKey).Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS %s = %d, %v; want 1", prefix+testKey, n, err)
	}
	if err := s.Delete(ctx, testKey); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s)

	// Without SESSION_REDIS_PREFIX, the store's default.
	s2, close2, err := openStore(ctx, env(map[string]string{varStore: "redis", varRedisURL: url}))
	if err != nil {
		t.Fatal(err)
	}
	defer close2()
	if p := s2.(*redis.Store).Prefix(); p != redis.DefaultPrefix {
		t.Errorf("default prefix %q, want %q", p, redis.DefaultPrefix)
	}
}

// TestRedisCluster opens the redis store on a Redis Cluster, named by
// SESSION_REDIS_CLUSTER_URL, with the WAIT settings of the variables.
func TestRedisCluster(t *testing.T) {
	url := testenv.RedisClusterURL(t)
	prefix := testenv.Unique("sessionkit-test:sessionenv:") + ":"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vars := map[string]string{varStore: "redis", varRedisClusterURL: url, varRedisPrefix: prefix}
	s, closeStore, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer closeStore()
	st, ok := s.(*redis.Store)
	if !ok {
		t.Fatalf("Open = %T, want *redis.Store", s)
	}
	if _, ok := st.Client().(*goredis.ClusterClient); !ok {
		t.Fatalf("the store's client is a %T, want a *goredis.ClusterClient", st.Client())
	}
	roundTrip(t, s)

	// Each master of the test cluster has one replica: asking for two
	// makes every write fail, after SESSION_REDIS_WAIT_TIMEOUT.
	vars[varRedisWaitReplicas], vars[varRedisWaitTimeout] = "2", "20ms"
	s2, close2, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	defer close2()
	start := time.Now()
	err = s2.Create(ctx, testKey, []byte("blob"), time.Now().Add(time.Hour))
	if !errors.Is(err, redis.ErrNotReplicated) || time.Since(start) < 20*time.Millisecond {
		t.Errorf("Create with %s=2 = %v after %v; want redis.ErrNotReplicated after 20ms", varRedisWaitReplicas, err, time.Since(start))
	}
	_ = s2.Delete(ctx, testKey)
	vars[varRedisWaitReplicas] = "1"
	s3, close3, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	defer close3()
	roundTrip(t, s3)
}

func TestCachedMemoryFile(t *testing.T) {
	dir := t.TempDir()
	s, closeStore, err := openStore(context.Background(), env(map[string]string{
		varStore: "cached", varCacheStore: "Memory", varBackingStore: "file", varFilePath: dir,
		varRedisURL: "redis://127.0.0.1:1/0", // not named by SESSION_CACHE_STORE: ignored
	}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer closeStore()
	st, ok := s.(*cached.Store)
	if !ok {
		t.Fatalf("Open = %T, want *cached.Store", s)
	}
	if _, ok := st.Cache().(*memory.Store); !ok {
		t.Errorf("cache %T, want *memory.Store", st.Cache())
	}
	if _, ok := st.Backing().(*file.Store); !ok {
		t.Errorf("backing %T, want *file.Store", st.Backing())
	}
	if err := s.Create(context.Background(), testKey, []byte("blob"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, file.Prefix+testKey)); err != nil {
		t.Fatalf("no session file in %s: %v", dir, err)
	}
	if _, err := s.Load(context.Background(), testKey); err != nil {
		t.Fatal(err)
	}
	if got := st.Stats(); got.Hits != 1 {
		t.Errorf("Stats = %+v, want a cache hit", got)
	}
	if err := s.Delete(context.Background(), testKey); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s)
	if err := closeStore(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestCachedRedisMySQL(t *testing.T) {
	url, dsn := testenv.RedisURL(t), testenv.MySQLDSN(t)
	id := testenv.Unique("")
	table, prefix := "sessionenv_cached_"+id, "sessionkit-test:sessionenv:"+id+":"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vars := map[string]string{
		varStore: "cached", varCacheStore: "redis", varBackingStore: "mysql",
		varRedisURL: url, varMySQLDSN: dsn, varMySQLTable: table,
	}
	s, closeStore, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	st := s.(*cached.Store)
	cache, db := st.Cache().(*redis.Store), st.Backing().(*mysql.Store)
	t.Cleanup(func() {
		if _, err := db.DB().ExecContext(context.Background(), "DROP TABLE IF EXISTS `"+table+"`, `"+table+mysql.UsersSuffix+"`"); err != nil {
			t.Errorf("drop table: %v", err)
		}
		if err := closeStore(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if cache.Prefix() != defaultCachePrefix || db.Table() != table {
		t.Errorf("cache prefix %q, table %q; want %q, %q", cache.Prefix(), db.Table(), defaultCachePrefix, table)
	}
	// Migrate reaches the table behind the cache.
	if err := Migrate(ctx, s); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	roundTrip(t, s)

	vars[varRedisPrefix] = prefix
	s2, close2, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	defer close2()
	if p := s2.(*cached.Store).Cache().(*redis.Store).Prefix(); p != prefix {
		t.Errorf("cache prefix %q, want %q from %s", p, prefix, varRedisPrefix)
	}
	roundTrip(t, s2)

	// A cache that is down does not stop Open: the cached store works
	// without it.
	vars[varRedisURL] = "redis://127.0.0.1:1/0?max_retries=-1"
	s3, close3, err := openStore(ctx, env(vars))
	if err != nil {
		t.Fatalf("Open with the cache down: %v", err)
	}
	defer close3()
	roundTrip(t, s3)
}

// TestDjangoTableVar: SESSION_DJANGO_TABLE is checked before any dial;
// a bad name is session.ErrConfig naming the variable, and a missing DSN
// names both DSN variables.
func TestDjangoTableVar(t *testing.T) {
	_, err := openDjango(env(map[string]string{varDjangoDSN: "u:p@tcp(127.0.0.1:1)/db", varDjangoTable: "django_session; DROP TABLE x"}), session.DjangoDB)
	if !errors.Is(err, session.ErrConfig) || !strings.Contains(err.Error(), varDjangoTable) || errors.Is(err, server.ErrUnavailable) {
		t.Errorf("a bad %s: err = %v, want session.ErrConfig naming it, before any dial", varDjangoTable, err)
	}
	_, err = openDjango(env(map[string]string{varDjangoTable: "django_session"}), session.DjangoDB)
	if !errors.Is(err, session.ErrConfig) || !strings.Contains(err.Error(), varDjangoDSN) || !strings.Contains(err.Error(), varMySQLDSN) {
		t.Errorf("no DSN: err = %v, want session.ErrConfig naming %s and %s", err, varDjangoDSN, varMySQLDSN)
	}
}
