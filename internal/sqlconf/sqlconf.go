// Package sqlconf holds what the SQL stores (server/mysql, server/postgres
// and server/sqlite) share in their configuration: the table, the batch of
// DeleteExpired and the blob limit, with their defaults and checks; the
// loop that deletes expired rows batch by batch; and the pause before a
// statement the server rolled back (a deadlock victim) is sent again.
package sqlconf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sessionkit/session/codec"
)

// Rules are one store's defaults and limits.
type Rules struct {
	// Misconfigured is the store's error for a bad configuration; every
	// error Apply returns wraps it.
	Misconfigured error
	// DefaultTable is the table when none is given; ValidateTable checks
	// the table's name (its error wraps Misconfigured already).
	DefaultTable  string
	ValidateTable func(string) error
	// DefaultBatch is the batch of DeleteExpired when none is given.
	DefaultBatch int
	// MaxBlobLen is the largest blob the store's data column holds: the
	// largest MaxLength.
	MaxBlobLen int
}

// Settings are a store's table, DeleteExpired batch and blob limit.
type Settings struct {
	Table       string
	DeleteBatch int
	MaxLength   int
}

// Apply returns s with the defaults of r for its zero fields, or an error
// naming the field that r refuses.
func (r Rules) Apply(s Settings) (Settings, error) {
	if s.Table == "" {
		s.Table = r.DefaultTable
	}
	if err := r.ValidateTable(s.Table); err != nil {
		return s, err
	}
	switch {
	case s.DeleteBatch == 0:
		s.DeleteBatch = r.DefaultBatch
	case s.DeleteBatch < 0:
		return s, fmt.Errorf("%w: DeleteBatch %d is negative", r.Misconfigured, s.DeleteBatch)
	}
	switch {
	case s.MaxLength == 0:
		s.MaxLength = codec.DefaultMaxLength
	case s.MaxLength < 0 || s.MaxLength > r.MaxBlobLen:
		return s, fmt.Errorf("%w: MaxLength %d: want 1 to %d (MaxBlobLen), or 0 for the default", r.Misconfigured, s.MaxLength, r.MaxBlobLen)
	}
	return s, nil
}

// DeleteBatches calls del, which deletes at most batch rows and returns
// how many it deleted, until a call deletes fewer than batch, and returns
// the total. It checks ctx before each call; on an error (ctx's or del's)
// it returns the rows deleted so far with that error, unwrapped.
func DeleteBatches(ctx context.Context, batch int, del func(context.Context) (int64, error)) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := del(ctx)
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}

// RetryPause waits before attempt+1 of a statement that failed with err,
// one the server rolled back whole (a deadlock victim, a serialization
// failure): a random pause of up to attempt+1 milliseconds, so that the
// transactions that collided do not collide again. It returns nil when
// the pause is over, or err joined with ctx's error if ctx ends first.
func RetryPause(ctx context.Context, attempt int, err error) error {
	pause := time.NewTimer(time.Duration(1+rand.IntN(1000*(attempt+1))) * time.Microsecond)
	defer pause.Stop()
	select {
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	case <-pause.C:
		return nil
	}
}
