package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/v2"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/serializer"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/mysql"
)

// The MySQL benchmarks compare server/mysql with scs' mysqlstore on the same
// MariaDB or MySQL server (SESSION_TEST_MYSQL_DSN), in the same database:
//
//	sessionkit               server/mysql from mysql.Open: the options it forces
//	                         (interpolateParams=true among them: one round trip
//	                         per statement) and its pool (32 open, 32 idle,
//	                         3 min lifetime, 1 min idle time)
//	scs-mysqlstore           mysqlstore on the very same *sql.DB: same driver
//	                         options, same pool
//	scs-mysqlstore-prepared  mysqlstore on a *sql.DB opened with the DSN of its
//	                         README (parseTime=true only: the driver prepares,
//	                         executes and closes each statement on the server),
//	                         with the same pool settings
//
// mysqlstore's table name is fixed ("sessions"); it is created as its README
// says and dropped afterwards. server/mysql gets a table of its own. Both
// tables start with benchRows rows, so that the lookups walk a realistic
// index. Every operation is measured at 1 and at 32 concurrent clients
// (runClients), each client on its own session:
//
//	Load       server/mysql Load / mysqlstore Find of an existing session
//	Update     server/mysql Update / mysqlstore Commit of an existing session,
//	           with a new expiry each time
//	Create     server/mysql Create / mysqlstore Commit of a new session
//	RoundTrip  the middleware round trip of roundtrip_test.go: session.Manager
//	           with EngineServer on server/mysql, against scs LoadAndSave on
//	           mysqlstore; scs-mysqlstore-idletimeout sets scs' IdleTimeout,
//	           so that each save moves the expiry, as session.Manager's do
//
// queries/op and round-trips/op come from the server's counters (SHOW GLOBAL
// STATUS; see statusCounters); they are exact only when nothing else uses
// the server.

// scsTable is the table mysqlstore reads and writes; its name is fixed.
const scsTable = "sessions"

// scsSchema is mysqlstore's table, as its README creates it.
var scsSchema = []string{
	"CREATE TABLE " + scsTable + " (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)",
	"CREATE INDEX sessions_expiry_idx ON " + scsTable + " (expiry)",
}

// benchRows is how many other sessions each table holds.
const benchRows = 10000

// mysqlBench is what the MySQL benchmarks and tests share.
type mysqlBench struct {
	ours        *mysql.Store
	scsSame     *mysqlstore.MySQLStore // on ours.DB()
	scsPrepared *mysqlstore.MySQLStore // on its README's DSN
	admin       *sql.DB                // one connection, for SHOW STATUS
	ourBlob     []byte                 // the small session as server/mysql stores it
	scsBlob     []byte                 // the small session as scs stores it
	expiry      time.Time
	run         string // a prefix unique to this run, for new keys
	moved       atomic.Int64
}

// nextExpiry returns the expiry moved on by one more millisecond on every
// call, so that every update changes the stored row (as a session's save
// does: its expiry moves): an UPDATE that changes nothing writes nothing.
func (mb *mysqlBench) nextExpiry() time.Time {
	return mb.expiry.Add(time.Duration(mb.moved.Add(1)) * time.Millisecond)
}

// readmeDSN is dsn reduced to what mysqlstore's README sets: parseTime=true.
func readmeDSN(tb testing.TB, dsn string) string {
	tb.Helper()
	mc, err := gomysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	rc := gomysql.NewConfig()
	rc.User, rc.Passwd, rc.Net, rc.Addr, rc.DBName = mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName
	rc.ParseTime = true
	return rc.FormatDSN()
}

