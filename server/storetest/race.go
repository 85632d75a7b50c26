package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
)

// Bounds of the UpdateDeleteRace subtest: it runs updateDeleteRaces races,
// or as many as fit in updateDeleteBudget, on raceLanes keys at a time.
const (
	updateDeleteRaces  = 3000
	updateDeleteBudget = 10 * time.Second
	raceLanes          = 2
)

// testUpdateDeleteRace races an Update against a Delete of the same live
// entry, thousands of times: a request saving its session while another
// logs it out. Whatever the order, once Delete has returned the entry is
// gone for good. A Load that starts after Delete returns, while the Update
// may still be running, and a Load after both have returned, must both be
// server.ErrNotFound; the Update returns nil (it came first) or
// server.ErrNotFound (it came second).
//
// A store that checks for the entry and then writes leaves a window
// between the two, wherever it puts them in its Update. So that the
// Deletes land in it, each race delays the Delete (or, when negative, the
// Update) by an offset that the test steers towards the point where half
// of the Updates come first, that is to the instant of the Update's check,
// with random jitter of half the time an Update or a Delete takes
// (whichever is longer, measured on the store first) either side.
func testUpdateDeleteRace(t *testing.T, s server.Store) {
	ctx := context.Background()
	exp := time.Now().Add(hour)
	tUpdate, tDelete := timeUpdateDelete(t, s)
	jitter := max(tUpdate, tDelete) / 2
	step := max(jitter/16, time.Microsecond)
	var bias atomic.Int64 // the Delete's delay, in nanoseconds, before jitter
	deadline := time.Now().Add(updateDeleteBudget)
	var (
		started, completed, resurrected, updated atomic.Int64
		mu                                       sync.Mutex
		others                                   []error
		wg                                       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(others) < 10 {
			others = append(others, err)
		}
	}
	for lane := 0; lane < raceLanes; lane++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for started.Add(1) <= updateDeleteRaces && time.Now().Before(deadline) {
				key := randomKey(t, 64)
				if err := s.Create(ctx, key, []byte("logged in"), exp); err != nil {
					fail(fmt.Errorf("Create(%s): %w", key, err))
					return
				}
				var (
					go1       = make(chan struct{})
					updateErr error
					done      = make(chan struct{})
				)
				// Positive: the Delete waits; negative: the Update does.
				offset := time.Duration(bias.Load()) + time.Duration(rand.Int64N(2*int64(jitter)+1)) - jitter
				go func() {
					defer close(done)
					<-go1
					spin(-offset)
					updateErr = s.Update(ctx, key, []byte("logged in, modified"), exp)
				}()
				close(go1)
				spin(offset)
				delErr := s.Delete(ctx, key)
				_, afterDelete := s.Load(ctx, key)
				<-done
				_, afterBoth := s.Load(ctx, key)

				completed.Add(1)
				switch {
				case updateErr == nil:
					updated.Add(1)
					bias.Add(-int64(step)) // the Delete came late: send it sooner
				case errors.Is(updateErr, server.ErrNotFound):
					bias.Add(int64(step))
				case !errors.Is(updateErr, server.ErrNotFound):
					fail(fmt.Errorf("Update racing Delete: %w", updateErr))
				}
				if delErr != nil {
					fail(fmt.Errorf("Delete racing Update: %w", delErr))
				}
				for _, err := range []error{afterDelete, afterBoth} {
					if err != nil && !errors.Is(err, server.ErrNotFound) {
						fail(fmt.Errorf("Load after Delete: %w", err))
					}
				}
				if afterDelete == nil || afterBoth == nil {
					resurrected.Add(1)
					// Leave nothing behind in a shared store.
					if err := s.Delete(ctx, key); err != nil {
						fail(fmt.Errorf("cleanup: Delete(%s): %w", key, err))
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range others {
		t.Error(err)
	}
	n := completed.Load()
	if r := resurrected.Load(); r > 0 {
		t.Errorf("%d of %d Update/Delete races left the deleted entry loadable after Delete returned; Update must never bring an entry back", r, n)
	}
	t.Logf("%d Update/Delete races (%d Updates came first; Update %v, Delete %v, final Delete delay %v), %d resurrections",
		n, updated.Load(), tUpdate, tDelete, time.Duration(bias.Load()), resurrected.Load())
}

// timeUpdateDelete returns the median time an Update and a Delete of a
// live entry take on s.
func timeUpdateDelete(t *testing.T, s server.Store) (update, del time.Duration) {
	ctx := context.Background()
	const n = 21
	var ups, dels []time.Duration
	for i := 0; i < n; i++ {
		key := randomKey(t, 64)
		mustCreate(t, s, key, []byte("logged in"), time.Now().Add(hour))
		t0 := time.Now()
		if err := s.Update(ctx, key, []byte("logged in, modified"), time.Now().Add(hour)); err != nil {
			t.Fatalf("Update(%s): %v", key, err)
		}
		t1 := time.Now()
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%s): %v", key, err)
		}
		ups, dels = append(ups, t1.Sub(t0)), append(dels, time.Since(t1))
	}
	slices.Sort(ups)
	slices.Sort(dels)
	return ups[n/2], dels[n/2]
}

// spin waits for d, if positive, without sleeping (a sleep's granularity
// is coarser than the operations being raced), but yielding, so that the
// other side of the race runs meanwhile even on one CPU.
func spin(d time.Duration) {
	if d <= 0 {
		return
	}
	for t0 := time.Now(); time.Since(t0) < d; {
		runtime.Gosched()
	}
}
