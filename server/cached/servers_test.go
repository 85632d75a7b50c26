package cached

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/redis"
	"github.com/sessionkit/session/server/storetest"
)

// redisMySQL returns a cached store with Redis (a fresh prefix) in front of
// MySQL (a fresh table), both removed when the test ends.
func redisMySQL(t testing.TB) *Store {
	t.Helper()
	url := testenv.RedisURL(t)
	dsn := testenv.MySQLDSN(t)
	id := testenv.Unique("")
	cache, err := redis.Open(url, redis.Config{Prefix: "sessionkit-test:cached:" + id + ":"})
	if err != nil {
		t.Fatal(err)
	}
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
		iter := cache.Client().Scan(c, 0, cache.Prefix()+"*", 1000).Iterator()
		for iter.Next(c) {
			cache.Client().Del(c, iter.Val())
		}
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
