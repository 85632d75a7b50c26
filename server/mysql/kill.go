package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/session/internal/interrupt"
	"github.com/sessionkit/session/internal/sqlconf"
)

// errInterrupted is ER_QUERY_INTERRUPTED, what a statement ended by KILL
// QUERY returns.
const errInterrupted = 1317

// badConnTries is how many connections a write tries in turn while each
// is found broken before the statement was sent (as database/sql does).
const badConnTries = 3

// serverQuery names the server a connection is on, so that a KILL QUERY
// is sent only to the server whose thread it names: behind a load
// balancer, another connection may reach another server, where the same
// thread ID is someone else's.
const serverQuery = "SELECT CONCAT_WS(':', @@hostname, @@port, @@server_id)"

// writes runs the write statements of a store on db, such that when one
// returns the server no longer runs it. The driver, when the context of a
// statement ends, closes the connection and returns; the server does not
// notice until it next reads from it, so that a write waiting there (for
// a row lock, say) would go on, and commit once it could: long after the
// store reported a failure, perhaps over a later write.
//
// A write runs on a connection whose thread ID and server are known
// (CONNECTION_ID() and serverQuery, asked the first time it writes
// there), under an interrupt.Watch whose requests to end it are KILL
// QUERY with that ID, sent from a connection of killDB that reached the
// same server, while the thread runs the statement there. The statement
// returns: it took effect (it ended first), it was interrupted
// (ER_QUERY_INTERRUPTED), or it failed on its own. When the KILL cannot
// be sent (no connection, another server, a thread that runs something
// else) or the statement has not ended within interrupt.Grace, the Watch
// breaks it off (the driver closes the connection) and the error says
// that the write may have taken effect. After a KILL the connection is
// discarded, not reused.
type writes struct {
	db     *sql.DB
	killDB *sql.DB // where KILL QUERY is sent: db, or a pool of its own (Open)
	ownKDB bool

	ids  sync.Map // driver connection (as database/sql's Conn.Raw gives it) → connIdentity
	nIDs atomic.Int64
}

// connIdentity is a connection's thread ID and its server.
type connIdentity struct {
	thread int64
	server string
}

// ownKillPool gives writes a pool for KILL QUERY of its own, made with
// mc, the settings of the store's pool (by Open), so that a KILL never
// waits for one of the store's connections, all of which may be waiting
// on the same lock.
func (w *writes) ownKillPool(mc *gomysql.Config) {
	c, err := gomysql.NewConnector(mc)
	if err != nil {
		return // Open made its pool with mc: not reached
	}
	w.killDB, w.ownKDB = sql.OpenDB(c), true
	w.killDB.SetMaxIdleConns(1)
	w.killDB.SetConnMaxIdleTime(time.Minute)
}

// close closes the KILL pool if it is writes' own.
func (w *writes) close() error {
	if w.ownKDB {
		return w.killDB.Close()
	}
	return nil
}

// exec runs a write statement. In autocommit mode a deadlock victim (error
// 1213) has been rolled back whole by the server and had no effect, so the
// statement is sent again after a short random pause, up to deadlockRetries
// times. Deadlocks need concurrent writes to the same keys (or a
// DeleteExpired batch crossing them), so this is rare.
func (w *writes) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	for attempt := 0; ; attempt++ {
		res, err := w.execOnce(ctx, query, args)
		if err == nil || attempt == deadlockRetries || !isErrno(err, errDeadlock) {
			return res, err
		}
		if err := sqlconf.RetryPause(ctx, attempt, err); err != nil {
			return nil, err
		}
	}
}

// execOnce runs the statement once, on another connection while one is
// found broken before anything was sent on it (driver.ErrBadConn), up to
// badConnTries connections.
func (w *writes) execOnce(ctx context.Context, query string, args []any) (sql.Result, error) {
	if ctx.Done() == nil {
		res, err := w.db.ExecContext(ctx, query, args...)
		return res, unknownOutcome(err)
	}
	for try := 1; ; try++ {
		res, err := w.onConn(ctx, query, args)
		if try == badConnTries || !errors.Is(err, driver.ErrBadConn) || ctx.Err() != nil {
			return res, err
		}
	}
}

