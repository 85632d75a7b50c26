package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
)

// The sides of the server.Store contract that depend on SQLite: the
// schema and the connections' settings, blobs, expiry as integers, one
// writer, locks held by other processes, and checks done before any I/O.
// The store-independent contract is storetest's (conformance_test.go).

func TestSchemaAndSettings(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	var sqls []string
	// In the order Migrate created them: the sessions table and its
	// index, then the user index's.
	rows, err := s.DB().QueryContext(ctx, "SELECT sql FROM sqlite_schema WHERE tbl_name IN (?, ?) AND sql IS NOT NULL ORDER BY rowid", s.Table(), s.Table()+UsersSuffix)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			t.Fatal(err)
		}
		sqls = append(sqls, q)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// SQLite keeps each statement's text, less its IF NOT EXISTS.
	if got, want := strings.Join(sqls, ";\n"), strings.ReplaceAll(strings.Join(s.qMigrate, ";\n"), " IF NOT EXISTS", ""); got != want {
		t.Fatalf("schema:\n%s\nwant:\n%s", got, want)
	}
	if len(sqls) != 4 || !strings.Contains(sqls[2], `CREATE TABLE "sessions_users"`) || !strings.Contains(sqls[2], "PRIMARY KEY (user_key, entry_id)") ||
		sqls[3] != `CREATE INDEX "sessions_users_expiry_idx" ON "sessions_users" (expiry)` {
		t.Fatalf("schema:\n%s\nwant the users table with its primary key and its index on expiry", strings.Join(sqls, ";\n"))
	}
	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, db := range []*sql.DB{s.DB(), s.ReadDB()} {
		if got := pragma(db, "journal_mode"); got != "wal" {
			t.Errorf("journal_mode %q, want wal", got)
		}
		if got := pragma(db, "busy_timeout"); got != "5000" {
			t.Errorf("busy_timeout %q, want 5000", got)
		}
		if got := pragma(db, "synchronous"); got != "1" {
			t.Errorf("synchronous %q, want 1 (NORMAL)", got)
		}
	}
	if got := pragma(s.ReadDB(), "query_only"); got != "1" {
		t.Errorf("the read pool's query_only %q, want 1", got)
	}
	if got := pragma(s.DB(), "query_only"); got != "0" {
		t.Errorf("the writer's query_only %q, want 0", got)
	}
	if s.DB().Stats().MaxOpenConnections != 1 {
		t.Errorf("the writer's pool has %d connections, want 1", s.DB().Stats().MaxOpenConnections)
	}
	full := openStore(t, Config{SyncFull: true, BusyTimeout: 1500 * time.Millisecond, MaxReadConns: 3})
	if got := pragma(full.DB(), "synchronous"); got != "2" {
		t.Errorf("SyncFull: synchronous %q, want 2 (FULL)", got)
	}
	if got := pragma(full.ReadDB(), "busy_timeout"); got != "1500" {
		t.Errorf("BusyTimeout 1.5s: busy_timeout %q, want 1500", got)
	}
	if got := full.ReadDB().Stats().MaxOpenConnections; got != 3 {
		t.Errorf("MaxReadConns 3: %d", got)
	}
	// The reader cannot write, even by mistake.
	if _, err := s.ReadDB().ExecContext(ctx, `DELETE FROM "`+s.Table()+`"`); err == nil {
		t.Error("the read pool wrote")
	}
}

