package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
)

// The sides of the server.Store contract that depend on PostgreSQL: the
// schema, binary blobs, what the row holds after an Update, timestamptz
// precision and range, one round trip per operation, the bounded read,
// retries, and checks done before any I/O. The store-independent contract
// is storetest's (conformance_test.go).

// offlinePool returns a pool on a closed port: it never connects, which
// proves that what a test does with it does no I/O.
func offlinePool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pc, err := pgxpool.ParseConfig("postgres://u:p@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestTableNameValidation(t *testing.T) {
	bad := []string{
		"sessions; DROP TABLE users",
		`sessions"; DROP TABLE users; --`,
		`a"b`,
		"a.b",
		"a b",
		"a-b",
		"1sessions",
		"sessions\x00",
		"séssions",
		"'sessions'",
		"",
		strings.Repeat("a", MaxTableLen+1),
		strings.Repeat("a", 47), // with UsersSuffix and "_expiry_idx", over 63 bytes
	}
	pool := offlinePool(t)
	for _, name := range bad {
		if err := ValidateTable(name); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("ValidateTable(%q) = %v, want ErrMisconfigured", name, err)
		}
		if name == "" {
			continue // Config.Table "" is the default
		}
		if _, err := New(pool, Config{Table: name}); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("New with table %q: err = %v, want ErrMisconfigured", name, err)
		}
	}
	for _, name := range []string{"sessions", "_s", "Sessions_2", "django_session", strings.Repeat("a", MaxTableLen)} {
		if err := ValidateTable(name); err != nil {
			t.Errorf("ValidateTable(%q) = %v, want nil", name, err)
		}
		s, err := New(pool, Config{Table: name})
		if err != nil {
			t.Errorf("New with table %q: %v", name, err)
			continue
		}
		if s.Table() != name || !strings.Contains(s.qLoad.sql, `"`+name+`"`) {
			t.Errorf("table %q: Table() = %q, load statement %q", name, s.Table(), s.qLoad.sql)
		}
	}
	s, err := New(pool, Config{})
	if err != nil || s.Table() != DefaultTable {
		t.Fatalf("default table: %v, %v", s, err)
	}
	for _, cfg := range []Config{{DeleteBatch: -1}, {MaxLength: -1}, {MaxLength: MaxBlobLen + 1}} {
		if _, err := New(pool, cfg); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("New(%+v): err = %v, want ErrMisconfigured", cfg, err)
		}
	}
	if _, err := New(nil, Config{}); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("New(nil): err = %v, want ErrMisconfigured", err)
	}
}

// TestLongestTableName migrates a table of the longest name: the names of
// the indexes, the user index's table's one the longest, still fit
// PostgreSQL's 63 bytes (a longer one would be cut short, with a notice).
func TestLongestTableName(t *testing.T) {
	name := "t" + testenv.Unique("")[:16] + strings.Repeat("x", MaxTableLen-17)
	s := openStore(t, Config{Table: name})
	for _, table := range []string{name, name + UsersSuffix} {
		var idx string
		if err := s.Pool().QueryRow(testCtx(t), "SELECT indexname FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(expiry)'", table).Scan(&idx); err != nil {
			t.Fatalf("the index on expiry of %s: %v", table, err)
		}
		if idx != table+"_expiry_idx" {
			t.Fatalf("index %q, want %q", idx, table+"_expiry_idx")
		}
	}
	if got := len(name + UsersSuffix + "_expiry_idx"); got != 63 {
		t.Fatalf("the longest name is %d bytes, want 63", got)
	}
	ctx := testCtx(t)
	if err := s.Bind(ctx, key("user", 1), key("entry", 1), []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if es, err := s.Entries(ctx, key("user", 1)); err != nil || len(es) != 1 {
		t.Fatalf("Entries = %d, %v; want 1", len(es), err)
	}
}

func TestSchema(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	users := s.Table() + UsersSuffix
	for _, c := range []struct {
		table   string
		columns []string
		pkey    string
	}{
		{s.Table(), []string{
			"session_key text NO C",
			"data bytea NO ",
			"expiry timestamp with time zone NO ",
		}, "session_key"},
		{users, []string{
			"user_key text NO C",
			"entry_id text NO C",
			"data bytea NO ",
			"expiry timestamp with time zone NO ",
		}, "user_key, entry_id"},
	} {
		rows, err := s.Pool().Query(ctx, `
			SELECT column_name, data_type, is_nullable, coalesce(collation_name, '')
			FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1
			ORDER BY ordinal_position`, c.table)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var name, typ, null, coll string
			err := r.Scan(&name, &typ, &null, &coll)
			return strings.Join([]string{name, typ, null, coll}, " "), err
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "\n") != strings.Join(c.columns, "\n") {
			t.Fatalf("columns of %s:\n%s\nwant:\n%s", c.table, strings.Join(got, "\n"), strings.Join(c.columns, "\n"))
		}
		var defs []string
		rows, err = s.Pool().Query(ctx, "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 ORDER BY indexname", c.table)
		if err != nil {
			t.Fatal(err)
		}
		if defs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(defs, "\n")
		if len(defs) != 2 || !strings.Contains(joined, `UNIQUE INDEX `+c.table+`_pkey ON public.`+c.table+` USING btree (`+c.pkey+`)`) ||
			!strings.Contains(joined, `INDEX `+c.table+`_expiry_idx ON public.`+c.table+` USING btree (expiry)`) {
			t.Fatalf("indexes of %s:\n%s\nwant the primary key on %s and an index on expiry", c.table, joined, c.pkey)
		}
	}
}

