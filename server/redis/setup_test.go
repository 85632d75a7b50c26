package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The tests talk to a real Redis server named by this variable;
// scripts/test.sh (make test) starts a private one and sets it.
const (
	envURL     = "SESSION_TEST_REDIS_URL"
	envRequire = "SESSION_TEST_REQUIRE_REDIS"
)

// testURL returns the test server's URL, or skips the test (fails it when
// SESSION_TEST_REQUIRE_REDIS=1) if there is none.
func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("Redis required (%s=1) but %s is not set; run `make test`, which starts one", envRequire, envURL)
		}
		t.Skipf("no Redis server: set %s (redis://:password@host:port/db) or run `make test`", envURL)
	}
	return url
}

// testOptions parses the test URL into client options the test may change.
func testOptions(t testing.TB) *goredis.Options {
	t.Helper()
	opts, err := goredis.ParseURL(testURL(t))
	if err != nil {
		t.Fatalf("parse %s: %v", envURL, err)
	}
	opts.ContextTimeoutEnabled = true
	return opts
}

// uniquePrefix returns a key prefix no other test run uses.
func uniquePrefix(t testing.TB) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "sessionkit-test:" + hex.EncodeToString(b[:]) + ":"
}

// testCtx returns a context that ends with the test (and after a minute at
// most, so that a hung server fails the test instead of hanging it).
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openStore opens a store on the test server (through Open) under a fresh
// prefix, unless cfg names one, and removes every key under the prefix when
// the test ends.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	url := testURL(t)
	if cfg.Prefix == "" {
		cfg.Prefix = uniquePrefix(t)
	}
	s, err := Open(url, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { dropPrefix(t, s.Client(), s.Prefix()); _ = s.Close() })
	return s
}

// newClient returns a client with opts, closed when the test ends.
func newClient(t testing.TB, opts *goredis.Options) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// dropPrefix deletes every key that starts with prefix.
func dropPrefix(t testing.TB, c goredis.UniversalClient, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, globEscape(prefix)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("cleanup: scan %s*: %v", prefix, err)
	}
}

// keyOf returns a valid store key that differs for each n.
func keyOf(n int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := []byte("redistestkey0000000000000000")
	for i := len(b) - 1; n > 0; i-- {
		b[i] = digits[n%36]
		n /= 36
	}
	return string(b)
}
