package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// waitFor polls cond until it holds, failing the test if it still does not
// after a generous deadline (a hung Cleanup, not a slow machine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startCleanup runs server.Cleanup in a goroutine and returns a function
// that cancels it and waits for it to return.
func startCleanup(t *testing.T, s server.Store, every time.Duration, onError func(error)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		server.Cleanup(ctx, s, every, onError)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Cleanup did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

const (
	liveKey     = "livekey0000000000000"
	expiredKey  = "expiredkey0000000000"
	expiredKey2 = "expiredkey0000000002"
)

func create(t *testing.T, s server.Store, key string, expires time.Time) {
	t.Helper()
	if err := s.Create(context.Background(), key, []byte("blob of "+key), expires); err != nil {
		t.Fatalf("Create(%s): %v", key, err)
	}
}

func TestCleanupRemovesExpiredRepeatedly(t *testing.T) {
	s := memory.New()
	defer s.Close()
	create(t, s, liveKey, time.Now().Add(time.Hour))
	create(t, s, expiredKey, time.Now().Add(-time.Second))

	var errs []error
	var mu sync.Mutex
	stop := startCleanup(t, s, 10*time.Millisecond, func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	waitFor(t, "the first expired entry to be removed", func() bool { return s.Len() == 1 })

	// A later run removes an entry that expires after the first one.
	create(t, s, expiredKey2, time.Now().Add(-time.Second))
	if s.Len() != 2 {
		t.Fatalf("Len = %d after adding a second expired entry, want 2", s.Len())
	}
	waitFor(t, "the second expired entry to be removed", func() bool { return s.Len() == 1 })
	stop()

	if _, err := s.Load(context.Background(), liveKey); err != nil {
		t.Errorf("the live entry was touched: Load: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 0 {
		t.Errorf("onError called with %v; the memory store does not fail", errs)
	}
}

func TestCleanupRunsAtOnceWithDefaultInterval(t *testing.T) {
	s := memory.New()
	defer s.Close()
	create(t, s, expiredKey, time.Now().Add(-time.Second))
	// Zero means DefaultCleanupInterval (minutes away): only the first,
	// immediate run can remove the entry, and a zero interval must not
	// panic the way time.NewTicker(0) would.
	startCleanup(t, s, 0, nil)
	waitFor(t, "the immediate run to remove the expired entry", func() bool { return s.Len() == 0 })
}

// failingStore fails every DeleteExpired with errDown, and counts calls.
type failingStore struct {
	server.Store
	mu    sync.Mutex
	calls int
}

var errDown = errors.New("store is down")

func (f *failingStore) DeleteExpired(ctx context.Context) (int64, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return 0, errDown
}

func TestCleanupReportsErrorsAndRetries(t *testing.T) {
	f := &failingStore{Store: memory.New()}
	reported := make(chan error, 100)
	startCleanup(t, f, 10*time.Millisecond, func(err error) {
		select {
		case reported <- err:
		default:
		}
	})
	for i := range 3 {
		select {
		case err := <-reported:
			if !errors.Is(err, errDown) {
				t.Fatalf("report %d: got %v, want %v", i, err, errDown)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d errors reported; Cleanup should retry after a failure", i)
		}
	}
}

// blockingStore's DeleteExpired waits for its context to end and returns
// the context's error, as a store does when a run is cut short.
type blockingStore struct {
	server.Store
	started chan struct{}
}

func (b *blockingStore) DeleteExpired(ctx context.Context) (int64, error) {
	close(b.started)
	<-ctx.Done()
	return 0, ctx.Err()
}

func TestCleanupStopsWithoutReportingCancellation(t *testing.T) {
	b := &blockingStore{Store: memory.New(), started: make(chan struct{})}
	var mu sync.Mutex
	var errs []error
	stop := startCleanup(t, b, time.Hour, func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	select {
	case <-b.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the first run did not start")
	}
	stop() // cancels the run in progress and waits for Cleanup to return
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 0 {
		t.Errorf("onError called with %v; the end of the context is not an error", errs)
	}
}

func TestCleanupDoneContextDoesNothing(t *testing.T) {
	f := &failingStore{Store: memory.New()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	server.Cleanup(ctx, f, time.Millisecond, func(err error) { t.Errorf("onError(%v)", err) })
	if f.calls != 0 {
		t.Errorf("DeleteExpired called %d times with a done context", f.calls)
	}
}

func TestCleanupNilStore(t *testing.T) {
	var got error
	server.Cleanup(context.Background(), nil, time.Millisecond, func(err error) { got = err })
	if !errors.Is(got, server.ErrNilStore) {
		t.Errorf("got %v, want ErrNilStore", got)
	}
	server.Cleanup(context.Background(), nil, time.Millisecond, nil) // must not panic
}
