// Package sqlite is a server.Store that keeps sessions in a table of an
// SQLite database file, through modernc.org/sqlite: pure Go, no cgo, so a
// program that uses it still builds as one static binary with
// CGO_ENABLED=0. It is the persistent store of a single machine: sessions
// survive a restart, and nothing else has to run.
//
// # Opening a store
//
//	st, err := sqlite.Open("/var/lib/app/sessions.db", sqlite.Config{})
//	if err != nil { ... }
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil { ... } // CREATE TABLE IF NOT EXISTS
//
// Open takes a file name (not a URI; the directory must exist, the file is
// created if missing) and opens two pools on it, each connection with:
//
//   - journal_mode=WAL: readers and the writer do not block each other;
//     reads go on while a write commits. The file gets two companions,
//     NAME-wal and NAME-shm, which belong with it (back up the three
//     together, or use SQLite's backup API). WAL needs shared memory
//     between the processes that open the file, so not a network file
//     system.
//   - busy_timeout=Config.BusyTimeout (DefaultBusyTimeout, 5 s): a
//     connection that finds the database locked by another process (a
//     `sessionkit clear-expired` run, a second application process) waits
//     for it, sleeping in steps of a few milliseconds, instead of failing
//     with SQLITE_BUSY ("database is locked").
//   - synchronous=NORMAL, or FULL with Config.SyncFull. In WAL mode NORMAL
//     never corrupts the database and loses nothing when the application
//     crashes; a power loss or an operating system crash may lose the last
//     commits before a checkpoint. FULL flushes every commit to the disk
//     before the write returns, at the cost of an fsync per write.
//
// The writes go through a pool of one connection, kept open, and the store
// admits one write at a time: SQLite allows one writer per database
// anyway, and queueing the writers in Go, where a waiting request wakes as
// soon as the previous write commits, is both faster and free of the
// "database is locked" errors that concurrent writers get from SQLite
// (BENCHMARKS.md measures both). Reads use a pool of Config.MaxReadConns
// connections (max(4, GOMAXPROCS) by default) opened with query_only, in
// parallel with each other and with the writer. Each statement is prepared
// once per connection and reused.
//
// # Using your own *sql.DB
//
// New takes a *sql.DB that you opened and still own (Close leaves it
// open), for example to share one database file with the rest of the
// application. The store reads and writes through it, one write at a time
// within the store. Its DSN must put the file in WAL mode and set a busy
// timeout; with modernc.org/sqlite:
//
//	file:/var/lib/app/app.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)
//
// New checks both on one connection and fails with ErrMisconfigured if
// either is missing.
//
// # Schema
//
// Migrate creates the table (named by Config.Table, "sessions" by default)
// and its index if they do not exist, with the user index's table below,
// in one transaction:
//
//	CREATE TABLE IF NOT EXISTS "sessions" (
//	  session_key TEXT    NOT NULL PRIMARY KEY,
//	  data        BLOB    NOT NULL,
//	  expiry      INTEGER NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry)
//
// The key is the store key the session engine gives the store: the
// SHA-256 of the session key, in hex, unless session.Config.StoreRawKeys
// is set; it compares byte for byte (SQLite's BINARY collation). Expiry is
// Unix time in microseconds, indexed for DeleteExpired. Data is at most
// Config.MaxLength bytes (codec.DefaultMaxLength, 1 MiB, unless
// configured).
//
// The user index (server.Index: a user's sessions, for listing and
// revocation) has a table of its own, the sessions table's name followed
// by UsersSuffix, which Migrate also creates:
//
//	CREATE TABLE IF NOT EXISTS "sessions_users" (
//	  user_key TEXT    NOT NULL,
//	  entry_id TEXT    NOT NULL,
//	  data     BLOB    NOT NULL,
//	  expiry   INTEGER NOT NULL,
//	  PRIMARY KEY (user_key, entry_id)
//	);
//	CREATE INDEX IF NOT EXISTS "sessions_users_expiry_idx" ON "sessions_users" (expiry)
//
// Its keys compare byte for byte too, and its expiry is Unix microseconds
// as well. A database migrated before the index existed gets the table at
// the next Migrate; until then DeleteExpired skips it.
//
// # Statements
//
//	Load           SELECT CASE WHEN octet_length(data) <= MaxLength THEN data END
//	               FROM t WHERE session_key = ? AND expiry > ?now
//	               (NULL: a blob over MaxLength, server.ErrTooLarge)
//	Create         INSERT INTO t (session_key, data, expiry) VALUES (?, ?, ?)
//	               ON CONFLICT (session_key) DO NOTHING
//	               (no row inserted: server.ErrExists)
//	Update         UPDATE t SET data = ?, expiry = ? WHERE session_key = ? AND expiry > ?now
//	               (no row changed: server.ErrNotFound)
//	Delete         DELETE FROM t WHERE session_key = ?
//	DeleteExpired  DELETE FROM t WHERE rowid IN (SELECT rowid FROM t WHERE expiry <= ?now
//	               LIMIT batch), repeated while a batch is full; then the same
//	               on t_users (its rows are not counted)
//
// and those of the user index, on t_users:
//
//	Bind           INSERT INTO t_users (user_key, entry_id, data, expiry) VALUES (?, ?, ?, ?)
//	               ON CONFLICT (user_key, entry_id) DO UPDATE
//	               SET data = excluded.data, expiry = excluded.expiry
//	Touch          UPDATE t_users SET data = ?, expiry = ?
//	               WHERE user_key = ? AND entry_id = ? AND expiry > ?now
//	               (no row changed: server.ErrNotFound)
//	Entries        SELECT entry_id, CASE WHEN octet_length(data) <= MaxLength THEN data END, expiry
//	               FROM t_users WHERE user_key = ? AND expiry > ?now
//	               (on the read pool; a NULL: server.ErrTooLarge)
//	Unbind         DELETE FROM t_users WHERE user_key = ? AND entry_id IN (?, …)
//	               (prepared for each call, as the number of IDs varies)
//
// Each write is one statement in its own transaction, and the writes go
// one at a time, so a Touch after an Unbind of its entry finds no row: a
// revoked entry stays revoked. Create, Update, Bind and Touch refuse a
// blob over Config.MaxLength before any I/O, with an error wrapping
// server.ErrTooLarge. A longer blob put in a table by other means is
// refused by Load (or Entries) with the same error without being read:
// SQLite answers octet_length() from the record's header, and sends NULL
// in the value's place.
//
// "now" is the application's clock. Expiries outside years 1 to 9999 are
// clamped to them.
//
// # Removing expired sessions
//
// Expired rows are never returned, but they stay in the tables until
// DeleteExpired removes them (the sessions', then the user index's),
// Config.DeleteBatch rows per statement, each
// its own transaction, so that requests' writes go in between. Run it
// periodically: start server.Cleanup in a goroutine, or run `sessionkit
// clear-expired` with SESSION_STORE=sqlite from a scheduled job (another
// process: its batches and the application's writes wait for each other
// through the busy timeout).
//
// # Errors
//
// Every method validates the key (and the index's user keys and entry
// IDs) with server.ValidateKey before any I/O.
// Errors wrap the driver's (*sqlite.Error of modernc.org/sqlite; Busy
// tells SQLITE_BUSY and SQLITE_LOCKED) and the context's, prefixed with
// "session store sqlite: " and the operation. A database that cannot be
// written (a full disk, a read-only or immutable file) makes writes fail
// with the driver's error while reads go on; once it can be written again
// the same Store works, with nothing to reopen. Error messages never
// contain a session key.
package sqlite