// unknownOutcome says of an error of a write statement that is neither
// the server's nor one from before anything was sent (a connection
// broken while the statement ran, the DSN's readTimeout) that the write
// may have taken effect.
func unknownOutcome(err error) error {
	if err == nil || serverRefused(err) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("the connection failed while the statement ran, which may have taken effect: %w", err)
}

// serverRefused reports whether err is the server's answer to the
// statement, which then took no effect: a MySQL error, but not one of the
// client's range (2000 to 2999, such as 2013, a lost connection), which a
// proxy between the store and the server relays when it lost the
// server mid-statement.
func serverRefused(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number < 2000 || me.Number > 2999)
}

// onConn is execOnce on one connection of the pool.
func (w *writes) onConn(ctx context.Context, query string, args []any) (sql.Result, error) {
	c, err := w.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	dc, id, err := w.identity(ctx, c)
	if err != nil {
		return nil, err
	}
	iw := interrupt.Start(ctx, &killer{w: w, id: id, query: query})
	res, err := c.ExecContext(iw, query, args...)
	asked, broken := iw.End()
	if !asked {
		return res, unknownOutcome(err)
	}
	w.ids.Delete(dc)
	_ = c.Raw(func(any) error { return driver.ErrBadConn }) // discards the connection
	switch {
	case err == nil:
		return res, nil
	case broken:
	case isErrno(err, errInterrupted):
		return nil, fmt.Errorf("%w: the statement was interrupted on the server: %w", ctx.Err(), err)
	case serverRefused(err), errors.Is(err, driver.ErrBadConn):
		// It failed on its own, or was never sent.
		return nil, fmt.Errorf("%w (the context ended too: %w)", err, ctx.Err())
	}
	// err may be the Watch's context.Canceled: not the caller's.
	return nil, fmt.Errorf("%w: the statement could not be interrupted on the server in time and may have taken effect: %v", ctx.Err(), err)
}

// identity returns c's driver connection, and its thread ID and server,
// asking the server the first time.
func (w *writes) identity(ctx context.Context, c *sql.Conn) (any, connIdentity, error) {
	var dc any
	_ = c.Raw(func(d any) error { dc = d; return nil })
	if id, ok := w.ids.Load(dc); ok {
		return dc, id.(connIdentity), nil
	}
	var id connIdentity
	if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID(), ("+serverQuery+")").Scan(&id.thread, &id.server); err != nil {
		return nil, id, err
	}
	// Connections closed other than by the KILL path stay in the map
	// until it holds twice as many as the pool has open, when it starts
	// afresh (and asks again).
	if w.nIDs.Add(1) > 2*int64(w.db.Stats().OpenConnections)+16 {
		w.ids.Clear()
		w.nIDs.Store(1)
	}
	w.ids.Store(dc, id)
	return dc, id, nil
}

// killer ends a write's statement with KILL QUERY: the interrupt.Asker
// of onConn.
type killer struct {
	w     *writes
	id    connIdentity
	query string // the statement, as the store wrote it
}

// Ask implements interrupt.Asker: on a connection of killDB, it checks
// that it reached the statement's server and that the thread runs the
// statement there (its text up to the first parameter; the store's user
// sees its own threads), then sends KILL QUERY. A proxy that sends
// SELECTs to one server and other statements to another could otherwise
// pass the server check on one and kill someone else's statement on the
// other.
func (k *killer) Ask(ctx context.Context) error {
	c, err := k.w.killDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var server string
	if err := c.QueryRowContext(ctx, serverQuery).Scan(&server); err != nil {
		return err
	}
	if server != k.id.server {
		return fmt.Errorf("the KILL connection reached server %s, not %s", server, k.id.server)
	}
	var n int
	if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO LIKE ?", k.id.thread, likePrefix(k.query)).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("thread %d of server %s does not run the statement", k.id.thread, k.id.server)
	}
	_, err = c.ExecContext(ctx, "KILL QUERY "+strconv.FormatInt(k.id.thread, 10))
	return err
}

// BreakOff implements interrupt.Asker: the driver watches the statement's
// context, the interrupt.Watch, and closes the connection when it ends.
func (*killer) BreakOff() {}

// likePrefix returns a LIKE pattern that matches statements that start as
// query does up to its first parameter.
func likePrefix(query string) string {
	if i := strings.IndexByte(query, '?'); i >= 0 {
		query = query[:i]
	}
	var b strings.Builder
	for _, r := range query {
		if r == '%' || r == '_' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('%')
	return b.String()
}
