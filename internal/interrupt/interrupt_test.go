package interrupt

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// asker counts its calls; the statement "returns" at the call numbered
// endAt (0: never), and every call fails when fail is set.
type asker struct {
	calls  atomic.Int32
	endAt  int32
	fail   bool
	ended  chan struct{}
	broken atomic.Bool // BreakOff was called
}

func (a *asker) BreakOff() { a.broken.Store(true) }

func (a *asker) Ask(context.Context) error {
	if n := a.calls.Add(1); n == a.endAt {
		close(a.ended)
	}
	if a.fail {
		return errors.New("cannot ask")
	}
	return nil
}

// statement runs until a ends it or the Watch breaks it off, and reports
// which.
func statement(w *Watch, a *asker) (broken bool) {
	select {
	case <-a.ended:
		return false
	case <-w.Done():
		return true
	}
}

type key struct{}

func TestNoAskWhileTheContextLives(t *testing.T) {
	ctx := context.WithValue(context.Background(), key{}, "v")
	a := &asker{ended: make(chan struct{})}
	w := Start(ctx, a)
	if w.Value(key{}) != "v" || w.Err() != nil {
		t.Fatalf("the Watch's context: Value %v, Err %v", w.Value(key{}), w.Err())
	}
	if asked, broken := w.End(); asked || broken || a.calls.Load() != 0 {
		t.Fatalf("End = %v, %v after %d asks; want no ask", asked, broken, a.calls.Load())
	}
}

// TestAskedAgainUntilTheStatementEnds: a request that does not end the
// statement is sent again, after Resend and then twice as long.
func TestAskedAgainUntilTheStatementEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &asker{endAt: 3, ended: make(chan struct{})}
	w := Start(ctx, a)
	cancel()
	if statement(w, a) {
		t.Fatal("the statement was broken off")
	}
	asked, broken := w.End()
	if !asked || broken || a.calls.Load() != 3 {
		t.Fatalf("End = %v, %v after %d asks; want asked, not broken, after 3", asked, broken, a.calls.Load())
	}
	if w.Err() != nil {
		t.Fatalf("Err = %v after a statement that ended", w.Err())
	}
}

// TestBrokenOffWhenAskingFails: an asker that cannot reach the server
// breaks the statement off at once.
func TestBrokenOffWhenAskingFails(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &asker{fail: true, ended: make(chan struct{})}
	w := Start(ctx, a)
	cancel()
	if !statement(w, a) {
		t.Fatal("the statement was not broken off")
	}
	if !errors.Is(w.Err(), context.Canceled) {
		t.Fatalf("Err = %v, want context.Canceled", w.Err())
	}
	if asked, broken := w.End(); !asked || !broken || !a.broken.Load() || a.calls.Load() != 1 {
		t.Fatalf("End = %v, %v after %d asks, BreakOff called: %v; want asked and broken after 1, BreakOff called", asked, broken, a.calls.Load(), a.broken.Load())
	}
}

// TestBrokenOffAfterGrace: a statement that ignores every request is
// broken off Grace after the context ended, having been asked at 0,
// Resend, 3 Resend, 7 Resend and 15 Resend.
func TestBrokenOffAfterGrace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &asker{ended: make(chan struct{})}
	w := Start(ctx, a)
	cancel()
	if !statement(w, a) {
		t.Fatal("the statement was not broken off")
	}
	if asked, broken := w.End(); !asked || !broken || a.calls.Load() != 5 {
		t.Fatalf("End = %v, %v after %d asks; want asked and broken after 5", asked, broken, a.calls.Load())
	}
}
