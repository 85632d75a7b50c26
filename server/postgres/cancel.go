package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// cancelGrace bounds how long a write whose context has ended waits for
// the server to end its statement, once asked to.
const cancelGrace = 2 * time.Second

// cancelResend is how long after the first request to cancel it is sent
// again (and then after twice as long each time) while the statement runs
// on: a request that reaches the backend while it reads the statement's
// messages, before it runs it, has no effect.
const cancelResend = 100 * time.Millisecond

// runWrite is run for a write, such that when it returns the server no
// longer runs the statement. Left to pgconn, a write whose context ends
// while it waits in the server (for a row lock, say) returns at once;
// pgconn drops the connection and asks the server to cancel in the
// background, and a lock released meanwhile lets the statement commit:
// after the store reported a failure, perhaps over a later write.
//
// pgconn gets a context that never ends. When ctx ends, the server is
// asked to cancel the statement (a PostgreSQL CancelRequest, on a
// connection of its own, sent again after cancelResend and then twice as
// long each time while the statement runs), and runWrite waits for the
// statement's outcome: it took effect (it ended first: runWrite returns
// its result and no error), or it was cancelled and took none (an error
// wrapping ctx's), or it failed on its own (its error, with ctx's). When
// the server cannot be reached to cancel, or the statement has not ended
// within cancelGrace, the connection is broken off and the error says
// that the write may have taken effect. After a cancel the connection is
// closed, not reused: a request to cancel that reaches the backend late
// would end the next statement.
func (s *Store) runWrite(ctx context.Context, pc *pgconn.PgConn, st *statement, params [][]byte, row func([][]byte) error) (pgconn.CommandTag, error) {
	if err := ctx.Err(); err != nil {
		return pgconn.CommandTag{}, err
	}
	w := writeCancels.Get().(*writeCancel)
	w.pc = pc
	w.wg.Add(1)
	stop := context.AfterFunc(ctx, w.cancelFunc)
	tag, err := s.run(context.Background(), pc, st, params, row)
	if stop() {
		w.wg.Done()
		w.pc = nil
		writeCancels.Put(w)
		return tag, unknownOutcome(err)
	}
	close(w.finished)
	w.wg.Wait()
	closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	pc.Close(closeCtx)
	cancel()
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return tag, nil
	case errors.As(err, &pe) && pe.Code == "57014": // query_canceled
		return tag, fmt.Errorf("%w: the statement was cancelled on the server and took no effect: %w", ctx.Err(), err)
	case serverRefused(err), pgconn.SafeToRetry(err):
		// It failed on its own, or was never sent.
		return tag, fmt.Errorf("%w (the context ended too: %w)", err, ctx.Err())
	}
	return tag, fmt.Errorf("%w: the statement could not be cancelled on the server in time and may have taken effect: %v", ctx.Err(), err)
}

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

// writeCancel is the cancelling side of runWrite. One whose cancel did
// not run is reused.
type writeCancel struct {
	pc         *pgconn.PgConn
	cancelFunc func()         // w.cancel, bound once
	wg         sync.WaitGroup // done when cancel has returned or will not run
	finished   chan struct{}  // closed when the statement has returned (cancel path only)
}

var writeCancels = sync.Pool{New: func() any {
	w := &writeCancel{finished: make(chan struct{})}
	w.cancelFunc = w.cancel
	return w
}}

// cancel asks the server to cancel the statement until it returns, for
// cancelGrace at most, and then breaks the connection off.
func (w *writeCancel) cancel() {
	defer w.wg.Done()
	select {
	case <-w.finished:
		return
	default:
	}
	ctx, stop := context.WithTimeout(context.Background(), cancelGrace)
	defer stop()
	go func() {
		// Once the statement has returned, nothing more is to be done.
		select {
		case <-w.finished:
			stop()
		case <-ctx.Done():
		}
	}()
	for wait := cancelResend; ; wait *= 2 {
		if err := w.pc.CancelRequest(ctx); err != nil {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-w.finished:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
			continue
		}
		break
	}
	select {
	case <-w.finished:
	default:
		// A read in progress fails at once, and pgconn closes the
		// connection.
		w.pc.Conn().SetDeadline(time.Now())
	}
}