// setPool gives db the pool settings mysql.Open gives its own.
func setPool(db *sql.DB) {
	db.SetMaxOpenConns(mysql.DefaultMaxOpenConns)
	db.SetMaxIdleConns(mysql.DefaultMaxIdleConns)
	db.SetConnMaxLifetime(mysql.DefaultConnMaxLifetime)
	db.SetConnMaxIdleTime(mysql.DefaultConnMaxIdleTime)
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newMySQLBench opens both stores on the test server, over TCP, and fills
// their tables.
func newMySQLBench(tb testing.TB) *mysqlBench { return newMySQLBenchOver(tb, overTCP) }

// newMySQLBenchOver is newMySQLBench over tr.
func newMySQLBenchOver(tb testing.TB, tr transport) *mysqlBench {
	tb.Helper()
	dsn := tr.mysqlDSN(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mb := &mysqlBench{run: randomHex(tb, 8)}

	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	admin.SetMaxOpenConns(1)
	tb.Cleanup(func() { admin.Close() })
	mb.admin = admin

	ours, err := mysql.Open(dsn, mysql.Config{Table: "sessionkit_bench_" + mb.run})
	if err != nil {
		tb.Fatal(err)
	}
	mb.ours = ours
	tb.Cleanup(func() {
		_, _ = admin.Exec("DROP TABLE IF EXISTS `" + ours.Table() + "`, `" + ours.Table() + mysql.UsersSuffix + "`")
		ours.Close()
	})
	if err := ours.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}

	var n int
	if err := admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", scsTable).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	if n != 0 {
		tb.Fatalf("the database already has a table %q, which mysqlstore would use; run the benchmarks on a database of their own", scsTable)
	}
	for _, q := range scsSchema {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() { _, _ = admin.Exec("DROP TABLE IF EXISTS " + scsTable) })
	mb.scsSame = mysqlstore.NewWithCleanupInterval(ours.DB(), 0)
	prepared, err := sql.Open("mysql", readmeDSN(tb, dsn))
	if err != nil {
		tb.Fatal(err)
	}
	setPool(prepared)
	tb.Cleanup(func() { prepared.Close() })
	mb.scsPrepared = mysqlstore.NewWithCleanupInterval(prepared, 0)

	mb.fillBlobs(tb)

	// The other sessions, inserted in batches of 1000 rows.
	for start := 0; start < benchRows; start += 1000 {
		var ourQ, scsQ strings.Builder
		var ourArgs, scsArgs []any
		ourQ.WriteString("INSERT INTO `" + ours.Table() + "` (session_key, data, expiry) VALUES ")
		scsQ.WriteString("INSERT INTO " + scsTable + " (token, data, expiry) VALUES ")
		for i := start; i < start+1000; i++ {
			if i > start {
				ourQ.WriteString(",")
				scsQ.WriteString(",")
			}
			ourQ.WriteString("(?, ?, ?)")
			scsQ.WriteString("(?, ?, ?)")
			ourArgs = append(ourArgs, mb.ourKey("fill", i), mb.ourBlob, mb.expiry)
			scsArgs = append(scsArgs, mb.scsToken("fill", i), mb.scsBlob, mb.expiry)
		}
		if _, err := admin.ExecContext(ctx, ourQ.String(), ourArgs...); err != nil {
			tb.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, scsQ.String(), scsArgs...); err != nil {
			tb.Fatal(err)
		}
	}
	return mb
}

// fillBlobs sets the expiry of every stored session (a day from now) and
// the blobs: the small session as session.Manager stores it (default codec
// configuration) and as scs stores it (gob).
func (mb *mysqlBench) fillBlobs(tb testing.TB) {
	tb.Helper()
	mb.expiry = time.Now().Add(24 * time.Hour).UTC().Truncate(time.Microsecond)
	cd := newCodec(tb, ourConfig{ser: serializer.MsgPack, comp: codec.DefaultCompression})
	s, err := cd.Encode(cookieName, ourPayload(payloads[0]))
	if err != nil {
		tb.Fatal(err)
	}
	mb.ourBlob = []byte(s)
	if mb.scsBlob, err = scsCodec.Encode(mb.expiry, userValues()); err != nil {
		tb.Fatal(err)
	}
}

// ourKey returns a row key of the length session.Manager uses (64 hex
// digits, the SHA-256 of the session key), unique to this run, kind and n.
func (mb *mysqlBench) ourKey(kind string, n int) string {
	return fmt.Sprintf("%s%08x%040x", mb.run, kindID(kind), n)
}

// scsToken returns a token of the length scs uses (43 characters), unique
// to this run, kind and n.
func (mb *mysqlBench) scsToken(kind string, n int) string {
	return fmt.Sprintf("%s%08x%019x", mb.run, kindID(kind), n)
}

