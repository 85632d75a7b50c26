package redis

import (
	"testing"
	"time"
)

// BenchmarkStore measures each operation on one connection to the test
// server: one command, one round trip each.
func BenchmarkStore(b *testing.B) {
	opts := testOptions(b)
	opts.PoolSize = 1
	s := openStore(b, Config{})
	s2, err := New(newClient(b, opts), Config{Prefix: s.Prefix()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := testCtx(b)
	blob := make([]byte, 300)
	k := keyOf(1)
	exp := time.Now().Add(time.Hour)
	if err := s2.Create(ctx, k, blob, exp); err != nil {
		b.Fatal(err)
	}
	b.Run("Load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s2.Load(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Update", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s2.Update(ctx, k, blob, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CreateDelete", func(b *testing.B) {
		b.ReportAllocs()
		k := keyOf(2)
		for b.Loop() {
			if err := s2.Create(ctx, k, blob, exp); err != nil {
				b.Fatal(err)
			}
			if err := s2.Delete(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
	})
}
