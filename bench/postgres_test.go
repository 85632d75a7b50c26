package bench

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/server/postgres"
)

// The PostgreSQL benchmarks compare server/postgres with scs' pgxstore on
// the same PostgreSQL server (SESSION_TEST_POSTGRES_DSN), in the same
// database, through the very same pool:
//
//	sessionkit             server/postgres made by postgres.New on the pool:
//	                       each statement prepared on a connection in the
//	                       round trip of its first run, then executed
//	                       (Bind, Execute, Sync); binary parameters and
//	                       results; Loads waiting for a busy pool share
//	                       round trips
//	sessionkit-noprepare   the same with Config.NoPrepare: the unnamed
//	                       statement (Parse, Bind, Execute, Sync) every time
//	scs-pgxstore           pgxstore on the same pool: pgx's default mode,
//	                       which prepares each statement on a connection in
//	                       a round trip of its own the first time it runs
//	                       there, then executes the prepared statement
//
// The pool is pgxpool's from the DSN with pgx's defaults (as postgres.Open
// makes it): at most max(4, runtime.NumCPU()) connections, so 4 here. pgxstore's
// table name is fixed ("sessions"); it is created as its README says and
// dropped afterwards; server/postgres gets a table of its own, from
// Migrate. Both tables start with benchRows rows. Blobs, keys, clients and
// the loop are those of the MySQL benchmarks:
//
//	Load    server/postgres Load / pgxstore Find of an existing session
//	Update  server/postgres Update / pgxstore Commit (INSERT … ON CONFLICT
//	        DO UPDATE) of an existing session, with a new expiry each time
//	Create  server/postgres Create / pgxstore Commit of a new session
//
// round-trips/op, parses/op and executes/op are counted on the wire by the
// pool's dialer (pgWire): a round trip starts with a write after a read; a
// Parse message is a statement the server parses and plans, an Execute
// one it runs.

const (
	envPostgresDSN     = "SESSION_TEST_POSTGRES_DSN"
	envRequirePostgres = "SESSION_TEST_REQUIRE_POSTGRES"
)

// pgSchema is pgxstore's table, as its README creates it.
var pgSchema = []string{
	"CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)",
	"CREATE INDEX sessions_expiry_idx ON sessions (expiry)",
}

// pgBench is what the PostgreSQL benchmarks and tests share.
type pgBench struct {
	pool      *pgxpool.Pool
	ours      *postgres.Store
	noPrepare *postgres.Store // on ours' table
	scs       *pgxstore.PostgresStore
	wire      pgWire
	// kb holds the keys, blobs and expiries of the MySQL benchmarks (it
	// opens no server).
	kb *mysqlBench
}

