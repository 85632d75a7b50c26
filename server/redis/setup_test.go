package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testenv"
)

// testOptions parses the test URL into client options the test may change.
func testOptions(t testing.TB) *goredis.Options {
	t.Helper()
	opts, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.RedisURLVar, err)
	}
	opts.ContextTimeoutEnabled = true
	return opts
}

// uniquePrefix returns a key prefix no other test run uses.
func uniquePrefix(t testing.TB) string { return testenv.Unique("sessionkit-test:") + ":" }

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
	url := testenv.RedisURL(t)
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

// openClusterStore opens a store on the test cluster (through OpenCluster)
// under a fresh prefix, unless cfg names one, and removes every key under
// the prefix when the test ends.
func openClusterStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	url := testenv.RedisClusterURL(t)
	if cfg.Prefix == "" {
		cfg.Prefix = uniquePrefix(t)
	}
	s, err := OpenCluster(url, cfg)
	if err != nil {
		t.Fatalf("OpenCluster: %v", err)
	}
	t.Cleanup(func() { dropPrefix(t, s.Client(), s.Prefix()); _ = s.Close() })
	return s
}

// clusterOptions parses the test cluster's URL into client options the
// test may change.
func clusterOptions(t testing.TB) *goredis.ClusterOptions {
	t.Helper()
	opts, err := goredis.ParseClusterURL(testenv.RedisClusterURL(t))
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.RedisClusterURLVar, err)
	}
	opts.ContextTimeoutEnabled = true
	return opts
}

// newClient returns a client with opts, closed when the test ends.
func newClient(t testing.TB, opts *goredis.Options) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// dropPrefix deletes every key that starts with prefix: on every master of
// a cluster client, on the one server of any other.
func dropPrefix(t testing.TB, c goredis.UniversalClient, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cc, ok := c.(*goredis.ClusterClient); ok {
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
			dropPrefix(t, m, prefix)
			return nil
		})
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		return
	}
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

// globEscape escapes the characters that SCAN's MATCH pattern treats
// specially.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
