package redis

import (
	"testing"
	"time"

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
