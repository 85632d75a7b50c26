package redis

import (
	"context"
	"errors"
	"net"
	"strings"
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
// that refuses connections, with Open's defaults and with go-redis' own;
// it logs both (timings are not asserted) and checks the error.
func TestOutageFailsFast(t *testing.T) {
	addr := closedPort(t)
	for _, tc := range []struct {
		name string
		opts *goredis.Options
	}{
		{"Open's defaults", &goredis.Options{Addr: addr, DialTimeout: DefaultDialTimeout, ReadTimeout: DefaultReadTimeout, MaxRetries: DefaultMaxRetries, DialerRetries: DefaultDialAttempts}},
		{"go-redis defaults", &goredis.Options{Addr: addr}},
	} {
		s, err := New(goredis.NewClient(tc.opts), Config{})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = s.Load(context.Background(), strings.Repeat("a", 64))
		t.Logf("%s: a Load against a closed port failed in %v", tc.name, time.Since(start).Round(time.Millisecond))
		var ne *net.OpError
		if err == nil || !errors.As(err, &ne) {
			t.Errorf("%s: err = %v, want a network error", tc.name, err)
		}
		s.Client().Close()
	}
}
