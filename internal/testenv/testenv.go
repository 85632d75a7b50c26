// Package testenv finds the MySQL/MariaDB, PostgreSQL and Redis servers,
// the Chromium browser and the Django that the tests run against.
//
// They are named by environment variables: SESSION_TEST_MYSQL_DSN,
// SESSION_TEST_POSTGRES_DSN, SESSION_TEST_REDIS_URL,
// SESSION_TEST_REDIS_CLUSTER_URL, SESSION_TEST_CHROMIUM and
// SESSION_TEST_DJANGO_PYTHON. scripts/test.sh (make test) starts private
// servers (a Redis Cluster among them, see scripts/redis-cluster.sh),
// installs Chromium and python3-django when they are missing, sets all six
// and sets the matching SESSION_TEST_REQUIRE_* variables to 1, so that
// a test which finds no server or browser fails there instead of skipping.
// Elsewhere (go test on a machine without them) such a test skips and says
// how to run it.
//
// The Django scripts the tests run (scripts/django/*.py) also read
// SESSION_TEST_DJANGO_PATH, a directory they put first on Python's path:
// scripts/django.sh's django42_setup sets it to an unpacked Django 4.2, so
// that the same tests run against 4.2 as against the system's 3.2. The
// tests of Django's db engine need the django_session table that Django's
// own migrations create on SESSION_TEST_MYSQL_DSN (django_setup runs them).
//
// The package is for tests only.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// The environment variables the package reads.
const (
	// MySQLDSNVar names the MySQL/MariaDB server, as a go-sql-driver DSN.
	MySQLDSNVar = "SESSION_TEST_MYSQL_DSN"
	// RequireMySQLVar, set to 1, makes a missing MySQLDSNVar fail the test.
	RequireMySQLVar = "SESSION_TEST_REQUIRE_MYSQL"
	// PostgresDSNVar names the PostgreSQL server, as a pgx connection
	// string (postgres://user:pass@host:port/db?sslmode=disable).
	PostgresDSNVar = "SESSION_TEST_POSTGRES_DSN"
	// RequirePostgresVar, set to 1, makes a missing PostgresDSNVar fail
	// the test.
	RequirePostgresVar = "SESSION_TEST_REQUIRE_POSTGRES"
	// RedisURLVar names the Redis server, as a redis:// URL.
	RedisURLVar = "SESSION_TEST_REDIS_URL"
	// RequireRedisVar, set to 1, makes a missing RedisURLVar fail the test.
	RequireRedisVar = "SESSION_TEST_REQUIRE_REDIS"
	// RedisClusterURLVar names a Redis Cluster, as a URL in the form of
	// goredis.ParseClusterURL: redis://:password@host:port?addr=host:port&...
	RedisClusterURLVar = "SESSION_TEST_REDIS_CLUSTER_URL"
	// RequireRedisClusterVar, set to 1, makes a missing RedisClusterURLVar
	// fail the test.
	RequireRedisClusterVar = "SESSION_TEST_REQUIRE_REDIS_CLUSTER"
	// ChromiumVar names the Chromium (or Chrome) executable the browser
	// tests drive.
	ChromiumVar = "SESSION_TEST_CHROMIUM"
	// RequireChromiumVar, set to 1, makes a missing ChromiumVar fail the
	// test.
	RequireChromiumVar = "SESSION_TEST_REQUIRE_CHROMIUM"
	// DjangoPythonVar names the Python interpreter that has Django (Debian's
	// /usr/bin/python3 with python3-django).
	DjangoPythonVar = "SESSION_TEST_DJANGO_PYTHON"
	// RequireDjangoVar, set to 1, makes a missing DjangoPythonVar fail the
	// test.
	RequireDjangoVar = "SESSION_TEST_REQUIRE_DJANGO"
)

// MySQLDSN returns the DSN of the test MySQL/MariaDB server. When
// SESSION_TEST_MYSQL_DSN is not set it fails the test if
// SESSION_TEST_REQUIRE_MYSQL is 1, and skips it otherwise.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	return lookup(t, mysqlServer)
}

// PostgresDSN returns the connection string of the test PostgreSQL
// server. When SESSION_TEST_POSTGRES_DSN is not set it fails the test if
// SESSION_TEST_REQUIRE_POSTGRES is 1, and skips it otherwise.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return lookup(t, postgresServer)
}

// RedisURL returns the URL of the test Redis server. When
// SESSION_TEST_REDIS_URL is not set it fails the test if
// SESSION_TEST_REQUIRE_REDIS is 1, and skips it otherwise.
func RedisURL(t testing.TB) string {
	t.Helper()
	return lookup(t, redisServer)
}

// RedisClusterURL returns the URL of the test Redis Cluster. When
// SESSION_TEST_REDIS_CLUSTER_URL is not set it fails the test if
// SESSION_TEST_REQUIRE_REDIS_CLUSTER is 1, and skips it otherwise.
func RedisClusterURL(t testing.TB) string {
	t.Helper()
	return lookup(t, redisCluster)
}

