//go:build cgo

package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	_ "github.com/mattn/go-sqlite3" // scs' sqlite3store needs it (cgo)

	"github.com/sessionkit/session/server/sqlite"
)

// The SQLite benchmarks compare server/sqlite with scs' sqlite3store, each
// on a database file of its own in one temporary directory (so on the same
// disk):
//
//	sessionkit             server/sqlite from sqlite.Open (modernc.org/sqlite,
//	                       pure Go): WAL, synchronous=NORMAL, busy_timeout 5 s,
//	                       one writer connection that the store admits one
//	                       write at a time, max(4, GOMAXPROCS) reader
//	                       connections, prepared statements
//	sessionkit-syncfull    the same with Config.SyncFull (synchronous=FULL:
//	                       every commit flushed to the disk)
//	scs-sqlite3store       sqlite3store on mattn/go-sqlite3 (cgo) opened as
//	                       its README does (sql.Open("sqlite3", path)): the
//	                       rollback journal, synchronous=FULL, the driver's
//	                       busy_timeout of 5 s, database/sql's unbounded pool
//	scs-sqlite3store-wal   sqlite3store on mattn/go-sqlite3 with the settings
//	                       of server/sqlite: _journal_mode=WAL,
//	                       _synchronous=NORMAL, _busy_timeout=5000
//	unserialized           the statements of server/sqlite on one
//	                       modernc.org/sqlite pool of 32 connections with the
//	                       same settings, sent as they come: the writers
//	                       queue in SQLite's busy handler instead of in Go
//	                       (what the single writer is measured against)
//
// Each table starts with benchRows rows; blobs, keys, clients and the loop
// are those of the MySQL benchmarks. A failed call does not stop the
// benchmark (except for sessionkit's): errors/op counts them and locked/op
// those that are SQLITE_BUSY, "database is locked".

// sqliteBench is what the SQLite benchmarks and tests share.
type sqliteBench struct {
	ours, full       *sqlite.Store
	scs, scsWAL      *sqlite3store.SQLite3Store
	unserialized     *sql.DB
	unserializedStmt string // its table
	kb               *mysqlBench
}

// scsSQLiteSchema is sqlite3store's table, as its README creates it.
var scsSQLiteSchema = []string{
	"CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)",
	"CREATE INDEX sessions_expiry_idx ON sessions(expiry)",
}

func newSQLiteBench(tb testing.TB) *sqliteBench {
	tb.Helper()
	dir := tb.TempDir()
	ctx := context.Background()
	sb := &sqliteBench{kb: &mysqlBench{run: randomHex(tb, 8)}}
	sb.kb.fillBlobs(tb)
	open := func(name string, cfg sqlite.Config) *sqlite.Store {
		st, err := sqlite.Open(filepath.Join(dir, name), cfg)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			tb.Fatal(err)
		}
		sb.fill(tb, st.DB(), `INSERT INTO sessions (session_key, data, expiry) VALUES (?, ?, ?)`, func(i int) []any {
			return []any{sb.kb.ourKey("fill", i), sb.kb.ourBlob, sb.kb.expiry.UnixMicro()}
		})
		return st
	}
	sb.ours = open("sessionkit.db", sqlite.Config{})
	sb.full = open("sessionkit-full.db", sqlite.Config{SyncFull: true})

	openSCS := func(name, params string) *sqlite3store.SQLite3Store {
		db, err := sql.Open("sqlite3", filepath.Join(dir, name)+params)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		for _, q := range scsSQLiteSchema {
			if _, err := db.ExecContext(ctx, q); err != nil {
				tb.Fatal(err)
			}
		}
		sb.fill(tb, db, "INSERT INTO sessions (token, data, expiry) VALUES (?, ?, julianday(?))", func(i int) []any {
			return []any{sb.kb.scsToken("fill", i), sb.kb.scsBlob, sb.kb.expiry.UTC().Format("2006-01-02T15:04:05.999")}
		})
		return sqlite3store.NewWithCleanupInterval(db, 0)
	}
	sb.scs = openSCS("scs.db", "")
	sb.scsWAL = openSCS("scs-wal.db", "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000")

	// The unserialized pool writes to a table of server/sqlite's schema.
	raw := open("unserialized.db", sqlite.Config{})
	path := raw.Path()
	raw.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	tb.Cleanup(func() { db.Close() })
	sb.unserialized = db
	return sb
}

