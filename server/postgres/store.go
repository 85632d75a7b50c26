package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/internal/sqlconf"
	"github.com/sessionkit/session/server"
)

// Defaults for Config and for the pool that Open creates.
const (
	// DefaultTable is the table name used when Config.Table is empty.
	DefaultTable = "sessions"
	// DefaultDeleteBatch is the number of rows one DELETE statement of
	// DeleteExpired removes at most when Config.DeleteBatch is zero.
	DefaultDeleteBatch = 1000
	// DefaultConnectTimeout is the connection timeout Open sets when the
	// DSN has no connect_timeout.
	DefaultConnectTimeout = 10 * time.Second
	// OpenTimeout bounds the ping with which Open checks the server.
	OpenTimeout = 10 * time.Second
	// MaxBlobLen is the largest Config.MaxLength: a bytea holds at most
	// 1 GB, and a protocol message of more would not be sent.
	MaxBlobLen = 1<<30 - 1
	// MaxTableLen is the longest table name: PostgreSQL's identifiers
	// have at most 63 bytes, and the longest name made from the table's
	// is that of the user index's table's index on expiry, the name
	// followed by UsersSuffix and "_expiry_idx".
	MaxTableLen = 63 - len(UsersSuffix+"_expiry_idx")
)

// Errors specific to this store; test with errors.Is.
var (
	// ErrMisconfigured reports an invalid Config or a nil pool.
	ErrMisconfigured = errors.New("session store postgres: misconfigured")
	// ErrBlobTooLarge is server.ErrTooLarge, which the store returns for
	// a blob longer than Config.MaxLength.
	ErrBlobTooLarge = server.ErrTooLarge
)

// Config configures a Store. The zero value is usable.
type Config struct {
	// Table is the name of the sessions table: an ASCII letter or
	// underscore, then up to MaxTableLen-1 letters, digits or underscores
	// (so that the user index's table, the name followed by UsersSuffix,
	// and its index fit PostgreSQL's 63 bytes). It is always quoted in
	// statements, so upper case is kept (and a table created without
	// quotes as Sessions is named sessions). The tables live in the first
	// schema of the connection's search_path. Default DefaultTable.
	Table string
	// DeleteBatch is the most rows one DELETE statement of DeleteExpired
	// removes; DeleteExpired repeats it while a batch comes back full.
	// Default DefaultDeleteBatch; negative is an error.
	DeleteBatch int
	// MaxLength is the longest blob the store writes or reads, in bytes.
	// Zero means codec.DefaultMaxLength, the longest value the session
	// codec encodes or decodes by default; set it to the codec's MaxLength
	// if that is configured otherwise. Negative, or more than MaxBlobLen,
	// is an error.
	MaxLength int
	// NoPrepare makes the store send every statement as the extended
	// protocol's unnamed statement, which the server parses and plans on
	// every call, instead of preparing it on each connection (in the same
	// round trip as its first execution) and then executing the prepared
	// statement. Set it behind a connection pooler that does not keep
	// prepared statements from one transaction to the next: PgBouncer in
	// transaction mode before version 1.21, or without
	// max_prepared_statements.
	NoPrepare bool
}

// Store is a server.Store on a PostgreSQL table. It is safe for
// concurrent use.
type Store struct {
	pool      *pgxpool.Pool
	loads     loadQueue
	batched   bool // Loads may share round trips (see loadQueue)
	owned     bool
	table     string
	batch     int
	maxLen    int
	noPrepare bool

	qLoad, qLoadExpiry, qCreate, qUpdate, qDelete, qDeleteExpired *statement
	users                                                         usersStatements
	qMigrate                                                      string
}

// statement is one of the store's statements: its text, the types and
// formats of its parameters, the formats of its results, and the name it
// is prepared under.
type statement struct {
	sql     string
	name    string
	key     string // of its description in a connection's CustomData
	oids    []uint32
	formats []int16
	results []int16
	write   bool // not a SELECT: see runWrite
}

// newStatement names sql after its text, so that stores on other tables
// or with other limits never share a name on a connection.
func newStatement(sql string, oids []uint32, formats []int16) *statement {
	h := fnv.New64a()
	h.Write([]byte(sql))
	name := fmt.Sprintf("sessionkit_%016x", h.Sum64())
	return &statement{
		sql:     sql,
		name:    name,
		key:     "sessionkit/postgres " + name,
		oids:    oids,
		formats: formats,
		// One format code applies to every result column.
		results: []int16{binaryFormat},
		write:   !strings.HasPrefix(sql, "SELECT "),
	}
}

