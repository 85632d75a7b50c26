package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sessionkit/session/internal/sqlconf"
	"github.com/sessionkit/session/server"
)

// Defaults for Config.
const (
	// DefaultTable is the table name used when Config.Table is empty.
	DefaultTable = "sessions"
	// DefaultDeleteBatch is the number of rows one DELETE statement of
	// DeleteExpired removes at most when Config.DeleteBatch is zero.
	DefaultDeleteBatch = 1000
	// DefaultBusyTimeout is how long a connection that Open makes waits
	// for a lock another process holds before it fails with SQLITE_BUSY
	// ("database is locked"), when Config.BusyTimeout is zero.
	DefaultBusyTimeout = 5 * time.Second
	// MaxBlobLen is the largest Config.MaxLength: SQLite's default limit
	// on the length of a value (SQLITE_MAX_LENGTH).
	MaxBlobLen = 1_000_000_000
)

// Errors specific to this store; test with errors.Is.
var (
	// ErrMisconfigured reports an invalid Config, a nil *sql.DB, or a
	// database that the store cannot work with as it is set up (see New).
	ErrMisconfigured = errors.New("session store sqlite: misconfigured")
	// ErrBlobTooLarge is server.ErrTooLarge, which the store returns for
	// a blob longer than Config.MaxLength.
	ErrBlobTooLarge = server.ErrTooLarge
)

// Config configures a Store. The zero value is usable.
type Config struct {
	// Table is the name of the sessions table: an ASCII letter or
	// underscore, then up to 63 letters, digits or underscores. It is
	// always quoted in statements. The user index's table is named after
	// it, followed by UsersSuffix (SQLite does not limit the length of
	// names). Default DefaultTable.
	Table string
	// DeleteBatch is the most rows one DELETE statement of DeleteExpired
	// removes; DeleteExpired repeats it while a batch comes back full, and
	// other writes go between the batches. Default DefaultDeleteBatch;
	// negative is an error.
	DeleteBatch int
	// MaxLength is the longest blob the store writes or reads, in bytes.
	// Zero means codec.DefaultMaxLength, the longest value the session
	// codec encodes or decodes by default; set it to the codec's MaxLength
	// if that is configured otherwise. Negative, or more than MaxBlobLen,
	// is an error.
	MaxLength int
	// BusyTimeout is how long Open's connections wait for a lock that
	// another process holds (a `sessionkit clear-expired` run, another
	// application process) before a statement fails. Default
	// DefaultBusyTimeout; negative is an error. New does not set it: the
	// *sql.DB's DSN does.
	BusyTimeout time.Duration
	// SyncFull makes Open's connections run with synchronous=FULL: every
	// commit is flushed to the disk before the statement returns, so a
	// power loss or an operating system crash loses nothing. The default,
	// synchronous=NORMAL, flushes at checkpoints only: such a crash may
	// lose the last commits (never the database's consistency), an
	// application crash loses nothing. New does not set it.
	SyncFull bool
	// MaxReadConns is the number of connections of the pool that Open
	// makes for reads. Default max(4, GOMAXPROCS). Writes have a
	// connection of their own.
	MaxReadConns int
}

// Store is a server.Store on a table of an SQLite database. It is safe for
// concurrent use.
type Store struct {
	r, w   *sql.DB // r for reads, w for writes; the same *sql.DB for New
	owned  bool
	path   string
	table  string
	batch  int
	maxLen int
	// writer admits one write at a time (see the package documentation).
	writer chan struct{}

	mu    sync.Mutex // held while a statement is prepared
	stmts [numStmts]atomic.Pointer[sql.Stmt]

	queries   [numStmts]string
	qUnbind   string // followed by the IDs' placeholders
	qMigrate  []string
	dbForStmt [numStmts]*sql.DB
}

// The statements, prepared on first use.
const (
	stmtLoad = iota
	stmtLoadExpiry
	stmtCreate
	stmtUpdate
	stmtDelete
	stmtDeleteExpired
	stmtBind
	stmtTouch
	stmtEntries
	stmtDeleteExpiredEntries
	numStmts
)

var (
	_ server.Store        = (*Store)(nil)
	_ server.ExpiryLoader = (*Store)(nil)
)

var tableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// ValidateTable reports whether name is acceptable as Config.Table.
func ValidateTable(name string) error {
	if !tableNameRE.MatchString(name) || strings.HasPrefix(strings.ToLower(name), "sqlite_") {
		return fmt.Errorf("%w: table name %q: want an ASCII letter or underscore, then at most 63 letters, digits or underscores, not starting with sqlite_", ErrMisconfigured, name)
	}
	return nil
}

