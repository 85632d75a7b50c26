package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/storetest"
)

func TestConformanceFresh(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store {
		s := New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestConformanceShared(t *testing.T) {
	// One store for every subtest, with a janitor that is too slow to
	// interfere, as a long-lived application store would be.
	s := New(Options{CleanupInterval: time.Hour})
	defer s.Close()
	storetest.Run(t, func(*testing.T) server.Store { return s })
	if n := s.Len(); n != 0 {
		t.Errorf("after the suite the shared store holds %d entries, want 0 (the suite deletes what it creates)", n)
	}
}

// TestConformanceMaxLength runs the suite on a store with a limit other
// than the default, which the suite checks with blobs at and over it.
func TestConformanceMaxLength(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store {
		return New(Options{MaxLength: 5000})
	}, storetest.Options{MaxLength: 5000})
}

func key(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

func TestJanitorRemovesExpired(t *testing.T) {
	s := New(Options{CleanupInterval: 10 * time.Millisecond})
	defer s.Close()
	ctx := context.Background()
	live := key(t)
	if err := s.Create(ctx, live, []byte("live"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := s.Create(ctx, key(t), []byte("dead"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(t, 5*time.Second, func() bool { return s.Len() == 1 }) {
		t.Fatalf("Len = %d after waiting for the janitor, want 1 (only the live entry)", s.Len())
	}
	if b, err := s.Load(ctx, live); err != nil || string(b) != "live" {
		t.Fatalf("Load(live) = %q, %v after cleanup", b, err)
	}
}

func TestNoJanitorWithoutInterval(t *testing.T) {
	for _, o := range []Options{{}, {CleanupInterval: -time.Second}} {
		s := New(o)
		if s.stop != nil || s.done != nil {
			t.Errorf("New(%+v) started a cleanup goroutine", o)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		// Expired entries stay until DeleteExpired.
		ctx := context.Background()
		if err := s.Create(ctx, key(t), []byte("dead"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if n := s.Len(); n != 1 {
			t.Errorf("Len = %d, want 1", n)
		}
		n, err := s.DeleteExpired(ctx)
		if err != nil || n != 1 {
			t.Errorf("DeleteExpired = %d, %v, want 1, nil", n, err)
		}
		if n := s.Len(); n != 0 {
			t.Errorf("Len after DeleteExpired = %d, want 0", n)
		}
	}
}

func TestCloseStopsJanitor(t *testing.T) {
	s := New(Options{CleanupInterval: time.Millisecond})
	select {
	case <-s.done:
		t.Fatal("janitor ended before Close")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close waits for the goroutine, so done is already closed.
	select {
	case <-s.done:
	default:
		t.Fatal("janitor still running after Close returned")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The store still works, without cleanup.
	ctx := context.Background()
	k := key(t)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Load(ctx, k); err != nil || string(b) != "x" {
		t.Fatalf("Load after Close = %q, %v", b, err)
	}
}

func TestCloseConcurrent(t *testing.T) {
	s := New(Options{CleanupInterval: time.Millisecond})
	errs := make(chan error, 8)
	for i := 0; i < cap(errs); i++ {
		go func() { errs <- s.Close() }()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	select {
	case <-s.done:
	default:
		t.Fatal("janitor still running after concurrent Closes")
	}
}

func TestLastOptionsWin(t *testing.T) {
	s := New(Options{CleanupInterval: time.Hour}, Options{})
	defer s.Close()
	if s.stop != nil {
		t.Error("New used the first Options, want the last")
	}
}

func TestEmptyBlob(t *testing.T) {
	// Encoded sessions are never empty, but an empty blob is still told
	// apart from an absent key.
	s := New()
	ctx := context.Background()
	k := key(t)
	if err := s.Create(ctx, k, nil, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b, err := s.Load(ctx, k)
	if err != nil || len(b) != 0 {
		t.Fatalf("Load = %q, %v, want an empty blob", b, err)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	s := New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The context is checked before the key.
	if _, err := s.Load(ctx, "bad"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a cancelled context and a bad key = %v, want context.Canceled", err)
	}
	if _, err := s.Load(context.Background(), "bad"); !errors.Is(err, server.ErrInvalidKey) {
		t.Errorf("Load(bad) = %v, want ErrInvalidKey", err)
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	s, keys, _ := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Load(ctx, keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkUpdateParallel(b *testing.B) {
	s, keys, blob := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := s.Update(ctx, keys[i%len(keys)], blob, time.Now().Add(time.Hour)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// benchStore returns a store holding 1024 sessions of 512 bytes, their
// keys and the blob.
func benchStore(b *testing.B) (*Store, []string, []byte) {
	s := New()
	keys := make([]string, 1024)
	blob := make([]byte, 512)
	for i := range keys {
		buf := make([]byte, 32)
		rand.Read(buf)
		keys[i] = hex.EncodeToString(buf)
		if err := s.Create(context.Background(), keys[i], blob, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	return s, keys, blob
}
