package sqlconf

import (
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