// TestMigrateAddsTheUsersTable starts from a database migrated before the
// user index existed (the sessions table alone): DeleteExpired works
// there, and Migrate then creates the index's table, leaving the sessions
// in place.
func TestMigrateAddsTheUsersTable(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	if _, err := s.Pool().Exec(ctx, `DROP TABLE "`+s.Table()+UsersSuffix+`"`); err != nil {
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
	var pe *pgconn.PgError
	if err := s.Bind(ctx, user, key("entry", 1), []byte("x"), time.Now().Add(time.Hour)); !errors.As(err, &pe) || pe.Code != "42P01" {
		t.Fatalf("Bind without the users table: %v, want 42P01", err)
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
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM "`+s.Table()+UsersSuffix+`"`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 3 {
		t.Fatalf("%d index rows left, want the 3 live ones", left)
	}
}

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	s := openStore(t, Config{}) // migrated once
	ctx := testCtx(t)
	k := key("keep", 1)
	if err := s.Create(ctx, k, []byte("kept"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if got, err := s.Load(ctx, k); err != nil || string(got) != "kept" {
		t.Fatalf("Load after Migrate = %q, %v; want %q", got, err, "kept")
	}
	// Processes starting together migrate a new table at once: without
	// the advisory lock, CREATE TABLE IF NOT EXISTS can fail on the
	// catalog's unique index.
	fresh, err := New(s.Pool(), Config{Table: uniqueTable(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropTable(t, s.Pool(), fresh.Table()) })
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- fresh.Migrate(ctx) }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
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
		"quotes":     []byte(`'; DROP TABLE x; -- \' \" \\ $1`),
		"large":      bytes.Repeat([]byte("0123456789abcdef\x00\xff'\\\""), 1<<16), // 1.25 MiB
	}
	i := 0
	for name, blob := range cases {
		i++
		k := key("rt", i)
		if err := s.Create(ctx, k, blob, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("%s: Create: %v", name, err)
		}
		got, err := s.Load(ctx, k)
		if err != nil || !bytes.Equal(got, blob) {
			t.Fatalf("%s: Load returned %d bytes (%v) that differ from the %d stored", name, len(got), err, len(blob))
		}
	}
}

func TestUpdateStoresExpiry(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	k := key("upd", 1)
	if err := s.Create(ctx, k, []byte("v1"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	exp := time.Date(2031, 3, 4, 5, 6, 7, 123456789, zone)
	if err := s.Update(ctx, k, []byte("v2"), exp); err != nil {
		t.Fatalf("Update: %v", err)
	}
	var raw string
	if err := s.Pool().QueryRow(ctx, `SELECT to_char(expiry AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM "`+s.Table()+`" WHERE session_key = $1`, k).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if want := "2031-03-03 23:36:07.123456"; raw != want {
		t.Fatalf("stored expiry = %q, want %q (UTC, truncated to microseconds)", raw, want)
	}
	// An Update that changes nothing still matches the row.
	for range 2 {
		if err := s.Update(ctx, k, []byte("v2"), exp); err != nil {
			t.Fatalf("identical Update: %v", err)
		}
	}
}

func TestUpdateMissingOrExpired(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	missing, expired, deleted := key("nope", 1), key("gone", 1), key("del", 1)
	if err := s.Create(ctx, expired, []byte("old"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, deleted, []byte("old"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]string{"missing": missing, "expired": expired, "deleted": deleted} {
		if err := s.Update(ctx, k, []byte("new"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("Update of a %s key: err = %v, want ErrNotFound", name, err)
		}
	}
	var data []byte
	if err := s.Pool().QueryRow(ctx, `SELECT data FROM "`+s.Table()+`" WHERE session_key = $1`, expired).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if string(data) != "old" {
		t.Fatalf("Update changed an expired row: data = %q", data)
	}
	if n := rowCount(t, s); n != 1 {
		t.Fatalf("table has %d rows, want 1 (the expired one)", n)
	}
}

func TestExpiryOutOfRangeIsClamped(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	zero, far := key("zero", 1), key("far", 1)
	if err := s.Create(ctx, zero, []byte("x"), time.Time{}); err != nil {
		t.Fatalf("Create with the zero time: %v", err)
	}
	if _, err := s.Load(ctx, zero); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load of a key created with the zero time: err = %v, want ErrNotFound", err)
	}
	if err := s.Create(ctx, far, []byte("x"), time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("Create with year 20000: %v", err)
	}
	if _, exp, err := s.LoadWithExpiry(ctx, far); err != nil || !exp.Equal(maxExpiry) {
		t.Fatalf("LoadWithExpiry of a key that expires in year 20000: %v, %v; want %v", exp, err, maxExpiry)
	}
	if err := s.Update(ctx, far, []byte("y"), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("Update with year -5: %v", err)
	}
	if _, err := s.Load(ctx, far); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load after an Update into the past: err = %v, want ErrNotFound", err)
	}
}

// TestKeyColumnIsCaseSensitive plants a row whose key differs from a
// valid key only in case (the store refuses upper case) and checks that
// the store neither finds it nor collides with it.
func TestKeyColumnIsCaseSensitive(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	lower := key("casetest", 1)
	if err := plant(t, s, strings.ToUpper(lower), []byte("upper"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, lower); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load found a key that differs only in case: err = %v", err)
	}
	if err := s.Create(ctx, lower, []byte("lower"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Create collided with a key that differs only in case: %v", err)
	}
	if err := s.Delete(ctx, lower); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, s); n != 1 {
		t.Fatalf("Delete removed the key that differs only in case: %d rows left, want 1", n)
	}
}

var badKeys = []string{
	"",
	"short",
	strings.Repeat("a", server.MinKeyLen-1),
	strings.Repeat("a", server.MaxKeyLen+1),
	"AAAAAAAAAAAAAAAAAAAAAAAA",
	"aaaaaaaaaaaaaaaa' OR '1'='1",
	"../../../../etc/passwd0000",
	"aaaaaaaaaaaaaaaa\x00",
	"aaaaaaaaaaaaaaaa%",
	"ééééééééééééééééé",
}

// TestChecksBeforeIO runs every operation with invalid keys, and Create
// and Update with blobs over the limit, on a pool that cannot connect:
// ErrInvalidKey and ErrTooLarge prove that nothing was sent.
func TestChecksBeforeIO(t *testing.T) {
	pool := offlinePool(t)
	s, err := New(pool, Config{MaxLength: 100})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, k := range badKeys {
		ops := map[string]error{
			"Load":   func() error { _, err := s.Load(ctx, k); return err }(),
			"Create": s.Create(ctx, k, []byte("x"), exp),
			"Update": s.Update(ctx, k, []byte("x"), exp),
			"Delete": s.Delete(ctx, k),
			"LoadWithExpiry": func() error {
				_, _, err := s.LoadWithExpiry(ctx, k)
				return err
			}(),
			"Bind user":    s.Bind(ctx, k, key("id", 1), []byte("x"), exp),
			"Bind id":      s.Bind(ctx, key("user", 1), k, []byte("x"), exp),
			"Touch user":   s.Touch(ctx, k, key("id", 1), []byte("x"), exp),
			"Touch id":     s.Touch(ctx, key("user", 1), k, []byte("x"), exp),
			"Entries":      func() error { _, err := s.Entries(ctx, k); return err }(),
			"Unbind user":  s.Unbind(ctx, k, key("id", 1)),
			"Unbind id":    s.Unbind(ctx, key("user", 1), key("id", 1), k),
			"Unbind alone": s.Unbind(ctx, k),
		}
		for op, err := range ops {
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
			t.Errorf("%s of 101 bytes with MaxLength 100: err = %v, want server.ErrTooLarge", op, err)
		}
	}
	def, _ := New(pool, Config{})
	if def.MaxLength() != codec.DefaultMaxLength {
		t.Errorf("default MaxLength() = %d, want %d", def.MaxLength(), codec.DefaultMaxLength)
	}
	// The same store does reach the network for a valid key.
	if _, err := s.Load(ctx, key("valid", 1)); err == nil || errors.Is(err, server.ErrInvalidKey) {
		t.Fatalf("Load of a valid key on a closed port: err = %v, want a connection error", err)
	}
}

// countingStore returns a store on a pool of one connection whose
// traffic w counts.
func countingStore(t *testing.T, w *wire, cfg Config) *Store {
	t.Helper()
	pool := newPool(t, func(pc *pgxpool.Config) {
		pc.MaxConns = 1
		pc.ConnConfig.DialFunc = w.dial()
	})
	return newStoreOn(t, pool, cfg)
}

// TestOneRoundTripPerOperation checks on the wire, on one connection,
// that each operation is one round trip carrying one statement: by
// default a prepared one (its first run on the connection also sends the
// named Parse, in the same write; later runs send Bind, Execute and Sync
// only), and with NoPrepare the unnamed statement (Parse, Bind, Execute,
// Sync every time).
func TestOneRoundTripPerOperation(t *testing.T) {
	for _, noPrepare := range []bool{false, true} {
		t.Run(map[bool]string{false: "prepared", true: "NoPrepare"}[noPrepare], func(t *testing.T) {
			var w wire
			s := countingStore(t, &w, Config{NoPrepare: noPrepare})
			roundTripsPerOperation(t, s, &w, noPrepare)
		})
	}
}

func roundTripsPerOperation(t *testing.T, s *Store, w *wire, noPrepare bool) {
	ctx := testCtx(t)
	k, big := key("one", 1), key("one", 3)
	exp := time.Now().Add(time.Hour)
	if err := plant(t, s, big, make([]byte, s.MaxLength()+1), exp); err != nil {
		t.Fatal(err)
	}
	user, bigUser := key("user", 1), key("user", 2)
	for i := range 20 { // Entries reads them all in one round trip
		if err := s.Bind(ctx, user, key("entry", i), []byte("e"), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := plantEntry(t, s, bigUser, key("entry", 1), make([]byte, s.MaxLength()+1), exp); err != nil {
		t.Fatal(err)
	}
	want := func(err, target error) error {
		if !errors.Is(err, target) {
			return errors.Join(errors.New("want "+target.Error()), err)
		}
		return nil
	}
	steps := []struct {
		name string
		op   func() error
		n    int // statements, each in a round trip of its own; 0 means 1
	}{
		{"Create", func() error { return s.Create(ctx, k, []byte("v1"), exp) }, 0},
		{"Create existing", func() error { return want(s.Create(ctx, k, []byte("v1"), exp), server.ErrExists) }, 0},
		{"Load", func() error { _, err := s.Load(ctx, k); return err }, 0},
		{"LoadWithExpiry", func() error { _, _, err := s.LoadWithExpiry(ctx, k); return err }, 0},
		{"Load missing", func() error { _, err := s.Load(ctx, key("none", 1)); return want(err, server.ErrNotFound) }, 0},
		{"Load too large", func() error { _, err := s.Load(ctx, big); return want(err, server.ErrTooLarge) }, 0},
		{"Update", func() error { return s.Update(ctx, k, []byte("v2"), exp) }, 0},
		{"Update identical", func() error { return s.Update(ctx, k, []byte("v2"), exp) }, 0},
		{"Update missing", func() error { return want(s.Update(ctx, key("none", 1), []byte("v"), exp), server.ErrNotFound) }, 0},
		{"Delete", func() error { return s.Delete(ctx, k) }, 0},
		{"Delete missing", func() error { return s.Delete(ctx, k) }, 0},
		// Both tables: the sessions and the user index.
		{"DeleteExpired", func() error { _, err := s.DeleteExpired(ctx); return err }, 2},
		{"Bind", func() error { return s.Bind(ctx, user, key("entry", 99), []byte("b"), exp) }, 0},
		{"Bind again", func() error { return s.Bind(ctx, user, key("entry", 99), []byte("c"), exp) }, 0},
		{"Touch", func() error { return s.Touch(ctx, user, key("entry", 99), []byte("d"), exp) }, 0},
		{"Touch missing", func() error { return want(s.Touch(ctx, user, key("entry", 98), []byte("d"), exp), server.ErrNotFound) }, 0},
		{"Entries of 21", func() error {
			es, err := s.Entries(ctx, user)
			if err == nil && len(es) != 21 {
				err = fmt.Errorf("%d entries, want 21", len(es))
			}
			return err
		}, 0},
		{"Entries too large", func() error { _, err := s.Entries(ctx, bigUser); return want(err, server.ErrTooLarge) }, 0},
		{"Entries of none", func() error {
			es, err := s.Entries(ctx, key("nouser", 1))
			if err == nil && len(es) != 0 {
				err = fmt.Errorf("%d entries, want none", len(es))
			}
			return err
		}, 0},
		// One bound entry and two absent ones: the second pass binds it
		// again and finds 21 entries too.
		{"Unbind 3", func() error { return s.Unbind(ctx, user, key("entry", 99), key("absent", 1), key("absent", 2)) }, 0},
	}
	const types = "PBESQ"
	// The counter sees a prepared statement: pgx's default mode prepares
	// a named one on the first use of a query.
	named := w.namedParses.Load()
	if _, err := s.Pool().Exec(ctx, "SELECT $1::int", 1); err != nil {
		t.Fatal(err)
	}
	if w.namedParses.Load() != named+1 {
		t.Fatalf("a statement prepared by pgx's default mode was not counted as named")
	}
	for pass := 1; pass <= 2; pass++ {
		parses := int64(0)
		for _, st := range steps {
			before := w.snapshot(types)
			if err := st.op(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			after := w.snapshot(types)
			d := make([]int64, len(after))
			for i := range after {
				d[i] = after[i] - before[i]
			}
			t.Logf("pass %d: %-17s round trips %d, Parse %d (named %d), Bind %d, Execute %d, Sync %d, Query %d", pass, st.name, d[0], d[3], d[2], d[4], d[5], d[6], d[7])
			parses += d[3]
			n := int64(max(st.n, 1))
			if d[0] != n || d[4] != n || d[5] != n || d[6] != n || d[7] != 0 {
				t.Errorf("%s: %d round trips, Bind %d, Execute %d, Sync %d, Query %d; want %d statements, each in one round trip", st.name, d[0], d[4], d[5], d[6], d[7], n)
			}
			switch {
			case noPrepare && (d[3] != n || d[2] != 0):
				t.Errorf("%s with NoPrepare: Parse %d (named %d), want %d unnamed", st.name, d[3], d[2], n)
			case !noPrepare && (d[3] > n || d[2] != d[3]):
				t.Errorf("%s: Parse %d (named %d), want at most %d, named", st.name, d[3], d[2], n)
			}
		}
		if !noPrepare && pass == 2 && parses != 0 {
			t.Errorf("the second pass parsed %d statements, want none: the prepared statements are reused", parses)
		}
	}
}

// TestStatementDeallocated deallocates the prepared statements on the
// store's only connection, as DISCARD ALL or a pooler resetting the
// server connection would: the next operation prepares them again.
func TestStatementDeallocated(t *testing.T) {
	var w wire
	s := countingStore(t, &w, Config{})
	ctx := testCtx(t)
	k := key("dealloc", 1)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.Load(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Pool().Exec(ctx, "DEALLOCATE ALL"); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Load(ctx, k); err != nil || string(got) != "x" {
		t.Fatalf("Load after DEALLOCATE ALL = %q, %v", got, err)
	}
	if err := s.Update(ctx, k, []byte("y"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// TestOversizedBlobNotSent plants a 4 MiB row, over the default MaxLength,
// and a 4 MiB entry beside a small one in the user index: Load and
// LoadWithExpiry refuse the row, Entries the user's entries, and the data
// never crosses the network (the server sends NULL in its place).
func TestOversizedBlobNotSent(t *testing.T) {
	var w wire
	s := countingStore(t, &w, Config{})
	ctx := testCtx(t)
	k := key("huge", 1)
	if err := plant(t, s, k, bytes.Repeat([]byte{0xab}, 4<<20), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	user := key("hugeuser", 1)
	if err := s.Bind(ctx, user, key("small", 1), []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := plantEntry(t, s, user, k, bytes.Repeat([]byte{0xab}, 4<<20), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() error{
		"Load":           func() error { _, err := s.Load(ctx, k); return err },
		"LoadWithExpiry": func() error { _, _, err := s.LoadWithExpiry(ctx, k); return err },
		"Entries":        func() error { _, err := s.Entries(ctx, user); return err },
	} {
		before := w.bytesRead.Load()
		err := load()
		n := w.bytesRead.Load() - before
		if !errors.Is(err, server.ErrTooLarge) {
			t.Errorf("%s of a 4 MiB row = %v, want server.ErrTooLarge", name, err)
		}
		if err != nil && strings.Contains(err.Error(), k) {
			t.Errorf("%s: the error %q contains the key", name, err)
		}
		if n > 4096 {
			t.Errorf("%s read %d bytes from the server, want the short answer without the row's data", name, n)
		}
		t.Logf("%s: %d bytes read: %v", name, n, err)
	}
}

// TestDeleteExpiredBatches deletes 2,500 expired rows with a batch of 1000
// and with a batch of 100 and counts the statements executed on the wire.
func TestDeleteExpiredBatches(t *testing.T) {
	for _, c := range []struct {
		batch, expired int
		statements     int64
	}{
		// One more each for the user index's table, empty here.
		{1000, 2500, 3 + 1}, // 1000, 1000, 500
		{100, 2500, 26 + 1}, // 25 full batches, then an empty one
		{100, 2550, 26 + 1}, // 25 full, then 50
		{DefaultDeleteBatch, 0, 1 + 1},
	} {
		var w wire
		pool := newPool(t, func(pc *pgxpool.Config) { pc.MaxConns = 1; pc.ConnConfig.DialFunc = w.dial() })
		s := newStoreOn(t, pool, Config{DeleteBatch: c.batch})
		ctx := testCtx(t)
		insertRows(t, s, "exp", c.expired, time.Now().Add(-time.Minute))
		insertRows(t, s, "live", 10, time.Now().Add(time.Hour))
		before := w.messages['E'].Load()
		n, err := s.DeleteExpired(ctx)
		if err != nil || n != int64(c.expired) {
			t.Fatalf("batch %d: DeleteExpired = %d, %v; want %d, nil", c.batch, n, err, c.expired)
		}
		if got := w.messages['E'].Load() - before; got != c.statements {
			t.Errorf("batch %d, %d expired rows: %d statements, want %d", c.batch, c.expired, got, c.statements)
		}
		if left := rowCount(t, s); left != 10 {
			t.Fatalf("batch %d: %d rows left, want the 10 live ones", c.batch, left)
		}
	}
}

// insertRows inserts n rows expiring at exp in one statement.
func insertRows(t testing.TB, s *Store, prefix string, n int, exp time.Time) {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = key(prefix, i)
	}
	if _, err := s.Pool().Exec(testCtx(t), `INSERT INTO "`+s.Table()+`" (session_key, data, expiry) SELECT k, 'blob', $2 FROM unnest($1::text[]) AS k`, keys, exp); err != nil {
		t.Fatalf("insert rows: %v", err)
	}
}

// TestDeleteExpiredSkipsLockedRows holds one expired row locked in another
// transaction: DeleteExpired removes the others without waiting for it.
func TestDeleteExpiredSkipsLockedRows(t *testing.T) {
	s := openStore(t, Config{DeleteBatch: 10})
	ctx := testCtx(t)
	insertRows(t, s, "exp", 25, time.Now().Add(-time.Minute))
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM "`+s.Table()+`" WHERE session_key = $1 FOR UPDATE`, key("exp", 7)); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := s.DeleteExpired(short)
	if err != nil || n != 24 {
		t.Fatalf("DeleteExpired with a locked row = %d, %v; want 24, nil", n, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
		t.Fatalf("DeleteExpired once unlocked = %d, %v; want 1, nil", n, err)
	}
}

func TestDeleteExpiredHonoursContext(t *testing.T) {
	s := openStore(t, Config{DeleteBatch: 10})
	insertRows(t, s, "exp", 100, time.Now().Add(-time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := s.DeleteExpired(ctx)
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("DeleteExpired with a cancelled context = %d, %v; want 0, context.Canceled", n, err)
	}
	if left := rowCount(t, s); left != 100 {
		t.Fatalf("%d rows left, want 100", left)
	}
}

// TestDeadlineDuringLockWait holds the row lock in another transaction so
// that Update blocks inside the server; the context's deadline must end
// it, on the server too: the Update that failed must not take effect once
// the lock is released, and its connection must be closed. The Update is
// the first statement on its connection (prepared in its own write), or
// runs an already prepared statement, or the unnamed one (NoPrepare).
func TestDeadlineDuringLockWait(t *testing.T) {
	for _, c := range []struct {
		name     string
		cfg      Config
		prepared bool
	}{
		{"first on the connection", Config{}, false},
		{"prepared", Config{}, true},
		{"NoPrepare", Config{NoPrepare: true}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStoreOn(t, newPool(t, func(pc *pgxpool.Config) { pc.MaxConns = 1 }), c.cfg)
			locker := newPool(t, nil)
			ctx := testCtx(t)
			k := key("lock", 1)
			if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if c.prepared {
				if err := s.Update(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			tx := lockRow(t, locker, s, k)
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			pattern := "UPDATE \"" + s.Table() + "\" SET data = $1%"
			backend := waitingBackend(t, locker, pattern)
			err := s.Update(short, k, []byte("y"), time.Now().Add(time.Hour))
			if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "session store postgres: update: ") || !strings.Contains(err.Error(), "cancelled on the server and took no effect") {
				t.Fatalf("Update blocked on a row lock: err = %v, want context.DeadlineExceeded with the store's prefix, saying that the server cancelled it", err)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			// The Update that failed wrote nothing, now or later: its
			// statement was cancelled on the server before it returned, so
			// that no backend is left to run it once the lock is released.
			waitNoStatement(t, locker, pattern)
			if got, err := s.Load(ctx, k); err != nil || string(got) != "x" {
				t.Fatalf("after the failed Update, Load = %q, %v; want x", got, err)
			}
			// The connection of the cancelled Update was closed, not reused.
			waitNone(t, locker, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", <-backend)
			if err := s.Update(ctx, k, []byte("z"), time.Now().Add(time.Hour)); err != nil {
				t.Fatalf("Update after the lock was released: %v", err)
			}
			if got, err := s.Load(ctx, k); err != nil || string(got) != "z" {
				t.Fatalf("Load = %q, %v; want z", got, err)
			}
		})
	}
}

// TestDeadlineWhenTheCancelCannotBeSent: an Update blocked on a row lock
// whose context ends when the server cannot be reached to cancel it (the
// dial of the cancel request fails) returns the context's error at once,
// saying that the statement may have taken effect, which it then does
// once the lock is released.
func TestDeadlineWhenTheCancelCannotBeSent(t *testing.T) {
	var refuse atomic.Bool
	pool := newPool(t, func(pc *pgxpool.Config) {
		pc.MaxConns = 1
		pc.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if refuse.Load() {
				return nil, errors.New("dial refused by the test")
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	})
	s := newStoreOn(t, pool, Config{})
	ctx := testCtx(t)
	k := key("nocancel", 1)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	locker := newPool(t, nil)
	tx := lockRow(t, locker, s, k)
	refuse.Store(true)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := s.Update(short, k, []byte("y"), time.Now().Add(time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "may have taken effect") {
		t.Fatalf("Update = %v; want context.DeadlineExceeded, saying the statement may have taken effect", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Dials stay refused until the Update has run, so that pgconn's own
	// cancel of a dropped connection cannot reach it either.
	waitNoStatement(t, locker, "UPDATE \""+s.Table()+"\" SET data = $1%")
	refuse.Store(false)
	if got, err := s.Load(ctx, k); err != nil || string(got) != "y" {
		t.Fatalf("Load = %q, %v; want y, written after the Update gave up", got, err)
	}
}

// lockRow locks the row of k in a transaction on pool, until it is rolled
// back (at the latest when the test ends).
func lockRow(t *testing.T, pool *pgxpool.Pool, s *Store, k string) pgx.Tx {
	t.Helper()
	ctx := testCtx(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, `SELECT 1 FROM "`+s.Table()+`" WHERE session_key = $1 FOR UPDATE`, k); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitingBackend returns a channel that gets the pid of the backend that
// waits for a lock on a statement matching pattern (LIKE), once there is
// one, within ten seconds; the test's end waits for the search to end.
func waitingBackend(t *testing.T, pool *pgxpool.Pool, pattern string) <-chan int32 {
	ctx := testCtx(t)
	found := make(chan int32, 1)
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		defer close(found)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			var pid int32
			err := pool.QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1", pattern).Scan(&pid)
			if err == nil {
				found <- pid
				return
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				t.Error(err)
				return
			}
		}
		t.Error("no backend waits for the statement")
	}()
	return found
}

// waitNoStatement waits until no backend runs a statement that matches
// pattern (LIKE), failing the test after ten seconds.
func waitNoStatement(t *testing.T, pool *pgxpool.Pool, pattern string) {
	t.Helper()
	waitNone(t, pool, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1", pattern)
}

// waitNone waits until query, a count, counts 0, failing the test after
// ten seconds.
func waitNone(t *testing.T, pool *pgxpool.Pool, query string, args ...any) {
	t.Helper()
	ctx := testCtx(t)
	testenv.WaitUntil(t, func() (bool, string) {
		var n int
		if err := pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0, fmt.Sprintf("%s %v counts %d", query, args, n)
	})
}

// TestSerializationFailureIsRetried runs the store on connections whose
// transactions are REPEATABLE READ (as a server configured so would make
// them): an Update waiting for a row that another transaction then
// changes and commits fails with a serialization failure (40001), which
// the store retries with a new snapshot.
func TestSerializationFailureIsRetried(t *testing.T) {
	pool := newPool(t, func(pc *pgxpool.Config) {
		pc.ConnConfig.RuntimeParams["default_transaction_isolation"] = "repeatable read"
	})
	s := newStoreOn(t, pool, Config{})
	ctx := testCtx(t)
	k := key("ser", 1)
	if err := s.Create(ctx, k, []byte("v0"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// race makes the row change under a waiting UPDATE, run by update.
	race := func(update func(context.Context) error) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `UPDATE "`+s.Table()+`" SET data = 'other' WHERE session_key = $1`, k); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- update(ctx) }()
		for {
			var waiting int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE \""+s.Table()+"\" SET data = $1%'").Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting > 0 {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("the Update returned (%v) without waiting for the locked row", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return <-done
	}
	// The setup does make a serialization failure: the same statement
	// sent once, without the store, fails.
	err := race(func(ctx context.Context) error {
		_, err := pool.Exec(ctx, `UPDATE "`+s.Table()+`" SET data = $1, expiry = $2 WHERE session_key = $3 AND expiry > $4`, []byte("raw"), time.Now().Add(time.Hour), k, time.Now())
		return err
	})
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "40001" {
		t.Fatalf("the raw UPDATE racing a committed change: %v; want a serialization failure (the test's setup)", err)
	}
	if err := race(func(ctx context.Context) error { return s.Update(ctx, k, []byte("mine"), time.Now().Add(time.Hour)) }); err != nil {
		t.Fatalf("Update racing a committed change: %v; want the serialization failure retried", err)
	}
	if got, err := s.Load(ctx, k); err != nil || string(got) != "mine" {
		t.Fatalf("Load = %q, %v; want the Update's data", got, err)
	}
}

func TestRetryable(t *testing.T) {
	for code, want := range map[string]bool{"40001": true, "40P01": true, "23505": false, "42P01": false, "57P01": false} {
		if got := retryable(&pgconn.PgError{Code: code}); got != want {
			t.Errorf("retryable(%s) = %v, want %v", code, got, want)
		}
	}
	if retryable(errors.New("x")) || retryable(context.Canceled) {
		t.Error("retryable of a non-PostgreSQL error")
	}
}

func TestDriverErrorsAreWrapped(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	dropTable(t, s.Pool(), s.Table())
	k := key("wrapped", 1)
	exp := time.Now().Add(time.Hour)
	ops := map[string]error{
		"load":           func() error { _, err := s.Load(ctx, k); return err }(),
		"create":         s.Create(ctx, k, []byte("x"), exp),
		"update":         s.Update(ctx, k, []byte("x"), exp),
		"delete":         s.Delete(ctx, k),
		"delete expired": func() error { _, err := s.DeleteExpired(ctx); return err }(),
		"bind":           s.Bind(ctx, k, k, []byte("x"), exp),
		"touch":          s.Touch(ctx, k, k, []byte("x"), exp),
		"entries":        func() error { _, err := s.Entries(ctx, k); return err }(),
		"unbind":         s.Unbind(ctx, k, k),
	}
	for op, err := range ops {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42P01" { // undefined_table
			t.Errorf("%s on a missing table: err = %v, want a wrapped *pgconn.PgError 42P01", op, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "session store postgres: "+op+": ") {
			t.Errorf("%s: error %q lacks the prefix %q", op, err, "session store postgres: "+op+": ")
		}
		if strings.Contains(err.Error(), k) {
			t.Errorf("%s: error %q contains the session key", op, err)
		}
		if errors.Is(err, server.ErrNotFound) || errors.Is(err, server.ErrExists) {
			t.Errorf("%s: a database error reads as a store outcome: %v", op, err)
		}
	}
}

// TestOpenChecksTheServer checks Open's errors: a DSN that does not parse
// is refused without its password; a server that does not answer is
// server.ErrUnavailable, naming the address and the user but not the
// password; and Ping works on a live server.
func TestOpenChecksTheServer(t *testing.T) {
	_, err := Open("postgres://sess:s3cret@127.0.0.1:notaport/app", Config{})
	if err == nil || errors.Is(err, server.ErrUnavailable) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open with a bad port = %v; want a parse error without the password", err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err = Open("postgres://sess:s3cret@"+addr+"/app?sslmode=disable", Config{})
	if !errors.Is(err, server.ErrUnavailable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), `"sess"`) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open of a closed port = %v; want server.ErrUnavailable naming %s and the user, not the password", err, addr)
	}
	dir := t.TempDir()
	_, err = Open("host="+dir+" port=5999 user=sess password=s3cret dbname=app", Config{})
	if !errors.Is(err, server.ErrUnavailable) || !strings.Contains(err.Error(), "unix("+dir+"/.s.PGSQL.5999)") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open of a missing socket = %v; want server.ErrUnavailable naming the socket", err)
	}
	if _, err := Open(testenv.PostgresDSN(t), Config{Table: "bad name"}); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("Open with a bad table: %v, want ErrMisconfigured", err)
	}
	s, err := Open(testenv.PostgresDSN(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if got := s.Pool().Config().ConnConfig.ConnectTimeout; got != DefaultConnectTimeout {
		t.Errorf("ConnectTimeout = %v, want %v", got, DefaultConnectTimeout)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Pool().Ping(context.Background()); err == nil {
		t.Error("the pool Open created is usable after Close")
	}
}

// TestNewLeavesThePoolOpen: Close of a store made by New leaves the
// caller's pool alone, and the store works on a pool whose default mode
// prepares statements.
func TestNewLeavesThePoolOpen(t *testing.T) {
	pool := newPool(t, func(pc *pgxpool.Config) { pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement })
	s := newStoreOn(t, pool, Config{})
	ctx := testCtx(t)
	k := key("new", 1)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Pool() != pool {
		t.Fatal("Pool() is not the pool given to New")
	}
	if got, err := s.Load(ctx, k); err != nil || string(got) != "x" {
		t.Fatalf("Load after Close of a store made by New = %q, %v", got, err)
	}
}

func TestCancelledContext(t *testing.T) {
	s := openStore(t, Config{})
	k := key("ctx", 1)
	if err := s.Create(testCtx(t), k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for op, err := range map[string]error{
		"Migrate": s.Migrate(ctx),
		"Ping":    s.Ping(ctx),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", op, err)
		}
	}
}
