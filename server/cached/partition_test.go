package cached

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

var errPartitioned = errors.New("cache unreachable")

// partitioned is a cache that fails every operation while down and keeps
// its contents: a network partition, or a Redis restarted from its
// append-only file, rather than a cache that comes back empty.
type partitioned struct {
	*memory.Store
	down atomic.Bool
}

func (p *partitioned) Load(ctx context.Context, key string) ([]byte, error) {
	if p.down.Load() {
		return nil, errPartitioned
	}
	return p.Store.Load(ctx, key)
}

func (p *partitioned) Create(ctx context.Context, key string, blob []byte, exp time.Time) error {
	if p.down.Load() {
		return errPartitioned
	}
	return p.Store.Create(ctx, key, blob, exp)
}

func (p *partitioned) Update(ctx context.Context, key string, blob []byte, exp time.Time) error {
	if p.down.Load() {
		return errPartitioned
	}
	return p.Store.Update(ctx, key, blob, exp)
}

func (p *partitioned) Delete(ctx context.Context, key string) error {
	if p.down.Load() {
		return errPartitioned
	}
	return p.Store.Delete(ctx, key)
}

func partitionFixture(t *testing.T, opts Options) (*Store, *partitioned, *memory.Store) {
	cache := &partitioned{Store: memory.New()}
	backing := memory.New()
	t.Cleanup(func() { cache.Close(); backing.Close() })
	if opts.Logger == nil {
		opts.Logger = discardLogger
	}
	if opts.CoolDown == 0 {
		opts.CoolDown = time.Nanosecond // every operation tries the cache
	}
	s, err := New(cache, backing, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, cache, backing
}

// TestPartitionLogout checks that a logout made while the cache is cut off
// is reported as not done, and that when the cache comes back with its
// old copy, that copy is never served.
func TestPartitionLogout(t *testing.T) {
	s, cache, _ := partitionFixture(t, Options{})
	exp := time.Now().Add(time.Hour)
	if err := s.Create(ctx, k1, []byte("logged in"), exp); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, s, k1, "logged in")
	cache.down.Store(true)
	if err := s.Delete(ctx, k1); !errors.Is(err, ErrCacheNotTold) {
		t.Fatalf("a logout with the cache cut off = %v, want ErrCacheNotTold", err)
	}
	cache.down.Store(false)
	if b, err := s.Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("after the partition the logged-out session loads: %q, %v", b, err)
	}
	if _, err := cache.Store.Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("the cache still holds the logged-out session's copy after it was found stale: %v", err)
	}
}

// TestPartitionUpdate checks that an update the cache could not apply is
// never served stale when the cache comes back with the older copy.
func TestPartitionUpdate(t *testing.T) {
	s, cache, _ := partitionFixture(t, Options{})
	exp := time.Now().Add(time.Hour)
	if err := s.Create(ctx, k1, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, s, k1, "v1")
	cache.down.Store(true)
	if err := s.Update(ctx, k1, []byte("v2"), exp); err != nil {
		t.Fatalf("Update with the cache cut off: %v (the backing store is the truth: it must succeed)", err)
	}
	cache.down.Store(false)
	mustLoad(t, s, k1, "v2")
	mustLoad(t, s, k1, "v2") // refilled: a hit again
	if st := s.Stats(); st.Hits == 0 {
		t.Errorf("the cache is never used again after a partition: %+v", st)
	}
}

