package sqlite

import (
	"testing"
	"time"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/storetest"
)

// TestConformance runs the shared store suite, each subtest on a new
// database file.
func TestConformance(t *testing.T) {
	var s *Store
	storetest.Run(t, func(t *testing.T) server.Store {
		s = openStore(t, Config{})
		return s
	}, storetest.Options{Plant: func(key string, blob []byte, exp time.Time) error { return plant(t, s, key, blob, exp) }})
}

// TestConformanceMaxLength runs the suite on one shared store with a limit
// other than the default.
func TestConformanceMaxLength(t *testing.T) {
	s := openStore(t, Config{MaxLength: 100_000})
	storetest.Run(t, func(t *testing.T) server.Store { return s }, storetest.Options{
		MaxLength: 100_000,
		Plant:     func(key string, blob []byte, exp time.Time) error { return plant(t, s, key, blob, exp) },
	})
}

// TestConformanceNew runs the suite on a store made by New on one *sql.DB
// of several connections, set up as the documentation says.
func TestConformanceNew(t *testing.T) {
	var s *Store
	storetest.Run(t, func(t *testing.T) server.Store {
		s = newStoreOn(t, openDB(t, t.TempDir()+"/new.db", "&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)"))
		return s
	}, storetest.Options{Plant: func(key string, blob []byte, exp time.Time) error { return plant(t, s, key, blob, exp) }})
}
