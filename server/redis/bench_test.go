package redis

import (
	"testing"

	"github.com/sessionkit/session/server/storetest"
)

// BenchmarkStore measures each operation on one connection to the test
// server: one command, one round trip each.
func BenchmarkStore(b *testing.B) {
	opts := testOptions(b)
	opts.PoolSize = 1
	s, err := New(newClient(b, opts), Config{Prefix: uniquePrefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	storetest.RunBenchmarks(b, s)
}