// Chromium returns the path of the Chromium executable for the browser
// tests. When SESSION_TEST_CHROMIUM is not set it fails the test if
// SESSION_TEST_REQUIRE_CHROMIUM is 1, and skips it otherwise. A
// SESSION_TEST_CHROMIUM that names no executable file fails the test.
func Chromium(t testing.TB) string {
	t.Helper()
	return lookup(t, chromiumBrowser)
}

// DjangoPython returns the Python interpreter with Django for the Django
// interoperability tests. When SESSION_TEST_DJANGO_PYTHON is not set it
// fails the test if SESSION_TEST_REQUIRE_DJANGO is 1, and skips it
// otherwise.
func DjangoPython(t testing.TB) string {
	t.Helper()
	return lookup(t, djangoPython)
}

// server describes how one kind of test server (or browser) is found.
type server struct {
	name    string // in the failure message
	kind    string // in the skip message
	noun    string // what it is, in the skip message; "server" when empty
	make    string // how make test provides one, in the failure message; "starts one" when empty
	envVar  string // the variable that names the server
	require string // the variable that makes its absence fatal
	format  string // what envVar holds, in the skip message
	// check, if not nil, vets a value of envVar: an error fails the test.
	check func(string) error
}

var (
	mysqlServer = server{
		name:    "MariaDB",
		kind:    "MySQL/MariaDB",
		envVar:  MySQLDSNVar,
		require: RequireMySQLVar,
		format:  "user:pass@tcp(host:port)/db?parseTime=true&loc=UTC&clientFoundRows=true",
	}
	postgresServer = server{
		name:    "PostgreSQL",
		kind:    "PostgreSQL",
		envVar:  PostgresDSNVar,
		require: RequirePostgresVar,
		format:  "postgres://user:pass@host:port/db?sslmode=disable",
	}
	redisServer = server{
		name:    "Redis",
		kind:    "Redis",
		envVar:  RedisURLVar,
		require: RequireRedisVar,
		format:  "redis://:password@host:port/db",
	}
	redisCluster = server{
		name:    "Redis Cluster",
		kind:    "Redis",
		noun:    "cluster",
		envVar:  RedisClusterURLVar,
		require: RequireRedisClusterVar,
		format:  "redis://:password@host:port?addr=host:port&addr=host:port, the form of goredis.ParseClusterURL",
	}
	chromiumBrowser = server{
		name:    "Chromium",
		kind:    "Chromium",
		noun:    "browser",
		make:    "sets it (installing Chromium when it is missing)",
		envVar:  ChromiumVar,
		require: RequireChromiumVar,
		format:  "the path of the chromium executable, e.g. /usr/bin/chromium",
		check:   executable,
	}
	djangoPython = server{
		name:    "Django",
		kind:    "Django",
		noun:    "Python with Django",
		make:    "sets it (installing python3-django when it is missing)",
		envVar:  DjangoPythonVar,
		require: RequireDjangoVar,
		format:  "the path of a python3 that imports django, e.g. /usr/bin/python3",
		check:   executable,
	}
)

// executable reports an error unless path names an executable regular
// file.
func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// tb is the part of testing.TB that lookup uses.
type tb interface {
	Helper()
	Fatal(args ...any)
	Skip(args ...any)
}

// lookup returns the value of s.envVar, or ends the test through t: Fatal
// when s.require is 1 or the value fails s.check, Skip otherwise. It
// returns "" after either call, for a t whose Fatal and Skip return.
func lookup(t tb, s server) string {
	t.Helper()
	noun, provides := s.noun, s.make
	if noun == "" {
		noun = "server"
	}
	if provides == "" {
		provides = "starts one"
	}
	if v := os.Getenv(s.envVar); v != "" {
		if s.check != nil {
			if err := s.check(v); err != nil {
				t.Fatal(fmt.Sprintf("%s=%s: %v", s.envVar, v, err))
				return ""
			}
		}
		return v
	}
	if os.Getenv(s.require) == "1" {
		t.Fatal(fmt.Sprintf("%s required (%s=1) but %s is not set; run `make test`, which %s", s.name, s.require, s.envVar, provides))
		return ""
	}
	t.Skip(fmt.Sprintf("no %s %s: set %s (%s) or run `make test`", s.kind, noun, s.envVar, s.format))
	return ""
}

// Unique returns prefix followed by 16 random hex digits: a table name or
// key prefix that no other test, or test run sharing the server, uses.
func Unique(prefix string) string {
	var b [8]byte
	rand.Read(b[:]) // crypto/rand never fails
	return prefix + hex.EncodeToString(b[:])
}

// WaitUntil calls done every 5 ms until it reports true, and fails t with
// the state done last described after ten seconds: for what a server does
// after a call has returned (a statement that ends, a backend that goes).
func WaitUntil(t testing.TB, done func() (ok bool, state string)) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		ok, state := done()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still so after ten seconds: %s", state)
		}
	}
}

// SilentServer listens on a loopback port, accepts every connection and
// never reads from nor writes to it, as a server that hangs would; it
// returns the address. The listener and the connections close when the
// test ends.
func SilentServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
