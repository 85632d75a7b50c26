package sqlconf

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessionkit/session/codec"
)

var errBad = errors.New("misconfigured")

var rules = Rules{
	Misconfigured: errBad,
	DefaultTable:  "sessions",
	ValidateTable: func(t string) error {
		if strings.ContainsAny(t, "`\" ;") {
			return errBad
		}
		return nil
	},
	DefaultBatch: 1000,
	MaxBlobLen:   1 << 24,
}

func TestApply(t *testing.T) {
	got, err := rules.Apply(Settings{})
	if err != nil || got != (Settings{"sessions", 1000, codec.DefaultMaxLength}) {
		t.Errorf("defaults: %+v, %v", got, err)
	}
	got, err = rules.Apply(Settings{"t", 5, 100})
	if err != nil || got != (Settings{"t", 5, 100}) {
		t.Errorf("given: %+v, %v", got, err)
	}
	for _, bad := range []Settings{{Table: "a;b"}, {DeleteBatch: -1}, {MaxLength: -1}, {MaxLength: 1<<24 + 1}} {
		if _, err := rules.Apply(bad); !errors.Is(err, errBad) {
			t.Errorf("%+v: %v, want the store's misconfiguration error", bad, err)
		}
	}
}

func TestDeleteBatches(t *testing.T) {
	rows := 25
	del := func(context.Context) (int64, error) {
		n := min(rows, 10)
		rows -= n
		return int64(n), nil
	}
	if n, err := DeleteBatches(context.Background(), 10, del); n != 25 || err != nil || rows != 0 {
		t.Errorf("25 rows in batches of 10: %d, %v (%d left)", n, err, rows)
	}
	rows = 20 // a full last batch takes one more call, which deletes none
	calls := 0
	counted := func(ctx context.Context) (int64, error) { calls++; return del(ctx) }
	if n, err := DeleteBatches(context.Background(), 10, counted); n != 20 || err != nil || calls != 3 {
		t.Errorf("20 rows in batches of 10: %d, %v in %d calls, want 20 in 3", n, err, calls)
	}
	failAt, errDown := 2, errors.New("down")
	rows, calls = 50, 0
	failing := func(ctx context.Context) (int64, error) {
		if calls++; calls == failAt {
			return 0, errDown
		}
		return del(ctx)
	}
	if n, err := DeleteBatches(context.Background(), 10, failing); n != 10 || !errors.Is(err, errDown) {
		t.Errorf("an error in the second batch: %d, %v; want 10 and the error", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls = 0
	if n, err := DeleteBatches(ctx, 10, counted); n != 0 || !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("a cancelled context: %d, %v after %d calls", n, err, calls)
	}
}

func TestRetryPause(t *testing.T) {
	failed := errors.New("deadlock")
	if err := RetryPause(context.Background(), 0, failed); err != nil {
		t.Errorf("a pause that ran its course: %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := RetryPause(ctx, 1000, failed); !errors.Is(err, failed) || !errors.Is(err, context.Canceled) {
		t.Errorf("a pause whose context ended: %v, want the statement's error and the context's", err)
	}
}
