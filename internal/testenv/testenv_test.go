package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// recorder stands in for a testing.TB: it records Fatal and Skip instead of
// ending the test.
type recorder struct {
	fatal, skip []string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.fatal = append(r.fatal, fmt.Sprint(args...)) }
func (r *recorder) Skip(args ...any)  { r.skip = append(r.skip, fmt.Sprint(args...)) }

func TestLookup(t *testing.T) {
	const (
		mysqlFatal = "MariaDB required (SESSION_TEST_REQUIRE_MYSQL=1) but SESSION_TEST_MYSQL_DSN is not set; run `make test`, which starts one"
		mysqlSkip  = "no MySQL/MariaDB server: set SESSION_TEST_MYSQL_DSN (user:pass@tcp(host:port)/db?parseTime=true&loc=UTC&clientFoundRows=true) or run `make test`"
		redisFatal = "Redis required (SESSION_TEST_REQUIRE_REDIS=1) but SESSION_TEST_REDIS_URL is not set; run `make test`, which starts one"
		redisSkip  = "no Redis server: set SESSION_TEST_REDIS_URL (redis://:password@host:port/db) or run `make test`"
		// The cluster's names are its own: a test that needs it never
		// runs on a single server's variables, nor skips on them.
		clusterFatal = "Redis Cluster required (SESSION_TEST_REQUIRE_REDIS_CLUSTER=1) but SESSION_TEST_REDIS_CLUSTER_URL is not set; run `make test`, which starts one"
		clusterSkip  = "no Redis cluster: set SESSION_TEST_REDIS_CLUSTER_URL (redis://:password@host:port?addr=host:port&addr=host:port, the form of goredis.ParseClusterURL) or run `make test`"
		pgFatal      = "PostgreSQL required (SESSION_TEST_REQUIRE_POSTGRES=1) but SESSION_TEST_POSTGRES_DSN is not set; run `make test`, which starts one"
		pgSkip       = "no PostgreSQL server: set SESSION_TEST_POSTGRES_DSN (postgres://user:pass@host:port/db?sslmode=disable) or run `make test`"
	)
	for _, tc := range []struct {
		name              string
		s                 server
		value, require    string
		want, fatal, skip string
	}{
		{name: "mysql set", s: mysqlServer, value: "u:p@tcp(h:1)/db", want: "u:p@tcp(h:1)/db"},
		{name: "mysql set and required", s: mysqlServer, value: "u:p@tcp(h:1)/db", require: "1", want: "u:p@tcp(h:1)/db"},
		{name: "mysql unset", s: mysqlServer, skip: mysqlSkip},
		{name: "mysql unset, required", s: mysqlServer, require: "1", fatal: mysqlFatal},
		{name: "mysql unset, require not 1", s: mysqlServer, require: "yes", skip: mysqlSkip},
		{name: "redis set", s: redisServer, value: "redis://:pw@h:1/0", want: "redis://:pw@h:1/0"},
		{name: "redis set and required", s: redisServer, value: "redis://:pw@h:1/0", require: "1", want: "redis://:pw@h:1/0"},
		{name: "redis unset", s: redisServer, skip: redisSkip},
		{name: "redis unset, required", s: redisServer, require: "1", fatal: redisFatal},
		{name: "redis unset, require 0", s: redisServer, require: "0", skip: redisSkip},
		{name: "cluster set", s: redisCluster, value: "redis://:pw@h:1?addr=h:2", want: "redis://:pw@h:1?addr=h:2"},
		{name: "cluster unset", s: redisCluster, skip: clusterSkip},
		{name: "cluster unset, required", s: redisCluster, require: "1", fatal: clusterFatal},
		{name: "postgres set", s: postgresServer, value: "postgres://u:p@h:1/db", want: "postgres://u:p@h:1/db"},
		{name: "postgres unset", s: postgresServer, skip: pgSkip},
		{name: "postgres unset, required", s: postgresServer, require: "1", fatal: pgFatal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.s.envVar, tc.value)
			t.Setenv(tc.s.require, tc.require)
			var r recorder
			got := lookup(&r, tc.s)
			if got != tc.want {
				t.Errorf("lookup = %q, want %q", got, tc.want)
			}
			if want := messages(tc.fatal); fmt.Sprint(r.fatal) != fmt.Sprint(want) {
				t.Errorf("Fatal calls %q, want %q", r.fatal, want)
			}
			if want := messages(tc.skip); fmt.Sprint(r.skip) != fmt.Sprint(want) {
				t.Errorf("Skip calls %q, want %q", r.skip, want)
			}
		})
	}
}

