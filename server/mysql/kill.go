package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// errInterrupted is ER_QUERY_INTERRUPTED, what a statement ended by KILL
// QUERY returns.
const errInterrupted = 1317

// killGrace bounds how long a write whose context has ended waits for
// the server to end its statement, once asked to.
const killGrace = 2 * time.Second

// writes runs the write statements of a store on db, such that when one
// returns the server no longer runs it. The driver, when the context of a
// statement ends, closes the connection; the server does not notice
// until it next reads from it, so that a write waiting there (for a row
// lock, say) would go on, and commit once it could: long after the store
// reported a failure, perhaps over a later write.
//
// A write runs on a connection whose thread ID (CONNECTION_ID(), asked
// once per connection) is known, under a context that ends only when
// told to. When the write's context ends, KILL QUERY with that ID is sent
// on another connection (from dial when set, else from db) and the write
// waits for the statement to return: it took effect (it ended first), it
// was interrupted (ER_QUERY_INTERRUPTED), or it failed on its own. When the KILL cannot be sent,
// or the statement has not ended within killGrace, the connection is
// broken off and the error says that the outcome is unknown. After a KILL
// the connection is discarded, not reused: a KILL that arrived late would
// end the next statement.
type writes struct {
	db   *sql.DB
	dial func(context.Context) (driver.Conn, error) // nil: KILL on a connection of db

	ids  sync.Map // driver connection (as database/sql's Conn.Raw gives it) → thread ID
	nIDs atomic.Int64
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
		pause := time.NewTimer(time.Duration(1+rand.IntN(1000*(attempt+1))) * time.Microsecond)
		select {
		case <-ctx.Done():
			pause.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-pause.C:
		}
	}
}

// execOnce runs the statement once; a connection found broken before
// anything was sent on it (driver.ErrBadConn) is replaced, once.
func (w *writes) execOnce(ctx context.Context, query string, args []any) (sql.Result, error) {
	if ctx.Done() == nil {
		return w.db.ExecContext(ctx, query, args...)
	}
	res, err := w.onConn(ctx, query, args)
	if errors.Is(err, driver.ErrBadConn) && ctx.Err() == nil {
		res, err = w.onConn(ctx, query, args)
	}
	return res, err
}

// onConn is execOnce on one connection of the pool.
func (w *writes) onConn(ctx context.Context, query string, args []any) (sql.Result, error) {
	c, err := w.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	id, err := w.threadID(ctx, c)
	if err != nil {
		return nil, err
	}
	k := killers.Get().(*killer)
	k.w, k.id = w, id
	k.wg.Add(1)
	stop := context.AfterFunc(ctx, k.killFunc)
	res, err := c.ExecContext(k, query, args...)
	if stop() {
		k.wg.Done()
		k.w = nil
		killers.Put(k)
		return res, err
	}
	close(k.finished)
	k.wg.Wait()
	_ = c.Raw(func(any) error { return driver.ErrBadConn }) // discards the connection
	var me *gomysql.MySQLError
	switch {
	case err == nil:
		return res, nil
	case isErrno(err, errInterrupted):
		return nil, fmt.Errorf("%w: the statement was interrupted on the server: %w", ctx.Err(), err)
	case errors.As(err, &me):
		return nil, err // the statement failed on the server on its own
	}
	return nil, fmt.Errorf("%w: the statement could not be interrupted on the server in time and may have taken effect: %w", ctx.Err(), err)
}

// threadID returns the thread ID of c's connection, asking the server
// the first time.
func (w *writes) threadID(ctx context.Context, c *sql.Conn) (int64, error) {
	var dc any
	_ = c.Raw(func(d any) error { dc = d; return nil })
	if id, ok := w.ids.Load(dc); ok {
		return id.(int64), nil
	}
	var id int64
	if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		return 0, err
	}
	// Closed connections stay in the map until it holds twice as many
	// as the pool has open, when it starts afresh.
	if w.nIDs.Add(1) > 2*int64(w.db.Stats().OpenConnections)+16 {
		w.ids.Clear()
		w.nIDs.Store(1)
	}
	w.ids.Store(dc, id)
	return id, nil
}

// killer is the killing side of onConn, and the context of its
// statement: one that ends only when kill breaks the connection off
// (closes broke), which makes the driver close it. A killer whose kill
// did not run is reused.
type killer struct {
	w        *writes
	id       int64
	killFunc func()         // k.kill, bound once
	wg       sync.WaitGroup // done when kill has returned or will not run
	finished chan struct{}  // closed when the statement has returned (kill path only)
	broke    chan struct{}  // closed by kill to break the connection off
}

var killers = sync.Pool{New: func() any {
	k := &killer{finished: make(chan struct{}), broke: make(chan struct{})}
	k.killFunc = k.kill
	return k
}}

// kill sends KILL QUERY and waits for the statement to return, for
// killGrace at most, and then breaks the connection off.
func (k *killer) kill() {
	defer k.wg.Done()
	select {
	case <-k.finished:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), killGrace)
	defer cancel()
	if err := k.w.killQuery(ctx, k.id); err == nil {
		select {
		case <-k.finished:
			return
		case <-ctx.Done():
		}
	}
	close(k.broke)
}

// Deadline is part of killer's context.Context: there is none.
func (k *killer) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is part of killer's context.Context.
func (k *killer) Done() <-chan struct{} { return k.broke }

// Err is part of killer's context.Context.
func (k *killer) Err() error {
	select {
	case <-k.broke:
		return context.Canceled
	default:
		return nil
	}
}

// Value is part of killer's context.Context: it holds no values.
func (k *killer) Value(any) any { return nil }

// killQuery sends KILL QUERY id on a connection other than the one it
// ends.
func (w *writes) killQuery(ctx context.Context, id int64) error {
	q := fmt.Sprintf("KILL QUERY %d", id)
	if w.dial == nil {
		_, err := w.db.ExecContext(ctx, q)
		return err
	}
	dc, err := w.dial(ctx)
	if err != nil {
		return err
	}
	defer dc.Close()
	ex, ok := dc.(driver.ExecerContext)
	if !ok {
		return errors.New("the driver's connection cannot exec")
	}
	_, err = ex.ExecContext(ctx, q, nil)
	return err
}

// dialFor returns the dial of writes for a pool that Open made with mc:
// a connection of its own, with the pool's settings.
func dialFor(mc *gomysql.Config) func(context.Context) (driver.Conn, error) {
	c, err := gomysql.NewConnector(mc)
	if err != nil {
		return nil // Open made its pool with mc: not reached
	}
	return c.Connect
}
