package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/alexedwards/scs/goredisstore"
	gomysql "github.com/go-sql-driver/mysql"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/server/cached"
	"github.com/sessionkit/session/server/redis"
)

// The Redis benchmarks compare server/redis with scs' goredisstore on the
// same Redis server (SESSION_TEST_REDIS_URL), through the very same
// go-redis client: the one redis.Open makes (goredis.ParseURL of the URL,
// ContextTimeoutEnabled, go-redis' default pool: 10 connections per
// GOMAXPROCS). Each store has a key prefix of its own for this run.
// sessionkit-autopipeline is server/redis on that client's AutoPipeliner,
// which sends concurrent commands together in pipelines.
//
//	Load    server/redis Load (GET) / goredisstore FindCtx (GET) of an
//	        existing session
//	Update  server/redis Update (SET XX PXAT) / goredisstore CommitCtx
//	        (SET PX) of an existing session, with a new expiry each time
//	Create  server/redis Create (SET NX PXAT) / goredisstore CommitCtx
//	        (SET PX) of a new session
//
// BenchmarkCached compares Load on server/cached (server/redis in front of
// server/mysql, the session in the cache; the cache on the plain client or
// on its AutoPipeliner) with Load on the same server/mysql alone, over TCP
// and over Unix sockets.
//
// round-trips/op counts the commands and pipelines the client sends, with
// a go-redis hook: a pipeline is one round trip.

// redisBench is what the Redis benchmarks and tests share.
type redisBench struct {
	client *goredis.Client
	ours   *redis.Store
	scs    *goredisstore.RedisStore
	mb     *mysqlBench // for the cached store's backing store; nil unless needed
	run    string
	sent   commandCounter
	// ap is server/redis on rb.client's AutoPipeliner, under a prefix of
	// its own.
	ap *redis.Store
}

// newRedisBench connects to the test Redis server over TCP. With backing,
// it also opens the MySQL stores (newMySQLBench).
func newRedisBench(tb testing.TB, backing bool) *redisBench {
	return newRedisBenchOver(tb, backing, overTCP)
}

