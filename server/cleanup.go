package server

import (
	"context"
	"errors"
	"time"
)

// ErrNilStore is what Cleanup reports when it is given no Store.
var ErrNilStore = errors.New("session store: Cleanup needs a Store, got nil")

// DefaultCleanupInterval is the interval Cleanup uses when given zero or
// less.
const DefaultCleanupInterval = 10 * time.Minute

// Cleanup removes expired sessions from s: it calls s.DeleteExpired right
// away, then every interval (DefaultCleanupInterval if every is zero or
// less), until ctx is done. It is the in-process counterpart of a cron job
// running `sessionkit clear-expired` (cmd/sessionkit); run it in its own
// goroutine:
//
//	go server.Cleanup(ctx, store, 10*time.Minute, func(err error) {
//		log.Printf("removing expired sessions: %v", err)
//	})
//
// If onError is not nil, it is called, on Cleanup's goroutine, with every
// error DeleteExpired returns, except the one caused by ctx ending. A
// failed run is retried at the next interval. Cleanup returns when ctx is
// done, after the run in progress, if any, has returned. A nil s is
// reported to onError as ErrNilStore, and Cleanup returns at once.
func Cleanup(ctx context.Context, s Store, every time.Duration, onError func(error)) {
	if s == nil {
		if onError != nil {
			onError(ErrNilStore)
		}
		return
	}
	if every <= 0 {
		every = DefaultCleanupInterval
	}
	run := func() {
		if _, err := s.DeleteExpired(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
	}
	if ctx.Err() != nil {
		return
	}
	run()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			run()
		}
	}
}
