package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/storetest"
)

// TestClusterConformance runs the shared store suite on the test cluster
// (three masters with a replica each, scripts/redis-cluster.sh): sessions
// spread over every master, one command each.
func TestClusterConformance(t *testing.T) {
	testenv.RedisClusterURL(t)
	var s *Store
	storetest.Run(t, func(t *testing.T) server.Store {
		s = openClusterStore(t, Config{})
		return s
	}, storetest.Options{
		DropsExpired: true,
		Plant:        func(key string, blob []byte, exp time.Time) error { return plant(s, key, blob, exp) },
	})
}

// TestClusterConformanceWait runs the suite with every write waiting for
// the master's replica (Config.WaitReplicas): SET or DEL and WAIT in one
// pipeline on the key's master.
func TestClusterConformanceWait(t *testing.T) {
	testenv.RedisClusterURL(t)
	var s *Store
	storetest.Run(t, func(t *testing.T) server.Store {
		s = openClusterStore(t, Config{WaitReplicas: 1})
		return s
	}, storetest.Options{
		DropsExpired: true,
		Plant:        func(key string, blob []byte, exp time.Time) error { return plant(s, key, blob, exp) },
	})
}

// clusterMaster returns the slot of the session key's Redis key, the
// address of the master that serves it and the addresses of its replicas,
// as the cluster reports them.
func clusterMaster(t *testing.T, s *Store, key string) (slot int64, master string, replicas []string) {
	t.Helper()
	ctx := testCtx(t)
	slot, err := s.cluster.ClusterKeySlot(ctx, s.Prefix()+key).Result()
	if err != nil {
		t.Fatal(err)
	}
	slots, err := s.cluster.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range slots {
		if int64(r.Start) <= slot && slot <= int64(r.End) {
			for _, n := range r.Nodes[1:] {
				replicas = append(replicas, n.Addr)
			}
			return slot, r.Nodes[0].Addr, replicas
		}
	}
	t.Fatalf("no master serves slot %d", slot)
	return 0, "", nil
}

// TestClusterWaitShortfall asks for more replicas than a master has: every
// write is applied on the master, and reported as not done, with an error
// wrapping ErrNotReplicated that says how many replicas acknowledged it.
func TestClusterWaitShortfall(t *testing.T) {
	s := openClusterStore(t, Config{WaitReplicas: 2, WaitTimeout: 50 * time.Millisecond})
	ctx := testCtx(t)
	k := keyOf(1)
	exp := time.Now().Add(time.Hour)
	// Each write is on the master even though it failed.
	check := func(op string, err error, want string) {
		t.Helper()
		if !errors.Is(err, ErrNotReplicated) || !strings.Contains(err.Error(), "1 of 2 replicas") {
			t.Errorf("%s with WaitReplicas 2 on masters with one replica = %v; want ErrNotReplicated, 1 of 2 replicas", op, err)
			return
		}
		if !strings.HasPrefix(err.Error(), "session store redis: "+strings.ToLower(op)+": ") || strings.Contains(err.Error(), k) {
			t.Errorf("%s: error %q: want the store's prefix and operation, and not the key", op, err)
		}
		b, lerr := s.Load(ctx, k)
		switch {
		case want == "" && !errors.Is(lerr, server.ErrNotFound):
			t.Errorf("after the %s, Load = %q, %v; want server.ErrNotFound", op, b, lerr)
		case want != "" && (lerr != nil || string(b) != want):
			t.Errorf("after the %s, Load = %q, %v; want %q", op, b, lerr, want)
		}
	}
	check("Create", s.Create(ctx, k, []byte("v1"), exp), "v1")
	check("Update", s.Update(ctx, k, []byte("v2"), exp), "v2")
	check("Delete", s.Delete(ctx, k), "")
	// A write that does not happen is answered as without WAIT.
	if err := s.Update(ctx, k, []byte("v3"), exp); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Update of a deleted key = %v, want server.ErrNotFound", err)
	}
	if err := s.Create(ctx, keyOf(2), []byte("v"), exp); !errors.Is(err, ErrNotReplicated) {
		t.Fatal(err)
	}
	if err := s.Create(ctx, keyOf(2), []byte("v"), exp); !errors.Is(err, server.ErrExists) {
		t.Errorf("Create of an existing key = %v, want server.ErrExists", err)
	}

	// The index's writes wait as the store's do.
	user := keyOf(3)
	entries := func() int {
		t.Helper()
		es, err := s.Entries(ctx, user)
		if err != nil {
			t.Fatalf("Entries: %v", err)
		}
		return len(es)
	}
	for _, st := range []struct {
		op      string
		call    func() error
		entries int
	}{
		{"bind", func() error { return s.Bind(ctx, user, k, []byte("e1"), exp) }, 1},
		{"touch", func() error { return s.Touch(ctx, user, k, []byte("e2"), exp) }, 1},
		{"unbind", func() error { return s.Unbind(ctx, user, k) }, 0},
	} {
		err := st.call()
		if !errors.Is(err, ErrNotReplicated) || !strings.Contains(err.Error(), "1 of 2 replicas") || !strings.HasPrefix(err.Error(), "session store redis: "+st.op+": ") {
			t.Errorf("%s with WaitReplicas 2 = %v; want ErrNotReplicated, 1 of 2 replicas", st.op, err)
		}
		if n := entries(); n != st.entries {
			t.Errorf("after the %s, %d entries; want %d", st.op, n, st.entries)
		}
	}
	// A Touch that writes nothing has nothing to wait for.
	if err := s.Touch(ctx, user, k, []byte("e3"), exp); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Touch of an unbound entry = %v, want server.ErrNotFound", err)
	}
}

