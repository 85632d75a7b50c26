package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
)

// TestClusterFailover kills a master of a private cluster with SIGKILL
// while 24 clients of one Store work on their sessions as a web
// application does (a login creates a session and binds it to the
// client's user in the index; then load, increment, save; every 20
// increments a logout unbinds and deletes it), and checks what the
// clients saw once its replica has taken over:
//
//   - with WaitReplicas 1: no acknowledged increment, session or binding
//     lost, no acknowledged logout undone. The promoted replica has no
//     replica of its own, so its writes fail (ErrNotReplicated) until the
//     killed node is started again and has become its replica, as a
//     supervisor would restart it.
//   - without it: the same run, which reports what was lost (replication
//     is asynchronous: nothing guarantees that an acknowledged write
//     reached the replica before the master died) and asserts nothing
//     about it.
//
// In both, the same Store (the same client) serves every client again
// after the failover (within 60 s; without the store's reload of the
// slots after a failure, it did not within 20 s). The subtests log the
// error window: from the kill to the last client's first success after
// its last error.
func TestClusterFailover(t *testing.T) {
	c := testenv.StartPrivateRedisCluster(t)
	url := c.URL()
	t.Run("WaitReplicas", func(t *testing.T) {
		r := runFailover(t, c, url, Config{WaitReplicas: 1}, true)
		if r.lostWrites != 0 || r.lostSessions != 0 || r.lostBindings != 0 || r.undone != 0 {
			t.Errorf("with WaitReplicas 1: %d acknowledged increments, %d sessions and %d bindings lost, %d acknowledged logouts undone; want none", r.lostWrites, r.lostSessions, r.lostBindings, r.undone)
		}
		if r.notReplicated == 0 {
			t.Errorf("no write failed with ErrNotReplicated while the promoted master had no replica")
		}
	})
	t.Run("NoWait", func(t *testing.T) {
		r := runFailover(t, c, url, Config{}, false)
		t.Logf("without WAIT: %d acknowledged increments, %d sessions and %d bindings lost, %d acknowledged logouts undone (asynchronous replication promises none of these)", r.lostWrites, r.lostSessions, r.lostBindings, r.undone)
	})
	// The server's own guard: a master with min-replicas-to-write over
	// its replicas refuses writes (NOREPLICAS), which the store reports
	// as ErrNotReplicated too.
	t.Run("MinReplicasToWrite", func(t *testing.T) {
		s, err := OpenCluster(url, Config{Prefix: uniquePrefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx := testCtx(t)
		k := keyOf(1)
		master, err := s.cluster.MasterForKey(ctx, s.Prefix()+k)
		if err != nil {
			t.Fatal(err)
		}
		if err := master.ConfigSet(ctx, "min-replicas-to-write", "2").Err(); err != nil {
			t.Fatal(err)
		}
		err = s.Create(ctx, k, counter(0), time.Now().Add(time.Hour))
		if !errors.Is(err, ErrNotReplicated) || !strings.Contains(err.Error(), "NOREPLICAS") {
			t.Errorf("Create on a master that wants 2 replicas and has 1 = %v, want ErrNotReplicated (NOREPLICAS)", err)
		}
		if _, err := s.Load(ctx, k); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("Load after the refused Create = %v, want server.ErrNotFound", err)
		}
	})
}

// failoverResult is what runFailover counted.
type failoverResult struct {
	lostWrites, lostSessions, lostBindings, undone int
	notReplicated                                  int
}

// failoverClient plays one browser: a session whose counter it increments,
// and logs out of now and then.
type failoverClient struct {
	user    string // the client's user, in the index
	key     string // the current session, "" before it is created
	bound   bool   // the session's binding to user was acknowledged
	n       int    // the counter last acknowledged
	unknown int    // failed saves since: each may have been applied
	logout  bool   // a logout failed: it is sent again
	// deleted holds the sessions whose logout was acknowledged.
	deleted []string

	ok, fail, notReplicated                        int
	lostWrites, lostSessions, lostBindings, undone int
	// Times: the client's first failure, last failure and first success
	// after it, relative to the kill.
	firstFail, lastFail, recovered time.Duration
	// streak counts the successes since the last failure.
	streak int
}

// runFailover runs the clients against a store on the cluster at url with
// cfg, kills the master of slot 0 after a moment, starts it again once its
// replica has taken over if restart, and waits until every client has
// succeeded several times in a row since its last failure.
func runFailover(t *testing.T, c *testenv.PrivateCluster, url string, cfg Config, restart bool) failoverResult {
	cfg.Prefix = uniquePrefix(t)
	s, err := OpenCluster(url, cfg)
	if err != nil {
		t.Fatalf("OpenCluster: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })

	clients := make([]*failoverClient, 24)
	for i := range clients {
		clients[i] = &failoverClient{user: randomKey()}
	}
	var (
		killed   atomic.Int64 // the kill's Unix time in ns; 0 before it
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex // guards the counts and times the main goroutine reads
		exp      = time.Now().Add(time.Hour)
		sinceNow = func() time.Duration {
			if k := killed.Load(); k != 0 {
				return time.Since(time.Unix(0, k))
			}
			return 0
		}
	)
	for _, fc := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ok, notRepl := fc.step(t, s, exp)
				mu.Lock()
				now := sinceNow()
				switch {
				case ok:
					fc.ok++
					fc.streak++
					if fc.fail > 0 && fc.recovered < fc.lastFail {
						fc.recovered = now
					}
				default:
					fc.fail++
					fc.streak = 0
					if notRepl {
						fc.notReplicated++
					}
					if fc.firstFail == 0 {
						fc.firstFail = now
					}
					fc.lastFail = now
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()

	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	for i, fc := range clients {
		if fc.fail != 0 || fc.ok == 0 {
			mu.Unlock()
			t.Fatalf("before the kill: client %d has %d successes and %d failures", i, fc.ok, fc.fail)
		}
	}
	mu.Unlock()
	// Until the script reports the kill's own time, the clients' times
	// are taken from now, a few milliseconds before it.
	killed.Store(time.Now().UnixNano())
	port, at, _ := strings.Cut(c.Run("REDIS_CLUSTER_KILL_MASTER_CMD", "0"), " ")
	ns, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		t.Fatalf("the kill command printed %q %q, want a port and a time", port, at)
	}
	killedAt := time.Unix(0, ns)
	mu.Lock()
	shift := killedAt.Sub(time.Unix(0, killed.Load()))
	for _, fc := range clients {
		if fc.fail > 0 {
			fc.firstFail, fc.lastFail = fc.firstFail-shift, fc.lastFail-shift
		}
	}
	killed.Store(ns)
	mu.Unlock()
	t.Logf("killed the master of slot 0 (127.0.0.1:%s) with SIGKILL", port)
	c.Run("REDIS_CLUSTER_WAIT_REPLACED_CMD", port)
	t.Logf("its replica serves its slots %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	if restart {
		// A supervisor restarts the dead process a second later; it
		// comes back as the new master's replica.
		time.Sleep(time.Second)
		c.Run("REDIS_CLUSTER_START_NODE_CMD", port)
		t.Logf("the killed node is back, as the new master's replica, %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	}

	// Every client recovers, with the same store. The promotion takes
	// two or three seconds; under load, an election that fails is tried
	// again seconds later (once, 14 s after the kill), so the bound is
	// loose.
	deadline := time.Now().Add(60 * time.Second)
	for {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		waiting, anyFailed := 0, false
		for _, fc := range clients {
			if fc.streak < 5 {
				waiting++
			}
			if fc.fail > 0 {
				anyFailed = true
			}
		}
		mu.Unlock()
		if waiting == 0 && anyFailed && time.Since(killedAt) > time.Second {
			break
		}
		if time.Now().After(deadline) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("%d of %d clients have not recovered 60 s after the kill", waiting, len(clients))
		}
	}
	stop.Store(true)
	wg.Wait()

	// The end state, read back: every session holds its acknowledged
	// counter, and no logged-out session is back.
	var r failoverResult
	failed, maxRecovered, firstFail := 0, time.Duration(0), time.Duration(0)
	errs := 0
	for _, fc := range clients {
		fc.verify(t, s)
		r.lostWrites += fc.lostWrites
		r.lostSessions += fc.lostSessions
		r.lostBindings += fc.lostBindings
		r.undone += fc.undone
		r.notReplicated += fc.notReplicated
		errs += fc.fail
		if fc.fail > 0 {
			failed++
			maxRecovered = max(maxRecovered, fc.recovered)
			if firstFail == 0 || fc.firstFail < firstFail {
				firstFail = fc.firstFail
			}
		}
	}
	if failed == 0 {
		t.Fatal("no client saw an error: the kill was not observed")
	}
	ops := 0
	for _, fc := range clients {
		ops += fc.ok + fc.fail
	}
	t.Logf("%d operations, %d errors (%d ErrNotReplicated) in %d of %d clients; first error %v after the kill; error window (kill to the last client's first success after its last error) %v",
		ops, errs, r.notReplicated, failed, len(clients), firstFail.Round(time.Millisecond), maxRecovered.Round(time.Millisecond))
	return r
}

// step makes one request's worth of store calls for fc and reports
// whether it succeeded, and whether it failed with ErrNotReplicated.
func (fc *failoverClient) step(t *testing.T, s *Store, exp time.Time) (ok, notReplicated bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	fail := func(err error) (bool, bool) { return false, errors.Is(err, ErrNotReplicated) }
	switch {
	case fc.key == "":
		// A new session, as a login makes.
		k := randomKey()
		if err := s.Create(ctx, k, counter(0), exp); err != nil {
			return fail(err) // it may exist; it is abandoned
		}
		fc.key, fc.bound, fc.n, fc.unknown = k, false, 0, 0
		return true, false
	case !fc.bound && !fc.logout:
		// The login records the session under its user.
		if err := s.Bind(ctx, fc.user, fc.key, []byte("bound"), exp); err != nil {
			return fail(err)
		}
		fc.bound = true
		return true, false
	case fc.logout || fc.n > 0 && fc.n%20 == 0:
		if err := s.Unbind(ctx, fc.user, fc.key); err != nil {
			fc.logout = true // the user logs out again
			return fail(err)
		}
		if err := s.Delete(ctx, fc.key); err != nil {
			fc.logout = true
			return fail(err)
		}
		fc.deleted = append(fc.deleted, fc.key)
		fc.key, fc.bound, fc.logout = "", false, false
		return true, false
	}
	b, err := s.Load(ctx, fc.key)
	if errors.Is(err, server.ErrNotFound) {
		fc.lostSessions++
		fc.key, fc.bound = "", false
		return true, false // the store answered: the user is logged out
	}
	if err != nil {
		return fail(err)
	}
	v := fc.check(t, b)
	switch err := s.Update(ctx, fc.key, counter(v+1), exp); {
	case errors.Is(err, server.ErrNotFound):
		fc.lostSessions++
		fc.key, fc.bound = "", false
		return true, false
	case err != nil:
		fc.unknown++
		return fail(err)
	}
	fc.n, fc.unknown = v+1, 0
	return true, false
}

// check compares the counter b that a Load returned with what fc expects:
// its acknowledged counter, or up to unknown more. Less is a lost write
// (counted); more is a write nobody made (an error). It takes the loaded
// value as the new base.
func (fc *failoverClient) check(t *testing.T, b []byte) int {
	v, err := strconv.Atoi(string(b))
	if err != nil {
		t.Errorf("a session holds %q, not a counter", b)
		return fc.n
	}
	switch {
	case v < fc.n:
		fc.lostWrites += fc.n - v
	case v > fc.n+fc.unknown:
		t.Errorf("a counter went from %d to %d with %d saves of unknown outcome", fc.n, v, fc.unknown)
	}
	fc.n, fc.unknown = v, 0
	return v
}

// verify reads fc's sessions back once the run is over.
func (fc *failoverClient) verify(t *testing.T, s *Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if fc.key != "" && !fc.logout {
		b, err := s.Load(ctx, fc.key)
		switch {
		case errors.Is(err, server.ErrNotFound):
			fc.lostSessions++
		case err != nil:
			t.Errorf("Load after the failover: %v", err)
		default:
			fc.check(t, b)
		}
	}
	entries, err := s.Entries(ctx, fc.user)
	if err != nil {
		t.Errorf("Entries after the failover: %v", err)
	}
	bound := map[string]bool{}
	for _, e := range entries {
		bound[e.ID] = true
	}
	if fc.key != "" && fc.bound && !fc.logout && !bound[fc.key] {
		fc.lostBindings++
	}
	for _, k := range fc.deleted {
		if bound[k] {
			fc.undone++ // the binding of a logged-out session is back
		}
		_, err := s.Load(ctx, k)
		switch {
		case err == nil:
			fc.undone++
		case !errors.Is(err, server.ErrNotFound):
			t.Errorf("Load of a logged-out session after the failover: %v", err)
		}
		if err := s.Update(ctx, k, counter(-1), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("Update of a logged-out session after the failover = %v, want server.ErrNotFound", err)
		}
	}
	slices.Sort(fc.deleted)
	if len(slices.Compact(fc.deleted)) != len(fc.deleted) {
		t.Errorf("a session was logged out twice")
	}
}

func counter(n int) []byte { return []byte(fmt.Sprint(n)) }

// randomKey returns a new session key of 64 hex digits.
func randomKey() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