func newStore(r, w *sql.DB, cfg Config) (*Store, error) {
	if r == nil || w == nil {
		return nil, fmt.Errorf("%w: nil *sql.DB", ErrMisconfigured)
	}
	set, err := sqlconf.Rules{
		Misconfigured: ErrMisconfigured,
		DefaultTable:  DefaultTable,
		ValidateTable: ValidateTable,
		DefaultBatch:  DefaultDeleteBatch,
		MaxBlobLen:    MaxBlobLen,
	}.Apply(sqlconf.Settings{Table: cfg.Table, DeleteBatch: cfg.DeleteBatch, MaxLength: cfg.MaxLength})
	if err != nil {
		return nil, err
	}
	table, batch, maxLen := set.Table, set.DeleteBatch, set.MaxLength
	t := `"` + table + `"`
	// A blob over maxLen is never read: SQLite answers octet_length()
	// from the record's header, without loading the value, and the CASE
	// yields NULL instead (data is NOT NULL, so NULL means only that).
	data := fmt.Sprintf("CASE WHEN octet_length(data) <= %d THEN data END", maxLen)
	s := &Store{
		r:      r,
		w:      w,
		table:  table,
		batch:  batch,
		maxLen: maxLen,
		writer: make(chan struct{}, 1),
		queries: [numStmts]string{
			stmtLoad:          "SELECT " + data + " FROM " + t + " WHERE session_key = ? AND expiry > ?",
			stmtLoadExpiry:    "SELECT " + data + ", expiry FROM " + t + " WHERE session_key = ? AND expiry > ?",
			stmtCreate:        "INSERT INTO " + t + " (session_key, data, expiry) VALUES (?, ?, ?) ON CONFLICT (session_key) DO NOTHING",
			stmtUpdate:        "UPDATE " + t + " SET data = ?, expiry = ? WHERE session_key = ? AND expiry > ?",
			stmtDelete:        "DELETE FROM " + t + " WHERE session_key = ?",
			stmtDeleteExpired: fmt.Sprintf("DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s WHERE expiry <= ? LIMIT %d)", t, t, batch),
		},
		qMigrate: []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (\n" +
				"  session_key TEXT    NOT NULL PRIMARY KEY,\n" +
				"  data        BLOB    NOT NULL,\n" +
				"  expiry      INTEGER NOT NULL\n" +
				")",
			`CREATE INDEX IF NOT EXISTS "` + table + `_expiry_idx" ON ` + t + " (expiry)",
		},
	}
	s.usersQueries(data)
	for i := range s.dbForStmt {
		s.dbForStmt[i] = w
	}
	s.dbForStmt[stmtLoad], s.dbForStmt[stmtLoadExpiry], s.dbForStmt[stmtEntries] = r, r, r
	return s, nil
}