func TestMigrateIdempotent(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	k := key("keep", 1)
	if err := s.Create(ctx, k, []byte("kept"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	if got, err := s.Load(ctx, k); err != nil || string(got) != "kept" {
		t.Fatalf("Load after Migrate = %q, %v", got, err)
	}
	// Another table in the same file.
	other := openStoreAt(t, s.Path(), Config{Table: "other_sessions"})
	if _, err := other.Load(ctx, k); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("another table sees the first one's row: %v", err)
	}
}

func TestCreateLoadRoundTrip(t *testing.T) {
	s := openStore(t, Config{MaxLength: 2 << 20})
	ctx := testCtx(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cases := map[string][]byte{
		"every byte": all,
		"empty":      {},
		"nil":        nil,
		"quotes":     []byte(`'; DROP TABLE x; -- \' \" \\ ?1`),
		"large":      bytes.Repeat([]byte("0123456789abcdef\x00\xff'\\\""), 1<<16),
	}
	i := 0
	for name, blob := range cases {
		i++
		k := key("rt", i)
		if err := s.Create(ctx, k, blob, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("%s: Create: %v", name, err)
		}
		got, err := s.Load(ctx, k)
		if err != nil || !bytes.Equal(got, blob) || got == nil {
			t.Fatalf("%s: Load returned %d bytes (%v) that differ from the %d stored", name, len(got), err, len(blob))
		}
		var typ string
		if err := s.DB().QueryRowContext(ctx, `SELECT typeof(data) FROM "`+s.Table()+`" WHERE session_key = ?`, k).Scan(&typ); err != nil || typ != "blob" {
			t.Fatalf("%s: stored as %q (%v), want a blob", name, typ, err)
		}
	}
}

func TestExpiryStoredAsMicroseconds(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	k := key("exp", 1)
	exp := time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 5*3600+1800))
	if err := s.Create(ctx, k, []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	var raw int64
	if err := s.DB().QueryRowContext(ctx, `SELECT expiry FROM "`+s.Table()+`" WHERE session_key = ?`, k).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw != exp.UnixMicro() {
		t.Fatalf("stored expiry %d, want %d (Unix microseconds)", raw, exp.UnixMicro())
	}
	zero, far := key("zero", 1), key("far", 1)
	if err := s.Create(ctx, zero, []byte("x"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, zero); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load of a key created with the zero time: %v", err)
	}
	if err := s.Create(ctx, far, []byte("x"), time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := s.LoadWithExpiry(ctx, far); err != nil || !got.Equal(maxExpiry) {
		t.Fatalf("LoadWithExpiry of a key expiring in year 20000 = %v, %v; want %v", got, err, maxExpiry)
	}
}

func TestUpdateMissingOrExpired(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	expired := key("gone", 1)
	if err := s.Create(ctx, expired, []byte("old"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{expired, key("nope", 1)} {
		if err := s.Update(ctx, k, []byte("new"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("Update: %v, want ErrNotFound", err)
		}
	}
	var data []byte
	if err := s.DB().QueryRowContext(ctx, `SELECT data FROM "`+s.Table()+`" WHERE session_key = ?`, expired).Scan(&data); err != nil || string(data) != "old" {
		t.Fatalf("the expired row holds %q (%v), want it untouched", data, err)
	}
	if n := rowCount(t, s); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

func TestKeyColumnIsCaseSensitive(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	lower := key("casetest", 1)
	if err := plant(t, s, strings.ToUpper(lower), []byte("upper"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, lower); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load found a key that differs only in case: %v", err)
	}
	if err := s.Create(ctx, lower, []byte("lower"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Create collided with a key that differs only in case: %v", err)
	}
	if err := s.Delete(ctx, lower); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, s); n != 1 {
		t.Fatalf("%d rows left, want the upper-case one", n)
	}
}

// TestPlantedTextOverTheLimit plants a TEXT value of fewer characters than
// MaxLength but more bytes: the limit counts bytes.
func TestPlantedTextOverTheLimit(t *testing.T) {
	s := openStore(t, Config{MaxLength: 100})
	ctx := testCtx(t)
	k, fits := key("text", 1), key("text", 2)
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO "`+s.Table()+`" VALUES (?, ?, ?), (?, ?, ?)`,
		k, strings.Repeat("é", 60), dbTime(time.Now().Add(time.Hour)), fits, strings.Repeat("é", 50), dbTime(time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, k); !errors.Is(err, server.ErrTooLarge) {
		t.Fatalf("Load of 60 two-byte characters with MaxLength 100 = %v, want ErrTooLarge", err)
	}
	if got, err := s.Load(ctx, fits); err != nil || len(got) != 100 {
		t.Fatalf("Load of 100 bytes of text = %d bytes, %v", len(got), err)
	}
}

// TestPlantedEntryOverTheLimit plants index entries over MaxLength, a blob
// and a text of fewer characters than MaxLength but more bytes: Entries
// refuses the user's entries, and lists another user's that fit.
func TestPlantedEntryOverTheLimit(t *testing.T) {
	s := openStore(t, Config{MaxLength: 100})
	ctx := testCtx(t)
	exp := dbTime(time.Now().Add(time.Hour))
	blobUser, textUser, fits := key("blob", 1), key("text", 1), key("fits", 1)
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO "`+s.Table()+UsersSuffix+`" VALUES (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?)`,
		blobUser, key("id", 1), make([]byte, 101), exp,
		textUser, key("id", 1), strings.Repeat("é", 60), exp,
		fits, key("id", 1), strings.Repeat("é", 50), exp); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{blobUser, textUser} {
		if es, err := s.Entries(ctx, user); !errors.Is(err, server.ErrTooLarge) {
			t.Errorf("Entries of an entry over MaxLength = %d entries, %v; want ErrTooLarge", len(es), err)
		}
	}
	if es, err := s.Entries(ctx, fits); err != nil || len(es) != 1 || len(es[0].Blob) != 100 {
		t.Fatalf("Entries of 100 bytes of text = %v, %v", es, err)
	}
}

var badKeys = []string{
	"", "short", strings.Repeat("a", server.MinKeyLen-1), strings.Repeat("a", server.MaxKeyLen+1),
	"AAAAAAAAAAAAAAAAAAAAAAAA", "aaaaaaaaaaaaaaaa' OR '1'='1", "../../../../etc/passwd0000", "aaaaaaaaaaaaaaaa\x00",
}

// TestChecksBeforeIO runs every operation with invalid keys, and Create
// and Update with blobs over the limit, on a store whose pools are
// closed: ErrInvalidKey and ErrTooLarge prove that nothing was run.
func TestChecksBeforeIO(t *testing.T) {
	s := openStore(t, Config{MaxLength: 100})
	s.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, k := range badKeys {
		for op, err := range map[string]error{
			"Load":         func() error { _, err := s.Load(ctx, k); return err }(),
			"Create":       s.Create(ctx, k, []byte("x"), exp),
			"Update":       s.Update(ctx, k, []byte("x"), exp),
			"Delete":       s.Delete(ctx, k),
			"Bind user":    s.Bind(ctx, k, key("id", 1), []byte("x"), exp),
			"Bind id":      s.Bind(ctx, key("user", 1), k, []byte("x"), exp),
			"Touch user":   s.Touch(ctx, k, key("id", 1), []byte("x"), exp),
			"Touch id":     s.Touch(ctx, key("user", 1), k, []byte("x"), exp),
			"Entries":      func() error { _, err := s.Entries(ctx, k); return err }(),
			"Unbind user":  s.Unbind(ctx, k, key("id", 1)),
			"Unbind id":    s.Unbind(ctx, key("user", 1), key("id", 1), k),
			"Unbind alone": s.Unbind(ctx, k),
		} {
			if !errors.Is(err, server.ErrInvalidKey) {
				t.Errorf("%s(%q): err = %v, want ErrInvalidKey", op, k, err)
			}
		}
	}
	big := make([]byte, 101)
	for op, err := range map[string]error{
		"Create": s.Create(ctx, key("big", 1), big, exp),
		"Update": s.Update(ctx, key("big", 1), big, exp),
		"Bind":   s.Bind(ctx, key("user", 1), key("big", 1), big, exp),
		"Touch":  s.Touch(ctx, key("user", 1), key("big", 1), big, exp),
	} {
		if !errors.Is(err, server.ErrTooLarge) || !errors.Is(err, ErrBlobTooLarge) {
			t.Errorf("%s of 101 bytes with MaxLength 100: %v, want server.ErrTooLarge", op, err)
		}
	}
	if _, err := s.Load(ctx, key("valid", 1)); err == nil || errors.Is(err, server.ErrInvalidKey) {
		t.Fatalf("Load of a valid key on a closed store: %v, want a database error", err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []Config{
		{Table: "bad name"}, {Table: "sqlite_sessions"}, {Table: `a"b`}, {Table: strings.Repeat("a", 65)},
		{DeleteBatch: -1}, {MaxLength: -1}, {MaxLength: MaxBlobLen + 1}, {BusyTimeout: -time.Second}, {MaxReadConns: -1},
	} {
		if _, err := Open(filepath.Join(dir, "x.db"), cfg); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("Open with %+v: %v, want ErrMisconfigured", cfg, err)
		}
	}
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := Open(path, Config{}); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("Open(%q): %v, want ErrMisconfigured", path, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing", "x.db"), Config{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Open in a missing directory: %v, want an error naming the path", err)
	}
	if _, err := New(context.Background(), nil, Config{}); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("New(nil): %v", err)
	}
	s := openStore(t, Config{})
	if s.MaxLength() != codec.DefaultMaxLength || s.Table() != DefaultTable {
		t.Errorf("defaults: MaxLength %d, Table %q", s.MaxLength(), s.Table())
	}
}

// TestPathIsAFileName opens a file whose directory's name holds the
// characters a URI treats specially: Open takes it as a plain name.
func TestPathIsAFileName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a ?b#c%20d&e=f")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s?.db")
	s := openStoreAt(t, path, Config{})
	if err := s.Create(testCtx(t), key("path", 1), []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at %q: %v", path, err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no WAL beside %q: %v", path, err)
	}
}

func TestNewChecksTheDatabase(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name, params, want string
	}{
		{"no WAL", "&_pragma=busy_timeout(5000)", "journal_mode"},
		{"no busy timeout", "&_pragma=journal_mode(WAL)", "busy_timeout"},
	} {
		db := openDB(t, filepath.Join(dir, strings.ReplaceAll(c.name, " ", "")+".db"), c.params)
		if _, err := New(ctx, db, Config{}); !errors.Is(err, ErrMisconfigured) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New = %v, want ErrMisconfigured naming %s", c.name, err, c.want)
		}
	}
	db := openDB(t, filepath.Join(dir, "good.db"), "&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	s := newStoreOn(t, db)
	if s.DB() != db || s.ReadDB() != db || s.Path() != "" {
		t.Fatal("a store made by New does not use the DB given")
	}
	if err := s.Create(ctx, key("new", 1), []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("Close of a store made by New closed the caller's DB: %v", err)
	}
	// It still works after Close: the statements are prepared again.
	if _, err := s.Load(ctx, key("new", 1)); err != nil {
		t.Fatal(err)
	}
}

func TestCloseClosesOwnedPools(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "c.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.DB().Ping() == nil || s.ReadDB().Ping() == nil {
		t.Fatal("a pool Open made is usable after Close")
	}
}

