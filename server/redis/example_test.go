package redis_test

import (
	"log"
	"net/http"
	"os"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/server/redis"
)

// Sessions in Redis, with the server engine: Redis drops each session at
// its expiry, so there is nothing to clean up and no table to create.
func Example() {
	store, err := redis.Open("redis://:secret@127.0.0.1:6379/0", redis.Config{Prefix: "myapp:sessions:"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	m, err := session.New(session.Config{
		SecretKey: []byte(os.Getenv("SESSION_SECRET_KEY")),
		Engine:    session.EngineServer,
		Store:     store,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	// ... handlers that use session.FromRequest(r) ...
	log.Fatal(http.ListenAndServe("127.0.0.1:8000", m.Handler(mux)))
}

// A single server, from a URL.
func ExampleOpen() {
	st, err := redis.Open("redis://:secret@127.0.0.1:6379/0?dial_timeout=2s", redis.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	// Use st as session.Config.Store.
}

// A Redis Cluster, from a URL that names some of its nodes; every write
// waits until the replica of its master has it (WaitReplicas), so that a
// failover loses no acknowledged write.
func ExampleOpenCluster() {
	st, err := redis.OpenCluster("redis://:secret@10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379", redis.Config{WaitReplicas: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	// Use st as session.Config.Store.
}

// Sentinel: NewUniversalClient returns a failover client when MasterName
// is set; the store follows the master the sentinels elect.
func ExampleNew_sentinel() {
	client := goredis.NewUniversalClient(&goredis.UniversalOptions{
		MasterName:            "sessions",
		Addrs:                 []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"},
		Password:              "secret",
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	st, err := redis.New(client, redis.Config{Prefix: "myapp:sessions:"})
	if err != nil {
		log.Fatal(err)
	}
	_ = st // Use st as session.Config.Store.
}

// Cluster: NewUniversalClient returns a cluster client for several
// addresses. Every command of the store names one key, so sessions spread
// over the slots.
func ExampleNew_cluster() {
	client := goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:                 []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	st, err := redis.New(client, redis.Config{})
	if err != nil {
		log.Fatal(err)
	}
	_ = st // Use st as session.Config.Store.
}

// Many concurrent requests: the store on the client's AutoPipeliner sends
// the commands of concurrent requests together. A request's deadline no
// longer cuts a queued command short; ReadTimeout and WriteTimeout bound it.
func ExampleNew_autoPipeline() {
	client := goredis.NewClient(&goredis.Options{
		Addr:         "127.0.0.1:6379",
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
	})
	defer client.Close()
	ap, err := client.AutoPipeline()
	if err != nil {
		log.Fatal(err)
	}
	st, err := redis.New(ap, redis.Config{})
	if err != nil {
		log.Fatal(err)
	}
	_ = st // Use st as session.Config.Store.
}

// A Redis on the application's host, over its Unix socket: the cheapest
// round trip, for a cache in front of a database (server/cached).
func ExampleOpen_unixSocket() {
	st, err := redis.Open("unix://:secret@/run/redis/redis.sock?db=0", redis.Config{Prefix: "sessionkit:cache:"})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	_ = st // Use st as the cache of cached.New.
}