var (
	_ server.Store        = (*Store)(nil)
	_ server.ExpiryLoader = (*Store)(nil)
)

var tableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidateTable reports whether name is acceptable as Config.Table.
func ValidateTable(name string) error {
	if len(name) > MaxTableLen || !tableNameRE.MatchString(name) {
		return fmt.Errorf("%w: table name %q: want an ASCII letter or underscore, then at most %d letters, digits or underscores", ErrMisconfigured, name, MaxTableLen-1)
	}
	return nil
}

func newStore(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil *pgxpool.Pool", ErrMisconfigured)
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
	// A blob over maxLen is never sent: the server sends NULL instead
	// (data is NOT NULL, so NULL means only that). length() of a bytea
	// reads the stored length, without detoasting the value.
	data := fmt.Sprintf("CASE WHEN length(data) <= %d THEN data END", maxLen)
	h := fnv.New64a()
	h.Write([]byte("sessionkit migrate " + table))
	lock := int64(h.Sum64())
	pc := pool.Config()
	return &Store{
		pool: pool,
		// A pool whose hooks see the context of the request acquiring
		// a connection (to set a role or a tenant for it, say) must give
		// each Load a connection of its own.
		batched:     pc.BeforeAcquire == nil && pc.PrepareConn == nil,
		table:       table,
		batch:       batch,
		maxLen:      maxLen,
		noPrepare:   cfg.NoPrepare,
		qLoad:       newStatement("SELECT "+data+" FROM "+t+" WHERE session_key = $1 AND expiry > $2", loadOIDs, loadFormats),
		qLoadExpiry: newStatement("SELECT "+data+", expiry FROM "+t+" WHERE session_key = $1 AND expiry > $2", loadOIDs, loadFormats),
		qCreate:     newStatement("INSERT INTO "+t+" (session_key, data, expiry) VALUES ($1, $2, $3) ON CONFLICT (session_key) DO NOTHING", createOIDs, createFormats),
		qUpdate:     newStatement("UPDATE "+t+" SET data = $1, expiry = $2 WHERE session_key = $3 AND expiry > $4", updateOIDs, updateFormats),
		qDelete:     newStatement("DELETE FROM "+t+" WHERE session_key = $1", deleteOIDs, deleteFormats),
		// The outer condition on expiry is checked again on the row's
		// latest version, should another process have moved it.
		qDeleteExpired: newStatement(fmt.Sprintf("DELETE FROM %s WHERE session_key IN "+
			"(SELECT session_key FROM %s WHERE expiry <= $1 LIMIT %d FOR UPDATE SKIP LOCKED) AND expiry <= $1", t, t, batch), expiredOIDs, expiredFmts),
		users: newUsersStatements(table, data, batch),
		// One simple-protocol message, so one implicit transaction: the
		// advisory lock, released at its end, keeps concurrent Migrates
		// from racing on the catalog.
		qMigrate: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d);\n", lock) +
			"CREATE TABLE IF NOT EXISTS " + t + " (\n" +
			"  session_key text COLLATE \"C\" NOT NULL PRIMARY KEY,\n" +
			"  data        bytea       NOT NULL,\n" +
			"  expiry      timestamptz NOT NULL\n" +
			");\n" +
			`CREATE INDEX IF NOT EXISTS "` + table + `_expiry_idx" ON ` + t + " (expiry);\n" +
			usersSchema(table),
	}, nil
}

// New returns a Store on pool, which the caller keeps owning: Store.Close
// does not close it. Any pool configuration works: the store sends its
// statements through the pool's connections itself (see the package
// documentation), whatever the pool's DefaultQueryExecMode. New does no
// I/O and does not create the table; call Migrate.
func New(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	return newStore(pool, cfg)
}

// Open parses dsn (a pgx connection string: a URL such as
// "postgres://user:password@host:5432/dbname?sslmode=require", or
// "host=... user=... dbname=..." keywords; the pool_* parameters of
// pgxpool are honoured), sets a connect timeout of DefaultConnectTimeout
// when the DSN has none, and returns a Store on a new *pgxpool.Pool. Close
// closes that pool. Open checks that the server answers within
// OpenTimeout: an error wraps server.ErrUnavailable and names the host and
// port and the user (never the password) and the cause.
func Open(dsn string, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's error shows the DSN with its password masked.
		return nil, fmt.Errorf("session store postgres: open: %w", err)
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), OpenTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("session store postgres: open: %w", err)
	}
	s, err := newStore(pool, cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.owned = true
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("session store postgres: open: %w: %s as %q does not answer: %w", server.ErrUnavailable, describeAddr(pc.ConnConfig.Config), pc.ConnConfig.User, err)
	}
	return s, nil
}

