package session

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/cached"
	"github.com/sessionkit/session/server/redis"
)

// The Django suite runs against the Redis store and against Redis in front
// of MySQL too.
func init() {
	extraEngineCases = append(extraEngineCases,
		engineCase{name: "server-redis", engine: EngineServer, keyed: true, newStore: newRedisStore},
		engineCase{name: "server-cached-redis-mysql", engine: EngineServer, keyed: true, newStore: newCachedStore},
	)
}

// openRedis opens a Redis store on url under a prefix of its own, whose
// keys are deleted when the test ends. opts adjusts the client's options.
func openRedis(t *testing.T, url string, opts func(*goredis.Options)) *redis.Store {
	t.Helper()
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	o.ContextTimeoutEnabled = true
	if opts != nil {
		opts(o)
	}
	client := goredis.NewClient(o)
	s, err := redis.New(client, redis.Config{Prefix: testenv.Unique("sessionkit-test:root:") + ":"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, s.Prefix()+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		client.Close()
	})
	return s
}

// noRetries makes a client fail at once when Redis is down: no retry of
// commands, one dial.
func noRetries(o *goredis.Options) {
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.DialTimeout = time.Second
}

func newRedisStore(t *testing.T) server.Store { return openRedis(t, testenv.RedisURL(t), nil) }

