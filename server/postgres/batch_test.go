package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
)

// The reads that wait for a connection share round trips (loadQueue).
// These tests hold the pool's only connection so that reads pile up in a
// known order, then let go of it.

// queued waits until the store's queue holds n reads waiting behind a
// collector.
func queued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.loads.mu.Lock()
		got, collecting := len(s.loads.calls), s.loads.collecting
		s.loads.mu.Unlock()
		if got == n && collecting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reads queued (collector: %v), want %d", got, collecting, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// hold acquires the pool's only connection and returns its release.
func hold(t *testing.T, s *Store) func() {
	t.Helper()
	c, err := s.Pool().Acquire(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(c.Release) }
	t.Cleanup(release)
	return release
}

// result is what one read returned.
type result struct {
	blob   []byte
	expiry time.Time
	err    error
}

// TestQueuedLoadsShareRoundTrips starts 40 reads while the only connection
// is busy: found, missing, expired and oversized rows, through Load and
// LoadWithExpiry. Each gets its own answer, and they cross the wire in
// three pipelines (batches of 16, 16 and 8, one Sync each) instead of 40
// round trips: with the statements prepared on the connection before,
// with the first batch preparing them, and with NoPrepare. A pool whose
// hooks see the acquiring request's context gives each read a round trip
// of its own.
func TestQueuedLoadsShareRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		noPrepare, unprepped bool
		hooked               bool
	}{
		{name: "prepared"},
		{name: "unprepared", unprepped: true},
		{name: "NoPrepare", noPrepare: true},
		{name: "hooked pool", hooked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w wire
			pool := newPool(t, func(pc *pgxpool.Config) {
				pc.MaxConns = 1
				pc.ConnConfig.DialFunc = w.dial()
				if tc.hooked {
					pc.PrepareConn = func(context.Context, *pgx.Conn) (bool, error) { return true, nil }
				}
			})
			s := newStoreOn(t, pool, Config{NoPrepare: tc.noPrepare})
			ctx := testCtx(t)
			exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
			const n = 40
			want := make([]result, n)
			for i := range n {
				k := key("batch", i)
				switch i % 5 {
				case 0, 1, 2: // found
					blob := fmt.Appendf(nil, "blob %d", i)
					if err := s.Create(ctx, k, blob, exp.Add(time.Duration(i)*time.Second)); err != nil {
						t.Fatal(err)
					}
					want[i] = result{blob: blob, expiry: exp.Add(time.Duration(i) * time.Second)}
				case 3: // missing or expired
					if i%2 == 0 {
						if err := plant(t, s, k, []byte("old"), time.Now().Add(-time.Minute)); err != nil {
							t.Fatal(err)
						}
					}
					want[i] = result{err: server.ErrNotFound}
				case 4: // over MaxLength
					if err := plant(t, s, k, make([]byte, s.MaxLength()+1), exp); err != nil {
						t.Fatal(err)
					}
					want[i] = result{err: server.ErrTooLarge}
				}
			}
			if tc.unprepped {
				// A fresh connection, on which the store prepared nothing.
				s.Pool().Reset()
			} else {
				// Both statements prepared on the connection.
				if _, err := s.Load(ctx, key("batch", 0)); err != nil {
					t.Fatal(err)
				}
				if _, _, err := s.LoadWithExpiry(ctx, key("batch", 0)); err != nil {
					t.Fatal(err)
				}
			}

			release := hold(t, s)
			got := make([]result, n)
			var wg sync.WaitGroup
			var started atomic.Int32
			for i := range n {
				wg.Go(func() {
					started.Add(1)
					r := &got[i]
					if i%2 == 0 {
						r.blob, r.expiry, r.err = s.LoadWithExpiry(ctx, key("batch", i))
					} else {
						r.blob, r.err = s.Load(ctx, key("batch", i))
					}
				})
				if !tc.hooked {
					queued(t, s, i) // in order: read 0 collects, the others wait
				}
			}
			for started.Load() < n { // hooked: no queue to watch
				time.Sleep(time.Millisecond)
			}
			before := w.snapshot("ES")
			release()
			wg.Wait()
			after := w.snapshot("ES")

			for i := range n {
				g, w := got[i], want[i]
				switch {
				case w.err != nil:
					if !errors.Is(g.err, w.err) {
						t.Errorf("read %d: err = %v, want %v", i, g.err, w.err)
					}
				case g.err != nil || !bytes.Equal(g.blob, w.blob):
					t.Errorf("read %d = %q, %v; want %q", i, g.blob, g.err, w.blob)
				case i%2 == 0 && !g.expiry.Equal(w.expiry):
					t.Errorf("read %d: expiry %v, want %v", i, g.expiry, w.expiry)
				}
			}
			syncs, executes, prepares := after[4]-before[4], after[3]-before[3], after[2]-before[2]
			wantSyncs, wantPrepares := int64(3), int64(0)
			switch {
			case tc.hooked:
				wantSyncs = n
			case tc.unprepped:
				wantPrepares = 2
			}
			if syncs != wantSyncs || executes != n || prepares != wantPrepares {
				t.Errorf("%d reads: %d Syncs, %d Executes, %d statements prepared; want %d, %d and %d", n, syncs, executes, prepares, wantSyncs, n, wantPrepares)
			}
		})
	}
}

