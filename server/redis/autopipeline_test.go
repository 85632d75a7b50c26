package redis

import (
	"errors"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/storetest"
)

// autoPipelined returns a store on the AutoPipeliner of a new client, under
// a fresh prefix, and that client.
func autoPipelined(t testing.TB) (*Store, *goredis.Client) {
	t.Helper()
	c := newClient(t, testOptions(t))
	ap, err := c.AutoPipeline()
	if err != nil {
		t.Fatalf("AutoPipeline: %v", err)
	}
	s, err := New(ap, Config{Prefix: uniquePrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropPrefix(t, c, s.Prefix()) })
	return s, c
}

// TestConformanceAutoPipeline runs the shared store suite on a store whose
// client is a go-redis AutoPipeliner.
func TestConformanceAutoPipeline(t *testing.T) {
	testenv.RedisURL(t)
	var s *Store
	storetest.Run(t, func(t *testing.T) server.Store {
		s, _ = autoPipelined(t)
		return s
	}, storetest.Options{
		DropsExpired: true,
		Plant:        func(key string, blob []byte, exp time.Time) error { return plant(s, key, blob, exp) },
	})
}

// TestAutoPipelineBatches checks that every operation goes through the
// AutoPipeliner: concurrent Creates, Loads, Updates and Deletes, one
// command each, reach Redis in far fewer round trips than there are
// operations. Were Create and Update sent with the AutoPipeliner's Do,
// which runs each command on its own, they alone would take half as many
// round trips as there are operations.
func TestAutoPipelineBatches(t *testing.T) {
	s, c := autoPipelined(t)
	ctx := testCtx(t)
	// Open the pipeline connection first: its handshake is a pipeline too.
	if _, err := s.Load(ctx, keyOf(0)); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load of an unknown key = %v, want ErrNotFound", err)
	}
	var h countingHook
	c.AddHook(&h)
	const workers, rounds = 32, 20
	exp := time.Now().Add(time.Hour)
	ops := []func(k string) error{
		func(k string) error { return s.Create(ctx, k, []byte("v1"), exp) },
		func(k string) error { _, err := s.Load(ctx, k); return err },
		func(k string) error { return s.Update(ctx, k, []byte("v2"), exp) },
		func(k string) error { return s.Delete(ctx, k) },
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				k := keyOf(w*rounds + r + 1)
				for _, op := range ops {
					if err := op(k); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := int64(workers * rounds * len(ops))
	trips, cmds := h.trips.Load(), h.cmds.Load()
	t.Logf("%d operations: %d commands in %d round trips", n, cmds, trips)
	if cmds != n {
		t.Errorf("%d commands were sent, want one per operation (%d)", cmds, n)
	}
	if trips > n/4 {
		t.Errorf("%d operations from %d goroutines took %d round trips, want at most a quarter as many: operations ran outside the AutoPipeliner's batches", n, workers, trips)
	}
}