// fill inserts benchRows rows with q, in one transaction.
func (sb *sqliteBench) fill(tb testing.TB, db *sql.DB, q string, args func(i int) []any) {
	tb.Helper()
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	st, err := tx.Prepare(q)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range benchRows {
		if _, err := st.Exec(args(i)...); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// sqliteImpls returns the store operations of each implementation, each
// client on its own existing session.
func (sb *sqliteBench) sqliteImpls(tb testing.TB) []storeImpl {
	ctx := context.Background()
	for c := range 32 {
		for _, st := range []*sqlite.Store{sb.ours, sb.full} {
			if err := st.Create(ctx, sb.kb.ourKey("client", c), sb.kb.ourBlob, sb.kb.expiry); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := sb.unserialized.ExecContext(ctx, "INSERT INTO sessions VALUES (?, ?, ?)", sb.kb.ourKey("client", c), sb.kb.ourBlob, sb.kb.expiry.UnixMicro()); err != nil {
			tb.Fatal(err)
		}
		for _, st := range []*sqlite3store.SQLite3Store{sb.scs, sb.scsWAL} {
			if err := st.Commit(sb.kb.scsToken("client", c), sb.kb.scsBlob, sb.kb.expiry); err != nil {
				tb.Fatal(err)
			}
		}
	}
	full := sb.kb.sessionkitImpl(sb.full)
	full.name = "sessionkit-syncfull"
	impls := []storeImpl{sb.kb.sessionkitImpl(sb.ours), full}
	for _, s := range []struct {
		name string
		st   *sqlite3store.SQLite3Store
	}{{"scs-sqlite3store", sb.scs}, {"scs-sqlite3store-wal", sb.scsWAL}} {
		var created atomic.Int64
		impls = append(impls, storeImpl{
			name: s.name,
			load: func(ctx context.Context, c int) error {
				_, found, err := s.st.Find(sb.kb.scsToken("client", c))
				if err == nil && !found {
					err = errors.New("sqlite3store: session not found")
				}
				return err
			},
			update: func(ctx context.Context, c int) error {
				return s.st.Commit(sb.kb.scsToken("client", c), sb.kb.scsBlob, sb.kb.nextExpiry())
			},
			create: func(ctx context.Context, c int) error {
				return s.st.Commit(sb.kb.scsToken("new", int(created.Add(1))), sb.kb.scsBlob, sb.kb.expiry)
			},
		})
	}
	var created atomic.Int64
	db := sb.unserialized
	impls = append(impls, storeImpl{
		name: "unserialized",
		load: func(ctx context.Context, c int) error {
			var data []byte
			return db.QueryRowContext(ctx, "SELECT CASE WHEN octet_length(data) <= 1048576 THEN data END FROM sessions WHERE session_key = ? AND expiry > ?",
				sb.kb.ourKey("client", c), time.Now().UnixMicro()).Scan(&data)
		},
		update: func(ctx context.Context, c int) error {
			_, err := db.ExecContext(ctx, "UPDATE sessions SET data = ?, expiry = ? WHERE session_key = ? AND expiry > ?",
				sb.kb.ourBlob, sb.kb.nextExpiry().UnixMicro(), sb.kb.ourKey("client", c), time.Now().UnixMicro())
			return err
		},
		create: func(ctx context.Context, c int) error {
			_, err := db.ExecContext(ctx, "INSERT INTO sessions (session_key, data, expiry) VALUES (?, ?, ?) ON CONFLICT (session_key) DO NOTHING",
				sb.kb.ourKey("new", int(created.Add(1))), sb.kb.ourBlob, sb.kb.expiry.UnixMicro())
			return err
		},
	})
	return impls
}

// locked reports whether err is SQLite's "database is locked" (or
// "database table is locked"), from either driver.
func locked(err error) bool {
	return err != nil && (sqlite.Busy(err) || strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "table is locked"))
}

// BenchmarkSQLite is named BenchmarkSQLite/<operation>/clients-<n>/<implementation>.
func BenchmarkSQLite(b *testing.B) {
	sb := newSQLiteBench(b)
	impls := sb.sqliteImpls(b)
	if os.Getenv(envBenchReverse) == "1" {
		slices.Reverse(impls)
	}
	for _, operation := range []string{"Load", "Update", "Create"} {
		b.Run(operation, func(b *testing.B) {
			for _, clients := range clientCounts {
				b.Run(fmt.Sprintf("clients-%d", clients), func(b *testing.B) {
					for _, im := range impls {
						fn := map[string]op{"Load": im.load, "Update": im.update, "Create": im.create}[operation]
						b.Run(im.name, func(b *testing.B) {
							if strings.HasPrefix(im.name, "sessionkit") {
								runClients(b, clients, nil, fn) // any error fails
								return
							}
							var errs, lockedErrs atomic.Int64
							runClients(b, clients, nil, func(ctx context.Context, c int) error {
								if err := fn(ctx, c); err != nil {
									errs.Add(1)
									if locked(err) {
										lockedErrs.Add(1)
									}
								}
								return nil
							})
							b.ReportMetric(float64(errs.Load())/float64(b.N), "errors/op")
							b.ReportMetric(float64(lockedErrs.Load())/float64(b.N), "locked/op")
						})
					}
				})
			}
		})
	}
}

// TestSQLiteBench runs every operation of every implementation five
// times on each of 32 clients: server/sqlite's never fail, and in particular never
// with "database is locked"; the others' failures are logged.
func TestSQLiteBench(t *testing.T) {
	sb := newSQLiteBench(t)
	ctx := context.Background()
	for _, im := range sb.sqliteImpls(t) {
		for _, o := range []struct {
			name string
			fn   op
		}{{"Load", im.load}, {"Update", im.update}, {"Create", im.create}} {
			var errs, lockedErrs atomic.Int64
			var first atomic.Pointer[error]
			done := make(chan struct{})
			for c := range 32 {
				go func() {
					defer func() { done <- struct{}{} }()
					for range 5 {
						if err := o.fn(ctx, c); err != nil {
							errs.Add(1)
							if locked(err) {
								lockedErrs.Add(1)
							}
							first.CompareAndSwap(nil, &err)
						}
					}
				}()
			}
			for range 32 {
				<-done
			}
			if errs.Load() == 0 {
				continue
			}
			msg := fmt.Sprintf("%s %s at 32 clients: %d of 160 calls failed, %d with database is locked; first: %v", im.name, o.name, errs.Load(), lockedErrs.Load(), *first.Load())
			if strings.HasPrefix(im.name, "sessionkit") {
				t.Error(msg)
			} else {
				t.Log(msg)
			}
		}
	}
}