// newRedisBenchOver is newRedisBench over tr, for both servers.
func newRedisBenchOver(tb testing.TB, backing bool, tr transport) *redisBench {
	tb.Helper()
	url := tr.redisURL(tb)
	rb := &redisBench{run: randomHex(tb, 8)}
	if backing {
		rb.mb = newMySQLBenchOver(tb, tr)
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	rb.client = goredis.NewClient(opts)
	rb.client.AddHook(&rb.sent)
	tb.Cleanup(func() { rb.client.Close() })
	if rb.ours, err = redis.New(rb.client, redis.Config{Prefix: "sessionkit:bench:" + rb.run + ":"}); err != nil {
		tb.Fatal(err)
	}
	ap, err := rb.client.AutoPipeline()
	if err != nil {
		tb.Fatal(err)
	}
	if rb.ap, err = redis.New(ap, redis.Config{Prefix: "sessionkit:bench:" + rb.run + ":ap:"}); err != nil {
		tb.Fatal(err)
	}
	rb.scs = goredisstore.NewWithPrefix(rb.client, "scs:bench:"+rb.run+":")
	tb.Cleanup(func() { rb.removeKeys(tb) })
	return rb
}

// removeKeys deletes every key this run wrote.
func (rb *redisBench) removeKeys(tb testing.TB) {
	ctx := context.Background()
	for _, pattern := range []string{"sessionkit:bench:" + rb.run + ":*", "sessionkit:cache:" + rb.run + ":*", "scs:bench:" + rb.run + ":*"} {
		iter := rb.client.Scan(ctx, 0, pattern, 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Error(err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			if err := rb.client.Del(ctx, keys[:n]...).Err(); err != nil {
				tb.Error(err)
				return
			}
			keys = keys[n:]
		}
	}
}

// commandCounter is a go-redis hook that counts the round trips the client
// makes: each command, and each pipeline, is one.
type commandCounter struct{ n atomic.Int64 }

func (h *commandCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *commandCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *commandCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// roundTrips returns the client's round trips as a counter.
func (rb *redisBench) roundTrips() *serverCounters {
	return &serverCounters{
		units: []string{"round-trips/op"},
		read:  func() []int64 { return []int64{rb.sent.n.Load()} },
	}
}

// redisImpls returns the store operations of each implementation, each
// client on its own existing session. Keys and blobs are those of the
// MySQL benchmarks.
func (rb *redisBench) redisImpls(tb testing.TB, mb *mysqlBench) []storeImpl {
	ctx := context.Background()
	for c := range 32 {
		for _, st := range []*redis.Store{rb.ours, rb.ap} {
			if err := st.Create(ctx, mb.ourKey("client", c), mb.ourBlob, mb.expiry); err != nil {
				tb.Fatal(err)
			}
		}
		if err := rb.scs.CommitCtx(ctx, mb.scsToken("client", c), mb.scsBlob, mb.expiry); err != nil {
			tb.Fatal(err)
		}
	}
	var created atomic.Int64 // new scs sessions
	ap := mb.sessionkitImpl(rb.ap)
	ap.name = "sessionkit-autopipeline"
	return []storeImpl{mb.sessionkitImpl(rb.ours), ap, {
		name: "scs-goredisstore",
		load: func(ctx context.Context, c int) error {
			_, found, err := rb.scs.FindCtx(ctx, mb.scsToken("client", c))
			if err == nil && !found {
				err = errors.New("goredisstore: session not found")
			}
			return err
		},
		update: func(ctx context.Context, c int) error {
			return rb.scs.CommitCtx(ctx, mb.scsToken("client", c), mb.scsBlob, mb.nextExpiry())
		},
		create: func(ctx context.Context, c int) error {
			return rb.scs.CommitCtx(ctx, mb.scsToken("new", int(created.Add(1))), mb.scsBlob, mb.expiry)
		},
	}}
}

// keysOnly is a mysqlBench with no server behind it: its keys, blobs and
// expiry, for the Redis benchmarks that need no MySQL.
func keysOnly(tb testing.TB) *mysqlBench {
	tb.Helper()
	mb := &mysqlBench{run: randomHex(tb, 8)}
	mb.fillBlobs(tb)
	return mb
}

// BenchmarkRedis is named BenchmarkRedis/<operation>/clients-<n>/<implementation>.
func BenchmarkRedis(b *testing.B) {
	rb := newRedisBench(b, false)
	runStoreOps(b, rb.redisImpls(b, keysOnly(b)), rb.roundTrips())
}

// newCached returns server/cached with server/redis in front of rb.mb's
// server/mysql, and stores each client's session in it, under the key tag
// it returns. The cache uses rb's client, or with autoPipeline its
// AutoPipeliner, and a prefix of its own.
func (rb *redisBench) newCached(tb testing.TB, autoPipeline bool) (*cached.Store, string) {
	tb.Helper()
	var client goredis.UniversalClient = rb.client
	tag := "cached"
	if autoPipeline {
		ap, err := rb.client.AutoPipeline()
		if err != nil {
			tb.Fatal(err)
		}
		client, tag = ap, "cached-ap"
	}
	cache, err := redis.New(client, redis.Config{Prefix: "sessionkit:cache:" + rb.run + ":" + tag + ":"})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := cached.New(cache, rb.mb.ours)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	for c := range 32 {
		if err := st.Create(ctx, rb.mb.ourKey(tag, c), rb.mb.ourBlob, rb.mb.expiry); err != nil {
			tb.Fatal(err)
		}
	}
	return st, tag
}

// BenchmarkCached is named BenchmarkCached/<transport>/Load/clients-<n>/<store>:
// Load of a session on server/mysql alone, and on server/cached with
// server/redis in front of that server/mysql, the cache on a plain client
// or on its AutoPipeliner, with both servers reached over TCP on the
// loopback interface (tcp) or over their Unix sockets (unix).
func BenchmarkCached(b *testing.B) {
	for _, tr := range []transport{overTCP, overUnix} {
		b.Run(tr.name, func(b *testing.B) {
			rb := newRedisBenchOver(b, true, tr)
			st, tag := rb.newCached(b, false)
			stAP, tagAP := rb.newCached(b, true)
			stores := []struct {
				name string
				load op
			}{{
				name: "mysql",
				load: func(ctx context.Context, c int) error {
					_, err := rb.mb.ours.Load(ctx, rb.mb.ourKey(tag, c))
					return err
				},
			}, {
				name: "cached-redis+mysql",
				load: func(ctx context.Context, c int) error {
					_, err := st.Load(ctx, rb.mb.ourKey(tag, c))
					return err
				},
			}, {
				name: "cached-redis-autopipeline+mysql",
				load: func(ctx context.Context, c int) error {
					_, err := stAP.Load(ctx, rb.mb.ourKey(tagAP, c))
					return err
				},
			}}
			b.Run("Load", func(b *testing.B) {
				for _, clients := range clientCounts {
					b.Run(fmt.Sprintf("clients-%d", clients), func(b *testing.B) {
						for _, s := range stores {
							b.Run(s.name, func(b *testing.B) { runClients(b, clients, nil, s.load) })
						}
					})
				}
			})
		})
	}
}

// TestRedisBench checks what the Redis benchmarks measure: every store
// operation of each implementation succeeds in one round trip.
func TestRedisBench(t *testing.T) {
	rb := newRedisBench(t, false)
	cmds := rb.roundTrips()
	ctx := context.Background()
	for _, im := range rb.redisImpls(t, keysOnly(t)) {
		for _, o := range []struct {
			name string
			fn   op
		}{{"Load", im.load}, {"Update", im.update}, {"Create", im.create}} {
			a := cmds.read()
			readCost := sub(cmds.read(), a)
			c0 := cmds.read()
			const n = 20
			for range n {
				if err := o.fn(ctx, 3); err != nil {
					t.Fatalf("%s %s: %v", im.name, o.name, err)
				}
			}
			if got := float64(sub(sub(cmds.read(), c0), readCost)[0]) / n; got != 1 {
				t.Errorf("%s %s: %v round trips per call, want 1", im.name, o.name, got)
			}
		}
	}
}

// TestCachedBench checks that BenchmarkCached's server/cached Loads are
// cache hits and return the stored blob, over each transport.
func TestCachedBench(t *testing.T) {
	for _, tr := range []transport{overTCP, overUnix} {
		t.Run(tr.name, func(t *testing.T) {
			rb := newRedisBenchOver(t, true, tr)
			if want := map[transport]string{overTCP: "tcp", overUnix: "unix"}[tr]; rb.client.Options().Network != want {
				t.Errorf("the Redis client uses %q, want %q", rb.client.Options().Network, want)
			}
			mc, err := gomysql.ParseDSN(tr.mysqlDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			if mc.Net != tr.name {
				t.Errorf("the MariaDB DSN is over %q, want %q", mc.Net, tr.name)
			}
			for _, autoPipeline := range []bool{false, true} {
				st, tag := rb.newCached(t, autoPipeline)
				ctx := context.Background()
				before := st.Stats()
				for c := range 32 {
					blob, err := st.Load(ctx, rb.mb.ourKey(tag, c))
					if err != nil {
						t.Fatal(err)
					}
					if string(blob) != string(rb.mb.ourBlob) {
						t.Fatalf("%s client %d: Load returned %d bytes, not the %d stored", tag, c, len(blob), len(rb.mb.ourBlob))
					}
				}
				after := st.Stats()
				if hits, misses := after.Hits-before.Hits, after.Misses-before.Misses; hits != 32 || misses != 0 || after.CacheErrors != 0 {
					t.Errorf("%s: 32 Loads: %d hits, %d misses, %d cache errors; want 32 hits", tag, hits, misses, after.CacheErrors)
				}
			}
		})
	}
}