// TestOtherProcessDelete checks what a cache that another process does not
// tell can promise: a delete made through another Store on the same
// backing store (or by an operator) is seen within MaxTTL.
func TestOtherProcessDelete(t *testing.T) {
	backing := memory.New()
	defer backing.Close()
	const ttl = 200 * time.Millisecond
	a, _ := New(memory.New(), backing, Options{MaxTTL: ttl, Logger: discardLogger})
	b, _ := New(memory.New(), backing, Options{MaxTTL: ttl, Logger: discardLogger})
	if err := a.Create(ctx, k1, []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, b, k1, "v") // b's cache has a copy now
	if err := a.Delete(ctx, k1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(ttl + 2*time.Second)
	for {
		_, err := b.Load(ctx, k1)
		if errors.Is(err, server.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("another process still serves the deleted session %v after MaxTTL %v", time.Since(deadline.Add(-ttl-2*time.Second)), ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPartitionUnderLoad runs counters through the store from concurrent
// clients while the cache is cut off and comes back, several times: no
// acknowledged increment is lost, and no logout made meanwhile is undone.
func TestPartitionUnderLoad(t *testing.T) {
	s, cache, backing := partitionFixture(t, Options{})
	const clients, rounds = 8, 200
	exp := time.Now().Add(time.Hour)
	keys := make([]string, clients)
	for i := range keys {
		keys[i] = fmt.Sprintf("%064x", i+1)
		if err := s.Create(ctx, keys[i], []byte("0"), exp); err != nil {
			t.Fatal(err)
		}
	}
	acked := make([]int, clients)
	loggedOut := make([]bool, clients)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // the partition comes and goes
		for {
			select {
			case <-stop:
				cache.down.Store(false)
				return
			case <-time.After(time.Millisecond):
				cache.down.Store(!cache.down.Load())
			}
		}
	}()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				if c%4 == 3 && r == rounds/2 {
					// A logout in the middle; a reported failure is retried.
					for s.Delete(ctx, keys[c]) != nil {
					}
					loggedOut[c] = true
					return
				}
				b, err := s.Load(ctx, keys[c])
				if err != nil {
					t.Errorf("client %d: Load: %v", c, err)
					return
				}
				n, _ := strconv.Atoi(string(b))
				if n != acked[c] {
					t.Errorf("client %d read %d after %d acknowledged increments", c, n, acked[c])
					return
				}
				if err := s.Update(ctx, keys[c], []byte(strconv.Itoa(n+1)), exp); err != nil {
					t.Errorf("client %d: Update: %v", c, err)
					return
				}
				acked[c] = n + 1
			}
		}()
	}
	wg.Wait()
	close(stop)
	time.Sleep(5 * time.Millisecond)
	for c := range clients {
		b, err := s.Load(ctx, keys[c])
		switch {
		case loggedOut[c]:
			if !errors.Is(err, server.ErrNotFound) {
				t.Errorf("client %d logged out, yet its session loads: %q, %v", c, b, err)
			}
		case err != nil || string(b) != strconv.Itoa(acked[c]):
			t.Errorf("client %d: %q, %v after %d acknowledged increments", c, b, err, acked[c])
		}
		if bb, err := backing.Load(ctx, keys[c]); !loggedOut[c] && (err != nil || string(bb) != strconv.Itoa(acked[c])) {
			t.Errorf("client %d: the backing store holds %q, %v", c, bb, err)
		}
	}
	if s.Stats().CacheErrors == 0 {
		t.Error("the partition never hit an operation: the test tested nothing")
	}
}

var discardLogger = slog.New(slog.DiscardHandler)

// TestCoolDown checks that after a failure the cache is left alone for
// CoolDown: requests cost the backing store alone, not a cache timeout
// each; a Delete still tries it; and once the cool-down is over the cache
// is used again, with nothing it held from before served.
func TestCoolDown(t *testing.T) {
	const coolDown = 100 * time.Millisecond
	cache := &countingPartition{partitioned: partitioned{Store: memory.New()}}
	backing := memory.New()
	defer cache.Close()
	defer backing.Close()
	s, _ := New(cache, backing, Options{CoolDown: coolDown, Logger: discardLogger})
	exp := time.Now().Add(time.Hour)
	if err := s.Create(ctx, k1, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, s, k1, "v1")
	cache.down.Store(true)
	if err := s.Update(ctx, k1, []byte("v2"), exp); err != nil { // fails in the cache: the cool-down starts
		t.Fatal(err)
	}
	before := cache.calls.Load()
	for range 50 {
		mustLoad(t, s, k1, "v2")
	}
	if err := s.Update(ctx, k1, []byte("v3"), exp); err != nil {
		t.Fatal(err)
	}
	if n := cache.calls.Load() - before; n != 0 {
		t.Errorf("during the cool-down the cache was tried %d times, want 0", n)
	}
	if err := s.Delete(ctx, k2); !errors.Is(err, ErrCacheNotTold) || cache.calls.Load() == before {
		t.Errorf("a Delete during the cool-down: %v, cache tried: %v; want it tried and ErrCacheNotTold", err, cache.calls.Load() != before)
	}
	cache.down.Store(false)
	time.Sleep(coolDown + 20*time.Millisecond)
	before = cache.calls.Load()
	mustLoad(t, s, k1, "v3") // the cache's v1 is from before the failure: not served
	mustLoad(t, s, k1, "v3")
	if cache.calls.Load() == before || s.Stats().Hits == 0 {
		t.Errorf("after the cool-down the cache is not used again")
	}
}

// countingPartition counts the operations that reach the cache.
type countingPartition struct {
	partitioned
	calls atomic.Int64
}

func (c *countingPartition) Load(ctx context.Context, key string) ([]byte, error) {
	c.calls.Add(1)
	return c.partitioned.Load(ctx, key)
}

func (c *countingPartition) Create(ctx context.Context, key string, blob []byte, exp time.Time) error {
	c.calls.Add(1)
	return c.partitioned.Create(ctx, key, blob, exp)
}

func (c *countingPartition) Update(ctx context.Context, key string, blob []byte, exp time.Time) error {
	c.calls.Add(1)
	return c.partitioned.Update(ctx, key, blob, exp)
}

func (c *countingPartition) Delete(ctx context.Context, key string) error {
	c.calls.Add(1)
	return c.partitioned.Delete(ctx, key)
}

// TestTooLargeForTheCache checks that a session the cache is too small for
// is served from the backing store and is no cache failure: it must not
// put every other session into the cool-down.
func TestTooLargeForTheCache(t *testing.T) {
	cache := memory.New(memory.Options{MaxLength: 100})
	backing := memory.New()
	defer cache.Close()
	defer backing.Close()
	s, _ := New(cache, backing, Options{Logger: discardLogger})
	exp := time.Now().Add(time.Hour)
	big := make([]byte, 95) // fits the backing store, not the cache with its entry header
	if err := s.Create(ctx, k1, []byte("small"), exp); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, s, k1, "small")
	if err := s.Update(ctx, k1, big, exp); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Load(ctx, k1); err != nil || len(b) != len(big) {
		t.Fatalf("the large session loads as %d bytes, %v", len(b), err)
	}
	if err := s.Create(ctx, k2, big, exp); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.CacheErrors != 0 || s.cooling() {
		t.Errorf("a session too large for the cache counted as a cache failure: %+v", st)
	}
}
