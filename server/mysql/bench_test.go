package mysql

import (
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/session/server/storetest"
)

// BenchmarkStore measures each operation on one connection to the test
// server, with the options Open sets (one round trip per statement) and with
// interpolation off (server-side prepared statements).
func BenchmarkStore(b *testing.B) {
	for _, mode := range []string{"interpolated", "prepared"} {
		b.Run(mode, func(b *testing.B) {
			db := openDB(b, func(mc *gomysql.Config) {
				mc.ParseTime, mc.ClientFoundRows, mc.Loc = true, true, time.UTC
				mc.InterpolateParams = mode == "interpolated"
			})
			db.SetMaxOpenConns(1)
			ctx := testCtx(b)
			s, err := New(ctx, db, Config{Table: uniqueTable(b)})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { dropTable(b, db, s.Table()) })
			storetest.RunBenchmarks(b, s)
		})
	}
}
