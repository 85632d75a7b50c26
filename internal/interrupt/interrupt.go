// Package interrupt ends a statement on its database server, before the
// call that runs it returns, when the call's context ends.
//
// A database server does not notice that a client gave up on a statement
// (closed its connection) while the statement waits, for a row lock say:
// it goes on, and commits once it can, after the call reported a
// failure. So the SQL stores run each write under a Watch: when the
// call's context ends, the Watch asks the server to end the statement (a
// PostgreSQL cancel request, a MySQL KILL QUERY), again while it runs,
// and the store learns the statement's real outcome from the driver. Only
// when asking fails, or the statement has not ended Grace after the
// context, is the statement broken off, with an outcome the store cannot
// know.
package interrupt

import (
	"context"
	"sync"
	"time"
)

// Grace bounds how long after the call's context ended a statement is
// waited for before it is broken off.
const Grace = 2 * time.Second

// Resend is how long after the first request to end the statement it is
// asked again (and then after twice as long each time) while it runs on:
// a request that reaches the server before it starts the statement has no
// effect.
const Resend = 100 * time.Millisecond

// Asker ends a statement.
type Asker interface {
	// Ask asks the server to end the statement. It is called again while
	// the statement runs; its context ends when the statement has
	// returned or Grace has passed. An error stops the asking, and the
	// statement is broken off.
	Ask(ctx context.Context) error
	// BreakOff makes the statement return at once, without the server's
	// word (a deadline on its connection, say), once asking is over and
	// the statement still runs. The Watch's Done is closed then too: a
	// driver that watches the statement's context needs nothing more.
	BreakOff()
}

// Watch is the context of one statement: it has the values of the call's
// context, and ends only when the Watch breaks the statement off, which
// makes a driver that watches it drop the connection.
type Watch struct {
	parent   context.Context
	asker    Asker
	stop     func() bool    // stops the AfterFunc of parent
	askFunc  func()         // w.ask, bound once
	wg       sync.WaitGroup // done when ask has returned or will not run
	finished chan struct{}  // closed by End once the statement returned (after a call to ask only)
	broke    chan struct{}  // closed by ask to break the statement off
}

var watches = sync.Pool{New: func() any {
	w := &Watch{parent: context.Background(), finished: make(chan struct{}), broke: make(chan struct{})}
	w.askFunc = w.ask
	return w
}}

// Start watches ctx for a statement about to run: run it with the Watch
// as its context, then call End.
func Start(ctx context.Context, a Asker) *Watch {
	w := watches.Get().(*Watch)
	w.parent, w.asker = ctx, a
	w.wg.Add(1)
	w.stop = context.AfterFunc(ctx, w.askFunc)
	return w
}

// End is called once the statement has returned. It reports whether the
// call's context ended while it ran (asked): the server was then asked
// to end it, and the connection must not run anything more, since a
// request that reaches the server late would end the next statement.
// broken reports whether the statement was broken off, its outcome
// unknown. The Watch is not to be used after End.
func (w *Watch) End() (asked, broken bool) {
	if w.stop() {
		w.wg.Done()
		w.parent, w.asker, w.stop = context.Background(), nil, nil
		watches.Put(w)
		return false, false
	}
	close(w.finished)
	w.wg.Wait()
	select {
	case <-w.broke:
		broken = true
	default:
	}
	return true, broken
}

// ask asks the server to end the statement until it returns, for Grace
// at most, and then breaks it off.
func (w *Watch) ask() {
	defer w.wg.Done()
	select {
	case <-w.finished:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), Grace)
	defer cancel()
	go func() {
		// Once the statement has returned, nothing more is to be done.
		select {
		case <-w.finished:
			cancel()
		case <-ctx.Done():
		}
	}()
asking:
	for wait := Resend; w.asker.Ask(ctx) == nil; wait *= 2 {
		t := time.NewTimer(wait)
		select {
		case <-w.finished:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			break asking
		case <-t.C:
		}
	}
	select {
	case <-w.finished:
	default:
		close(w.broke)
		w.asker.BreakOff()
	}
}

// Deadline is part of Watch's context.Context: there is none.
func (w *Watch) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is part of Watch's context.Context: closed when the statement is
// broken off.
func (w *Watch) Done() <-chan struct{} { return w.broke }

// Err is part of Watch's context.Context.
func (w *Watch) Err() error {
	select {
	case <-w.broke:
		return context.Canceled
	default:
		return nil
	}
}

// Value is part of Watch's context.Context: the call's context's.
func (w *Watch) Value(key any) any { return w.parent.Value(key) }