// TestClusterWaitScriptFlushed checks that the index's scripts, sent as
// EVALSHA with their WAIT on the key's master, are sent again with EVAL
// when the master does not have them (after a restart, a failover or
// SCRIPT FLUSH).
func TestClusterWaitScriptFlushed(t *testing.T) {
	s := openClusterStore(t, Config{WaitReplicas: 1})
	ctx := testCtx(t)
	user, id := keyOf(1), keyOf(2)
	exp := time.Now().Add(time.Hour)
	master, err := s.cluster.MasterForKey(ctx, s.userKey(user))
	if err != nil {
		t.Fatal(err)
	}
	if err := master.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(ctx, user, id, []byte("e1"), exp); err != nil {
		t.Fatalf("Bind after SCRIPT FLUSH: %v", err)
	}
	if err := master.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, user, id, []byte("e2"), exp); err != nil {
		t.Fatalf("Touch after SCRIPT FLUSH: %v", err)
	}
	es, err := s.Entries(ctx, user)
	if err != nil || len(es) != 1 || string(es[0].Blob) != "e2" {
		t.Fatalf("Entries = %v, %v; want the one entry, e2", es, err)
	}
	if err := s.Unbind(ctx, user, id); err != nil {
		t.Fatal(err)
	}
}

// TestClusterWaitLaggingReplica stops the replica of a key's master for a
// moment (SIGSTOP, well under cluster-node-timeout, then SIGCONT): a write
// with WaitReplicas 1 in that moment fails with ErrNotReplicated, 0 of 1.
// This also shows that the WAIT runs on the write's own connection to the
// key's master: sent anywhere else, it would find the replicas up to date
// with that connection's writes, if any, and return at once.
func TestClusterWaitLaggingReplica(t *testing.T) {
	s := openClusterStore(t, Config{WaitReplicas: 1, WaitTimeout: 100 * time.Millisecond})
	rundir := os.Getenv("REDIS_CLUSTER_RUNDIR")
	if rundir == "" {
		t.Skip("the Redis cluster is not ours (no REDIS_CLUSTER_RUNDIR): run `make test`, which starts one")
	}
	ctx := testCtx(t)
	k := keyOf(1)
	exp := time.Now().Add(time.Hour)
	if err := s.Create(ctx, k, []byte("v1"), exp); err != nil {
		t.Fatalf("Create with the replica up: %v", err)
	}
	_, _, replicas := clusterMaster(t, s, k)
	if len(replicas) != 1 {
		t.Fatalf("the key's master has replicas %v, want one", replicas)
	}
	_, port, _ := net.SplitHostPort(replicas[0])
	pid := nodePID(t, rundir, port)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	resume := func() {
		if stopped {
			stopped = false
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT to the replica (pid %d): %v", pid, err)
			}
		}
	}
	defer resume()
	err := s.Update(ctx, k, []byte("v2"), exp)
	resume()
	if !errors.Is(err, ErrNotReplicated) || !strings.Contains(err.Error(), "0 of 1 replicas") {
		t.Fatalf("Update while the replica is stopped = %v; want ErrNotReplicated, 0 of 1 replicas", err)
	}
	// The replica catches up; the next write is acknowledged.
	if err := s.Update(ctx, k, []byte("v3"), exp); err != nil {
		t.Errorf("Update once the replica runs again: %v", err)
	}
}