// Open opens (creating it if needed) the SQLite database in the file at
// path, with the modernc.org/sqlite driver (pure Go, no cgo), and returns a
// Store on it. It opens two pools on the file: one connection for writes
// and Config.MaxReadConns connections for reads (query_only), each with
// journal_mode=WAL, busy_timeout Config.BusyTimeout and synchronous NORMAL
// (FULL with Config.SyncFull). Open checks that the file opens and is in
// WAL mode; Close closes both pools. path is a file name, not a URI; its
// directory must exist.
func Open(path string, cfg Config) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("%w: path %q: want the name of a file (an in-memory database is private to its connection, and a URI is not a path)", ErrMisconfigured, path)
	}
	busy := cfg.BusyTimeout
	switch {
	case busy == 0:
		busy = DefaultBusyTimeout
	case busy < 0:
		return nil, fmt.Errorf("%w: BusyTimeout %v is negative", ErrMisconfigured, busy)
	}
	readers := cfg.MaxReadConns
	switch {
	case readers == 0:
		readers = max(4, runtime.GOMAXPROCS(0))
	case readers < 0:
		return nil, fmt.Errorf("%w: MaxReadConns %d is negative", ErrMisconfigured, readers)
	}
	syncMode := "NORMAL"
	if cfg.SyncFull {
		syncMode = "FULL"
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" +
		fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=synchronous(%s)", busy.Milliseconds(), syncMode)
	w, err := sql.Open("sqlite", base+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("session store sqlite: open: %w", err)
	}
	// One connection, kept open: the only writer of this process.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("session store sqlite: open: %w", err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	closeBoth := func() { _ = r.Close(); _ = w.Close() }
	s, err := newStore(r, w, cfg)
	if err != nil {
		closeBoth()
		return nil, err
	}
	s.owned, s.path = true, path
	ctx, cancel := context.WithTimeout(context.Background(), busy+10*time.Second)
	defer cancel()
	// The writer's connection opens first and puts the file in WAL mode.
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		closeBoth()
		return nil, fmt.Errorf("session store sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		closeBoth()
		return nil, fmt.Errorf("%w: %s: journal_mode is %q: the file system does not support WAL mode (it needs shared memory: not a network file system)", ErrMisconfigured, path, mode)
	}
	if err := r.PingContext(ctx); err != nil {
		closeBoth()
		return nil, fmt.Errorf("session store sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// New returns a Store on db, a *sql.DB opened with the modernc.org/sqlite
// driver ("sqlite") or another SQLite driver, which the caller keeps
// owning: Store.Close does not close it. The store runs its reads and its
// writes on db, one write at a time.
//
// Set up db's DSN as Open does: journal_mode WAL (readers and the writer
// then do not block each other) and a busy_timeout (so that a writer in
// another process is waited for). Unless cfg says otherwise, New checks,
// on one connection, that the database is in WAL mode and that
// busy_timeout is set, and returns an error wrapping ErrMisconfigured if
// not: without them, concurrent requests fail with "database is locked".
// Config.BusyTimeout, SyncFull and MaxReadConns are Open's and are
// ignored.
//
// New does not create the table; call Migrate.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	s, err := newStore(db, db, cfg)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("session store sqlite: check connection: %w", err)
	}
	defer conn.Close()
	var mode string
	var busy int64
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, fmt.Errorf("session store sqlite: check connection: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		return nil, fmt.Errorf("session store sqlite: check connection: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("%w: journal_mode is %q, want wal (with modernc.org/sqlite: _pragma=journal_mode(WAL) in the DSN)", ErrMisconfigured, mode)
	}
	if busy <= 0 {
		return nil, fmt.Errorf("%w: busy_timeout is 0, want a wait for locks (with modernc.org/sqlite: _pragma=busy_timeout(5000) in the DSN)", ErrMisconfigured)
	}
	return s, nil
}

// DB returns the *sql.DB the store writes with (for Open, a pool of one
// connection; for New, the *sql.DB given).
func (s *Store) DB() *sql.DB { return s.w }

// ReadDB returns the *sql.DB the store reads with (for New, the same as
// DB).
func (s *Store) ReadDB() *sql.DB { return s.r }

// Path returns the file Open opened, or "" for a Store made by New.
func (s *Store) Path() string { return s.path }

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// MaxLength returns the longest blob the store writes or reads.
func (s *Store) MaxLength() int { return s.maxLen }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("session store sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the store's prepared statements, and the pools if Open made
// them; for a Store made by New it leaves the *sql.DB open.
func (s *Store) Close() error {
	s.mu.Lock()
	var errs []error
	for i := range s.stmts {
		if st := s.stmts[i].Swap(nil); st != nil {
			errs = append(errs, st.Close())
		}
	}
	s.mu.Unlock()
	if s.owned {
		errs = append(errs, s.r.Close(), s.w.Close())
	}
	return errors.Join(errs...)
}

// lockWriter waits for the store's single write slot, or for ctx.
func (s *Store) lockWriter(ctx context.Context) error {
	select {
	case s.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) unlockWriter() { <-s.writer }

// Migrate creates the sessions table and the user index's table
// (Table()+UsersSuffix), each with its index on expiry, if they do not
// exist (see the package documentation for the schema), in one immediate
// transaction. It is safe to call on every start.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.lockWriter(ctx); err != nil {
		return fmt.Errorf("session store sqlite: migrate: %w", err)
	}
	defer s.unlockWriter()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("session store sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	for _, q := range s.qMigrate {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("session store sqlite: migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("session store sqlite: migrate: %w", err)
	}
	return nil
}

// stmt returns statement i, preparing it on first use (the table must
// exist by then: Migrate).
func (s *Store) stmt(ctx context.Context, i int) (*sql.Stmt, error) {
	if st := s.stmts[i].Load(); st != nil {
		return st, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stmts[i].Load(); st != nil {
		return st, nil
	}
	st, err := s.dbForStmt[i].PrepareContext(ctx, s.queries[i])
	if err != nil {
		return nil, err
	}
	s.stmts[i].Store(st)
	return st, nil
}

var (
	minExpiry = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// dbTime converts t to what the expiry column holds: Unix microseconds,
// of a time clamped to years 1 to 9999.
func dbTime(t time.Time) int64 {
	t = t.UTC()
	if t.Before(minExpiry) {
		t = minExpiry
	}
	if t.After(maxExpiry) {
		t = maxExpiry
	}
	return t.UnixMicro()
}

func now() int64 { return dbTime(time.Now()) }

// checkBlob refuses a blob over MaxLength and turns a nil one into an
// empty one (a nil []byte is bound as NULL; the column is NOT NULL).
func (s *Store) checkBlob(op string, blob []byte) ([]byte, error) {
	if len(blob) > s.maxLen {
		return nil, fmt.Errorf("session store sqlite: %s: %w: %d bytes, over MaxLength %d", op, server.ErrTooLarge, len(blob), s.maxLen)
	}
	if blob == nil {
		blob = []byte{}
	}
	return blob, nil
}

// write runs write statement i, alone among the store's writes.
func (s *Store) write(ctx context.Context, i int, args ...any) (int64, error) {
	if err := s.lockWriter(ctx); err != nil {
		return 0, err
	}
	defer s.unlockWriter()
	st, err := s.stmt(ctx, i)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// load runs the Load statement (with the expiry when withExpiry).
func (s *Store) load(ctx context.Context, key string, withExpiry bool) ([]byte, time.Time, error) {
	if err := server.ValidateKey(key); err != nil {
		return nil, time.Time{}, fmt.Errorf("session store sqlite: load: %w", err)
	}
	i := stmtLoad
	if withExpiry {
		i = stmtLoadExpiry
	}
	st, err := s.stmt(ctx, i)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("session store sqlite: load: %w", err)
	}
	var (
		data   sql.Null[[]byte]
		expiry int64
	)
	row := st.QueryRowContext(ctx, key, now())
	if withExpiry {
		err = row.Scan(&data, &expiry)
	} else {
		err = row.Scan(&data)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, time.Time{}, server.ErrNotFound
	case err != nil:
		return nil, time.Time{}, fmt.Errorf("session store sqlite: load: %w", err)
	case !data.Valid:
		return nil, time.Time{}, fmt.Errorf("session store sqlite: load: %w: the stored blob is longer than MaxLength %d", server.ErrTooLarge, s.maxLen)
	}
	if data.V == nil {
		data.V = []byte{}
	}
	var exp time.Time
	if withExpiry {
		exp = time.UnixMicro(expiry).UTC()
	}
	return data.V, exp, nil
}

// Load returns the blob stored under key, or server.ErrNotFound if there is
// none or it has expired. A blob over MaxLength is an error wrapping
// server.ErrTooLarge; it is not read.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	blob, _, err := s.load(ctx, key, false)
	return blob, err
}

// LoadWithExpiry is Load that also returns the row's expiry (UTC, to the
// microsecond), in the same single statement. It implements
// server.ExpiryLoader.
func (s *Store) LoadWithExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	return s.load(ctx, key, true)
}

// Create stores blob under key until expires. It returns server.ErrExists
// if the key is present, expired or not, and an error wrapping
// server.ErrTooLarge for a blob over MaxLength.
func (s *Store) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store sqlite: create: %w", err)
	}
	blob, err := s.checkBlob("create", blob)
	if err != nil {
		return err
	}
	n, err := s.write(ctx, stmtCreate, key, blob, dbTime(expires))
	if err != nil {
		return fmt.Errorf("session store sqlite: create: %w", err)
	}
	if n == 0 {
		return server.ErrExists
	}
	return nil
}

