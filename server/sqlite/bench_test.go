package sqlite

import (
	"testing"

	"github.com/sessionkit/session/server/storetest"
)

// BenchmarkStore measures each operation, one call at a time, on a file
// in a temporary directory.
func BenchmarkStore(b *testing.B) {
	storetest.RunBenchmarks(b, openStore(b, Config{}))
}
