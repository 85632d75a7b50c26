package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // a named zone for TestOpenForcesOptions, whatever the machine has

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
)

func TestTableNameValidation(t *testing.T) {
	// No server needed: names are checked before any I/O.
	bad := []string{
		"sessions; DROP TABLE users",
		"sessions`; DROP TABLE users; -- ",
		"a`b",
		"a.b",
		"a b",
		"a-b",
		"1sessions",
		"sessions\x00",
		"séssions",
		"sessions--",
		"'sessions'",
		strings.Repeat("a", 59), // with UsersSuffix, over MySQL's 64
	}
	for _, name := range bad {
		if err := ValidateTable(name); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("ValidateTable(%q) = %v, want ErrMisconfigured", name, err)
		}
		if _, err := Open(testenv.MySQLDSN(t), Config{Table: name}); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("Open with table %q: err = %v, want ErrMisconfigured", name, err)
		}
		db, err := sql.Open("mysql", "u:p@tcp(127.0.0.1:1)/db")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(context.Background(), db, Config{Table: name, SkipCheck: true}); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("New with table %q: err = %v, want ErrMisconfigured", name, err)
		}
		_ = db.Close()
	}
	good := []string{"sessions", "_s", "Sessions_2", "django_session", strings.Repeat("a", 58)}
	for _, name := range good {
		if err := ValidateTable(name); err != nil {
			t.Errorf("ValidateTable(%q) = %v, want nil", name, err)
		}
		s, err := Open(testenv.MySQLDSN(t), Config{Table: name})
		if err != nil {
			t.Errorf("Open with table %q: %v", name, err)
			continue
		}
		if s.Table() != name || !strings.Contains(s.qLoad, "`"+name+"`") {
			t.Errorf("table %q: Table() = %q, load statement %q", name, s.Table(), s.qLoad)
		}
		_ = s.Close()
	}
	s, err := Open(testenv.MySQLDSN(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Table() != DefaultTable {
		t.Fatalf("default table = %q, want %q", s.Table(), DefaultTable)
	}
	if _, err := Open(testenv.MySQLDSN(t), Config{DeleteBatch: -1}); !errors.Is(err, ErrMisconfigured) {
		t.Fatalf("Open with DeleteBatch -1: err = %v, want ErrMisconfigured", err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	if _, err := Open("u:p@tcp(127.0.0.1:1/db", Config{}); err == nil {
		t.Fatal("Open accepted a DSN with an unclosed address")
	}
	if _, err := Open("u:p@tcp(127.0.0.1:1)/db?interpolateParams=true&collation=sjis_bin", Config{}); err == nil {
		t.Fatal("Open accepted interpolateParams with an unsafe collation")
	}
}

func TestInterpolationSafe(t *testing.T) {
	cases := []struct {
		dsn  string
		want bool
	}{
		{"u:p@tcp(h:1)/db", true},
		{"u:p@tcp(h:1)/db?parseTime=true", true},
		{"u:p@tcp(h:1)/db?charset=utf8mb4", true},
		{"u:p@tcp(h:1)/db?charset=utf8mb4,utf8", true},
		{"u:p@tcp(h:1)/db?charset=latin1&parseTime=true", true},
		{"u:p@tcp(h:1)/db?charset=sjis", false},
		{"u:p@tcp(h:1)/db?parseTime=true&charset=utf8mb4,GBK", false},
		{"u:p@tcp(h:1)/db?charset=big5", false},
		{"u:p@tcp(h:1)/db?charset=cp932", false},
		{"u:p@tcp(h:1)/db?charset=gb18030", false},
		{"u:p@tcp(h:1)/db?collation=gbk_chinese_ci", false},
		{"u:p@tcp(h:1)/db?collation=utf8mb4_bin", true},
		{"u/?charset=sjis:p@tcp(h:1)/db", true}, // in the password, not a parameter
	}
	for _, c := range cases {
		mc, err := gomysql.ParseDSN(c.dsn)
		if err != nil {
			t.Fatalf("ParseDSN(%q): %v", c.dsn, err)
		}
		if got := interpolationSafe(c.dsn, mc.Collation); got != c.want {
			t.Errorf("interpolationSafe(%q) = %v, want %v", c.dsn, got, c.want)
		}
	}
}

func TestMigrateIdempotent(t *testing.T) {
	s := openStore(t, "", Config{}) // migrated once
	ctx := testCtx(t)
	k := key("keep", 1)
	if err := s.Create(ctx, k, []byte("kept"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again (%d): %v", i+1, err)
		}
	}
	got, err := s.Load(ctx, k)
	if err != nil || string(got) != "kept" {
		t.Fatalf("Load after Migrate = %q, %v; want %q", got, err, "kept")
	}
}

func TestSchema(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	rows, err := s.DB().QueryContext(ctx, `
		SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COALESCE(CHARACTER_SET_NAME, ''), COALESCE(COLLATION_NAME, ''), COLUMN_KEY
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
		ORDER BY ORDINAL_POSITION`, s.Table())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name, typ, null, cs, coll, ckey string
		if err := rows.Scan(&name, &typ, &null, &cs, &coll, &ckey); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{name, typ, null, cs, coll, ckey}, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"session_key varchar(128) NO ascii ascii_bin PRI",
		"data mediumblob NO   ",
		"expiry datetime(6) NO   MUL",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("columns:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var engine string
	if err := s.DB().QueryRowContext(ctx, "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", s.Table()).Scan(&engine); err != nil {
		t.Fatal(err)
	}
	if engine != "InnoDB" {
		t.Fatalf("engine = %q, want InnoDB", engine)
	}
}

// TestKeyColumnIsCaseSensitive writes a row whose key differs from a valid
// key only in case (bypassing the store, which refuses upper case) and
// checks that the store neither finds it nor collides with it.
func TestKeyColumnIsCaseSensitive(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	lower := key("casetest", 1)
	upper := strings.ToUpper(lower)
	if _, err := s.DB().ExecContext(ctx, "INSERT INTO `"+s.Table()+"` (session_key, data, expiry) VALUES (?, ?, ?)",
		upper, []byte("upper"), time.Now().Add(time.Hour).UTC()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, lower); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load found a key that differs only in case: err = %v", err)
	}
	if err := s.Update(ctx, lower, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Update matched a key that differs only in case: err = %v", err)
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

// TestDeleteExpiredBatches deletes 2,500 expired rows with a batch of 1000
// and with a batch of 100, on one connection, and counts the DELETE
// statements the server ran.
func TestDeleteExpiredBatches(t *testing.T) {
	for _, c := range []struct {
		batch, expired int
		statements     int64
	}{
		// One more each for the user index's table.
		{1000, 2500, 3 + 1}, // 1000, 1000, 500
		{100, 2500, 26 + 1}, // 25 full batches, then an empty one
		{100, 2550, 26 + 1}, // 25 full, then 50
		{DefaultDeleteBatch, 0, 1 + 1},
	} {
		s := openStore(t, "", Config{DeleteBatch: c.batch})
		s.DB().SetMaxOpenConns(1)
		ctx := testCtx(t)
		insertRows(t, s, "exp", c.expired, time.Now().Add(-time.Minute))
		insertRows(t, s, "live", 10, time.Now().Add(time.Hour))
		before := sessionStatus(t, s.DB())
		n, err := s.DeleteExpired(ctx)
		after := sessionStatus(t, s.DB())
		if err != nil || n != int64(c.expired) {
			t.Fatalf("batch %d: DeleteExpired = %d, %v; want %d, nil", c.batch, n, err, c.expired)
		}
		if got := after["Com_delete"] - before["Com_delete"]; got != c.statements {
			t.Errorf("batch %d, %d expired rows: %d DELETE statements, want %d", c.batch, c.expired, got, c.statements)
		}
		if left := rowCount(t, s); left != 10 {
			t.Fatalf("batch %d: %d rows left, want the 10 live ones", c.batch, left)
		}
	}
}

// insertRows inserts n rows expiring at exp with multi-row INSERTs.
func insertRows(t testing.TB, s *Store, prefix string, n int, exp time.Time) {
	t.Helper()
	ctx := testCtx(t)
	for start := 0; start < n; start += 500 {
		end := min(start+500, n)
		var q strings.Builder
		args := make([]any, 0, 3*(end-start))
		q.WriteString("INSERT INTO `" + s.Table() + "` (session_key, data, expiry) VALUES ")
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?)")
			args = append(args, key(prefix, i), []byte("blob"), exp.UTC())
		}
		if _, err := s.DB().ExecContext(ctx, q.String(), args...); err != nil {
			t.Fatalf("insert rows: %v", err)
		}
	}
}

func TestDeleteExpiredHonoursContext(t *testing.T) {
	s := openStore(t, "", Config{DeleteBatch: 10})
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

// sessionStatus reads the server's per-connection statement counters.
func sessionStatus(t testing.TB, db *sql.DB) map[string]int64 {
	t.Helper()
	rows, err := db.QueryContext(testCtx(t), "SHOW SESSION STATUS WHERE Variable_name IN "+
		"('Questions', 'Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_stmt_prepare', 'Com_stmt_execute')")
	if err != nil {
		t.Fatalf("session status: %v", err)
	}
	defer rows.Close()
	m := map[string]int64{}
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		m[name] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(m) != 7 {
		t.Fatalf("session status: got %v", m)
	}
	return m
}

// countingConn counts round trips on a driver connection (a round trip
// starts with the first write after a read, or the first write ever) and
// the bytes it reads.
type countingConn struct {
	net.Conn
	lastRead atomic.Bool
}

var (
	roundTrips   atomic.Int64
	bytesRead    atomic.Int64
	registerOnce sync.Once
)

func (c *countingConn) Write(p []byte) (int, error) {
	if c.lastRead.Swap(false) {
		roundTrips.Add(1)
	}
	return c.Conn.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.lastRead.Store(true)
	n, err := c.Conn.Read(p)
	bytesRead.Add(int64(n))
	return n, err
}

// countingDSN returns the test DSN with its network replaced by one that
// counts round trips; the address must be TCP.
func countingDSN(t testing.TB) string {
	t.Helper()
	mc := testConfig(t)
	if mc.Net != "tcp" {
		t.Skipf("round trips are counted on TCP; %s uses %q", testenv.MySQLDSNVar, mc.Net)
	}
	registerOnce.Do(func() {
		gomysql.RegisterDialContext("counting_tcp", func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			cc := &countingConn{Conn: c}
			cc.lastRead.Store(true)
			return cc, nil
		})
	})
	mc.Net = "counting_tcp"
	return mc.FormatDSN()
}

// TestOneRoundTripPerOperation checks, on one pinned connection, that each
// operation is one statement for the server (its Questions and Com_*
// counters, no prepared statement) and one round trip on the wire.
func TestOneRoundTripPerOperation(t *testing.T) {
	s := openStore(t, countingDSN(t), Config{})
	s.DB().SetMaxOpenConns(1)
	ctx := testCtx(t)
	k, k2, big := key("one", 1), key("one", 2), key("one", 3)
	exp := time.Now().Add(time.Hour)
	if err := s.Create(ctx, k2, []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	if err := plant(t, s, big, make([]byte, s.MaxLength()+1), exp); err != nil {
		t.Fatal(err)
	}

	// Reading the counters is itself a statement; measure that first.
	s0 := sessionStatus(t, s.DB())
	s1 := sessionStatus(t, s.DB())
	base := s1["Questions"] - s0["Questions"]

	user := key("user", 1)
	for i := range 20 { // Entries reads them all in one round trip
		if err := s.Bind(ctx, user, key("entry", i), []byte("e"), exp); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name string
		com  string
		op   func() error
		want int // round trips and statements; 0 means 1
	}{
		{"Create", "Com_insert", func() error { return s.Create(ctx, k, []byte("v1"), exp) }, 0},
		{"Create existing", "Com_insert", func() error {
			if err := s.Create(ctx, k, []byte("v1"), exp); !errors.Is(err, server.ErrExists) {
				return errors.Join(errors.New("want ErrExists"), err)
			}
			return nil
		}, 0},
		{"Load", "Com_select", func() error { _, err := s.Load(ctx, k); return err }, 0},
		{"Load missing", "Com_select", func() error {
			if _, err := s.Load(ctx, key("none", 1)); !errors.Is(err, server.ErrNotFound) {
				return errors.Join(errors.New("want ErrNotFound"), err)
			}
			return nil
		}, 0},
		{"Load too large", "Com_select", func() error {
			if _, err := s.Load(ctx, big); !errors.Is(err, server.ErrTooLarge) {
				return errors.Join(errors.New("want ErrTooLarge"), err)
			}
			return nil
		}, 0},
		{"Update", "Com_update", func() error { return s.Update(ctx, k, []byte("v2"), exp) }, 0},
		{"Update identical", "Com_update", func() error { return s.Update(ctx, k, []byte("v2"), exp) }, 0},
		{"Update missing", "Com_update", func() error {
			if err := s.Update(ctx, key("none", 1), []byte("v"), exp); !errors.Is(err, server.ErrNotFound) {
				return errors.Join(errors.New("want ErrNotFound"), err)
			}
			return nil
		}, 0},
		{"Delete", "Com_delete", func() error { return s.Delete(ctx, k) }, 0},
		{"Delete missing", "Com_delete", func() error { return s.Delete(ctx, k) }, 0},
		// Both tables: the sessions and the user index.
		{"DeleteExpired", "Com_delete", func() error { _, err := s.DeleteExpired(ctx); return err }, 2},
		{"Bind", "Com_insert", func() error { return s.Bind(ctx, user, key("entry", 99), []byte("b"), exp) }, 0},
		{"Bind again", "Com_insert", func() error { return s.Bind(ctx, user, key("entry", 99), []byte("c"), exp) }, 0},
		{"Touch", "Com_update", func() error { return s.Touch(ctx, user, key("entry", 99), []byte("d"), exp) }, 0},
		{"Touch missing", "Com_update", func() error {
			if err := s.Touch(ctx, user, key("entry", 98), []byte("d"), exp); !errors.Is(err, server.ErrNotFound) {
				return errors.Join(errors.New("want ErrNotFound"), err)
			}
			return nil
		}, 0},
		{"Entries of 21", "Com_select", func() error {
			es, err := s.Entries(ctx, user)
			if err == nil && len(es) != 21 {
				err = fmt.Errorf("%d entries, want 21", len(es))
			}
			return err
		}, 0},
		{"Unbind 3", "Com_delete", func() error { return s.Unbind(ctx, user, key("entry", 1), key("entry", 2), key("entry", 99)) }, 0},
	}
	for _, st := range steps {
		before := sessionStatus(t, s.DB())
		rt0 := roundTrips.Load()
		if err := st.op(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		rt := roundTrips.Load() - rt0
		after := sessionStatus(t, s.DB())
		questions := after["Questions"] - before["Questions"] - base
		t.Logf("%-17s round trips %d, statements %d, %s +%d, prepares +%d", st.name, rt, questions,
			st.com, after[st.com]-before[st.com], after["Com_stmt_prepare"]-before["Com_stmt_prepare"])
		want := int64(max(st.want, 1))
		if rt != want {
			t.Errorf("%s: %d round trips, want %d", st.name, rt, want)
		}
		if questions != want {
			t.Errorf("%s: %d statements (Questions), want %d", st.name, questions, want)
		}
		if got := after[st.com] - before[st.com]; got != want {
			t.Errorf("%s: %s +%d, want +%d", st.name, st.com, got, want)
		}
		if got := after["Com_stmt_prepare"] - before["Com_stmt_prepare"]; got != 0 {
			t.Errorf("%s: %d prepared statements, want 0 (interpolateParams)", st.name, got)
		}
	}
}

// TestOversizedBlobNotSent plants a 4 MiB row, over the default MaxLength:
// Load and LoadWithExpiry refuse it, and the row's data never crosses the
// network (the server sends NULL in its place).
func TestOversizedBlobNotSent(t *testing.T) {
	s := openStore(t, countingDSN(t), Config{})
	s.DB().SetMaxOpenConns(1)
	ctx := testCtx(t)
	k := key("huge", 1)
	if err := plant(t, s, k, bytes.Repeat([]byte{0xab}, 4<<20), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() error{
		"Load":           func() error { _, err := s.Load(ctx, k); return err },
		"LoadWithExpiry": func() error { _, _, err := s.LoadWithExpiry(ctx, k); return err },
	} {
		before := bytesRead.Load()
		err := load()
		n := bytesRead.Load() - before
		if !errors.Is(err, server.ErrTooLarge) {
			t.Errorf("%s of a 4 MiB row = %v, want server.ErrTooLarge", name, err)
		}
		if strings.Contains(err.Error(), k) {
			t.Errorf("%s: the error %q contains the key", name, err)
		}
		if n > 4096 {
			t.Errorf("%s read %d bytes from the server, want the short answer without the row's data", name, n)
		}
		t.Logf("%s: %d bytes read: %v", name, n, err)
	}
}

// TestOpenWithUnsafeCharsetStillWorks opens the store with a connection
// character set that forbids interpolation: the store falls back to
// prepared statements and keeps its semantics.
func TestOpenWithUnsafeCharsetStillWorks(t *testing.T) {
	mc := testConfig(t)
	dsn := mc.FormatDSN()
	if strings.Contains(dsn, "?") {
		dsn += "&charset=sjis"
	} else {
		dsn += "?charset=sjis"
	}
	s := openStore(t, dsn, Config{})
	s.DB().SetMaxOpenConns(1)
	ctx := testCtx(t)
	k := key("sjis", 1)
	blob := []byte{0x81, 0x5c, '\\', '\'', 0, 0xff}
	before := sessionStatus(t, s.DB())
	if err := s.Create(ctx, k, blob, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	after := sessionStatus(t, s.DB())
	if got := after["Com_stmt_prepare"] - before["Com_stmt_prepare"]; got != 1 {
		t.Fatalf("with charset=sjis, Create used %d prepared statements, want 1 (no interpolation)", got)
	}
	got, err := s.Load(ctx, k)
	if err != nil || string(got) != string(blob) {
		t.Fatalf("Load = %x, %v; want %x", got, err, blob)
	}
	if err := s.Update(ctx, k, blob, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("identical Update: %v", err)
	}
}

// TestOpenForcesOptions gives Open a DSN that turns off every option the
// store relies on; the store must behave as with the right ones.
func TestOpenForcesOptions(t *testing.T) {
	mc := testConfig(t)
	mc.ParseTime = false
	mc.ClientFoundRows = false
	mc.InterpolateParams = false
	loc, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	mc.Loc = loc
	s := openStore(t, mc.FormatDSN(), Config{})
	ctx := testCtx(t)
	k := key("forced", 1)
	exp := time.Date(2035, 1, 2, 3, 4, 5, 6000, time.UTC)
	if err := s.Create(ctx, k, []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, k, []byte("x"), exp); err != nil {
		t.Fatalf("identical Update (clientFoundRows forced): %v", err)
	}
	var stored time.Time
	if err := s.DB().QueryRowContext(ctx, "SELECT expiry FROM `"+s.Table()+"` WHERE session_key = ?", k).Scan(&stored); err != nil {
		t.Fatalf("scan DATETIME into time.Time (parseTime forced): %v", err)
	}
	if !stored.Equal(exp) || stored.Location() != time.UTC {
		t.Fatalf("stored expiry = %v, want %v in UTC (loc forced)", stored, exp)
	}
}

// openDB opens a *sql.DB on the test server with the driver options mod
// sets, for New.
func openDB(t testing.TB, mod func(*gomysql.Config)) *sql.DB {
	t.Helper()
	mc := testConfig(t)
	mod(mc)
	conn, err := gomysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestNewChecksConnection(t *testing.T) {
	ctx := testCtx(t)
	cases := []struct {
		name string
		mod  func(*gomysql.Config)
		want string
	}{
		{"no parseTime", func(c *gomysql.Config) { c.ParseTime = false }, "parseTime=true"},
		{"no clientFoundRows", func(c *gomysql.Config) { c.ClientFoundRows = false }, "clientFoundRows=true"},
		{"loc not UTC", func(c *gomysql.Config) { c.Loc = time.FixedZone("X", 3600) }, "loc=UTC"},
	}
	for _, c := range cases {
		db := openDB(t, func(mc *gomysql.Config) {
			mc.ParseTime, mc.ClientFoundRows, mc.Loc = true, true, time.UTC
			c.mod(mc)
		})
		_, err := New(ctx, db, Config{Table: uniqueTable(t)})
		if !errors.Is(err, ErrMisconfigured) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New err = %v, want ErrMisconfigured mentioning %q", c.name, err, c.want)
		}
		// SkipCheck trusts the caller.
		if _, err := New(ctx, db, Config{Table: uniqueTable(t), SkipCheck: true}); err != nil {
			t.Errorf("%s: New with SkipCheck: %v", c.name, err)
		}
	}

	db := openDB(t, func(mc *gomysql.Config) {
		mc.ParseTime, mc.ClientFoundRows, mc.Loc, mc.InterpolateParams = true, true, time.UTC, true
	})
	db.SetMaxOpenConns(1) // the check's temporary table must not stay on the connection
	s, err := New(ctx, db, Config{Table: uniqueTable(t)})
	if err != nil {
		t.Fatalf("New with a correct DSN: %v", err)
	}
	t.Cleanup(func() { dropTable(t, db, s.Table()) })
	if _, err := db.ExecContext(ctx, "SELECT * FROM "+checkTable); err == nil {
		t.Fatal("the check's temporary table is still there after New")
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	k := key("new", 1)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("Close of a store made by New closed the caller's DB: %v", err)
	}
	if s.DB() != db {
		t.Fatal("DB() is not the DB given to New")
	}
}

func TestCloseClosesOwnedDB(t *testing.T) {
	s, err := Open(testenv.MySQLDSN(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB().PingContext(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().PingContext(testCtx(t)); err == nil {
		t.Fatal("the DB Open created is still usable after Close")
	}
}

func TestPoolDefaults(t *testing.T) {
	s, err := Open(testenv.MySQLDSN(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.DB().Stats().MaxOpenConnections; got != DefaultMaxOpenConns {
		t.Fatalf("MaxOpenConnections = %d, want %d", got, DefaultMaxOpenConns)
	}
}

func TestCancelledContext(t *testing.T) {
	s := openStore(t, "", Config{})
	k := key("ctx", 1)
	if err := s.Create(testCtx(t), k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp := time.Now().Add(time.Hour)
	ops := map[string]error{
		"Load":   func() error { _, err := s.Load(ctx, k); return err }(),
		"Create": s.Create(ctx, key("ctx", 2), []byte("x"), exp),
		"Update": s.Update(ctx, k, []byte("y"), exp),
		"Delete": s.Delete(ctx, k),
		"DeleteExpired": func() error {
			_, err := s.DeleteExpired(ctx)
			return err
		}(),
		"Migrate": s.Migrate(ctx),
	}
	for op, err := range ops {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", op, err)
		}
	}
	got, err := s.Load(testCtx(t), k)
	if err != nil || string(got) != "x" {
		t.Fatalf("after cancelled operations, Load = %q, %v; want %q", got, err, "x")
	}
}

// TestDeadlineDuringLockWait holds the row lock in another transaction so
// that Update blocks inside the server; the context's deadline must end it
// (the server's own lock wait timeout is 50 s by default and would end in
// error 1205, not a context error), on the server too: the Update that
// failed must not take effect once the lock is released. A store from
// Open sends the KILL QUERY on a connection of its own; one from New, on
// a connection of the pool. When the KILL cannot be sent (a pool of one
// connection, the one the Update holds), the error says that the Update
// may take effect, as it then does.
func TestDeadlineDuringLockWait(t *testing.T) {
	newStore := func(t *testing.T, maxConns int, interpolate bool) *Store {
		db := openDB(t, func(mc *gomysql.Config) {
			mc.ParseTime, mc.ClientFoundRows, mc.Loc, mc.InterpolateParams = true, true, time.UTC, interpolate
		})
		db.SetMaxOpenConns(maxConns)
		return newStoreOn(t, db)
	}
	for _, c := range []struct {
		name    string
		store   func(t *testing.T) *Store
		applied bool
	}{
		{"Open", func(t *testing.T) *Store { return openStore(t, "", Config{}) }, false},
		{"Open, one connection", func(t *testing.T) *Store {
			// The KILL has a pool of its own: the store's only connection
			// is the one waiting.
			s := openStore(t, "", Config{})
			s.DB().SetMaxOpenConns(1)
			return s
		}, false},
		{"New", func(t *testing.T) *Store { return newStore(t, 4, true) }, false},
		{"New without interpolateParams", func(t *testing.T) *Store { return newStore(t, 4, false) }, false},
		{"no connection for the KILL", func(t *testing.T) *Store { return newStore(t, 1, true) }, true},
		{"KILL connection on another server", func(t *testing.T) *Store {
			// The store's only connection, as if it were on another server
			// than the connections for the KILL.
			s := newStore(t, 1, true)
			s.w.killDB = openDB(t, func(*gomysql.Config) {})
			if err := s.Delete(testCtx(t), key("warm", 1)); err != nil {
				t.Fatal(err)
			}
			n := 0
			s.w.ids.Range(func(dc, id any) bool {
				n++
				s.w.ids.Store(dc, connIdentity{thread: id.(connIdentity).thread, server: "elsewhere:3306:1"})
				return true
			})
			if n != 1 {
				t.Fatalf("%d connections known, want 1", n)
			}
			return s
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.store(t)
			ctx := testCtx(t)
			k := key("lock", 1)
			if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			locker, tx := lockRow(t, s.Table(), k)
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			pattern := "UPDATE `" + s.Table() + "` SET data = %"
			thread := make(chan int64, 1)
			searched := make(chan struct{})
			t.Cleanup(func() { <-searched })
			go func() {
				defer close(searched)
				defer close(thread)
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					var id int64
					err := locker.QueryRowContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Sleep' AND INFO LIKE ?", pattern).Scan(&id)
					if err == nil {
						thread <- id
						return
					}
					if !errors.Is(err, sql.ErrNoRows) {
						t.Error(err)
						return
					}
				}
				t.Error("no thread runs the Update")
			}()
			err := s.Update(short, k, []byte("y"), time.Now().Add(time.Hour))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Update blocked on a row lock: err = %v, want context.DeadlineExceeded", err)
			}
			if !strings.HasPrefix(err.Error(), "session store mysql: update: ") {
				t.Fatalf("error %q lacks the store's prefix", err)
			}
			say := "interrupted on the server"
			if c.applied {
				say = "may have taken effect"
			}
			if !strings.Contains(err.Error(), say) {
				t.Fatalf("error %q does not say %q", err, say)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			waitNone(t, locker, "SELECT count(*) FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Sleep' AND INFO LIKE ?", pattern)
			// The connection of the failed Update was discarded, not reused.
			waitNone(t, locker, "SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID = ?", <-thread)
			want := "x"
			if c.applied {
				want = "y"
			}
			if got, err := s.Load(ctx, k); err != nil || string(got) != want {
				t.Fatalf("after the failed Update, Load = %q, %v; want %q", got, err, want)
			}
			// The pool recovers: the connection of the failed Update is discarded.
			if err := s.Update(ctx, k, []byte("z"), time.Now().Add(time.Hour)); err != nil {
				t.Fatalf("Update after the lock was released: %v", err)
			}
			if got, err := s.Load(ctx, k); err != nil || string(got) != "z" {
				t.Fatalf("Load = %q, %v; want z", got, err)
			}
		})
	}
}

// TestIdentityMapBounded: connections that the pool closes by itself
// (here none is kept idle) leave their identity in the map; the map
// starts afresh before it holds more than twice the open connections and
// 16, and an identity it gives is always the connection's own.
func TestIdentityMapBounded(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	db := s.DB()
	db.SetMaxIdleConns(0) // every connection is closed when released
	const most = 2*1 + 16 // one connection open at a time
	for i := range 60 {
		if err := s.Delete(ctx, key("bounded", i)); err != nil {
			t.Fatal(err)
		}
		n := 0
		s.w.ids.Range(func(any, any) bool { n++; return true })
		if n > most {
			t.Fatalf("after %d writes on new connections the map holds %d identities, over %d", i+1, n, most)
		}
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, id, err := s.w.identity(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var thread int64
	if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&thread); err != nil {
		t.Fatal(err)
	}
	if id.thread != thread {
		t.Errorf("identity gives thread %d for a connection whose thread is %d", id.thread, thread)
	}
}

// TestKillOnlyOurStatement: a thread ID that names, on the server the
// KILL connection reached, a thread running another statement (as behind
// a proxy that sends SELECTs to one server and writes to another) gets
// no KILL: that statement runs to its end, and the Update whose context
// ended says that it may have taken effect.
func TestKillOnlyOurStatement(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	k := key("other", 1)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Another statement, on a thread whose ID the store will take for
	// its connection's.
	other := openDB(t, func(*gomysql.Config) {})
	oc, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	var otherID int64
	if err := oc.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&otherID); err != nil {
		t.Fatal(err)
	}
	slept := make(chan int, 1)
	go func() {
		var r int
		if err := oc.QueryRowContext(ctx, "SELECT SLEEP(2)").Scan(&r); err != nil {
			r = -1
		}
		slept <- r
	}()
	s.DB().SetMaxOpenConns(1)
	if err := s.Delete(ctx, key("warm", 1)); err != nil {
		t.Fatal(err)
	}
	s.w.ids.Range(func(dc, id any) bool {
		s.w.ids.Store(dc, connIdentity{thread: otherID, server: id.(connIdentity).server})
		return true
	})
	_, tx := lockRow(t, s.Table(), k)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err = s.Update(short, k, []byte("y"), time.Now().Add(time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "may have taken effect") {
		t.Fatalf("Update = %v; want context.DeadlineExceeded, saying that it may have taken effect", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if r := <-slept; r != 0 {
		t.Fatalf("the other statement, SELECT SLEEP(2), returned %d: want 0, not interrupted", r)
	}
}

// lockRow locks the row of k in a transaction of its own pool, which it
// returns, until the transaction is rolled back (at the latest when the
// test ends).
func lockRow(t *testing.T, table, k string) (*sql.DB, *sql.Tx) {
	t.Helper()
	ctx := testCtx(t)
	locker := openDB(t, func(*gomysql.Config) {})
	tx, err := locker.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	var one int
	if err := tx.QueryRowContext(ctx, "SELECT 1 FROM `"+table+"` WHERE session_key = ? FOR UPDATE", k).Scan(&one); err != nil {
		t.Fatal(err)
	}
	return locker, tx
}

// waitNone waits until query, a count, counts 0, failing the test after
// ten seconds.
func waitNone(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	ctx := testCtx(t)
	testenv.WaitUntil(t, func() (bool, string) {
		var n int
		if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0, fmt.Sprintf("%s %v counts %d", query, args, n)
	})
}

// TestReadTimeoutDuringLockWait: with a DSN's readTimeout shorter than a
// lock wait, the driver gives up on an Update that the server goes on
// running (no context ended, so no KILL); the error says that the write
// may have taken effect, as it then does.
func TestReadTimeoutDuringLockWait(t *testing.T) {
	db := openDB(t, func(mc *gomysql.Config) {
		mc.ParseTime, mc.ClientFoundRows, mc.Loc, mc.InterpolateParams = true, true, time.UTC, true
		mc.ReadTimeout = 300 * time.Millisecond
	})
	ctx := testCtx(t)
	s := newStoreOn(t, db)
	k := key("readtimeout", 1)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, tx := lockRow(t, s.Table(), k)
	err := s.Update(context.Background(), k, []byte("y"), time.Now().Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "may have taken effect") || !strings.HasPrefix(err.Error(), "session store mysql: update: ") {
		t.Fatalf("Update past the readTimeout = %v; want an error saying that it may have taken effect", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitUntil(t, func() (bool, string) {
		got, err := s.Load(ctx, k)
		return err == nil && string(got) == "y", fmt.Sprintf("Load = %q, %v; want y, written after the Update failed", got, err)
	})
}

func TestDriverErrorsAreWrapped(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	dropTable(t, s.DB(), s.Table())
	k := key("wrapped", 1)
	exp := time.Now().Add(time.Hour)
	ops := map[string]error{
		"load":           func() error { _, err := s.Load(ctx, k); return err }(),
		"create":         s.Create(ctx, k, []byte("x"), exp),
		"update":         s.Update(ctx, k, []byte("x"), exp),
		"delete":         s.Delete(ctx, k),
		"delete expired": func() error { _, err := s.DeleteExpired(ctx); return err }(),
	}
	for op, err := range ops {
		var me *gomysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1146 { // ER_NO_SUCH_TABLE
			t.Errorf("%s on a missing table: err = %v, want a wrapped MySQL error 1146", op, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "session store mysql: "+op+": ") {
			t.Errorf("%s: error %q lacks the prefix %q", op, err, "session store mysql: "+op+": ")
		}
		if strings.Contains(err.Error(), k) {
			t.Errorf("%s: error %q contains the session key", op, err)
		}
		if errors.Is(err, server.ErrNotFound) || errors.Is(err, server.ErrExists) {
			t.Errorf("%s: a database error reads as a store outcome: %v", op, err)
		}
	}
}

// TestDeadlockVictimIsRetried makes DeleteExpired the victim of a real
// InnoDB deadlock: it holds the lock on one expired row and waits for
// another that a heavier transaction holds, which then asks for the first.
// The server rolls the DELETE back; the store must send it again and
// succeed once the other transaction commits.
func TestDeadlockVictimIsRetried(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	db := s.DB()
	table := "`" + s.Table() + "`"
	r1, r2 := key("a", 1), key("b", 2)
	if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (?, 'x', ?), (?, 'x', ?)",
		r1, time.Now().Add(-2*time.Hour).UTC(), r2, time.Now().Add(-time.Hour).UTC()); err != nil {
		t.Fatal(err)
	}
	deadlocks := func() int64 {
		var name string
		var n int64
		if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := deadlocks()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// Make this transaction heavier than the DELETE, so that InnoDB picks
	// the DELETE as the victim.
	insertTx := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" VALUES (?, 'y', ?)", key(prefix, i), time.Now().Add(time.Hour).UTC()); err != nil {
				t.Fatal(err)
			}
		}
	}
	insertTx("z", 50)
	if _, err := tx.ExecContext(ctx, "SELECT data FROM "+table+" WHERE session_key = ? FOR UPDATE", r2); err != nil {
		t.Fatal(err)
	}

	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := s.DeleteExpired(ctx)
		done <- result{n, err}
	}()
	// Wait until the DELETE is blocked on r2, holding r1: it has been
	// running for 100 ms (INNODB_TRX would say so directly, but needs the
	// PROCESS privilege; a user sees its own threads in PROCESSLIST).
	for {
		var waiting int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE ? AND TIME_MS >= 100",
			"DELETE FROM "+table+" WHERE expiry <=%").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("DeleteExpired returned (%d, %v) without waiting for the locked row", r.n, r.err)
		case <-ctx.Done():
			t.Fatal("DeleteExpired never waited for the locked row")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+table+" SET data = 'z' WHERE session_key = ?", r1); err != nil {
		t.Fatalf("the heavier transaction was chosen as the deadlock victim (test setup): %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != 2 {
		t.Fatalf("DeleteExpired after a deadlock = %d, %v; want 2, nil", r.n, r.err)
	}
	if got := deadlocks() - before; got != 1 {
		t.Fatalf("Innodb_deadlocks rose by %d, want 1 (the test did not make the deadlock it meant to)", got)
	}
	if left := rowCount(t, s); left != 50 {
		t.Fatalf("%d rows left, want the 50 live ones", left)
	}
}