// newCachedStore returns Redis in front of MySQL.
func newCachedStore(t *testing.T) server.Store {
	t.Helper()
	cache := openRedis(t, testenv.RedisURL(t), nil)
	s, err := cached.New(cache, newMySQLStore(t), cached.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// privateRedis starts a Redis server for this test alone (the outage tests
// stop it, and a restarted Redis is empty: the other tests keep the shared
// one) and returns its URL and the commands that stop and start it.
func privateRedis(t *testing.T) (url, stop, start string) {
	t.Helper()
	testenv.RedisURL(t)
	return privateServer(t, "redis", "SESSION_TEST_REDIS_URL")
}

// TestRedisOutage stops Redis while requests are in flight on the Redis
// store, and starts it again. During the outage requests get the error
// response, never an empty session served as if the user were logged out.
// The restarted Redis keeps nothing on disk, so it comes back empty: each
// client then starts a new session, once, and the same Manager works
// again.
func TestRedisOutage(t *testing.T) {
	url, stop, start := privateRedis(t)
	// No retries: with the client's defaults (three retries, five dials
	// each) a request waits out a one-second outage and never fails.
	store := openRedis(t, url, noRetries)
	m, err := New(Config{SecretKey: testSecret, Engine: EngineServer, Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := counterSite(t, m)
	clients := runOutage(t, srv.URL, stop, start, true)
	outage, resets := 0, 0
	for _, c := range clients {
		outage += c.outage
		resets += c.resets
	}
	if outage == 0 {
		t.Fatal("no request failed while Redis was down: the outage was not observed")
	}
	if resets != len(clients) {
		t.Errorf("%d of %d clients started a new session after the restart; Redis came back empty, so all must", resets, len(clients))
	}
	t.Logf("%d error responses during the outage", outage)
}

// TestCachedRedisOutage stops the Redis cache in front of MySQL while
// requests are in flight: every request succeeds from MySQL, no session is
// lost or goes back in time, the cache's failures are counted, and the
// cache is used again once Redis is back.
func TestCachedRedisOutage(t *testing.T) {
	url, stop, start := privateRedis(t)
	// A cache is tried on every request: no retries, so that an outage
	// costs each request one refused connection.
	cache := openRedis(t, url, noRetries)
	store, err := cached.New(cache, newMySQLStore(t), cached.Options{Logger: discardLogger(), CoolDown: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{SecretKey: testSecret, Engine: EngineServer, Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := counterSite(t, m)
	clients := runOutage(t, srv.URL, stop, start, false)
	time.Sleep(100 * time.Millisecond) // past the cool-down after the last failure
	for i, c := range clients {
		if c.fail != 0 {
			t.Errorf("client %d: %d error responses; with MySQL up, none may fail", i, c.fail)
		}
	}
	st := store.Stats()
	if st.CacheErrors == 0 {
		t.Fatal("no cache error counted: the outage was not observed")
	}
	// Redis came back empty; the cache fills again and answers.
	r := &outageRun{t: t, url: srv.URL}
	for _, c := range clients {
		r.step(c)
	}
	if after := store.Stats(); after.Hits <= st.Hits {
		t.Errorf("no cache hit after Redis came back: %+v, then %+v", st, after)
	}
	t.Logf("cache stats after the outage: %+v", st)
}

// openRedisCluster opens a store on the Redis Cluster at url with cfg,
// under a prefix of its own, whose keys are deleted from every master when
// the test ends.
func openRedisCluster(t *testing.T, url string, cfg redis.Config) *redis.Store {
	t.Helper()
	cfg.Prefix = testenv.Unique("sessionkit-test:root:") + ":"
	s, err := redis.OpenCluster(url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Client().(*goredis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			iter := c.Scan(ctx, 0, s.Prefix()+"*", 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
			return iter.Err()
		})
		s.Close()
	})
	return s
}

// sessionSlot returns the hash slot of one of the sessions the store
// holds on its cluster.
func sessionSlot(t *testing.T, s *redis.Store) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc := s.Client().(*goredis.ClusterClient)
	var (
		mu  sync.Mutex
		key string
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		keys, _, err := c.Scan(ctx, 0, s.Prefix()+"*", 1000).Result()
		mu.Lock()
		defer mu.Unlock()
		if len(keys) > 0 && key == "" {
			key = keys[0]
		}
		return err
	})
	if err != nil || key == "" {
		t.Fatalf("finding a session on the cluster: %q, %v", key, err)
	}
	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return int(slot)
}

// TestRedisClusterFailover kills a master of a private Redis Cluster with
// SIGKILL while requests are in flight on a store that waits for each
// write's replica (redis.Config.WaitReplicas), and starts the node again
// once its replica has taken over (it comes back as that replica's
// replica). Requests fail meanwhile with the error response, never an
// empty session; no acknowledged increment is lost (runOutage checks every
// counter); and the same Manager serves every client afterwards.
func TestRedisClusterFailover(t *testing.T) {
	c := testenv.StartPrivateRedisCluster(t)
	store := openRedisCluster(t, c.URL(), redis.Config{WaitReplicas: 1})
	m, err := New(Config{SecretKey: testSecret, Engine: EngineServer, Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := counterSite(t, m)
	// The master killed is the one serving a client's session (with eight
	// clients over three masters, one in 26 runs would have none on a
	// master chosen in advance). The kill prints the killed master's port;
	// start-node waits for the failover before starting it again.
	killed := filepath.Join(t.TempDir(), "killed")
	stop := func() string {
		return c.Var("REDIS_CLUSTER_KILL_MASTER_CMD") + " " + strconv.Itoa(sessionSlot(t, store)) + " >" + killed
	}
	start := c.Var("REDIS_CLUSTER_START_NODE_CMD") + " $(cut -d' ' -f1 " + killed + ")"
	clients := runOutageFunc(t, srv.URL, stop, start, false)
	outage, fail := 0, 0
	for _, c := range clients {
		outage += c.outage
		fail += c.fail
	}
	if outage == 0 {
		t.Fatal("no request failed while the master was down: the failover was not observed")
	}
	t.Logf("%d error responses, %d of them in the second after the kill", fail, outage)
}

// A program that uses only cookie sessions must not link the Redis client.
func TestCookieOnlyLinksNoRedis(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/redis/") {
			t.Errorf("package session depends on %s", dep)
		}
	}
}

// TestCachedRedisKilledWithItsData kills the Redis cache in front of MySQL
// with SIGKILL while requests are in flight, and restarts it from its
// append-only file, so that it comes back with the copies it had at the
// moment of the kill: no acknowledged increment is lost, and a logout made
// while it was down is reported as not done and is not undone by the
// copies it comes back with.
func TestCachedRedisKilledWithItsData(t *testing.T) {
	testenv.RedisURL(t)
	url, stop, start := privateServer(t, "redis", "SESSION_TEST_REDIS_URL", "REDIS_PERSIST=1")
	rundir, _, _ := strings.Cut(strings.TrimPrefix(stop, "REDIS_RUNDIR="), " ")
	kill := "kill -KILL $(cat " + rundir + "/redis.pid)"
	cache := openRedis(t, url, noRetries)
	store, err := cached.New(cache, newMySQLStore(t), cached.Options{Logger: discardLogger(), CoolDown: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{SecretKey: testSecret, Engine: EngineServer, Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := counterSite(t, m)
	// runOutage checks that every client's counter is its acknowledged
	// increments: none lost to a copy the cache came back with.
	clients := runOutage(t, srv.URL, kill, start, false)
	for i, c := range clients {
		if c.fail != 0 {
			t.Errorf("client %d: %d error responses; with MySQL up, none may fail", i, c.fail)
		}
	}
	if store.Stats().CacheErrors == 0 {
		t.Fatal("no cache error counted: the kill was not observed")
	}

	// A logout while the cache is dead, with its copy on disk.
	ctx := context.Background()
	key := strings.Repeat("ab", 32)
	exp := time.Now().Add(time.Hour)
	if err := store.Create(ctx, key, []byte("logged in"), exp); err != nil {
		t.Fatal(err)
	}
	if b, err := store.Load(ctx, key); err != nil || string(b) != "logged in" {
		t.Fatalf("Load: %q, %v", b, err)
	}
	if out, err := exec.Command("bash", "-c", kill).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", kill, err, out)
	}
	if err := store.Delete(ctx, key); !errors.Is(err, cached.ErrCacheNotTold) {
		t.Fatalf("a logout with the cache dead = %v, want cached.ErrCacheNotTold", err)
	}
	if out, err := exec.Command("bash", "-c", start).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", start, err, out)
	}
	if b, err := cache.Load(ctx, key); err != nil || !strings.Contains(string(b), "logged in") {
		t.Fatalf("the restarted Redis does not hold the old copy (%q, %v): the test tests nothing", b, err)
	}
	time.Sleep(100 * time.Millisecond) // past the cool-down
	if b, err := store.Load(ctx, key); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("after the restart the logged-out session loads: %q, %v", b, err)
	}
}