// describeAddr names the server of cfg: host:port, or the Unix socket,
// with the fallbacks.
func describeAddr(cfg pgconn.Config) string {
	one := func(host string, port uint16) string {
		p := strconv.Itoa(int(port))
		if strings.HasPrefix(host, "/") {
			return "unix(" + host + "/.s.PGSQL." + p + ")"
		}
		return net.JoinHostPort(host, p)
	}
	names := []string{one(cfg.Host, cfg.Port)}
	for _, f := range cfg.Fallbacks {
		if f.Host != cfg.Host || f.Port != cfg.Port {
			names = append(names, one(f.Host, f.Port))
		}
	}
	return strings.Join(names, ", ")
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("session store postgres: ping: %w", err)
	}
	return nil
}

// Pool returns the pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// MaxLength returns the longest blob the store writes or reads.
func (s *Store) MaxLength() int { return s.maxLen }

// Close closes the pool if Open created it; for a Store made by New it
// does nothing.
func (s *Store) Close() error {
	if s.owned {
		s.pool.Close()
	}
	return nil
}

// Migrate creates the sessions table and the user index's table
// (Table()+UsersSuffix), each with its index on expiry, if they do not
// exist (see the package documentation for the schema), in one
// transaction that holds an advisory lock meanwhile so that processes
// starting together do not race. It is safe to call on every start.
func (s *Store) Migrate(ctx context.Context) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("session store postgres: migrate: %w", err)
	}
	defer c.Release()
	if _, err := c.Conn().PgConn().Exec(ctx, s.qMigrate).ReadAll(); err != nil {
		return fmt.Errorf("session store postgres: migrate: %w", err)
	}
	return nil
}

// The types and formats of the statements' parameters and results.
const (
	oidText        = 25
	oidBytea       = 17
	oidTimestamptz = 1184
	textFormat     = 0
	binaryFormat   = 1
)

var (
	minExpiry = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	// pgEpoch is the origin of timestamptz's binary form, in Unix
	// microseconds.
	pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
)

// dbTime converts t to what a timestamptz holds: microseconds, clamped to
// years 1 to 9999.
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

// encodeTime returns t as a timestamptz in binary form: microseconds since
// 2000-01-01 UTC, big-endian.
func encodeTime(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(dbTime(t).UnixMicro()-pgEpoch))
}

// decodeTime reads a timestamptz in binary form.
func decodeTime(b []byte) (time.Time, error) {
	if len(b) != 8 {
		return time.Time{}, fmt.Errorf("timestamptz of %d bytes, want 8", len(b))
	}
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b)) + pgEpoch).UTC(), nil
}

func now() []byte { return encodeTime(time.Now()) }

// Parameter types and formats of each statement.
var (
	loadOIDs      = []uint32{oidText, oidTimestamptz}
	loadFormats   = []int16{textFormat, binaryFormat}
	createOIDs    = []uint32{oidText, oidBytea, oidTimestamptz}
	createFormats = []int16{textFormat, binaryFormat, binaryFormat}
	updateOIDs    = []uint32{oidBytea, oidTimestamptz, oidText, oidTimestamptz}
	updateFormats = []int16{binaryFormat, binaryFormat, textFormat, binaryFormat}
	deleteOIDs    = []uint32{oidText}
	deleteFormats = []int16{textFormat}
	expiredOIDs   = []uint32{oidTimestamptz}
	expiredFmts   = []int16{binaryFormat}
)

// retries is how many times a statement that the server rolled back as a
// serialization failure or a deadlock victim is sent again.
const retries = 5

// retryable reports whether err is a serialization failure (40001, under
// the serializable or repeatable read isolation levels) or a deadlock
// victim (40P01): the statement, run in its own transaction, was rolled
// back whole and had no effect.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// exec runs st with params on a connection of the pool, in one round
// trip, and calls row with the raw values of each result row (valid only
// during the call). A serialization failure or a deadlock is retried
// after a short random pause, up to retries times; a statement that never
// reached the server (pgconn.SafeToRetry: the connection was found broken
// before anything was sent) is sent once more on another connection.
func (s *Store) exec(ctx context.Context, st *statement, params [][]byte, row func([][]byte) error) (pgconn.CommandTag, error) {
	return s.execWith(ctx, nil, st, params, row)
}

