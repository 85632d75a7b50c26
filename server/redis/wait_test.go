package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/server"
)

// TestWaitConfig checks what New accepts with WaitReplicas; no server is
// needed.
func TestWaitConfig(t *testing.T) {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", ReadTimeout: time.Second})
	defer client.Close()
	cluster := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ReadTimeout: time.Second})
	defer cluster.Close()
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	ap, err := client.AutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	noTimeout := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", ReadTimeout: -1})
	defer noTimeout.Close()
	for _, tc := range []struct {
		name   string
		client goredis.UniversalClient
		cfg    Config
		ok     bool
	}{
		{"client", client, Config{WaitReplicas: 1}, true},
		{"cluster", cluster, Config{WaitReplicas: 2, WaitTimeout: 900 * time.Millisecond}, true},
		{"no read timeout", noTimeout, Config{WaitReplicas: 1, WaitTimeout: time.Minute}, true},
		{"ring", ring, Config{WaitReplicas: 1}, false},
		{"ring without WAIT", ring, Config{}, true},
		{"AutoPipeliner", ap, Config{WaitReplicas: 1}, false},
		{"negative replicas", client, Config{WaitReplicas: -1}, false},
		{"negative timeout", client, Config{WaitReplicas: 1, WaitTimeout: -time.Second}, false},
		{"timeout under a millisecond", client, Config{WaitReplicas: 1, WaitTimeout: time.Microsecond}, false},
		{"timeout at the read timeout", client, Config{WaitReplicas: 1, WaitTimeout: time.Second}, false},
		{"timeout over the cluster's read timeout", cluster, Config{WaitReplicas: 1, WaitTimeout: 2 * time.Second}, false},
	} {
		s, err := New(tc.client, tc.cfg)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: New: %v", tc.name, err)
		case !tc.ok && !errors.Is(err, ErrMisconfigured):
			t.Errorf("%s: New = %v, want ErrMisconfigured", tc.name, err)
		case tc.ok && tc.cfg.WaitReplicas > 0 && tc.cfg.WaitTimeout == 0 && s.waitTimeout != DefaultWaitTimeout:
			t.Errorf("%s: WaitTimeout %v, want DefaultWaitTimeout", tc.name, s.waitTimeout)
		}
	}
}

// TestWaitNoReplica runs writes with WaitReplicas on the test server, which
// has no replica: each is applied and reported with ErrNotReplicated, 0 of
// 1, in one round trip, the write and its WAIT together.
func TestWaitNoReplica(t *testing.T) {
	opts := testOptions(t)
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
	client := newClient(t, opts)
	s, err := New(client, Config{Prefix: uniquePrefix(t), WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropPrefix(t, client, s.Prefix()) })
	ctx := testCtx(t)
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	k := keyOf(1)
	exp := time.Now().Add(time.Hour)
	for _, st := range []struct {
		op   string
		call func() error
		want string // what Load finds after it; "" for nothing
	}{
		{"create", func() error { return s.Create(ctx, k, []byte("v1"), exp) }, "v1"},
		{"update", func() error { return s.Update(ctx, k, []byte("v2"), exp) }, "v2"},
		{"delete", func() error { return s.Delete(ctx, k) }, ""},
	} {
		w0 := writes.Load()
		start := time.Now()
		err := st.call()
		took, w := time.Since(start), writes.Load()-w0
		if !errors.Is(err, ErrNotReplicated) || !strings.HasPrefix(err.Error(), "session store redis: "+st.op+": ") || !strings.Contains(err.Error(), "0 of 1 replicas") {
			t.Errorf("%s on a server without replicas = %v; want ErrNotReplicated, 0 of 1 replicas", st.op, err)
		}
		if w != 1 {
			t.Errorf("%s: %d round trips, want 1", st.op, w)
		}
		if took < 20*time.Millisecond {
			t.Errorf("%s returned after %v, before WaitTimeout", st.op, took)
		}
		b, err := s.Load(ctx, k)
		if st.want == "" && !errors.Is(err, server.ErrNotFound) || st.want != "" && string(b) != st.want {
			t.Errorf("after the %s: Load = %q, %v; want %q", st.op, b, err, st.want)
		}
	}
	// The index's writes too.
	user := keyOf(2)
	for op, err := range map[string]error{
		"bind":   s.Bind(ctx, user, k, []byte("e"), exp),
		"unbind": s.Unbind(ctx, user, k),
	} {
		if !errors.Is(err, ErrNotReplicated) || !strings.Contains(err.Error(), "0 of 1 replicas") {
			t.Errorf("%s on a server without replicas = %v; want ErrNotReplicated, 0 of 1 replicas", op, err)
		}
	}
}