// kindID is a number for kind in keys.
func kindID(kind string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(kind))
	return h.Sum32()
}

// statusCounters reads, with q on the connection or pool it is given, the
// server's (scope GLOBAL) or connection's (SESSION) Questions and
// Com_stmt_prepare counters. Questions counts the statements the server
// executed, prepared or not; each prepared statement costs one more round
// trip, its prepare (its close has no reply). So:
//
//	queries/op      Questions per operation
//	round-trips/op  Questions plus Com_stmt_prepare per operation
func statusCounters(tb testing.TB, scope string, q func(query string) (*sql.Rows, error)) *serverCounters {
	return &serverCounters{
		units: []string{"queries/op", "round-trips/op"},
		read: func() []int64 {
			rows, err := q("SHOW " + scope + " STATUS WHERE Variable_name IN ('Questions', 'Com_stmt_prepare')")
			if err != nil {
				tb.Fatal(err)
			}
			defer rows.Close()
			var questions, prepares int64
			for rows.Next() {
				var name string
				var v int64
				if err := rows.Scan(&name, &v); err != nil {
					tb.Fatal(err)
				}
				switch strings.ToLower(name) {
				case "questions":
					questions = v
				case "com_stmt_prepare":
					prepares = v
				}
			}
			if err := rows.Err(); err != nil {
				tb.Fatal(err)
			}
			return []int64{questions, questions + prepares}
		},
	}
}

// globalCounters reads the server's counters (see statusCounters).
func (mb *mysqlBench) globalCounters(tb testing.TB) *serverCounters {
	return statusCounters(tb, "GLOBAL", func(q string) (*sql.Rows, error) { return mb.admin.Query(q) })
}

// storeImpl is one implementation of the store operations.
type storeImpl struct {
	name                 string
	load, update, create op
}

// sessionkitImpl returns the operations of one of this module's stores:
// each client loads and updates its own session, and creates new ones.
func (mb *mysqlBench) sessionkitImpl(st server.Store) storeImpl {
	var created atomic.Int64
	return storeImpl{
		name: "sessionkit",
		load: func(ctx context.Context, c int) error {
			_, err := st.Load(ctx, mb.ourKey("client", c))
			return err
		},
		update: func(ctx context.Context, c int) error {
			return st.Update(ctx, mb.ourKey("client", c), mb.ourBlob, mb.nextExpiry())
		},
		create: func(ctx context.Context, c int) error {
			return st.Create(ctx, mb.ourKey("new", int(created.Add(1))), mb.ourBlob, mb.expiry)
		},
	}
}

// mysqlImpls returns the store operations of each implementation, each
// client on its own existing session.
func (mb *mysqlBench) mysqlImpls(tb testing.TB) []storeImpl {
	ctx := context.Background()
	for c := range 32 {
		if err := mb.ours.Create(ctx, mb.ourKey("client", c), mb.ourBlob, mb.expiry); err != nil {
			tb.Fatal(err)
		}
		if err := mb.scsSame.Commit(mb.scsToken("client", c), mb.scsBlob, mb.expiry); err != nil {
			tb.Fatal(err)
		}
	}
	impls := []storeImpl{mb.sessionkitImpl(mb.ours)}
	var created atomic.Int64 // new scs sessions
	for _, s := range []struct {
		name string
		st   *mysqlstore.MySQLStore
	}{{"scs-mysqlstore", mb.scsSame}, {"scs-mysqlstore-prepared", mb.scsPrepared}} {
		impls = append(impls, storeImpl{
			name: s.name,
			load: func(ctx context.Context, c int) error {
				_, found, err := s.st.Find(mb.scsToken("client", c))
				if err == nil && !found {
					err = errors.New("mysqlstore: session not found")
				}
				return err
			},
			update: func(ctx context.Context, c int) error {
				return s.st.Commit(mb.scsToken("client", c), mb.scsBlob, mb.nextExpiry())
			},
			create: func(ctx context.Context, c int) error {
				return s.st.Commit(mb.scsToken("new", int(created.Add(1))), mb.scsBlob, mb.expiry)
			},
		})
	}
	return impls
}

