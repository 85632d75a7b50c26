package mysql

import (
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
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
			blob := make([]byte, 300)
			k := key("bench", 1)
			exp := time.Now().Add(time.Hour)
			if err := s.Create(ctx, k, blob, exp); err != nil {
				b.Fatal(err)
			}
			b.Run("Load", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Load(ctx, k); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Update", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := s.Update(ctx, k, blob, exp); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("CreateDelete", func(b *testing.B) {
				b.ReportAllocs()
				k2 := key("bench", 2)
				for b.Loop() {
					if err := s.Create(ctx, k2, blob, exp); err != nil {
						b.Fatal(err)
					}
					if err := s.Delete(ctx, k2); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