// execWith is exec whose first attempt runs on conn, if it is not nil;
// it releases conn.
func (s *Store) execWith(ctx context.Context, conn *pgxpool.Conn, st *statement, params [][]byte, row func([][]byte) error) (pgconn.CommandTag, error) {
	resent := false
	for attempt := 0; ; attempt++ {
		tag, err := s.execOnce(ctx, conn, st, params, row)
		conn = nil
		switch {
		case err == nil:
			return tag, nil
		case !resent && pgconn.SafeToRetry(err) && ctx.Err() == nil:
			resent = true
			continue
		case attempt < retries && retryable(err):
			if err := sqlconf.RetryPause(ctx, attempt, err); err != nil {
				return tag, err
			}
			continue
		}
		return tag, err
	}
}

// execOnce runs st once on conn, or on a connection of the pool if conn is
// nil, and releases the connection. With NoPrepare it is
// the unnamed statement: Parse, Bind, Describe, Execute and Sync in one
// write. Otherwise, on a connection where st is not prepared yet, Close,
// Parse (named), Describe, Bind, Execute and Sync go in one write, and
// afterwards Bind, Execute and Sync of the prepared statement. A prepared
// statement that the server no longer has (26000: someone deallocated it)
// or whose result type changed (0A000: the table was altered) is prepared
// again, once.
func (s *Store) execOnce(ctx context.Context, c *pgxpool.Conn, st *statement, params [][]byte, row func([][]byte) error) (pgconn.CommandTag, error) {
	if c == nil {
		var err error
		if c, err = s.pool.Acquire(ctx); err != nil {
			return pgconn.CommandTag{}, err
		}
	}
	defer c.Release()
	pc := c.Conn().PgConn()
	if !st.write {
		if ctx.Done() != nil {
			return s.runRead(ctx, pc, st, params, row)
		}
		return s.run(ctx, pc, st, params, row)
	}
	if ctx.Done() != nil {
		return s.runWrite(ctx, pc, st, params, row)
	}
	tag, err := s.run(ctx, pc, st, params, row)
	return tag, unknownOutcome(err)
}

// run is execOnce on pc, with ctx as pgconn's.
func (s *Store) run(ctx context.Context, pc *pgconn.PgConn, st *statement, params [][]byte, row func([][]byte) error) (pgconn.CommandTag, error) {
	if s.noPrepare {
		return readAll(pc.ExecParams(ctx, st.sql, params, st.oids, st.formats, st.results), row)
	}
	data := pc.CustomData()
	if sd, ok := data[st.key].(*pgconn.StatementDescription); ok {
		tag, err := readAll(pc.ExecStatement(ctx, sd, params, st.formats, st.results), row)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || (pe.Code != "26000" && pe.Code != "0A000") || pc.IsClosed() {
			return tag, err
		}
		delete(data, st.key)
	}
	return s.prepareAndExec(ctx, pc, st, params, row)
}

// prepareAndExec prepares st on pc and runs it, in one round trip (a
// pipeline), and records the statement's description on pc.
func (s *Store) prepareAndExec(ctx context.Context, pc *pgconn.PgConn, st *statement, params [][]byte, row func([][]byte) error) (pgconn.CommandTag, error) {
	p := pc.StartPipeline(ctx)
	sendPrepare(p, st)
	p.SendQueryPrepared(st.name, params, st.formats, st.results)
	if err := p.Sync(); err != nil {
		p.Close()
		return pgconn.CommandTag{}, err
	}
	var (
		tag pgconn.CommandTag
		sd  *pgconn.StatementDescription
	)
	err := func() error {
		var err error
		if sd, err = readPrepare(p, st); err != nil {
			return err
		}
		res, err := p.GetResults()
		if err != nil {
			return err
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			return fmt.Errorf("unexpected pipeline result %T", res)
		}
		tag, err = readAll(rr, row)
		return err
	}()
	if closeErr := p.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return tag, err
	}
	if sd != nil {
		pc.CustomData()[st.key] = sd
	}
	return tag, nil
}

// readAll reads the rows of rr into row and closes it.
func readAll(rr *pgconn.ResultReader, row func([][]byte) error) (pgconn.CommandTag, error) {
	var rowErr error
	for rr.NextRow() {
		if rowErr == nil && row != nil {
			rowErr = row(rr.Values())
		}
	}
	tag, err := rr.Close()
	if err == nil {
		err = rowErr
	}
	return tag, err
}

// checkBlob refuses a blob over MaxLength.
func (s *Store) checkBlob(op string, blob []byte) error {
	if len(blob) > s.maxLen {
		return fmt.Errorf("session store postgres: %s: %w: %d bytes, over MaxLength %d", op, server.ErrTooLarge, len(blob), s.maxLen)
	}
	return nil
}