// scsMySQLVariant is scs with its default settings on st: a session
// expires a fixed Lifetime (24 hours) after its creation, so saving it
// does not move its expiry.
func scsMySQLVariant(name string, st *mysqlstore.MySQLStore) variant {
	sm := scs.New()
	sm.Store = st
	return scsVariant(name, sm)
}

// scsMySQLIdleVariant is scs on st with an IdleTimeout, so that every save
// moves the session's expiry, as session.Manager's saves do (Django's
// expiry: the cookie age from the last save).
func scsMySQLIdleVariant(name string, st *mysqlstore.MySQLStore) variant {
	sm := scs.New()
	sm.Store = st
	sm.Lifetime = 30 * 24 * time.Hour
	sm.IdleTimeout = 14 * 24 * time.Hour
	return scsVariant(name, sm)
}

// roundTripVariants returns the middleware round trips on MySQL.
func (mb *mysqlBench) roundTripVariants(tb testing.TB) []variant {
	return []variant{
		sessionkitServerVariant(tb, "sessionkit", mb.ours),
		scsMySQLVariant("scs-mysqlstore", mb.scsSame),
		scsMySQLIdleVariant("scs-mysqlstore-idletimeout", mb.scsSame),
		scsMySQLVariant("scs-mysqlstore-prepared", mb.scsPrepared),
	}
}

// roundTripOp logs clients sessions in through v and returns the round
// trip of client c on its own session.
func roundTripOp(tb testing.TB, v variant, clients int) op {
	tb.Helper()
	reqs := make([]*http.Request, clients)
	for c := range reqs {
		reqs[c] = loggedIn(tb, v)
	}
	return func(ctx context.Context, c int) error {
		if _, msg := serve(v.action, reqs[c], v.wantCookie); msg != "" {
			return fmt.Errorf("%s: %s", v.name, msg)
		}
		return nil
	}
}

// runStoreOps runs each operation of each implementation at every count of
// clientCounts, as <operation>/clients-<n>/<implementation>, reading
// counters around each.
func runStoreOps(b *testing.B, impls []storeImpl, counters *serverCounters) {
	for _, operation := range []string{"Load", "Update", "Create"} {
		b.Run(operation, func(b *testing.B) {
			for _, clients := range clientCounts {
				b.Run(fmt.Sprintf("clients-%d", clients), func(b *testing.B) {
					for _, im := range impls {
						fn := map[string]op{"Load": im.load, "Update": im.update, "Create": im.create}[operation]
						b.Run(im.name, func(b *testing.B) { runClients(b, clients, counters, fn) })
					}
				})
			}
		})
	}
}

// BenchmarkMySQL is named BenchmarkMySQL/<operation>/clients-<n>/<implementation>.
func BenchmarkMySQL(b *testing.B) {
	mb := newMySQLBench(b)
	q := mb.globalCounters(b)
	runStoreOps(b, mb.mysqlImpls(b), q)
	b.Run("RoundTrip", func(b *testing.B) {
		for _, clients := range clientCounts {
			b.Run(fmt.Sprintf("clients-%d", clients), func(b *testing.B) {
				for _, v := range mb.roundTripVariants(b) {
					fn := roundTripOp(b, v, clients)
					b.Run(v.name, func(b *testing.B) { runClients(b, clients, q, fn) })
				}
			})
		}
	})
}

