package mysql

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/session/internal/testenv"
)

// testConfig parses the test DSN into a driver Config the test may change.
func testConfig(t testing.TB) *gomysql.Config {
	t.Helper()
	mc, err := gomysql.ParseDSN(testenv.MySQLDSN(t))
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.MySQLDSNVar, err)
	}
	return mc
}

// uniqueTable returns a table name no other test run uses.
func uniqueTable(t testing.TB) string { return testenv.Unique("sessions_test_") }

// testCtx returns a context that ends with the test (and after a minute at
// most, so that a hung server fails the test instead of hanging it).
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openStore opens a store on the test server (through Open, so with the
// options Open forces) on a fresh table, migrated, and drops the table when
// the test ends. dsn overrides the test DSN when not empty.
func openStore(t testing.TB, dsn string, cfg Config) *Store {
	t.Helper()
	if dsn == "" {
		dsn = testenv.MySQLDSN(t)
	}
	if cfg.Table == "" {
		cfg.Table = uniqueTable(t)
	}
	s, err := Open(dsn, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { dropTable(t, s.DB(), s.Table()); _ = s.Close() })
	if err := s.Migrate(testCtx(t)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// newStoreOn makes a store with New on db, on a fresh table, migrated,
// and drops the table when the test ends.
func newStoreOn(t testing.TB, db *sql.DB) *Store {
	t.Helper()
	s, err := New(testCtx(t), db, Config{Table: uniqueTable(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropTable(t, db, s.Table()) })
	if err := s.Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return s
}

func dropTable(t testing.TB, db *sql.DB, table string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+table+"`, `"+table+UsersSuffix+"`"); err != nil {
		t.Errorf("drop table %s: %v", table, err)
	}
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
	if err := s.DB().QueryRowContext(testCtx(t), "SELECT COUNT(*) FROM `"+s.Table()+"`").Scan(&n); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	return n
}
