package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessionkit/session/internal/interrupt"
)

// runWrite is run for a write, such that when it returns the server no
// longer runs the statement. Left to pgconn, a write whose context ends
// while it waits in the server (for a row lock, say) returns at once;
// pgconn drops the connection and asks the server to cancel in the
// background, and a lock released meanwhile lets the statement commit:
// after the store reported a failure, perhaps over a later write.
//
// The statement runs under an interrupt.Watch, whose requests to end it
// are PostgreSQL cancel requests, and runWrite returns its outcome: it
// took effect (it ended first: its result and no error), or it was
// cancelled and took none (an error wrapping ctx's), or it failed on its
// own (its error, with ctx's). A statement broken off (the server
// unreachable, or no end within interrupt.Grace) gets an error saying
// that the write may have taken effect. After a cancel the connection is
// closed, not reused.
func (s *Store) runWrite(ctx context.Context, pc *pgconn.PgConn, st *statement, params [][]byte, row func([][]byte) error) (pgconn.CommandTag, error) {
	if err := ctx.Err(); err != nil {
		return pgconn.CommandTag{}, err
	}
	w := interrupt.Start(ctx, (*canceller)(pc))
	// pgconn does not watch the Watch (that costs a goroutine a
	// statement): BreakOff sets a deadline on the connection instead.
	tag, err := s.run(context.Background(), pc, st, params, row)
	asked, broken := w.End()
	if !asked {
		return tag, unknownOutcome(err)
	}
	closeConn(pc)
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return tag, nil
	case broken:
	case errors.As(err, &pe) && pe.Code == "57014": // query_canceled
		return tag, fmt.Errorf("%w: the statement was cancelled on the server and took no effect: %w", ctx.Err(), err)
	case serverRefused(err), pgconn.SafeToRetry(err):
		// It failed on its own, or was never sent.
		return tag, fmt.Errorf("%w (the context ended too: %w)", err, ctx.Err())
	}
	return tag, fmt.Errorf("%w: the statement could not be cancelled on the server in time and may have taken effect: %v", ctx.Err(), err)
}

// runRead is run for a read whose context can end. The context is
// watched by an interrupt.Watch, as a write's is, rather than by pgconn
// (whose watcher costs two allocations more a statement), but nothing
// waits for the server: a read changes nothing, so when the context ends
// it is broken off at once, and the connection is closed.
func (s *Store) runRead(ctx context.Context, pc *pgconn.PgConn, st *statement, params [][]byte, row func([][]byte) error) (pgconn.CommandTag, error) {
	if err := ctx.Err(); err != nil {
		return pgconn.CommandTag{}, err
	}
	w := interrupt.Start(ctx, (*breaker)(pc))
	tag, err := s.run(context.Background(), pc, st, params, row)
	if asked, _ := w.End(); !asked {
		return tag, err
	}
	closeConn(pc)
	if err != nil {
		return tag, fmt.Errorf("%w (the read was broken off: %v)", ctx.Err(), err)
	}
	return tag, nil
}

// closeConn closes pc, after a statement that was asked to end: a cancel
// request that reaches the server late would end the next one.
func closeConn(pc *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	pc.Close(ctx)
	cancel()
}

// breaker breaks a read off as soon as its context ends: the
// interrupt.Asker of runRead.
type breaker pgconn.PgConn

// errBreakOff is breaker's answer to Ask: break the read off now.
var errBreakOff = errors.New("a read is broken off, not cancelled")

// Ask implements interrupt.Asker.
func (*breaker) Ask(context.Context) error { return errBreakOff }

// BreakOff implements interrupt.Asker.
func (b *breaker) BreakOff() { (*canceller)(b).BreakOff() }

// canceller is a connection whose statements are ended by a PostgreSQL
// cancel request, on a connection of its own.
type canceller pgconn.PgConn

// Ask implements interrupt.Asker.
func (c *canceller) Ask(ctx context.Context) error { return (*pgconn.PgConn)(c).CancelRequest(ctx) }

// BreakOff implements interrupt.Asker: a read in progress fails at once,
// and pgconn closes the connection.
func (c *canceller) BreakOff() { (*pgconn.PgConn)(c).Conn().SetDeadline(time.Now()) }

// unknownOutcome says of an error of a write statement that is neither
// the server's nor one from before anything was sent (a connection
// broken while the statement ran) that the write may have taken effect.
func unknownOutcome(err error) error {
	if err == nil || serverRefused(err) || pgconn.SafeToRetry(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("the connection failed while the statement ran, which may have taken effect: %w", err)
}

// serverRefused reports whether err is the server's answer to the
// statement, which then took no effect: a PostgreSQL error, but not of
// class 08 (connection exception), which a pooler between the store and
// the server (PgBouncer) sends when it lost the server mid-statement.
func serverRefused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && !strings.HasPrefix(pe.Code, "08")
}