// TestMySQLRoundTripsPerOp checks that each operation of server/mysql, and
// the session middleware's round trip on it, costs what the store documents:
// one statement, sent in one round trip, per store operation. It counts with
// the Questions and Com_stmt_prepare counters of the connection that ran
// the operations (see statusCounters), and logs what scs' mysqlstore costs.
// The operations get a context that can end, as a request's: server/mysql
// then learns the thread ID of a connection before its first write there
// (see its package documentation), one round trip per connection, which
// happens before the counting.
func TestMySQLRoundTripsPerOp(t *testing.T) {
	mb := newMySQLBench(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 50

	// perOp runs fn n times on db, restricted to one connection, and
	// returns the statements and round trips of that connection per call.
	perOp := func(db *sql.DB, fn func(i int) error) (statements, roundTrips float64) {
		t.Helper()
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		// A write of server/mysql on the pool's only connection, which
		// then knows its thread ID.
		if db == mb.ours.DB() {
			if err := mb.ours.Delete(ctx, mb.ourKey("warm", 0)); err != nil {
				t.Fatal(err)
			}
		}
		var conn *sql.Conn
		counters := statusCounters(t, "SESSION", func(q string) (*sql.Rows, error) { return conn.QueryContext(ctx, q) })
		connID := func() int64 {
			var err error
			if conn, err = db.Conn(ctx); err != nil {
				t.Fatal(err)
			}
			var id int64
			if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
				t.Fatal(err)
			}
			return id
		}
		id0 := connID()
		a := counters.read()
		readCost := sub(counters.read(), a)
		c0 := counters.read()
		// The operations take the pool's only connection, so conn goes
		// back to the pool until they are done.
		conn.Close()
		for i := range n {
			if err := fn(i); err != nil {
				t.Fatal(err)
			}
		}
		if id1 := connID(); id1 != id0 {
			t.Fatalf("the pool changed connections (%d, then %d)", id0, id1)
		}
		defer conn.Close()
		// SELECT CONNECTION_ID() ran once between the two readings: one
		// statement, one round trip.
		d := sub(sub(sub(counters.read(), c0), readCost), []int64{1, 1})
		return float64(d[0]) / n, float64(d[1]) / n
	}

	key := func(i int) string { return mb.ourKey("stmt", i) }
	checks := []struct {
		name string
		fn   func(i int) error
		want float64
	}{
		{"Create", func(i int) error { return mb.ours.Create(ctx, key(i), mb.ourBlob, mb.expiry) }, 1},
		{"Load", func(i int) error { _, err := mb.ours.Load(ctx, key(i)); return err }, 1},
		{"Update", func(i int) error { return mb.ours.Update(ctx, key(i), mb.ourBlob, mb.expiry) }, 1},
		{"Delete", func(i int) error { return mb.ours.Delete(ctx, key(i)) }, 1},
	}
	for _, c := range checks {
		st, rt := perOp(mb.ours.DB(), c.fn)
		if st != c.want || rt != c.want {
			t.Errorf("server/mysql %s: %v statements and %v round trips per call, want %v of each", c.name, st, rt, c.want)
		} else {
			t.Logf("server/mysql %s: %v statement, %v round trip per call", c.name, st, rt)
		}
	}
	trip := roundTripOp(t, sessionkitServerVariant(t, "sessionkit", mb.ours), 1)
	// The Manager reads the global not-before from the user index once
	// per RevalidateInterval, not per request: that read comes first.
	if err := trip(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if st, rt := perOp(mb.ours.DB(), func(int) error { return trip(ctx, 0) }); st != 2 || rt != 2 {
		t.Errorf("round trip with EngineServer on server/mysql: %v statements and %v round trips per request, want 2 of each (Load, Update)", st, rt)
	} else {
		t.Logf("round trip with EngineServer on server/mysql: %v statements, %v round trips per request (Load, Update)", st, rt)
	}

	for _, s := range []struct {
		name string
		st   *mysqlstore.MySQLStore
	}{{"scs-mysqlstore", mb.scsSame}, {"scs-mysqlstore-prepared", mb.scsPrepared}} {
		tok := func(i int) string { return mb.scsToken("stmt-"+s.name, i) }
		cst, crt := perOp(s.st.DB, func(i int) error { return s.st.Commit(tok(i), mb.scsBlob, mb.expiry) })
		fst, frt := perOp(s.st.DB, func(i int) error { _, _, err := s.st.Find(tok(i)); return err })
		trip := roundTripOp(t, scsMySQLVariant(s.name, s.st), 1)
		tst, trt := perOp(s.st.DB, func(int) error { return trip(ctx, 0) })
		t.Logf("%s: Commit %v statements in %v round trips, Find %v in %v; middleware round trip %v in %v", s.name, cst, crt, fst, frt, tst, trt)
	}
}
