// Package testenv finds the MySQL/MariaDB and Redis servers that the tests
// run against.
//
// The servers are named by environment variables: SESSION_TEST_MYSQL_DSN
// and SESSION_TEST_REDIS_URL. scripts/test.sh (make test) starts private
// servers, sets both and sets SESSION_TEST_REQUIRE_MYSQL=1 and
// SESSION_TEST_REQUIRE_REDIS=1, so that a test which finds no server fails
// there instead of skipping. Elsewhere (go test on a machine without the
// servers) such a test skips and says how to run it.
//
// The package is for tests only.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
)

// The environment variables the package reads.
const (
	// MySQLDSNVar names the MySQL/MariaDB server, as a go-sql-driver DSN.
	MySQLDSNVar = "SESSION_TEST_MYSQL_DSN"
	// RequireMySQLVar, set to 1, makes a missing MySQLDSNVar fail the test.
	RequireMySQLVar = "SESSION_TEST_REQUIRE_MYSQL"
	// RedisURLVar names the Redis server, as a redis:// URL.
	RedisURLVar = "SESSION_TEST_REDIS_URL"
	// RequireRedisVar, set to 1, makes a missing RedisURLVar fail the test.
	RequireRedisVar = "SESSION_TEST_REQUIRE_REDIS"
)

// MySQLDSN returns the DSN of the test MySQL/MariaDB server. When
// SESSION_TEST_MYSQL_DSN is not set it fails the test if
// SESSION_TEST_REQUIRE_MYSQL is 1, and skips it otherwise.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	return lookup(t, mysqlServer)
}

// RedisURL returns the URL of the test Redis server. When
// SESSION_TEST_REDIS_URL is not set it fails the test if
// SESSION_TEST_REQUIRE_REDIS is 1, and skips it otherwise.
func RedisURL(t testing.TB) string {
	t.Helper()
	return lookup(t, redisServer)
}

// server describes how one kind of test server is found.
type server struct {
	name    string // in the failure message
	kind    string // in the skip message
	envVar  string // the variable that names the server
	require string // the variable that makes its absence fatal
	format  string // what envVar holds, in the skip message
}

var (
	mysqlServer = server{
		name:    "MariaDB",
		kind:    "MySQL/MariaDB",
		envVar:  MySQLDSNVar,
		require: RequireMySQLVar,
		format:  "user:pass@tcp(host:port)/db?parseTime=true&loc=UTC&clientFoundRows=true",
	}
	redisServer = server{
		name:    "Redis",
		kind:    "Redis",
		envVar:  RedisURLVar,
		require: RequireRedisVar,
		format:  "redis://:password@host:port/db",
	}
)

// tb is the part of testing.TB that lookup uses.
type tb interface {
	Helper()
	Fatal(args ...any)
	Skip(args ...any)
}

// lookup returns the value of s.envVar, or ends the test through t: Fatal
// when s.require is 1, Skip otherwise. It returns "" after either call, for
// a t whose Fatal and Skip return.
func lookup(t tb, s server) string {
	t.Helper()
	if v := os.Getenv(s.envVar); v != "" {
		return v
	}
	if os.Getenv(s.require) == "1" {
		t.Fatal(fmt.Sprintf("%s required (%s=1) but %s is not set; run `make test`, which starts one", s.name, s.require, s.envVar))
		return ""
	}
	t.Skip(fmt.Sprintf("no %s server: set %s (%s) or run `make test`", s.kind, s.envVar, s.format))
	return ""
}

// Unique returns prefix followed by 16 random hex digits: a table name or
// key prefix that no other test, or test run sharing the server, uses.
func Unique(prefix string) string {
	var b [8]byte
	rand.Read(b[:]) // crypto/rand never fails
	return prefix + hex.EncodeToString(b[:])
}