// seedBytes stores n sessions under key(name, i), each holding the byte i,
// for an hour.
func seedBytes(t *testing.T, s *Store, name string, n int) {
	t.Helper()
	exp := time.Now().Add(time.Hour)
	for i := range n {
		if err := s.Create(testCtx(t), key(name, i), []byte{byte(i)}, exp); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueuedLoadGivesUp ends the contexts of the collector, while it waits
// for the connection, and of a read waiting behind it: both return at
// once with their context's error, and the reads that still wait are
// served when the connection comes free.
func TestQueuedLoadGivesUp(t *testing.T) {
	s := countingStore(t, new(wire), Config{})
	ctx := testCtx(t)
	seedBytes(t, s, "gives", 4)
	if _, err := s.Load(ctx, key("gives", 0)); err != nil { // prepared
		t.Fatal(err)
	}
	release := hold(t, s)
	ctxs := make([]context.Context, 4)
	cancels := make([]context.CancelFunc, 4)
	done := make([]chan result, 4)
	for i := range 4 {
		ctxs[i], cancels[i] = context.WithCancel(ctx)
		defer cancels[i]()
		done[i] = make(chan result, 1)
		go func() {
			blob, err := s.Load(ctxs[i], key("gives", i))
			done[i] <- result{blob: blob, err: err}
		}()
		queued(t, s, i)
	}
	// 0 collects; 1, 2 and 3 wait. 0 and 3 give up while the connection
	// is still held.
	for _, i := range []int{0, 3} {
		cancels[i]()
		select {
		case r := <-done[i]:
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("read %d given up: %q, %v; want context.Canceled", i, r.blob, r.err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("read %d given up has not returned while the connection is held", i)
		}
	}
	queued(t, s, 1) // 1 collects now, 2 waits
	release()
	for _, i := range []int{1, 2} {
		if r := <-done[i]; r.err != nil || !bytes.Equal(r.blob, []byte{byte(i)}) {
			t.Errorf("read %d = %q, %v; want %q", i, r.blob, r.err, []byte{byte(i)})
		}
	}
}

// TestBatchUnderLock sends a batch of two reads that a table lock holds
// up: one that gives up returns at once while the other waits and then
// gets its row; when both give up, the reads are broken off, and the
// store goes on working once the lock is gone.
func TestBatchUnderLock(t *testing.T) {
	var w wire
	s := countingStore(t, &w, Config{})
	ctx := testCtx(t)
	seedBytes(t, s, "locked", 2)
	other := newPool(t, func(pc *pgxpool.Config) { pc.MaxConns = 2 })
	waiting := func() int {
		var n int
		if err := other.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = $1::regclass", `"`+s.Table()+`"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, giveUp := range [][]int{{0}, {0, 1}} {
		t.Run(fmt.Sprintf("%d-give-up", len(giveUp)), func(t *testing.T) {
			tx := lockTable(t, other, s)
			release := hold(t, s)
			before := w.snapshot("E")
			cancels := make([]context.CancelFunc, 2)
			done := make([]chan result, 2)
			for i := range 2 {
				var c context.Context
				c, cancels[i] = context.WithCancel(ctx)
				defer cancels[i]()
				done[i] = make(chan result, 1)
				go func() {
					blob, err := s.Load(c, key("locked", i))
					done[i] <- result{blob: blob, err: err}
				}()
				queued(t, s, i)
			}
			release()
			testenv.WaitUntil(t, func() (bool, string) { return waiting() != 0, "the batch does not wait for the lock" })
			for _, i := range giveUp {
				cancels[i]()
				if r := <-done[i]; !errors.Is(r.err, context.Canceled) {
					t.Errorf("read %d given up: %q, %v; want context.Canceled", i, r.blob, r.err)
				}
			}
			if len(giveUp) == 2 {
				// No one waits for the reads any more: they are
				// interrupted (pgconn breaks off the connection) and the
				// connection goes back to the pool while the lock is
				// still held.
				testenv.WaitUntil(t, func() (bool, string) {
					return s.Pool().Stat().AcquiredConns() == 0, "the batch holds its connection after every read gave up"
				})
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if len(giveUp) == 1 {
				if r := <-done[1]; r.err != nil || !bytes.Equal(r.blob, []byte{1}) {
					t.Errorf("read 1 = %q, %v; want %q", r.blob, r.err, []byte{1})
				}
				// From the batch, which went on for it: not read again
				// on its own.
				if ex := w.snapshot("E")[3] - before[3]; ex != 2 {
					t.Errorf("%d Executes for the batch of two, want 2", ex)
				}
			}
			if got, err := s.Load(ctx, key("locked", 1)); err != nil || !bytes.Equal(got, []byte{1}) {
				t.Errorf("Load after the batch = %q, %v", got, err)
			}
		})
	}
}

// lockTable locks the table of s in ACCESS EXCLUSIVE mode, which holds up
// every read of it, in a transaction on pool that it returns; the test's
// end rolls it back.
func lockTable(t *testing.T, pool *pgxpool.Pool, s *Store) pgx.Tx {
	t.Helper()
	ctx := testCtx(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, `LOCK TABLE "`+s.Table()+`" IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestLoadUnderLockGivesUp: a Load alone (no batch) that a table lock
// holds up returns its context's error as soon as the context ends, the
// lock still held; its connection is closed, not reused, and the store
// goes on working.
func TestLoadUnderLockGivesUp(t *testing.T) {
	s := newStoreOn(t, newPool(t, func(pc *pgxpool.Config) { pc.MaxConns = 1 }), Config{})
	ctx := testCtx(t)
	k := key("alone", 1)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	other := newPool(t, nil)
	tx := lockTable(t, other, s)
	var pid uint32
	if err := s.Pool().AcquireFunc(ctx, func(c *pgxpool.Conn) error { pid = c.Conn().PgConn().PID(); return nil }); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	blob, err := s.Load(short, k)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load held up by a lock = %q, %v; want context.DeadlineExceeded", blob, err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("Load returned %v after its context ended, want at once", waited)
	}
	waitNoStatement(t, other, "SELECT %"+s.Table()+"%")
	var n int
	if err := other.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n); err != nil || n != 0 {
		t.Errorf("the connection of the Load that gave up: %d backends (%v), want it closed", n, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, k); err != nil || string(got) != "x" {
		t.Errorf("Load after the lock = %q, %v; want x", got, err)
	}
}

// TestQueuedLoadsOnAServerThatIsDown: while the pool's only connection
// cannot be made (a server that accepts and never answers, until the
// connect timeout), the reads waiting behind the collector get its error
// at once: one connection attempt for five reads, not one each in turn.
func TestQueuedLoadsOnAServerThatIsDown(t *testing.T) {
	addr := testenv.SilentServer(t)
	pc, err := pgxpool.ParseConfig("postgres://u:p@" + addr + "/none?connect_timeout=1&sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 1
	var dials atomic.Int32
	pc.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := New(pool, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.Load(ctx, key("down", i)) })
		queued(t, s, i) // 0 collects (and dials); the others wait behind it
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || errors.Is(err, server.ErrNotFound) || ctx.Err() != nil {
			t.Errorf("read %d on a server that does not answer: err = %v, want the pool's error", i, err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d connection attempts for 5 reads waiting together, want 1", n)
	}
}

// TestBatchFallsBackAlone: a batch whose statements the server no longer
// has (DEALLOCATE ALL on the connection) fails as a whole; each of its
// reads then runs on its own, prepares the statement again, and gets its
// own row.
func TestBatchFallsBackAlone(t *testing.T) {
	var w wire
	s := countingStore(t, &w, Config{})
	ctx := testCtx(t)
	seedBytes(t, s, "alone", 3)
	if _, err := s.Load(ctx, key("alone", 0)); err != nil { // prepared
		t.Fatal(err)
	}
	c, err := s.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Conn().PgConn().Exec(ctx, "DEALLOCATE ALL").ReadAll(); err != nil {
		c.Release()
		t.Fatal(err)
	}
	got := make([]result, 3)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i].blob, got[i].err = s.Load(ctx, key("alone", i)) })
		queued(t, s, i)
	}
	before := w.snapshot("S")
	c.Release()
	wg.Wait()
	for i, r := range got {
		if r.err != nil || !bytes.Equal(r.blob, []byte{byte(i)}) {
			t.Errorf("read %d = %q, %v; want %q", i, r.blob, r.err, []byte{byte(i)})
		}
	}
	after := w.snapshot("S")
	if syncs, prepares := after[3]-before[3], after[2]-before[2]; syncs < 4 || prepares < 1 {
		t.Errorf("%d Syncs, %d statements prepared: want the failed batch and then each read on its own, preparing again", syncs, prepares)
	}
}
