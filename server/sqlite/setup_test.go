package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCtx returns a context that ends with the test (and after a minute at
// most).
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openStore opens a store through Open on a new file in a temporary
// directory, migrated, closed when the test ends.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	return openStoreAt(t, filepath.Join(t.TempDir(), "sessions.db"), cfg)
}

// openStoreAt is openStore on the file at path.
func openStoreAt(t testing.TB, path string, cfg Config) *Store {
	t.Helper()
	s, err := Open(path, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(testCtx(t)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// key returns a valid store key that differs for each n.
func key(prefix string, n int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; i < 8; i++ {
		b.WriteByte(digits[n%36])
		n /= 36
	}
	for b.Len() < 32 {
		b.WriteByte('0')
	}
	return b.String()
}

// rowCount counts the rows of the store's table.
func rowCount(t testing.TB, s *Store) int64 {
	t.Helper()
	var n int64
	if err := s.DB().QueryRowContext(testCtx(t), `SELECT count(*) FROM "`+s.Table()+`"`).Scan(&n); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	return n
}

// plant inserts a row into the store's table with SQL, as anyone who can
// write to the file could, without the store's checks.
func plant(t testing.TB, s *Store, key string, blob []byte, exp time.Time) error {
	_, err := s.DB().ExecContext(testCtx(t), `INSERT INTO "`+s.Table()+`" (session_key, data, expiry) VALUES (?, ?, ?)`, key, blob, dbTime(exp))
	return err
}

// openDB opens a *sql.DB with the modernc.org/sqlite driver on path, the
// DSN's parameters being params ("&name=value..."), closed when the test
// ends.
func openDB(t testing.TB, path, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=synchronous(NORMAL)"+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newStoreOn makes a store with New on db, migrated, closed when the test
// ends.
func newStoreOn(t testing.TB, db *sql.DB) *Store {
	t.Helper()
	s, err := New(testCtx(t), db, Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(testCtx(t)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}
