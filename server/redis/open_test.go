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
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
)

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestOpenChecksTheServer checks that Open fails, naming the address and
// not the password, when nothing answers; and sets the defaults that make
// an outage fail fast.
func TestOpenChecksTheServer(t *testing.T) {
	addr := closedPort(t)
	start := time.Now()
	_, err := Open("redis://:s3cret@"+addr+"/0", Config{})
	if !errors.Is(err, server.ErrUnavailable) || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open of a closed port = %v; want server.ErrUnavailable naming %s and not the password", err, addr)
	}
	// A cache may be down at start: SkipPing opens it all the same.
	lazy, err := Open("redis://"+addr+"/0", Config{SkipPing: true})
	if err != nil {
		t.Fatalf("Open with SkipPing of a closed port: %v", err)
	}
	lazy.Close()
	t.Logf("Open of a closed port failed in %v", time.Since(start).Round(time.Millisecond))

	s, err := Open(testenv.RedisURL(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := s.Client().(*goredis.Client).Options()
	if o.DialerRetries != DefaultDialAttempts || o.MaxRetries != DefaultMaxRetries || o.DialTimeout != DefaultDialTimeout || o.ReadTimeout != DefaultReadTimeout {
		t.Errorf("Open's options: dialer retries %d, retries %d, dial timeout %v, read timeout %v", o.DialerRetries, o.MaxRetries, o.DialTimeout, o.ReadTimeout)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// TestOutageFailsFast measures what one operation costs against a Redis
// that refuses connections, with Open's defaults and with go-redis' own:
// it logs both times (timings are not asserted), checks the error, and
// counts the connection attempts, which are what the time goes to.
func TestOutageFailsFast(t *testing.T) {
	addr := closedPort(t)
	attempts := map[string]int32{}
	for _, tc := range []struct {
		name string
		opts *goredis.Options
	}{
		{"Open's defaults", &goredis.Options{Addr: addr, DialTimeout: DefaultDialTimeout, ReadTimeout: DefaultReadTimeout, MaxRetries: DefaultMaxRetries, DialerRetries: DefaultDialAttempts}},
		{"go-redis defaults", &goredis.Options{Addr: addr}},
	} {
		var dials atomic.Int32
		var d net.Dialer
		tc.opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		}
		s, err := New(goredis.NewClient(tc.opts), Config{})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = s.Load(context.Background(), strings.Repeat("a", 64))
		t.Logf("%s: a Load against a closed port failed in %v after %d connection attempts", tc.name, time.Since(start).Round(time.Millisecond), dials.Load())
		var ne *net.OpError
		if err == nil || !errors.As(err, &ne) {
			t.Errorf("%s: err = %v, want a network error", tc.name, err)
		}
		attempts[tc.name] = dials.Load()
		s.Client().Close()
	}
	// What makes the difference: each attempt against a closed port fails
	// at once, and go-redis pauses 100 ms between its dial attempts.
	if open, def := attempts["Open's defaults"], attempts["go-redis defaults"]; open < 1 || open > (1+DefaultMaxRetries)*DefaultDialAttempts || def <= open {
		t.Errorf("connection attempts of a failed Load: %d with Open's defaults (want at most %d), %d with go-redis'", open, (1+DefaultMaxRetries)*DefaultDialAttempts, def)
	}
}

// TestOpenCluster checks OpenCluster's URL errors (which never show the
// password), its check of the servers, SkipPing, and the defaults it sets.
func TestOpenCluster(t *testing.T) {
	for _, url := range []string{"", "http://u:hunter2@host:7000", "redis://:hunter2@host:7000?no_such_option=1", "redis://:hunter2@host:7000?addr=nohostport", "redis://:hunter2@host:7000?dial_timeout=soon"} {
		_, err := OpenCluster(url, Config{})
		if err == nil {
			t.Errorf("OpenCluster(%q) succeeded", url)
			continue
		}
		if !strings.HasPrefix(err.Error(), "session store redis: open cluster: ") {
			t.Errorf("OpenCluster(%q) = %q, want the store's prefix", url, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("OpenCluster(%q) = %q reveals the password", url, err)
		}
	}
	a, b := closedPort(t), closedPort(t)
	_, err := OpenCluster("redis://:s3cret@"+a+"?addr="+b, Config{})
	if !errors.Is(err, server.ErrUnavailable) || !strings.Contains(err.Error(), a+","+b) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("OpenCluster of closed ports = %v; want server.ErrUnavailable naming %s,%s and not the password", err, a, b)
	}
	lazy, err := OpenCluster("redis://"+a, Config{SkipPing: true})
	if err != nil {
		t.Fatalf("OpenCluster with SkipPing of a closed port: %v", err)
	}
	lazy.Close()

	s, err := OpenCluster(testenv.RedisClusterURL(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cc, ok := s.Client().(*goredis.ClusterClient)
	if !ok {
		t.Fatalf("OpenCluster's client is a %T, want a *goredis.ClusterClient", s.Client())
	}
	o := cc.Options()
	if !o.ContextTimeoutEnabled || o.DialerRetries != DefaultDialAttempts || o.DialTimeout != DefaultDialTimeout || o.ReadTimeout != DefaultReadTimeout {
		t.Errorf("OpenCluster's options: context timeouts %v, dialer retries %d, dial timeout %v, read timeout %v", o.ContextTimeoutEnabled, o.DialerRetries, o.DialTimeout, o.ReadTimeout)
	}
	var masters atomic.Int32
	if err := cc.ForEachMaster(context.Background(), func(context.Context, *goredis.Client) error { masters.Add(1); return nil }); err != nil || masters.Load() < 2 {
		t.Errorf("the test cluster has %d masters (%v); want several", masters.Load(), err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
