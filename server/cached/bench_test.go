package cached

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// BenchmarkLoad measures a Load answered by the cache (hit) and one that
// misses and fills the cache (two backing reads and two cache writes), for
// memory in front of memory and, with the test servers, Redis in front of
// MySQL.
func BenchmarkLoad(b *testing.B) {
	pairs := map[string]func(b *testing.B) *Store{
		"memory-memory": func(b *testing.B) *Store {
			s, err := New(memory.New(), memory.New())
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"redis-mysql": func(b *testing.B) *Store { return redisMySQL(b) },
	}
	for name, open := range pairs {
		b.Run(name, func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			blob := make([]byte, 300)
			if err := s.Create(ctx, k1, blob, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			b.Run("Hit", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Load(ctx, k1); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("MissAndFill", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := s.Cache().Delete(ctx, k1); err != nil {
						b.Fatal(err)
					}
					if _, err := s.Load(ctx, k1); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Backing", func(b *testing.B) {
				b.ReportAllocs()
				var bs server.Store = s.Backing()
				for b.Loop() {
					if _, err := bs.Load(ctx, k1); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
