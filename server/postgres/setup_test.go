package postgres

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/internal/testenv"
)

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

// openStore opens a store on the test server through Open, on a fresh
// table, migrated, and drops the table when the test ends.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Table == "" {
		cfg.Table = uniqueTable(t)
	}
	s, err := Open(testenv.PostgresDSN(t), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { dropTable(t, s.Pool(), s.Table()); _ = s.Close() })
	if err := s.Migrate(testCtx(t)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// newPool opens a pool on the test server with the configuration mod
// sets, closed when the test ends.
func newPool(t testing.TB, mod func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	pc, err := pgxpool.ParseConfig(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(pc)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newStoreOn makes a store with New on pool, on a fresh migrated table
// dropped when the test ends.
func newStoreOn(t testing.TB, pool *pgxpool.Pool, cfg Config) *Store {
	t.Helper()
	if cfg.Table == "" {
		cfg.Table = uniqueTable(t)
	}
	s, err := New(pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropTable(t, pool, s.Table()) })
	if err := s.Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return s
}

// dropTable drops the sessions table and the user index's table.
func dropTable(t testing.TB, pool *pgxpool.Pool, table string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS "`+table+`", "`+table+UsersSuffix+`"`); err != nil {
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
	if err := s.Pool().QueryRow(testCtx(t), `SELECT count(*) FROM "`+s.Table()+`"`).Scan(&n); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	return n
}

// plant inserts a row into the store's table with SQL, as anyone with
// access to the database could, without the store's checks.
func plant(t testing.TB, s *Store, key string, blob []byte, exp time.Time) error {
	_, err := s.Pool().Exec(testCtx(t), `INSERT INTO "`+s.Table()+`" (session_key, data, expiry) VALUES ($1, $2, $3)`, key, blob, exp)
	return err
}

// plantEntry inserts a row into the user index's table with SQL, without
// the store's checks.
func plantEntry(t testing.TB, s *Store, user, id string, blob []byte, exp time.Time) error {
	_, err := s.Pool().Exec(testCtx(t), `INSERT INTO "`+s.Table()+UsersSuffix+`" (user_key, entry_id, data, expiry) VALUES ($1, $2, $3, $4)`, user, id, blob, exp)
	return err
}

// wire counts what crosses the connections of a pool: round trips (a
// round trip starts with the first write after a read, or the first write
// ever), bytes read, and the frontend messages by type ('P' Parse, 'B'
// Bind, 'E' Execute, 'S' Sync, 'Q' simple Query), with the Parse messages
// that name a statement (a server-side prepared statement).
type wire struct {
	roundTrips, bytesRead, namedParses atomic.Int64
	messages                           [256]atomic.Int64
}

// dial returns a DialFunc for pgconn that counts on w.
func (w *wire) dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		wc := &wireConn{Conn: c, w: w, startup: true}
		wc.lastRead.Store(true)
		return wc, nil
	}
}

// snapshot returns the counters: round trips, bytes read, and the
// messages of each type in types.
func (w *wire) snapshot(types string) []int64 {
	out := []int64{w.roundTrips.Load(), w.bytesRead.Load(), w.namedParses.Load()}
	for i := 0; i < len(types); i++ {
		out = append(out, w.messages[types[i]].Load())
	}
	return out
}

// wireConn is a connection that counts on w. It follows the frontend's
// message stream (a type byte and a big-endian length that counts itself,
// after the startup message, which has no type byte) across writes.
type wireConn struct {
	net.Conn
	w        *wire
	lastRead atomic.Bool
	// the parser's state
	startup bool
	hdr     []byte // the header of the message being read, up to 5 bytes
	left    int    // bytes of the current message's body still to come
	parse   bool   // the current message is a Parse
	name    []byte // the start of a Parse's body: the statement name
}

func (c *wireConn) Write(p []byte) (int, error) {
	if c.lastRead.Swap(false) {
		c.w.roundTrips.Add(1)
	}
	c.follow(p)
	return c.Conn.Write(p)
}

func (c *wireConn) Read(p []byte) (int, error) {
	c.lastRead.Store(true)
	n, err := c.Conn.Read(p)
	c.w.bytesRead.Add(int64(n))
	return n, err
}

func (c *wireConn) follow(p []byte) {
	for len(p) > 0 {
		if c.left > 0 {
			n := min(c.left, len(p))
			if c.parse && len(c.name) < 1 {
				// The statement name ends at the first NUL; an empty name
				// is the unnamed statement.
				if p[0] != 0 {
					c.w.namedParses.Add(1)
				}
				c.name = append(c.name, p[0])
			}
			c.left -= n
			p = p[n:]
			continue
		}
		hdrLen := 5
		if c.startup {
			hdrLen = 4
		}
		need := hdrLen - len(c.hdr)
		n := min(need, len(p))
		c.hdr = append(c.hdr, p[:n]...)
		p = p[n:]
		if len(c.hdr) < hdrLen {
			return
		}
		var length int
		if c.startup {
			length = int(uint32(c.hdr[0])<<24 | uint32(c.hdr[1])<<16 | uint32(c.hdr[2])<<8 | uint32(c.hdr[3]))
			c.left = length - 4
			// An SSL request is followed by another startup message.
			c.startup = length == 8
		} else {
			typ := c.hdr[0]
			length = int(uint32(c.hdr[1])<<24 | uint32(c.hdr[2])<<16 | uint32(c.hdr[3])<<8 | uint32(c.hdr[4]))
			c.left = length - 4
			c.w.messages[typ].Add(1)
			c.parse = typ == 'P'
			c.name = c.name[:0]
		}
		c.hdr = c.hdr[:0]
	}
}