func TestLookupChromium(t *testing.T) {
	const (
		fatal = "Chromium required (SESSION_TEST_REQUIRE_CHROMIUM=1) but SESSION_TEST_CHROMIUM is not set; run `make test`, which sets it (installing Chromium when it is missing)"
		skip  = "no Chromium browser: set SESSION_TEST_CHROMIUM (the path of the chromium executable, e.g. /usr/bin/chromium) or run `make test`"
	)
	exe, err := os.Executable() // the test binary: an executable file
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "chromium")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-chromium")
	for _, tc := range []struct {
		name              string
		value, require    string
		want, fatal, skip string
	}{
		{name: "set", value: exe, want: exe},
		{name: "set and required", value: exe, require: "1", want: exe},
		{name: "unset", skip: skip},
		{name: "unset, required", require: "1", fatal: fatal},
		{name: "unset, require 0", require: "0", skip: skip},
		{name: "missing file", value: missing, fatal: "SESSION_TEST_CHROMIUM=" + missing + ": stat " + missing + ": no such file or directory"},
		{name: "missing file, required", value: missing, require: "1", fatal: "SESSION_TEST_CHROMIUM=" + missing + ": stat " + missing + ": no such file or directory"},
		{name: "not executable", value: plain, fatal: "SESSION_TEST_CHROMIUM=" + plain + ": " + plain + " is not an executable file"},
		{name: "a directory", value: dir, fatal: "SESSION_TEST_CHROMIUM=" + dir + ": " + dir + " is not an executable file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(ChromiumVar, tc.value)
			t.Setenv(RequireChromiumVar, tc.require)
			var r recorder
			got := lookup(&r, chromiumBrowser)
			if got != tc.want {
				t.Errorf("lookup = %q, want %q", got, tc.want)
			}
			if want := messages(tc.fatal); fmt.Sprint(r.fatal) != fmt.Sprint(want) {
				t.Errorf("Fatal calls %q, want %q", r.fatal, want)
			}
			if want := messages(tc.skip); fmt.Sprint(r.skip) != fmt.Sprint(want) {
				t.Errorf("Skip calls %q, want %q", r.skip, want)
			}
		})
	}
}

// messages returns the calls expected for msg: none when it is empty.
func messages(msg string) []string {
	if msg == "" {
		return nil
	}
	return []string{msg}
}

// The exported functions, on a real testing.T: the value when the variable
// is set, a skipped test when it is not.
func TestExported(t *testing.T) {
	for _, tc := range []struct {
		name    string
		envVar  string
		require string
		get     func(testing.TB) string
	}{
		{"MySQLDSN", MySQLDSNVar, RequireMySQLVar, MySQLDSN},
		{"RedisURL", RedisURLVar, RequireRedisVar, RedisURL},
		{"RedisClusterURL", RedisClusterURLVar, RequireRedisClusterVar, RedisClusterURL},
	} {
		t.Run(tc.name+" set", func(t *testing.T) {
			t.Setenv(tc.envVar, "the-server")
			t.Setenv(tc.require, "1")
			if got := tc.get(t); got != "the-server" {
				t.Errorf("%s = %q, want %q", tc.name, got, "the-server")
			}
		})
		t.Run(tc.name+" unset", func(t *testing.T) {
			t.Setenv(tc.envVar, "")
			t.Setenv(tc.require, "")
			var inner *testing.T
			returned := false
			t.Run("inner", func(t *testing.T) {
				inner = t
				tc.get(t)
				returned = true
			})
			if !inner.Skipped() || returned {
				t.Errorf("%s without a server: skipped %v, returned %v; want a skip that ends the test", tc.name, inner.Skipped(), returned)
			}
		})
	}
}

// Chromium, on a real testing.T: the path when the variable names an
// executable, a skipped test when it is unset.
func TestChromium(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("set", func(t *testing.T) {
		t.Setenv(ChromiumVar, exe)
		t.Setenv(RequireChromiumVar, "1")
		if got := Chromium(t); got != exe {
			t.Errorf("Chromium = %q, want %q", got, exe)
		}
	})
	t.Run("unset", func(t *testing.T) {
		t.Setenv(ChromiumVar, "")
		t.Setenv(RequireChromiumVar, "")
		var inner *testing.T
		returned := false
		t.Run("inner", func(t *testing.T) {
			inner = t
			Chromium(t)
			returned = true
		})
		if !inner.Skipped() || returned {
			t.Errorf("Chromium without a browser: skipped %v, returned %v; want a skip that ends the test", inner.Skipped(), returned)
		}
	})
}

func TestUnique(t *testing.T) {
	a, b := Unique("t_"), Unique("t_")
	if a == b || len(a) != len("t_")+16 || a[:2] != "t_" {
		t.Fatalf("Unique gave %q and %q", a, b)
	}
}