// newPGBench opens both stores on one pool to the test server and fills
// their tables.
func newPGBench(tb testing.TB) *pgBench {
	tb.Helper()
	dsn := os.Getenv(envPostgresDSN)
	if dsn == "" {
		if os.Getenv(envRequirePostgres) == "1" {
			tb.Fatalf("PostgreSQL required (%s=1) but %s is not set", envRequirePostgres, envPostgresDSN)
		}
		tb.Skipf("no PostgreSQL server: set %s (scripts/postgres.sh run ... starts one and sets it)", envPostgresDSN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pb := &pgBench{kb: &mysqlBench{run: randomHex(tb, 8)}}
	pb.kb.fillBlobs(tb)
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	pc.ConnConfig.DialFunc = pb.wire.dial
	if pb.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pb.pool.Close)
	if pb.ours, err = postgres.New(pb.pool, postgres.Config{Table: "sessionkit_bench_" + pb.kb.run}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = pb.pool.Exec(context.Background(), `DROP TABLE IF EXISTS "`+pb.ours.Table()+`", "`+pb.ours.Table()+postgres.UsersSuffix+`"`)
	})
	if err := pb.ours.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	if pb.noPrepare, err = postgres.New(pb.pool, postgres.Config{Table: pb.ours.Table(), NoPrepare: true}); err != nil {
		tb.Fatal(err)
	}
	var exists bool
	if err := pb.pool.QueryRow(ctx, "SELECT to_regclass('sessions') IS NOT NULL").Scan(&exists); err != nil {
		tb.Fatal(err)
	}
	if exists {
		tb.Fatal("the database already has a table \"sessions\", which pgxstore would use; run the benchmarks on a database of their own")
	}
	for _, q := range pgSchema {
		if _, err := pb.pool.Exec(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() { _, _ = pb.pool.Exec(context.Background(), "DROP TABLE IF EXISTS sessions") })
	pb.scs = pgxstore.NewWithCleanupInterval(pb.pool, 0)

	ourKeys, scsTokens := make([]string, benchRows), make([]string, benchRows)
	for i := range benchRows {
		ourKeys[i], scsTokens[i] = pb.kb.ourKey("fill", i), pb.kb.scsToken("fill", i)
	}
	if _, err := pb.pool.Exec(ctx, `INSERT INTO "`+pb.ours.Table()+`" (session_key, data, expiry) SELECT k, $2, $3 FROM unnest($1::text[]) AS k`, ourKeys, pb.kb.ourBlob, pb.kb.expiry); err != nil {
		tb.Fatal(err)
	}
	if _, err := pb.pool.Exec(ctx, "INSERT INTO sessions (token, data, expiry) SELECT k, $2, $3 FROM unnest($1::text[]) AS k", scsTokens, pb.kb.scsBlob, pb.kb.expiry); err != nil {
		tb.Fatal(err)
	}
	// Vacuumed and analyzed now, so that autovacuum does not do it while
	// the first benchmarks run.
	for _, q := range []string{`VACUUM ANALYZE "` + pb.ours.Table() + `"`, "VACUUM ANALYZE sessions"} {
		if _, err := pb.pool.Exec(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	return pb
}

// pgImpls returns the store operations of each implementation, each client
// on its own existing session.
func (pb *pgBench) pgImpls(tb testing.TB) []storeImpl {
	ctx := context.Background()
	for c := range 32 {
		if err := pb.ours.Create(ctx, pb.kb.ourKey("client", c), pb.kb.ourBlob, pb.kb.expiry); err != nil {
			tb.Fatal(err)
		}
		if err := pb.scs.Commit(pb.kb.scsToken("client", c), pb.kb.scsBlob, pb.kb.expiry); err != nil {
			tb.Fatal(err)
		}
	}
	var created atomic.Int64
	noPrepare := pb.kb.sessionkitImpl(pb.noPrepare)
	noPrepare.name = "sessionkit-noprepare"
	var createdNP atomic.Int64 // its new sessions have keys of their own
	noPrepare.create = func(ctx context.Context, c int) error {
		return pb.noPrepare.Create(ctx, pb.kb.ourKey("new-noprepare", int(createdNP.Add(1))), pb.kb.ourBlob, pb.kb.expiry)
	}
	return []storeImpl{
		pb.kb.sessionkitImpl(pb.ours),
		noPrepare,
		{
			name: "scs-pgxstore",
			load: func(ctx context.Context, c int) error {
				_, found, err := pb.scs.Find(pb.kb.scsToken("client", c))
				if err == nil && !found {
					err = errors.New("pgxstore: session not found")
				}
				return err
			},
			update: func(ctx context.Context, c int) error {
				return pb.scs.Commit(pb.kb.scsToken("client", c), pb.kb.scsBlob, pb.kb.nextExpiry())
			},
			create: func(ctx context.Context, c int) error {
				return pb.scs.Commit(pb.kb.scsToken("new", int(created.Add(1))), pb.kb.scsBlob, pb.kb.expiry)
			},
		},
	}
}

// counters returns the wire counters for runClients.
func (pb *pgBench) counters() *serverCounters {
	return &serverCounters{
		units: []string{"round-trips/op", "parses/op", "executes/op"},
		read: func() []int64 {
			return []int64{pb.wire.roundTrips.Load(), pb.wire.messages['P'].Load(), pb.wire.messages['E'].Load()}
		},
	}
}

// BenchmarkPostgres is named BenchmarkPostgres/<operation>/clients-<n>/<implementation>.
// With SESSION_BENCH_REVERSE=1 the implementations run in the reverse
// order, for rounds that alternate which goes first.
func BenchmarkPostgres(b *testing.B) {
	pb := newPGBench(b)
	impls := pb.pgImpls(b)
	if os.Getenv(envBenchReverse) == "1" {
		slices.Reverse(impls)
	}
	runStoreOps(b, impls, pb.counters())
}

// envBenchReverse, set to 1, reverses the order of the implementations in
// the PostgreSQL and SQLite benchmarks.
const envBenchReverse = "SESSION_BENCH_REVERSE"

// TestPostgresRoundTripsPerOp checks that each operation of
// server/postgres costs what the store documents, one round trip carrying
// one statement, and logs what pgxstore's cost, first on a connection and
// then once its statements are prepared there.
func TestPostgresRoundTripsPerOp(t *testing.T) {
	pb := newPGBench(t)
	impls := pb.pgImpls(t)
	// A context that can end, as a request's.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	perOp := func(fn op) []float64 {
		const n = 20
		c0 := pb.counters().read()
		for range n {
			if err := fn(ctx, 0); err != nil {
				t.Fatal(err)
			}
		}
		d := sub(pb.counters().read(), c0)
		f := make([]float64, len(d))
		for i := range d {
			f[i] = float64(d[i]) / n
		}
		return f
	}
	for _, im := range impls {
		for _, o := range []struct {
			name string
			fn   op
		}{{"Load", im.load}, {"Update", im.update}, {"Create", im.create}} {
			first := perOp(o.fn) // the first calls on the pool's connections
			d := perOp(o.fn)
			t.Logf("%s %s: %v round trips, %v parses, %v executes per call (the first 20 calls: %v, %v, %v)", im.name, o.name, d[0], d[1], d[2], first[0], first[1], first[2])
			switch im.name {
			case "sessionkit":
				if first[0] != 1 || d[0] != 1 || d[1] != 0 || d[2] != 1 {
					t.Errorf("sessionkit %s: %v round trips, parses, executes per call (first calls %v); want 1 round trip and 1 execute each, no parse once prepared", o.name, d, first)
				}
			case "sessionkit-noprepare":
				if d[0] != 1 || d[1] != 1 || d[2] != 1 {
					t.Errorf("sessionkit-noprepare %s: %v round trips, parses, executes per call; want 1 of each", o.name, d)
				}
			}
		}
	}
}

// pgWire counts what crosses the connections of a pool: round trips and
// the frontend messages by type. It follows each connection's message
// stream (a type byte and a length that counts itself; the startup
// message has no type byte).
type pgWire struct {
	roundTrips atomic.Int64
	messages   [256]atomic.Int64
}

func (w *pgWire) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	wc := &pgWireConn{Conn: c, w: w, startup: true}
	wc.lastRead.Store(true)
	return wc, nil
}

type pgWireConn struct {
	net.Conn
	w        *pgWire
	lastRead atomic.Bool
	startup  bool
	hdr      []byte
	left     int
}

func (c *pgWireConn) Read(p []byte) (int, error) {
	c.lastRead.Store(true)
	return c.Conn.Read(p)
}

func (c *pgWireConn) Write(p []byte) (int, error) {
	if c.lastRead.Swap(false) {
		c.w.roundTrips.Add(1)
	}
	for q := p; len(q) > 0; {
		if c.left > 0 {
			n := min(c.left, len(q))
			c.left -= n
			q = q[n:]
			continue
		}
		hdrLen := 5
		if c.startup {
			hdrLen = 4
		}
		n := min(hdrLen-len(c.hdr), len(q))
		c.hdr = append(c.hdr, q[:n]...)
		q = q[n:]
		if len(c.hdr) < hdrLen {
			break
		}
		l := c.hdr[hdrLen-4:]
		length := int(uint32(l[0])<<24 | uint32(l[1])<<16 | uint32(l[2])<<8 | uint32(l[3]))
		c.left = length - 4
		if c.startup {
			c.startup = length == 8 // an SSL request: the startup message follows
		} else {
			c.w.messages[c.hdr[0]].Add(1)
		}
		c.hdr = c.hdr[:0]
	}
	return c.Conn.Write(p)
}
