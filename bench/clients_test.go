package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The server benchmarks (MySQL, Redis) need real servers. They are named by
// these variables; scripts/mariadb.sh and scripts/redis.sh start private
// ones and set them. Without a server the benchmarks and tests that need it
// skip, unless the matching SESSION_TEST_REQUIRE_* variable is 1.
const (
	envMySQLDSN     = "SESSION_TEST_MYSQL_DSN"
	envRequireMySQL = "SESSION_TEST_REQUIRE_MYSQL"
	envRedisURL     = "SESSION_TEST_REDIS_URL"
	envRequireRedis = "SESSION_TEST_REQUIRE_REDIS"
	// The same servers over their Unix sockets, for BenchmarkCached.
	envMySQLSocketDSN = "SESSION_TEST_MYSQL_SOCKET_DSN"
	envRedisSocketURL = "SESSION_TEST_REDIS_SOCKET_URL"
)

// transport is how a benchmark reaches the servers: over TCP on the
// loopback interface, or over the servers' Unix sockets.
type transport struct {
	name string
	// mysqlEnv and redisEnv name the variables that hold the DSN and the
	// URL for this transport.
	mysqlEnv, redisEnv string
}

var (
	overTCP  = transport{name: "tcp", mysqlEnv: envMySQLDSN, redisEnv: envRedisURL}
	overUnix = transport{name: "unix", mysqlEnv: envMySQLSocketDSN, redisEnv: envRedisSocketURL}
)

// mysqlDSN returns the DSN of the MariaDB server over tr (see serverEnv
// and socketEnv).
func (tr transport) mysqlDSN(tb testing.TB) string {
	if tr == overTCP {
		return serverEnv(tb, envMySQLDSN, envRequireMySQL, "MariaDB")
	}
	return socketEnv(tb, tr.mysqlEnv, envMySQLDSN, envRequireMySQL, "MariaDB")
}

// redisURL returns the URL of the Redis server over tr.
func (tr transport) redisURL(tb testing.TB) string {
	if tr == overTCP {
		return serverEnv(tb, envRedisURL, envRequireRedis, "Redis")
	}
	return socketEnv(tb, tr.redisEnv, envRedisURL, envRequireRedis, "Redis")
}

// socketEnv returns the value of env, which names a server's Unix socket.
// Without the server (tcpEnv empty) it is serverEnv. A server given by the
// caller's own tcpEnv may have no socket set: then tb skips, saying so, as
// the socket is an extra way to reach a server that the TCP benchmarks
// already measure.
func socketEnv(tb testing.TB, env, tcpEnv, require, what string) string {
	tb.Helper()
	serverEnv(tb, tcpEnv, require, what)
	v := os.Getenv(env)
	if v == "" {
		tb.Skipf("no Unix socket of the %s server: set %s (scripts/%s run ... sets it)", what, env, map[string]string{"MariaDB": "mariadb.sh", "Redis": "redis.sh"}[what])
	}
	return v
}

// serverEnv returns the value of env, or skips tb (fails it when require is
// "1") if it is empty.
func serverEnv(tb testing.TB, env, require, what string) string {
	tb.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv(require) == "1" {
			tb.Fatalf("%s required (%s=1) but %s is not set", what, require, env)
		}
		tb.Skipf("no %s server: set %s (scripts/%s run ... starts one and sets it)", what, env, map[string]string{"MariaDB": "mariadb.sh", "Redis": "redis.sh"}[what])
	}
	return v
}

// clientCounts are the numbers of concurrent clients every server operation
// is measured with.
var clientCounts = []int{1, 32}

// op is one operation of a server benchmark, run by client number client
// (0 ≤ client < the number of clients).
type op func(ctx context.Context, client int) error

// runClients runs b.N calls of fn spread over clients goroutines, each
// taking the next call as soon as its previous one returns (a closed loop),
// and reports, besides ns/op (wall time divided by b.N, the inverse of the
// throughput):
//
//	ops/s    b.N divided by the wall time
//	p50-µs   median latency of one call
//	p99-µs   99th percentile latency (nearest rank)
//
// The calls get a context that can end, as an HTTP request's does (a
// store may do more for one). Before the timer starts, every client makes
// one call, so that the pools hold their connections. If counters is not nil, they are read before and
// after the timed calls, and each difference, less what reading the
// counters costs, is reported per call under the counter's unit.
func runClients(b *testing.B, clients int, counters *serverCounters, fn op) {
	b.Helper()
	// A context that can end, as an HTTP request's.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := warmUp(ctx, clients, fn); err != nil {
		b.Fatal(err)
	}
	var readCost, c0 []int64
	if counters != nil {
		a := counters.read()
		readCost = sub(counters.read(), a)
		c0 = counters.read()
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(lat) || failed.Load() != nil {
					return
				}
				t0 := time.Now()
				if err := fn(ctx, c); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	if counters != nil {
		d := sub(sub(counters.read(), c0), readCost)
		for i, unit := range counters.units {
			b.ReportMetric(float64(d[i])/float64(b.N), unit)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(micros(percentile(lat, 0.50)), "p50-µs")
	b.ReportMetric(micros(percentile(lat, 0.99)), "p99-µs")
}

// serverCounters are counters of a server, read before and after the
// timed calls of runClients.
type serverCounters struct {
	// units names each counter's metric, "queries/op" say.
	units []string
	// read returns the counters, in the order of units.
	read func() []int64
}

// sub returns a - b, element by element.
func sub(a, b []int64) []int64 {
	d := make([]int64, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return d
}

// warmUp makes one call of fn on each client, all at once.
func warmUp(ctx context.Context, clients int, fn op) error {
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() { errs[c] = fn(ctx, c) })
	}
	wg.Wait()
	for c, err := range errs {
		if err != nil {
			return fmt.Errorf("warm-up call of client %d: %w", c, err)
		}
	}
	return nil
}

// percentile returns the p-quantile (0 < p ≤ 1) of sorted by the nearest
// rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// TestPercentile checks the nearest-rank percentiles runClients reports.
func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 200; i++ {
		lat = append(lat, time.Duration(i)*time.Microsecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.50, 100 * time.Microsecond}, {0.99, 198 * time.Microsecond}, {1, 200 * time.Microsecond}, {0.001, time.Microsecond}} {
		if got := percentile(lat, c.p); got != c.want {
			t.Errorf("percentile(1..200 µs, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("percentile of one sample = %v, want 7ns", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of none = %v, want 0", got)
	}
}
