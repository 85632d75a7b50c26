package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/server/storetest"
)

// BenchmarkStore measures each operation on one connection to the test
// server.
func BenchmarkStore(b *testing.B) {
	pool := newPool(b, func(pc *pgxpool.Config) { pc.MaxConns = 1 })
	storetest.RunBenchmarks(b, newStoreOn(b, pool, Config{}))
}