func TestDeleteExpiredBatches(t *testing.T) {
	for _, c := range []struct{ batch, expired int }{{1000, 2500}, {100, 2500}, {100, 2550}, {DefaultDeleteBatch, 0}} {
		s := openStore(t, Config{DeleteBatch: c.batch})
		ctx := testCtx(t)
		insertRows(t, s, "exp", c.expired, time.Now().Add(-time.Minute))
		insertRows(t, s, "live", 10, time.Now().Add(time.Hour))
		n, err := s.DeleteExpired(ctx)
		if err != nil || n != int64(c.expired) {
			t.Fatalf("batch %d: DeleteExpired = %d, %v; want %d", c.batch, n, err, c.expired)
		}
		if left := rowCount(t, s); left != 10 {
			t.Fatalf("batch %d: %d rows left, want 10", c.batch, left)
		}
	}
	s := openStore(t, Config{DeleteBatch: 10})
	insertRows(t, s, "exp", 100, time.Now().Add(-time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := s.DeleteExpired(ctx); !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("DeleteExpired with a cancelled context = %d, %v", n, err)
	}
}

// TestDeleteExpiredEntries: DeleteExpired removes the user index's expired
// entries too, batch by batch, without counting them, and keeps the live
// ones.
func TestDeleteExpiredEntries(t *testing.T) {
	s := openStore(t, Config{DeleteBatch: 10})
	ctx := testCtx(t)
	insertRows(t, s, "exp", 5, time.Now().Add(-time.Minute))
	user := key("user", 1)
	for i := range 25 {
		if err := s.Bind(ctx, user, key("gone", i), []byte("x"), time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := s.Bind(ctx, user, key("live", i), []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 5 {
		t.Fatalf("DeleteExpired = %d, %v; want the 5 sessions", n, err)
	}
	var left int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM "`+s.Table()+UsersSuffix+`"`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 3 {
		t.Fatalf("%d index rows left, want the 3 live ones", left)
	}
}

// TestMigrateAddsTheUsersTable starts from a database migrated before the
// user index existed (the sessions table alone): DeleteExpired works
// there, and Migrate then creates the index's table, leaving the sessions
// in place.
func TestMigrateAddsTheUsersTable(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	if _, err := s.DB().ExecContext(ctx, `DROP TABLE "`+s.Table()+UsersSuffix+`"`); err != nil {
		t.Fatal(err)
	}
	k := key("old", 1)
	if err := s.Create(ctx, k, []byte("kept"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	insertRows(t, s, "exp", 3, time.Now().Add(-time.Minute))
	if n, err := s.DeleteExpired(ctx); err != nil || n != 3 {
		t.Fatalf("DeleteExpired without the users table = %d, %v; want 3, nil", n, err)
	}
	user := key("user", 1)
	if err := s.Bind(ctx, user, key("entry", 1), []byte("x"), time.Now().Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("Bind without the users table: %v, want no such table", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if got, err := s.Load(ctx, k); err != nil || string(got) != "kept" {
		t.Fatalf("Load after Migrate = %q, %v", got, err)
	}
	if err := s.Bind(ctx, user, key("entry", 1), []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Bind after Migrate: %v", err)
	}
	if es, err := s.Entries(ctx, user); err != nil || len(es) != 1 {
		t.Fatalf("Entries after Migrate = %d, %v; want 1", len(es), err)
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatalf("DeleteExpired after Migrate: %v", err)
	}
}

// insertRows inserts n rows expiring at exp in one statement, under keys
// of prefix and a number.
func insertRows(t testing.TB, s *Store, prefix string, n int, exp time.Time) {
	t.Helper()
	if _, err := s.DB().ExecContext(testCtx(t), `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		INSERT INTO "`+s.Table()+`" SELECT printf('%s%026d', ?, i), x'626c6f62', ? FROM n WHERE ? > 0`, n, prefix, dbTime(exp), n); err != nil {
		t.Fatalf("insert rows: %v", err)
	}
}

// TestNoLockErrorsUnderLoad runs 32 goroutines of mixed operations on one
// store, while a second store on the same file (as another process would
// be: its own connections) writes and removes expired rows: no operation
// fails, and in particular none with "database is locked".
func TestNoLockErrorsUnderLoad(t *testing.T) {
	s := openStore(t, Config{})
	other := openStoreAt(t, s.Path(), Config{})
	ctx := testCtx(t)
	const workers, ops = 32, 100
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
		mu     sync.Mutex
		first  []error
	)
	fail := func(err error) {
		failed.Add(1)
		mu.Lock()
		if len(first) < 5 {
			first = append(first, err)
		}
		mu.Unlock()
	}
	exp := time.Now().Add(time.Hour)
	for w := range workers {
		wg.Go(func() {
			k := key(fmt.Sprintf("w%03d", w), 0)
			if err := s.Create(ctx, k, []byte("v"), exp); err != nil {
				fail(err)
				return
			}
			// The user index's writes too, a few workers to a user.
			user := key(fmt.Sprintf("u%03d", w%8), 0)
			if err := s.Bind(ctx, user, k, []byte("e"), exp); err != nil {
				fail(err)
				return
			}
			for i := range ops {
				var err error
				switch i % 4 {
				case 0:
					_, err = s.Load(ctx, k)
				case 1:
					if _, err = s.Entries(ctx, user); err == nil {
						err = s.Touch(ctx, user, k, []byte(fmt.Sprint(i)), exp)
					}
				case 2:
					err = s.Update(ctx, k, []byte(fmt.Sprint(i)), exp)
				case 3:
					n := key(fmt.Sprintf("n%03d", w), i)
					if err = s.Create(ctx, n, []byte("n"), time.Now().Add(-time.Second)); err == nil {
						if err = s.Bind(ctx, user, n, []byte("n"), time.Now().Add(-time.Second)); err == nil {
							err = s.Unbind(ctx, user, n, key("none", i))
						}
					}
				}
				if err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 100 {
			if err := other.Create(ctx, key("other", i), []byte("o"), exp); err != nil {
				fail(err)
			}
			if _, err := other.DeleteExpired(ctx); err != nil {
				fail(err)
			}
		}
	})
	wg.Wait()
	for _, err := range first {
		t.Errorf("%v (busy: %v)", err, Busy(err))
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d operations failed", n, workers*ops+200+workers)
	}
}

// TestOtherProcessLock holds the write lock from another connection (as
// another process would): a write waits for it, returns soon after it is
// released (the busy handler sleeps in short steps), and fails with
// SQLITE_BUSY, which Busy recognizes, once the busy timeout has passed.
func TestOtherProcessLock(t *testing.T) {
	s := openStore(t, Config{BusyTimeout: 3 * time.Second})
	ctx := testCtx(t)
	holder := openDB(t, s.Path(), "&_pragma=busy_timeout(5000)")
	hold := func() *sql.Conn {
		t.Helper()
		c, err := holder.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	release := func(c *sql.Conn) {
		if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Error(err)
		}
		c.Close()
	}
	c := hold()
	go func() { time.Sleep(100 * time.Millisecond); release(c) }()
	t0 := time.Now()
	if err := s.Create(ctx, key("wait", 1), []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Create while another connection held the lock for 100 ms: %v", err)
	}
	took := time.Since(t0)
	t.Logf("Create waited %v for a lock held 100 ms", took)
	if took < 90*time.Millisecond || took > time.Second {
		t.Errorf("Create took %v, want a little over 100 ms", took)
	}

	short := openStoreAt(t, s.Path(), Config{BusyTimeout: 50 * time.Millisecond})
	c = hold()
	defer release(c)
	err := short.Update(ctx, key("wait", 1), []byte("y"), time.Now().Add(time.Hour))
	if !Busy(err) {
		t.Fatalf("Update while the lock is held past the busy timeout: %v, want SQLITE_BUSY", err)
	}
	if Busy(errors.New("database is locked")) || Busy(nil) {
		t.Error("Busy of an error that is not SQLite's")
	}
	// Reads go on meanwhile (WAL).
	if got, err := short.Load(ctx, key("wait", 1)); err != nil || string(got) != "x" {
		t.Fatalf("Load while another connection writes: %q, %v", got, err)
	}
}

func TestDriverErrorsAreWrapped(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	k := key("wrapped", 1)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(ctx, k, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{s.Table(), s.Table() + UsersSuffix} {
		if _, err := s.DB().ExecContext(ctx, `DROP TABLE "`+table+`"`); err != nil {
			t.Fatal(err)
		}
	}
	exp := time.Now().Add(time.Hour)
	for op, err := range map[string]error{
		"load":           func() error { _, err := s.Load(ctx, k); return err }(),
		"create":         s.Create(ctx, k, []byte("x"), exp),
		"update":         s.Update(ctx, k, []byte("x"), exp),
		"delete":         s.Delete(ctx, k),
		"delete expired": func() error { _, err := s.DeleteExpired(ctx); return err }(),
		"bind":           s.Bind(ctx, k, k, []byte("x"), exp),
		"touch":          s.Touch(ctx, k, k, []byte("x"), exp),
		"entries":        func() error { _, err := s.Entries(ctx, k); return err }(),
		"unbind":         s.Unbind(ctx, k, k),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "session store sqlite: "+op+": ") || !strings.Contains(err.Error(), "no such table") {
			t.Errorf("%s on a dropped table: %v, want the store's prefix and SQLite's error", op, err)
			continue
		}
		if strings.Contains(err.Error(), k) {
			t.Errorf("%s: error %q contains the key", op, err)
		}
		if errors.Is(err, server.ErrNotFound) || errors.Is(err, server.ErrExists) {
			t.Errorf("%s: a database error reads as a store outcome: %v", op, err)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	s := openStore(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for op, err := range map[string]error{"Migrate": s.Migrate(ctx), "Ping": s.Ping(ctx)} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v", op, err)
		}
	}
}
