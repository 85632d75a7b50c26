// Package postgres is a server.Store that keeps sessions in a PostgreSQL
// table, through github.com/jackc/pgx/v5 and its pool, pgxpool.
//
// # Opening a store
//
// Open takes a pgx connection string and makes a pool:
//
//	st, err := postgres.Open("postgres://sess:secret@db:5432/app?sslmode=require", postgres.Config{})
//	if err != nil { ... }
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil { ... } // CREATE TABLE IF NOT EXISTS
//
// The connection string is a URL or keyword=value pairs, with every
// parameter pgx knows: sslmode and the other TLS settings, search_path to
// put the table in a schema of its own, and pgxpool's pool_max_conns,
// pool_max_conn_lifetime, pool_max_conn_idle_time and
// pool_health_check_period, whose defaults are pgxpool's (at most
// max(4, runtime.NumCPU()) connections, each reused for an hour at most). When
// it has no connect_timeout, Open sets DefaultConnectTimeout. Open checks
// that the server answers within OpenTimeout; an error wraps
// server.ErrUnavailable and names the host and port and the user, never
// the password. Close closes the pool.
//
// # Using your own pool
//
// New takes a *pgxpool.Pool that you made and still own (Close leaves it
// open). Any configuration of the pool works, whatever its
// DefaultQueryExecMode: the store sends its statements itself, as below,
// and keeps what it prepared on a connection in the connection's
// CustomData, under keys that start with "sessionkit/postgres ". New does
// no I/O.
//
// # Schema
//
// Migrate creates the table (named by Config.Table, "sessions" by default)
// and its index if they do not exist, with the user index's table below,
// in one transaction that holds an advisory lock, so that processes
// starting together do not race:
//
//	CREATE TABLE IF NOT EXISTS "sessions" (
//	  session_key text COLLATE "C" NOT NULL PRIMARY KEY,
//	  data        bytea       NOT NULL,
//	  expiry      timestamptz NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry)
//
// The key is the store key the session engine gives the store: the
// SHA-256 of the session key, in hex, unless session.Config.StoreRawKeys
// is set. Its collation is "C": keys compare byte for byte, and the
// primary key's index compares them as memcmp does. Data is at most
// Config.MaxLength bytes (codec.DefaultMaxLength, 1 MiB, unless
// configured). Expiry is a timestamptz to the microsecond, indexed for
// DeleteExpired. You may create the table yourself (for example in your
// own migrations) with the same columns; the user needs only SELECT,
// INSERT, UPDATE and DELETE on it once it exists.
//
// The user index (server.Index: a user's sessions, for listing and
// revocation) has a table of its own, the sessions table's name followed
// by UsersSuffix, which Migrate also creates:
//
//	CREATE TABLE IF NOT EXISTS "sessions_users" (
//	  user_key text COLLATE "C" NOT NULL,
//	  entry_id text COLLATE "C" NOT NULL,
//	  data     bytea       NOT NULL,
//	  expiry   timestamptz NOT NULL,
//	  PRIMARY KEY (user_key, entry_id)
//	);
//	CREATE INDEX IF NOT EXISTS "sessions_users_expiry_idx" ON "sessions_users" (expiry)
//
// Its name and its index's must fit PostgreSQL's identifiers of 63 bytes,
// which is why a table name has at most MaxTableLen bytes. An application
// that creates the sessions table itself creates this one too (the same
// privileges suffice); a database migrated before the index existed gets
// it at the next Migrate, and until then DeleteExpired skips it.
//
// # Statements
//
// Each operation is one statement in one round trip (concurrent Loads
// may share one, below; DeleteExpired: one per batch, on each of the two
// tables), its parameters and results in
// binary (a blob crosses the network as its bytes, not as hex), their
// types given by the store: the pool's DefaultQueryExecMode plays no
// part. By default the statements are prepared, without a round trip of
// their own: the first time a statement runs on a connection, the store
// sends Close, Parse (a named statement), Describe, Bind, Execute and Sync
// in a single write (a pipeline), and from then on Bind, Execute and Sync
// of the prepared statement, which the server neither parses nor plans
// again. (pgx's default mode, QueryExecModeCacheStatement, prepares in a
// round trip of its own before the first execution.) A statement that the
// server no longer has (DEALLOCATE ALL, DISCARD ALL) or whose result type
// changed is prepared again, in the same way.
//
// With Config.NoPrepare, the store sends the extended protocol's unnamed
// statement instead: Parse, Bind, Describe, Execute and Sync in one write
// on every call, pgx's QueryExecModeExec with binary formats. The server
// then parses and plans every call, which costs it CPU time (BENCHMARKS.md
// measures how much); use it behind a pooler that does not keep
// prepared statements across transactions, such as PgBouncer in
// transaction mode before 1.21.
//
// The statements:
//
//	Load           SELECT CASE WHEN length(data) <= MaxLength THEN data END FROM t
//	               WHERE session_key = $1 AND expiry > $2now
//	               (NULL: a blob over MaxLength, server.ErrTooLarge)
//	Create         INSERT INTO t (session_key, data, expiry) VALUES ($1, $2, $3)
//	               ON CONFLICT (session_key) DO NOTHING
//	               (no row inserted: server.ErrExists)
//	Update         UPDATE t SET data = $1, expiry = $2 WHERE session_key = $3 AND expiry > $4now
//	               (no row matched: server.ErrNotFound)
//	Delete         DELETE FROM t WHERE session_key = $1
//	DeleteExpired  DELETE FROM t WHERE session_key IN (SELECT session_key FROM t
//	               WHERE expiry <= $1now LIMIT batch FOR UPDATE SKIP LOCKED)
//	               AND expiry <= $1now, repeated while a batch is full;
//	               then the same on t_users, by (user_key, entry_id)
//	               (its rows are not counted)
//
// and those of the user index, on t_users:
//
//	Bind           INSERT INTO t_users (user_key, entry_id, data, expiry) VALUES ($1, $2, $3, $4)
//	               ON CONFLICT (user_key, entry_id) DO UPDATE
//	               SET data = excluded.data, expiry = excluded.expiry
//	Touch          UPDATE t_users SET data = $1, expiry = $2
//	               WHERE user_key = $3 AND entry_id = $4 AND expiry > $5now
//	               (no row matched: server.ErrNotFound)
//	Entries        SELECT entry_id, CASE WHEN length(data) <= MaxLength THEN data END, expiry
//	               FROM t_users WHERE user_key = $1 AND expiry > $2now
//	               (every live entry of the user, whatever their number;
//	               a NULL: server.ErrTooLarge)
//	Unbind         DELETE FROM t_users WHERE user_key = $1 AND entry_id = ANY($2)
//	               ($2 a text[] of the IDs)
//
// # Concurrent Loads share round trips
//
// While every connection of the pool is busy, Loads do not each wait for a
// connection of their own: one of them waits for the next free connection
// on behalf of those that come meanwhile, and then sends up to 16 of them
// in one write (Bind and Execute of each, one Sync: the SELECTs of one
// implicit transaction, each with its own snapshot under READ COMMITTED),
// reads the answers and gives each its row. Under load that turns many
// round trips into one, which costs the server and the application less
// CPU time per Load than a round trip each (BENCHMARKS.md measures it);
// a Load that finds a connection free goes alone at once, as above. Only
// reads are batched: Create, Update, Delete and the index's writes each
// run on their own connection, in a transaction of their own. A statement
// not yet prepared on the connection is prepared in the batch's write. A
// Load whose batch fails (an error in one statement, a broken connection)
// runs again on its own, with the retries below, so it gets its own
// answer and its own error. A Load whose context ends while it waits
// returns at once; its batch goes on for the others, and is broken off
// only when every Load in it has given up. When the pool cannot make a
// connection and has none open (the server is down), the Loads waiting
// all get that error at once. The pool's acquire tracer sees the context
// of the Load that acquired the connection, not those of the others in
// its batch; and since a pool's BeforeAcquire or PrepareConn hook may set
// up a connection for the request acquiring it (a role, a tenant), a
// store on a pool with either hook sends every Load on its own.
//
// pgxpool checks a connection that has been idle for more than a second
// with a ping before it hands it out (pgxpool.Config.ShouldPing), so an
// operation after a second of quiet costs one more round trip; under load
// connections are never idle that long. The ping is what finds the
// connections a restarted server has closed, so that requests after the
// restart do not fail on them.
//
// Create never overwrites: ON CONFLICT DO NOTHING waits for a concurrent
// insert of the same key and then inserts nothing, and Create reports
// server.ErrExists, so exactly one of several concurrent Creates wins.
// Update never creates, and under PostgreSQL's default READ COMMITTED
// isolation an Update that waits for a concurrent Delete of its row then
// finds no row: a session deleted by a logout is not brought back. Touch
// and Unbind behave alike: a revoked entry stays revoked.
//
// Create, Update, Bind and Touch refuse a blob over Config.MaxLength
// before any I/O, with an error wrapping server.ErrTooLarge. Anyone who
// can write to the tables can put a longer blob there; Load (or Entries)
// then refuses it with the same error, without the row's data ever crossing the network or entering the
// application's memory: the server compares its length (length() reads a
// bytea's stored length without reading the value) in the same statement
// and sends NULL instead.
//
// A statement that the server rolled back as a serialization failure
// (40001: it happens when the server's or the role's
// default_transaction_isolation is REPEATABLE READ or SERIALIZABLE and a
// concurrent transaction changed the row) or as a deadlock victim (40P01)
// had no effect, so the store sends it again after a pause of at most a
// few milliseconds, five times at most. A statement that pgconn reports
// safe to retry (it found the connection broken before sending anything)
// is sent once more on another connection. Only then, and for a Load
// whose batch failed, does an operation cost more than one round trip.
//
// "now" is the application's clock, not the database's, so this store
// applies the same rule as every other one (server.Expired): an entry is
// gone from its expiry on. Keep the application servers' clocks in sync.
// Times are truncated to microseconds; expiries outside years 1 to 9999
// are clamped to them.
//
// # Removing expired sessions
//
// Expired rows are never returned, but they stay in the tables until
// DeleteExpired removes them (the sessions', then the user index's), in
// batches of Config.DeleteBatch rows so that no statement holds locks for
// long; rows another transaction has locked are skipped, so two cleanups
// running at once neither wait for nor deadlock with each other. Run it
// periodically: either start server.Cleanup in a goroutine at startup, or
// run `sessionkit clear-expired` (cmd/sessionkit, the equivalent of
// Django's clearsessions) from a scheduled job. `sessionkit migrate`
// creates the tables, as Migrate does.
//
// # Errors
//
// Every method validates the key (and the index's user keys and entry
// IDs) with server.ValidateKey before any I/O.
// Errors wrap the driver's (test them with errors.As against
// *pgconn.PgError: 42P01 is a missing table) and the context's
// (errors.Is(err, context.Canceled)), prefixed with "session store
// postgres: " and the operation. Error messages never contain a session
// key.
//
// # A context that ends while a statement runs
//
// A read whose context ends returns at once, with an error wrapping the
// context's: the store breaks the connection off (pgconn then sends the
// server a cancel request in the background) and closes it, for a Load
// in a batch once every Load in it has given up, as above. A read
// changes nothing, so nothing waits for the server's answer.
//
// A write (Create, Update, Delete, DeleteExpired and the index's Bind,
// Touch and Unbind) is ended on the server before it returns, so that a
// write reported failed does not take effect later. Left to pgconn, it
// would return at once and ask the server to cancel in the background; a
// statement waiting for a row lock released meanwhile commits after the
// store reported a failure, perhaps over a newer write. Instead, when its
// context ends, the store asks the server to cancel the statement (a
// CancelRequest, on a connection of its own, sent again after 100 ms and
// then twice as long each time while the statement runs: one that
// arrives before the backend starts the statement does nothing) and
// waits for the statement's outcome:
//
//   - it ended first and took effect: the method returns its result, no
//     error;
//   - it was cancelled and took no effect: an error wrapping the
//     context's and the server's (57014), saying so;
//   - it failed on its own: the server's error, with the context's.
//
// The connection is then closed, so that a cancel that arrives late
// cannot end another statement. When the server cannot be reached to
// cancel, or the statement has not ended 2 s after the context, the
// connection is broken off and the error, still wrapping the context's,
// says that the write may have taken effect. The same error says so of a
// write whose connection failed while the statement ran, with no context
// ended, or that got an error of class 08 (connection exception, which a
// pooler such as PgBouncer sends when it lost the server mid-statement).
package postgres