// Update replaces the blob and expiry of an existing, unexpired key. It
// returns server.ErrNotFound if the key is absent or expired, and an error
// wrapping server.ErrTooLarge for a blob over MaxLength.
func (s *Store) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store sqlite: update: %w", err)
	}
	blob, err := s.checkBlob("update", blob)
	if err != nil {
		return err
	}
	n, err := s.write(ctx, stmtUpdate, blob, dbTime(expires), key, now())
	if err != nil {
		return fmt.Errorf("session store sqlite: update: %w", err)
	}
	if n == 0 {
		return server.ErrNotFound
	}
	return nil
}

// Delete removes key. Deleting an absent key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store sqlite: delete: %w", err)
	}
	if _, err := s.write(ctx, stmtDelete, key); err != nil {
		return fmt.Errorf("session store sqlite: delete: %w", err)
	}
	return nil
}

// DeleteExpired removes every session that has expired at the time of the
// call, Config.DeleteBatch rows per statement (each its own transaction,
// so other writes go in between), and returns how many it removed; then
// it removes the user index's expired entries in the same way, which it
// does not count. It checks ctx between batches; on an error it returns
// the sessions removed so far with the error.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	cutoff := now()
	total, err := sqlconf.DeleteBatches(ctx, s.batch, func(ctx context.Context) (int64, error) {
		return s.write(ctx, stmtDeleteExpired, cutoff)
	})
	if err != nil {
		return total, fmt.Errorf("session store sqlite: delete expired: %w", err)
	}
	return total, s.deleteExpiredEntries(ctx, cutoff)
}

// Busy reports whether err is SQLite's SQLITE_BUSY ("database is locked")
// or SQLITE_LOCKED, which a store set up as Open sets it up does not
// return while other processes hold their locks for less than the busy
// timeout.
func Busy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}
