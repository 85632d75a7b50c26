package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
)

// RunBenchmarks measures a store's operations on a 300-byte blob, one
// call at a time: Load and Update of an existing entry, and Create
// followed by Delete of another. It deletes what it creates. The calls
// get a context that can end, as an HTTP request's does (a store may do
// more for one: see server/postgres and server/mysql).
func RunBenchmarks(b *testing.B, s server.Store) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	blob := make([]byte, 300)
	exp := time.Now().Add(hour)
	k, k2 := newKey(b, s), newKey(b, s)
	mustCreate(b, s, k, blob, exp)
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
		for b.Loop() {
			if err := s.Create(ctx, k2, blob, exp); err != nil {
				b.Fatal(err)
			}
			if err := s.Delete(ctx, k2); err != nil {
				b.Fatal(err)
			}
		}
	})
}
