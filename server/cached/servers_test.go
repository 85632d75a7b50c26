package cached

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/redis"
	"github.com/sessionkit/session/server/storetest"
)

// redisMySQL returns a cached store with Redis (a fresh prefix) in front of
// MySQL (a fresh table), both removed when the test ends.
func redisMySQL(t testing.TB) *Store {
	t.Helper()
	url := testenv.RedisURL(t)
	testenv.MySQLDSN(t)
	cache, err := redis.Open(url, redis.Config{Prefix: testenv.Unique("sessionkit-test:cached:") + ":"})
	if err != nil {
		t.Fatal(err)
	}
	return overMySQL(t, cache)
}

// redisClusterMySQL is redisMySQL with the test Redis Cluster as the
// cache.
func redisClusterMySQL(t testing.TB) *Store {
	t.Helper()
	url := testenv.RedisClusterURL(t)
	testenv.MySQLDSN(t)
	cache, err := redis.OpenCluster(url, redis.Config{Prefix: testenv.Unique("sessionkit-test:cached:") + ":"})
	if err != nil {
		t.Fatal(err)
	}
	return overMySQL(t, cache)
}

// dropRedis deletes every key of st's prefix, on every master of a
// cluster.
func dropRedis(t testing.TB, st *redis.Store) {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	drop := func(ctx context.Context, client goredis.UniversalClient) error {
		iter := client.Scan(ctx, 0, st.Prefix()+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		return iter.Err()
	}
	var err error
	if cc, ok := st.Client().(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(c, func(ctx context.Context, m *goredis.Client) error { return drop(ctx, m) })
	} else {
		err = drop(c, st.Client())
	}
	if err != nil {
		t.Errorf("cleanup of %s*: %v", st.Prefix(), err)
	}
}

// overMySQL returns a cached store with cache in front of MySQL (a fresh
// table); the cache's keys and the table are removed when the test ends.
func overMySQL(t testing.TB, cache *redis.Store) *Store {
	t.Helper()
	dsn := testenv.MySQLDSN(t)
	id := testenv.Unique("")
	backing, err := mysql.Open(dsn, mysql.Config{Table: "sessions_cached_" + id})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := backing.Migrate(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := backing.DB().ExecContext(c, "DROP TABLE IF EXISTS `"+backing.Table()+"`, `"+backing.Table()+mysql.UsersSuffix+"`"); err != nil {
			t.Errorf("drop table: %v", err)
		}
		dropRedis(t, cache)
		_ = backing.Close()
		_ = cache.Close()
	})
	s, err := New(cache, backing)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformanceRedisMySQL(t *testing.T) {
	testenv.RedisURL(t)
	testenv.MySQLDSN(t)
	storetest.Run(t, func(t *testing.T) server.Store { return redisMySQL(t) })
}

// TestConformanceRedisClusterMySQL runs the suite with the Redis Cluster
// as the cache in front of MySQL.
func TestConformanceRedisClusterMySQL(t *testing.T) {
	testenv.RedisClusterURL(t)
	testenv.MySQLDSN(t)
	storetest.Run(t, func(t *testing.T) server.Store { return redisClusterMySQL(t) })
}

// TestConformanceMemoryRedisCluster runs the suite with the Redis Cluster
// as the backing store, each write waiting for the master's replica
// (redis.Config.WaitReplicas), behind a memory cache.
func TestConformanceMemoryRedisCluster(t *testing.T) {
	url := testenv.RedisClusterURL(t)
	storetest.Run(t, func(t *testing.T) server.Store {
		backing, err := redis.OpenCluster(url, redis.Config{Prefix: testenv.Unique("sessionkit-test:cached:") + ":", WaitReplicas: 1})
		if err != nil {
			t.Fatal(err)
		}
		cache := memory.New()
		t.Cleanup(func() { dropRedis(t, backing); _ = backing.Close(); cache.Close() })
		s, err := New(cache, backing, Options{Logger: discardLogger})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, storetest.Options{DropsExpired: true})
}

// TestRedisMySQLHits checks on the real servers that a session the cache
// holds is read from Redis alone.
func TestRedisMySQLHits(t *testing.T) {
	s := redisMySQL(t)
	ctx := context.Background()
	if err := s.Create(ctx, k1, []byte("v1"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Remove the row behind the cache's back: the cache still answers.
	if _, err := s.Backing().(*mysql.Store).DB().ExecContext(ctx, "DELETE FROM `"+s.Backing().(*mysql.Store).Table()+"`"); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, s, k1, "v1")
	if st := s.Stats(); st != (Stats{Hits: 1}) {
		t.Errorf("Stats = %+v, want one hit", st)
	}
	// Lose the cache's copy: the next Load misses and finds nothing.
	if err := s.Cache().Delete(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Load of a session neither store holds = %v, want ErrNotFound", err)
	}
}
