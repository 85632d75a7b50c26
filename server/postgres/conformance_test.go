package postgres

import (
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/storetest"
)

// TestConformance runs the shared store suite, each subtest on a fresh
// table of the test server.
func TestConformance(t *testing.T) {
	testenv.PostgresDSN(t) // skip (or fail) once, here, without a server
	var s *Store
	storetest.Run(t, func(t *testing.T) server.Store {
		s = openStore(t, Config{})
		return s
	}, storetest.Options{Plant: func(key string, blob []byte, exp time.Time) error { return plant(t, s, key, blob, exp) }})
}

// TestConformanceMaxLength runs the suite on one shared store with a
// limit other than the default, sending unnamed statements (NoPrepare).
func TestConformanceMaxLength(t *testing.T) {
	testenv.PostgresDSN(t)
	s := openStore(t, Config{MaxLength: 100_000, NoPrepare: true})
	storetest.Run(t, func(t *testing.T) server.Store { return s }, storetest.Options{
		MaxLength: 100_000,
		Plant:     func(key string, blob []byte, exp time.Time) error { return plant(t, s, key, blob, exp) },
	})
}
