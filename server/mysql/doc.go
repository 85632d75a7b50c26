// Package mysql is a server.Store that keeps sessions in a MySQL or MariaDB
// table, through github.com/go-sql-driver/mysql.
//
// # Opening a store
//
// Open takes a DSN, forces the driver options the store relies on and sets
// the pool up:
//
//	st, err := mysql.Open("sess:secret@tcp(db:3306)/app", mysql.Config{})
//	if err != nil { ... }
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil { ... } // CREATE TABLE IF NOT EXISTS
//
// The options Open forces, whatever the DSN says:
//
//   - parseTime=true: DATETIME columns scan into time.Time.
//   - loc=UTC: times are written and read as UTC. The table holds naive UTC,
//     like Django's django_session with USE_TZ=True.
//   - clientFoundRows=true: an UPDATE reports the rows it matched, not the
//     rows it changed. Update relies on it: saving a session whose data and
//     expiry did not change still matches one row, and only a missing or
//     expired row reports zero (server.ErrNotFound).
//   - interpolateParams=true: the driver sends each statement with its
//     arguments in one packet, so every operation is one round trip instead
//     of prepare, execute and close (about twice as fast on loopback). The
//     driver escapes the arguments; this is safe with every connection
//     character set except the multibyte ones whose trailing bytes can hold a
//     backslash (big5, cp932, gb2312, gbk, gb18030, sjis). If the DSN's
//     charset or collation names one of those, Open leaves interpolation off
//     and the store uses server-side prepared statements instead (correct,
//     but three round trips per operation). The store itself sends only ASCII
//     keys, binary blobs and times, so any other character set is fine.
//
// When the DSN has no timeout, Open sets a dial timeout of
// DefaultDialTimeout. The pool of the *sql.DB that Open creates is set to
// DefaultMaxOpenConns open connections, DefaultMaxIdleConns idle ones, a
// connection lifetime of DefaultConnMaxLifetime (below the server's
// wait_timeout and the idle timeouts of common proxies and firewalls) and an
// idle time of DefaultConnMaxIdleTime. Tune them through Store.DB. Close
// closes that *sql.DB.
//
// # Using your own *sql.DB
//
// New takes a *sql.DB that you opened and still own (Close leaves it open).
// Its DSN MUST set parseTime=true, loc=UTC (the default) and
// clientFoundRows=true, and should set interpolateParams=true:
//
//	user:pass@tcp(host:3306)/db?parseTime=true&clientFoundRows=true&interpolateParams=true
//
// New checks the first three on one connection before it returns and fails
// with ErrMisconfigured if they are wrong: without clientFoundRows, Update
// would report a session whose data did not change as deleted. The
// clientFoundRows check uses a temporary table, so the user needs the CREATE
// TEMPORARY TABLES privilege; Config.SkipCheck turns the check off.
//
// # Schema
//
// Migrate creates the table (named by Config.Table, "sessions" by default)
// if it does not exist:
//
//	CREATE TABLE IF NOT EXISTS `sessions` (
//	  session_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
//	  data        MEDIUMBLOB  NOT NULL,
//	  expiry      DATETIME(6) NOT NULL,
//	  PRIMARY KEY (session_key),
//	  KEY expiry_idx (expiry)
//	) ENGINE=InnoDB
//
// The key column is binary (ascii_bin): keys compare byte for byte, never
// case-insensitively as under the server's default utf8mb4 collations. Data
// is at most Config.MaxLength bytes (codec.DefaultMaxLength, 1 MiB, unless
// configured; at most MaxBlobLen, what a MEDIUMBLOB holds, and the server's
// max_allowed_packet must also admit it). Expiry is naive UTC to the microsecond, indexed for
// DeleteExpired. You may create the table yourself (for example in your own
// migrations) with the same columns.
//
// The user index (server.Index: a user's sessions, for listing and
// revocation) has a table of its own, the sessions table's name followed
// by UsersSuffix, which Migrate also creates:
//
//	CREATE TABLE IF NOT EXISTS `sessions_users` (
//	  user_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
//	  entry_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
//	  data     MEDIUMBLOB  NOT NULL,
//	  expiry   DATETIME(6) NOT NULL,
//	  PRIMARY KEY (user_key, entry_id),
//	  KEY expiry_idx (expiry)
//	) ENGINE=InnoDB
//
// Each index operation is one statement too: Bind is INSERT … ON DUPLICATE
// KEY UPDATE, Touch an UPDATE … WHERE expiry > ?now (no row: ErrNotFound),
// Entries one SELECT of the user's live rows whatever their number, and
// Unbind one DELETE … WHERE entry_id IN (…). DeleteExpired clears both
// tables and counts the sessions.
//
// # Statements
//
// Each operation is one statement, so one round trip with interpolation on:
//
//	Load           SELECT IF(LENGTH(data) <= MaxLength, data, NULL) FROM t
//	               WHERE session_key = ? AND expiry > ?now
//	               (NULL: a blob over MaxLength, server.ErrTooLarge)
//	Create         INSERT INTO t (session_key, data, expiry) VALUES (?, ?, ?)
//	               (duplicate key, error 1062: server.ErrExists)
//	Update         UPDATE t SET data = ?, expiry = ? WHERE session_key = ? AND expiry > ?now
//	               (no row matched: server.ErrNotFound)
//	Delete         DELETE FROM t WHERE session_key = ?
//	DeleteExpired  DELETE FROM t WHERE expiry <= ?now LIMIT batch, repeated while a batch is full
//
// Create and Update refuse a blob over Config.MaxLength before any I/O,
// with an error wrapping server.ErrTooLarge. The column can hold up to 16
// MiB, and anyone who can write to the table can put a longer blob there;
// Load then refuses it with the same error, without the row's data ever
// crossing the network or entering the application's memory: the server
// compares its length in the same statement and sends NULL instead, at
// the cost of no round trip.
//
// A write statement that InnoDB rolls back as a deadlock victim (error 1213;
// it takes concurrent writes to the same keys) had no effect, so the store
// sends it again after a pause of at most a few milliseconds, a few times at
// most, and the operation costs more than one round trip only then.
//
// "now" is the application's clock (time.Now in UTC), not the database's, so
// this store applies the same rule as every other one (server.Expired): an
// entry is gone from its expiry on. Keep the application servers' clocks in
// sync. Times are truncated to microseconds before they are sent; expiries
// outside DATETIME's range (years 1000 to 9999) are clamped to it.
//
// # Removing expired sessions
//
// Expired rows are never returned, but they stay in the table until
// DeleteExpired removes them, in batches of Config.DeleteBatch rows so that
// no statement holds locks for long. Run it periodically: either start
// server.Cleanup in a goroutine at startup, or run `sessionkit
// clear-expired` (cmd/sessionkit, the equivalent of Django's clearsessions)
// from a scheduled job. `sessionkit migrate` creates the table, as Migrate
// does.
//
// # Django's table
//
// DjangoStore (OpenDjango, NewDjango) is Django's own django_session table,
// for a session.Manager that shares sessions with a Django application or
// moves them off it (session.DjangoConfig): raw session keys, Django's
// session_data, expire_date in naive UTC, the statements listed on its
// type. The table is Django's: its migrations create it (manage.py
// migrate), and OpenDjango checks that it is there. Its key column takes
// the database's collation, often case-insensitive; the store compares
// keys byte for byte all the same.
//
// # Errors
//
// Every method validates the key with server.ValidateKey before any I/O.
// Errors wrap the driver's (test them with errors.As against
// *mysql.MySQLError) and the context's (errors.Is(err, context.Canceled)),
// prefixed with "session store mysql: " and the operation. Error messages
// never contain a session key.
//
// # A context that ends while a statement runs
//
// A read whose context ends returns at once: the driver closes its
// connection, which database/sql then discards.
//
// A write (Create, Update, Delete, DeleteExpired, the index's Bind, Touch
// and Unbind, and DjangoStore's) is ended on the server before it
// returns, so that a write reported failed does not take effect later:
// the server does not notice a closed connection while a statement waits
// (for a row lock, say), and would commit it once the lock is released,
// perhaps over a newer write. The store learns the thread ID and the
// server of each connection (CONNECTION_ID(), @@hostname, @@port and
// @@server_id, in one statement, the first time it writes there, and
// again should it have forgotten the connection among many that closed).
// When a write's context ends, another connection checks that it reached
// the same server and, each time, that the thread runs the statement
// there (information_schema.PROCESSLIST), and sends KILL QUERY with that
// ID, again after 100 ms and then twice as long each time while the
// statement runs (a KILL that arrives before the statement starts may be
// forgotten), and the write waits for the statement's outcome:
//
//   - it ended first and took effect: the method returns its result, no
//     error;
//   - it was interrupted (ER_QUERY_INTERRUPTED, 1317; a statement
//     interrupted while it waits is rolled back): an error wrapping the
//     context's and the server's;
//   - it failed on its own: the server's error, with the context's.
//
// The connection is then discarded, so that a KILL that arrives late
// cannot end another statement. A store from Open or OpenDjango sends the
// KILL on a connection of its own, outside the pool (the store's
// connections may all wait on the same lock); one from New or NewDjango,
// on a connection of the pool you gave it, which waits when every
// connection is busy. When the KILL cannot be sent (no connection within
// 2 s; one that reached another server, or finds the thread running
// something else, behind a load balancer or a proxy that splits reads
// from writes; a proxy that refuses it) or the statement has not ended
// 2 s after the context,
// the connection is broken off and the error, still wrapping the
// context's, says that the write may have taken effect. KILL QUERY needs
// no privilege for the store's own user's connections.
//
// The same error says so of a write whose connection failed while the
// statement ran, with no context ended: a network fault, a proxy's
// relayed loss of the server (an error of the client's range, 2000 to
// 2999, such as 2013), or a DSN's readTimeout shorter than a lock wait
// (Open sets none; a pool of your own should have none, or one longer
// than innodb_lock_wait_timeout).
package mysql