// errDataTooLarge is what a row callback returns for a NULL data column:
// a stored blob over MaxLength.
var errDataTooLarge = errors.New("too large")

// tooLarge reports a stored blob over MaxLength.
func (s *Store) tooLarge() error {
	return fmt.Errorf("session store postgres: load: %w: the stored blob is longer than MaxLength %d", server.ErrTooLarge, s.maxLen)
}

// load runs the Load statement (with the expiry when withExpiry).
func (s *Store) load(ctx context.Context, key string, withExpiry bool) ([]byte, time.Time, error) {
	if err := server.ValidateKey(key); err != nil {
		return nil, time.Time{}, fmt.Errorf("session store postgres: load: %w", err)
	}
	q := s.qLoad
	if withExpiry {
		q = s.qLoadExpiry
	}
	r, err := s.query(ctx, q, [][]byte{[]byte(key), now()})
	switch {
	case err != nil:
		return nil, time.Time{}, fmt.Errorf("session store postgres: load: %w", err)
	case !r.found:
		return nil, time.Time{}, server.ErrNotFound
	case r.v[0] == nil:
		return nil, time.Time{}, s.tooLarge()
	}
	var expiry time.Time
	if withExpiry {
		if expiry, err = decodeTime(r.v[1]); err != nil {
			return nil, time.Time{}, fmt.Errorf("session store postgres: load: %w", err)
		}
	}
	return r.v[0], expiry, nil
}

// Load returns the blob stored under key, or server.ErrNotFound if there is
// none or it has expired. A blob over MaxLength is an error wrapping
// server.ErrTooLarge; the server does not send it.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	blob, _, err := s.load(ctx, key, false)
	return blob, err
}

// LoadWithExpiry is Load that also returns the row's expiry (UTC, to the
// microsecond), in the same single statement:
//
//	SELECT CASE WHEN length(data) <= MaxLength THEN data END, expiry
//	FROM t WHERE session_key = $1 AND expiry > $2
//
// It implements server.ExpiryLoader.
func (s *Store) LoadWithExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	return s.load(ctx, key, true)
}

// Create stores blob under key until expires. It returns server.ErrExists
// if the key is present, expired or not, and an error wrapping
// server.ErrTooLarge for a blob over MaxLength.
func (s *Store) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store postgres: create: %w", err)
	}
	if err := s.checkBlob("create", blob); err != nil {
		return err
	}
	if blob == nil {
		blob = []byte{} // a nil parameter is NULL; the column is NOT NULL
	}
	tag, err := s.exec(ctx, s.qCreate, [][]byte{[]byte(key), blob, encodeTime(expires)}, nil)
	if err != nil {
		return fmt.Errorf("session store postgres: create: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return server.ErrExists
	}
	return nil
}

// Update replaces the blob and expiry of an existing, unexpired key. It
// returns server.ErrNotFound if the key is absent or expired, and an error
// wrapping server.ErrTooLarge for a blob over MaxLength.
func (s *Store) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store postgres: update: %w", err)
	}
	if err := s.checkBlob("update", blob); err != nil {
		return err
	}
	if blob == nil {
		blob = []byte{}
	}
	tag, err := s.exec(ctx, s.qUpdate, [][]byte{blob, encodeTime(expires), []byte(key), now()}, nil)
	if err != nil {
		return fmt.Errorf("session store postgres: update: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return server.ErrNotFound
	}
	return nil
}

// Delete removes key. Deleting an absent key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store postgres: delete: %w", err)
	}
	if _, err := s.exec(ctx, s.qDelete, [][]byte{[]byte(key)}, nil); err != nil {
		return fmt.Errorf("session store postgres: delete: %w", err)
	}
	return nil
}

// DeleteExpired removes every session that has expired at the time of the
// call, Config.DeleteBatch rows per statement, and returns how many it
// removed; then it removes the user index's expired entries in the same
// way, which it does not count. It checks ctx between batches; on an
// error it returns the sessions removed so far with the error.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	cutoff := now()
	total, err := sqlconf.DeleteBatches(ctx, s.batch, func(ctx context.Context) (int64, error) {
		tag, err := s.exec(ctx, s.qDeleteExpired, [][]byte{cutoff}, nil)
		return tag.RowsAffected(), err
	})
	if err != nil {
		return total, fmt.Errorf("session store postgres: delete expired: %w", err)
	}
	return total, s.deleteExpiredEntries(ctx, cutoff)
}
