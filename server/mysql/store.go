package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/session/internal/sqlconf"
	"github.com/sessionkit/session/server"
)

// Defaults for Config and for the pool of the *sql.DB that Open creates.
const (
	// DefaultTable is the table name used when Config.Table is empty.
	DefaultTable = "sessions"
	// DefaultDeleteBatch is the number of rows one DELETE statement of
	// DeleteExpired removes at most when Config.DeleteBatch is zero.
	DefaultDeleteBatch = 1000
	// DefaultMaxOpenConns is the pool's limit on open connections.
	DefaultMaxOpenConns = 32
	// DefaultMaxIdleConns is the pool's limit on idle connections. It equals
	// DefaultMaxOpenConns so that bursts do not churn connections.
	DefaultMaxIdleConns = 32
	// DefaultConnMaxLifetime is how long a connection is reused at most. It
	// stays well below MySQL's wait_timeout (8 hours by default, often
	// lowered) and the idle timeouts of proxies and firewalls.
	DefaultConnMaxLifetime = 3 * time.Minute
	// DefaultConnMaxIdleTime is how long a connection stays idle at most.
	DefaultConnMaxIdleTime = time.Minute
	// DefaultDialTimeout is the dial timeout Open sets when the DSN has none.
	DefaultDialTimeout = 10 * time.Second
	// MaxBlobLen is the largest blob the data column (MEDIUMBLOB) holds,
	// and the largest Config.MaxLength.
	MaxBlobLen = 1<<24 - 1
)

// Errors specific to this store; test with errors.Is.
var (
	// ErrMisconfigured reports a connection whose driver options break the
	// store's semantics (see New), or an invalid Config.
	ErrMisconfigured = errors.New("session store mysql: misconfigured")
	// ErrBlobTooLarge is server.ErrTooLarge, which the store returns for
	// a blob longer than Config.MaxLength.
	ErrBlobTooLarge = server.ErrTooLarge
)

// Config configures a Store. The zero value is usable.
type Config struct {
	// Table is the name of the sessions table: an ASCII letter or
	// underscore, then up to 57 letters, digits or underscores (so that the
	// user index's table, the name followed by UsersSuffix, fits in MySQL's
	// 64 characters). It is
	// always quoted with backquotes in statements. Default DefaultTable.
	Table string
	// DeleteBatch is the most rows one DELETE statement of DeleteExpired
	// removes; DeleteExpired repeats it while a batch comes back full.
	// Default DefaultDeleteBatch; negative is an error.
	DeleteBatch int
	// SkipCheck turns off the connection check New runs (parseTime, loc
	// and clientFoundRows). Set it only if you know the DSN is right and the
	// user lacks the CREATE TEMPORARY TABLES privilege the check needs.
	// Open never runs the check: it forces the options itself.
	SkipCheck bool
	// MaxLength is the longest blob the store writes or reads, in bytes.
	// Zero means codec.DefaultMaxLength, the longest value the session
	// codec encodes or decodes by default; set it to the codec's MaxLength
	// if that is configured otherwise. Negative, or more than MaxBlobLen,
	// is an error.
	MaxLength int
}

// Store is a server.Store on a MySQL or MariaDB table. It is safe for
// concurrent use.
type Store struct {
	db     *sql.DB
	w      *writes
	owned  bool
	table  string
	batch  int
	maxLen int

	qLoad, qLoadExpiry, qCreate, qUpdate, qDelete, qDeleteExpired, qCreateTable string
	users                                                                       usersSQL
}

var _ server.Store = (*Store)(nil)

var tableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,57}$`)

// ValidateTable reports whether name is acceptable as Config.Table.
func ValidateTable(name string) error {
	if !tableNameRE.MatchString(name) {
		return fmt.Errorf("%w: table name %q: want an ASCII letter or underscore, then at most 57 letters, digits or underscores", ErrMisconfigured, name)
	}
	return nil
}

func newStore(db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
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
	t := "`" + table + "`"
	// A blob over maxLen is never sent: the server sends NULL instead
	// (data is NOT NULL, so NULL means only that).
	data := fmt.Sprintf("IF(LENGTH(data) <= %d, data, NULL)", maxLen)
	return &Store{
		db:             db,
		w:              &writes{db: db, killDB: db},
		table:          table,
		batch:          batch,
		maxLen:         maxLen,
		qLoad:          "SELECT " + data + " FROM " + t + " WHERE session_key = ? AND expiry > ?",
		qLoadExpiry:    "SELECT " + data + ", expiry FROM " + t + " WHERE session_key = ? AND expiry > ?",
		qCreate:        "INSERT INTO " + t + " (session_key, data, expiry) VALUES (?, ?, ?)",
		qUpdate:        "UPDATE " + t + " SET data = ?, expiry = ? WHERE session_key = ? AND expiry > ?",
		qDelete:        "DELETE FROM " + t + " WHERE session_key = ?",
		qDeleteExpired: fmt.Sprintf("DELETE FROM %s WHERE expiry <= ? LIMIT %d", t, batch),
		qCreateTable: "CREATE TABLE IF NOT EXISTS " + t + " (\n" +
			"  session_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n" +
			"  data        MEDIUMBLOB  NOT NULL,\n" +
			"  expiry      DATETIME(6) NOT NULL,\n" +
			"  PRIMARY KEY (session_key),\n" +
			"  KEY expiry_idx (expiry)\n" +
			") ENGINE=InnoDB",
		users: usersQueries(table, maxLen),
	}, nil
}

// New returns a Store on db, a *sql.DB opened with the go-sql-driver/mysql
// driver, which the caller keeps owning: Store.Close does not close it.
//
// The DSN of db must set parseTime=true, loc=UTC (the driver's default) and
// clientFoundRows=true, and should set interpolateParams=true (one round trip
// per operation instead of three). Unless cfg.SkipCheck is set, New checks
// the first three on one connection (five short statements, one of them
// creating and dropping a temporary table) and returns an error wrapping
// ErrMisconfigured if one is wrong.
//
// New does not create the table; call Migrate.
func New(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	s, err := newStore(db, cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.SkipCheck {
		if err := checkConn(ctx, db); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Open parses dsn (the go-sql-driver/mysql format,
// "user:password@tcp(host:port)/dbname?param=value"), forces parseTime=true,
// loc=UTC, clientFoundRows=true and, when the connection character set
// allows it, interpolateParams=true, and returns a Store on a new *sql.DB
// with the pool settings described in the package documentation. Close
// closes that *sql.DB. Open checks that the server answers within
// OpenTimeout: an error wraps server.ErrUnavailable and names the address
// and the user (never the password) and the cause. A DSN whose address lacks its protocol
// ("user:pass@host:3306/db") gets an error that says to write
// tcp(host:3306).
func Open(dsn string, cfg Config) (*Store, error) {
	db, mc, err := openPool(dsn)
	if err != nil {
		return nil, err
	}
	s, err := newStore(db, cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.owned = true
	if err := checkAnswers(db, mc); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.w.ownKillPool(mc)
	return s, nil
}

// openPool parses dsn, forces the options Open documents and returns a
// new *sql.DB with the package's pool settings, and the parsed DSN.
func openPool(dsn string) (*sql.DB, *gomysql.Config, error) {
	mc, err := gomysql.ParseDSN(dsn)
	if err != nil {
		if m := bareAddr.FindStringSubmatch(dsn); m != nil {
			return nil, nil, fmt.Errorf("session store mysql: open: the DSN's address must be written tcp(%s), not %s: %w", m[1], m[1], err)
		}
		return nil, nil, fmt.Errorf("session store mysql: open: %w", err)
	}
	mc.ParseTime = true
	mc.Loc = time.UTC
	mc.ClientFoundRows = true
	mc.InterpolateParams = interpolationSafe(dsn, mc.Collation)
	if mc.Timeout == 0 {
		mc.Timeout = DefaultDialTimeout
	}
	conn, err := gomysql.NewConnector(mc)
	if err != nil {
		return nil, nil, fmt.Errorf("session store mysql: open: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(DefaultMaxOpenConns)
	db.SetMaxIdleConns(DefaultMaxIdleConns)
	db.SetConnMaxLifetime(DefaultConnMaxLifetime)
	db.SetConnMaxIdleTime(DefaultConnMaxIdleTime)
	return db, mc, nil
}

// checkAnswers pings the server of db within OpenTimeout; the error names
// the address and the user of mc, never the password.
func checkAnswers(db *sql.DB, mc *gomysql.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), OpenTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("session store mysql: open: %w: %s(%s) as %q does not answer: %w", server.ErrUnavailable, mc.Net, mc.Addr, mc.User, fmt.Errorf("session store mysql: ping: %w", err))
	}
	return nil
}

// OpenTimeout bounds the ping with which Open checks the server.
const OpenTimeout = 10 * time.Second

// bareAddr matches a DSN whose address lacks its protocol, as in
// "user:pass@host:3306/db" for "user:pass@tcp(host:3306)/db".
var bareAddr = regexp.MustCompile(`@([^/()@]+:[0-9]+)/`)

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("session store mysql: ping: %w", err)
	}
	return nil
}

// unsafeCharsets are the connection character sets whose multibyte
// characters can end in 0x5c (a backslash), which defeats client-side
// escaping.
var unsafeCharsets = map[string]bool{
	"big5": true, "cp932": true, "gb2312": true, "gbk": true, "gb18030": true, "sjis": true,
}

// interpolationSafe reports whether client-side interpolation is safe for
// the connection character sets and collation the DSN names. It reads the
// charset parameter the way the driver's ParseDSN finds it (the parameters
// after the first '?' following the last '/'), since the parsed Config does
// not expose it.
func interpolationSafe(dsn, collation string) bool {
	if collation != "" {
		cs, _, _ := strings.Cut(strings.ToLower(collation), "_")
		if unsafeCharsets[cs] {
			return false
		}
	}
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return true
	}
	_, params, ok := strings.Cut(dsn[slash+1:], "?")
	if !ok {
		return true
	}
	for _, kv := range strings.Split(params, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k != "charset" {
			continue
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		for _, cs := range strings.Split(v, ",") {
			if unsafeCharsets[strings.ToLower(strings.TrimSpace(cs))] {
				return false
			}
		}
	}
	return true
}

// checkTable is the temporary table checkConn creates on its connection.
const checkTable = "`session_store_found_rows_check`"

// checkConn verifies, on one connection of db, that DATETIME values scan
// into time.Time in UTC and that UPDATE reports matched rows.
func checkConn(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("session store mysql: check connection: %w", err)
	}
	defer conn.Close()

	var v any
	if err := conn.QueryRowContext(ctx, "SELECT CAST('2000-07-01 12:00:00.000001' AS DATETIME(6))").Scan(&v); err != nil {
		return fmt.Errorf("session store mysql: check connection: %w", err)
	}
	t, ok := v.(time.Time)
	if !ok {
		return fmt.Errorf("%w: DATETIME scanned as %T, not time.Time: the DSN must set parseTime=true", ErrMisconfigured, v)
	}
	want := time.Date(2000, 7, 1, 12, 0, 0, 1000, time.UTC)
	if !t.Equal(want) {
		return fmt.Errorf("%w: DATETIME read back as %s, want %s: the DSN must set loc=UTC (or leave loc out)", ErrMisconfigured, t.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}

	steps := []string{
		"CREATE TEMPORARY TABLE IF NOT EXISTS " + checkTable + " (k TINYINT NOT NULL PRIMARY KEY) ENGINE=MEMORY",
		"REPLACE INTO " + checkTable + " (k) VALUES (1)",
	}
	for _, q := range steps {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("session store mysql: check connection (clientFoundRows; needs the CREATE TEMPORARY TABLES privilege, or set Config.SkipCheck): %w", err)
		}
	}
	res, err := conn.ExecContext(ctx, "UPDATE "+checkTable+" SET k = 1 WHERE k = 1")
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	_, dropErr := conn.ExecContext(ctx, "DROP TEMPORARY TABLE IF EXISTS "+checkTable)
	if err != nil {
		return fmt.Errorf("session store mysql: check connection: %w", err)
	}
	if dropErr != nil {
		return fmt.Errorf("session store mysql: check connection: %w", dropErr)
	}
	if n != 1 {
		return fmt.Errorf("%w: an UPDATE that changes nothing reported %d rows, want 1: the DSN must set clientFoundRows=true", ErrMisconfigured, n)
	}
	return nil
}

// DB returns the *sql.DB the store uses, for example to tune its pool.
func (s *Store) DB() *sql.DB { return s.db }

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// Close closes the *sql.DB if Open created it; for a Store made by New it
// does nothing.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return errors.Join(s.db.Close(), s.w.close())
}

// Migrate creates the sessions table and the user index's table
// (Table()+UsersSuffix) if they do not exist (see the package
// documentation for the schema). It is safe to call on every start.
func (s *Store) Migrate(ctx context.Context) error {
	for _, q := range []string{s.qCreateTable, s.users.create} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("session store mysql: migrate: %w", err)
		}
	}
	return nil
}

var (
	minExpiry = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// dbTime converts t to what a DATETIME(6) column holds: UTC, truncated to
// the microsecond, clamped to the column's range.
func dbTime(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Before(minExpiry) {
		return minExpiry
	}
	if t.After(maxExpiry) {
		return maxExpiry
	}
	return t
}

func now() time.Time { return dbTime(time.Now()) }

// MaxLength returns the longest blob the store writes or reads.
func (s *Store) MaxLength() int { return s.maxLen }

// checkBlob refuses a blob over MaxLength and turns a nil one into an
// empty one.
func (s *Store) checkBlob(op string, blob []byte) ([]byte, error) {
	if len(blob) > s.maxLen {
		return nil, fmt.Errorf("session store mysql: %s: %w: %d bytes, over MaxLength %d", op, server.ErrTooLarge, len(blob), s.maxLen)
	}
	if blob == nil {
		// The column is NOT NULL and the driver sends a nil slice as NULL.
		blob = []byte{}
	}
	return blob, nil
}

// deadlockRetries is how many times a write statement that InnoDB rolled
// back as a deadlock victim is sent again.
const deadlockRetries = 5

// exec runs a write statement (see writes).
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.w.exec(ctx, query, args...)
}

// Load returns the blob stored under key, or server.ErrNotFound if there is
// none or it has expired. A blob over MaxLength is an error wrapping
// server.ErrTooLarge; the server does not send it.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	if err := server.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("session store mysql: load: %w", err)
	}
	var data sql.Null[[]byte]
	err := s.db.QueryRowContext(ctx, s.qLoad, key, now()).Scan(&data)
	switch {
	case err == nil:
		if !data.Valid {
			return nil, s.tooLarge()
		}
		return data.V, nil
	case errors.Is(err, sql.ErrNoRows):
		return nil, server.ErrNotFound
	default:
		return nil, fmt.Errorf("session store mysql: load: %w", err)
	}
}

// tooLarge reports a stored blob over MaxLength.
func (s *Store) tooLarge() error {
	return fmt.Errorf("session store mysql: load: %w: the stored blob is longer than MaxLength %d", server.ErrTooLarge, s.maxLen)
}

// Create stores blob under key until expires. It returns server.ErrExists
// if the key is present, expired or not, and an error wrapping
// server.ErrTooLarge for a blob over MaxLength.
func (s *Store) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store mysql: create: %w", err)
	}
	blob, err := s.checkBlob("create", blob)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, s.qCreate, key, blob, dbTime(expires))
	return inserted(err, "create")
}

// Update replaces the blob and expiry of an existing, unexpired key. It
// returns server.ErrNotFound if the key is absent or expired, and an error
// wrapping server.ErrTooLarge for a blob over MaxLength.
func (s *Store) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store mysql: update: %w", err)
	}
	blob, err := s.checkBlob("update", blob)
	if err != nil {
		return err
	}
	res, err := s.exec(ctx, s.qUpdate, blob, dbTime(expires), key, now())
	return matched(res, err, "update")
}

// Delete removes key. Deleting an absent key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store mysql: delete: %w", err)
	}
	if _, err := s.exec(ctx, s.qDelete, key); err != nil {
		return fmt.Errorf("session store mysql: delete: %w", err)
	}
	return nil
}

// DeleteExpired removes every entry that has expired at the time of the
// call, Config.DeleteBatch rows per statement, and returns how many it
// removed. It checks ctx between batches; on an error it returns the rows
// removed so far with the error.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	cutoff := now()
	total, err := sqlconf.DeleteBatches(ctx, s.batch, func(ctx context.Context) (int64, error) {
		return rowsAffected(s.exec(ctx, s.qDeleteExpired, cutoff))
	})
	if err != nil {
		return total, fmt.Errorf("session store mysql: delete expired: %w", err)
	}
	return total, s.deleteExpiredEntries(ctx, cutoff)
}