// nodePID returns the PID of the cluster node on port, started by
// scripts/redis-cluster.sh in rundir, after checking that it is that node.
func nodePID(t *testing.T, rundir, port string) int {
	t.Helper()
	dir := filepath.Join(rundir, "node-"+port)
	b, err := os.ReadFile(filepath.Join(dir, "redis.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s/redis.pid: %v", dir, err)
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil || cwd != dir {
		t.Fatalf("pid %d works in %q (%v), not in %s: not the node", pid, cwd, err, dir)
	}
	return pid
}

// TestClusterWaitOneRoundTrip checks what WaitReplicas costs on the wire:
// the write and its WAIT go in one round trip to the key's master, as the
// write alone does without it, for the sessions and for the user index's
// Bind, Touch and Unbind.
func TestClusterWaitOneRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1} {
		opts := clusterOptions(t)
		writes := new(atomic.Int64)
		dialer := &net.Dialer{Timeout: 5 * time.Second}
		opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: c, writes: writes}, nil
		}
		opts.PoolSize = 1
		client := goredis.NewClusterClient(opts)
		t.Cleanup(func() { client.Close() })
		s, err := New(client, Config{Prefix: uniquePrefix(t), WaitReplicas: n})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dropPrefix(t, client, s.Prefix()) })
		ctx := testCtx(t)
		// Open a connection to every node (the handshake is a round
		// trip of its own) and load the slots; the first command the
		// cluster client routes also loads COMMAND's table.
		if err := client.ForEachShard(ctx, func(ctx context.Context, c *goredis.Client) error { return c.Ping(ctx).Err() }); err != nil {
			t.Fatal(err)
		}
		k := keyOf(1)
		if _, err := s.Load(ctx, k); !errors.Is(err, server.ErrNotFound) {
			t.Fatal(err)
		}
		exp := time.Now().Add(time.Hour)
		// The index's scripts are loaded on the user's node first (a
		// script's first run there is a round trip more).
		user, id, warm := keyOf(2), "000000000000000000000001", "000000000000000000000002"
		if err := s.Bind(ctx, user, warm, []byte("e"), exp); err != nil {
			t.Fatal(err)
		}
		if err := s.Touch(ctx, user, warm, []byte("e"), exp); err != nil {
			t.Fatal(err)
		}
		if err := s.Unbind(ctx, user, warm); err != nil {
			t.Fatal(err)
		}
		for _, st := range []struct {
			name string
			op   func() error
		}{
			{"Create", func() error { return s.Create(ctx, k, []byte("v1"), exp) }},
			{"Update", func() error { return s.Update(ctx, k, []byte("v2"), exp) }},
			{"Load", func() error { _, err := s.Load(ctx, k); return err }},
			{"Delete", func() error { return s.Delete(ctx, k) }},
			{"Bind", func() error { return s.Bind(ctx, user, id, []byte("e1"), exp) }},
			{"Touch", func() error { return s.Touch(ctx, user, id, []byte("e2"), exp) }},
			{"Unbind", func() error { return s.Unbind(ctx, user, id) }},
		} {
			w0 := writes.Load()
			if err := st.op(); err != nil {
				t.Fatalf("WaitReplicas %d: %s: %v", n, st.name, err)
			}
			w := writes.Load() - w0
			t.Logf("WaitReplicas %d: %-6s round trips %d", n, st.name, w)
			if w != 1 {
				t.Errorf("WaitReplicas %d: %s took %d round trips, want 1", n, st.name, w)
			}
		}
	}
}

// migrateSlot moves slot from the master at from to the master at to, as
// redis-cli --cluster reshard does: IMPORTING and MIGRATING, then the keys
// with MIGRATE, then the new owner to every master. between, if not nil,
// runs while the slot is migrating, before the keys move.
func migrateSlot(t *testing.T, s *Store, password string, slot int64, from, to string, between func()) {
	t.Helper()
	ctx := testCtx(t)
	src, dst := s.clusterNode(ctx, from), s.clusterNode(ctx, to)
	if src == nil || dst == nil {
		t.Fatalf("the cluster client does not know %s or %s", from, to)
	}
	srcID, err := src.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	dstID, err := dst.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("migrating slot %d from %s to %s: %v", slot, from, to, err)
		}
	}
	must(dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
	must(src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
	if between != nil {
		between()
	}
	host, port, err := net.SplitHostPort(to)
	must(err)
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
		must(err)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "AUTH", password, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(src.Do(ctx, args...).Err())
	}
	must(s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		return c.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err()
	}))
}

// TestClusterWaitRedirects moves a key's slot to another master under a
// store with WaitReplicas, whose writes go to the master's own client and
// so follow redirections themselves: during the migration, the key's old
// master answers ASK for a key it does not have; after it, with the
// store's view of the slots out of date, MOVED. The slot is moved back at
// the end.
func TestClusterWaitRedirects(t *testing.T) {
	s := openClusterStore(t, Config{WaitReplicas: 1})
	ctx := testCtx(t)
	password := clusterOptions(t).Password
	k := keyOf(1)
	exp := time.Now().Add(time.Hour)
	slot, from, _ := clusterMaster(t, s, k)
	var (
		mu sync.Mutex
		to string
	)
	if err := s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		if a := c.Options().Addr; a != from {
			to = a
		}
		return nil
	}); err != nil || to == "" {
		t.Fatalf("no other master than %s: %v", from, err)
	}
	if _, err := s.Load(ctx, k); !errors.Is(err, server.ErrNotFound) {
		t.Fatal(err)
	}
	defer migrateSlot(t, s, password, slot, to, from, nil)
	migrateSlot(t, s, password, slot, from, to, func() {
		// The key is on neither: the old master sends the Create on.
		if err := s.Create(ctx, k, []byte("v1"), exp); err != nil {
			t.Errorf("Create during the slot's migration: %v", err)
		}
	})
	// The store still sends the slot to the old master, which answers
	// MOVED.
	if err := s.Update(ctx, k, []byte("v2"), exp); err != nil {
		t.Errorf("Update after the slot's migration: %v", err)
	}
	if b, err := s.Load(ctx, k); err != nil || string(b) != "v2" {
		t.Errorf("Load after the slot's migration = %q, %v; want v2", b, err)
	}
}
