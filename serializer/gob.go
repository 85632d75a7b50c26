package serializer

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"maps"
	"time"

	"github.com/sessionkit/session/internal/value"
)

func init() {
	// The container types of the value contract; gob registers the basic
	// types and their slices itself.
	for _, v := range []any{
		map[string]any{}, []any{}, time.Time{}, []time.Time{}, [][]byte{}, []map[string]any{},
	} {
		gob.Register(v)
	}
}

// gobSerializer is encoding/gob. It restores the exact Go types of the
// values gob carries without registration (bool, every int, uint and float
// type, string, []byte, slices of those, time.Time) and of []any and
// map[string]any; other values are written as their canonical form (named
// types as their kind's type, structs and typed maps as map[string]any,
// other slices as []any), so nothing needs gob.Register. Each blob carries
// its own type descriptions, so a fresh Encoder and Decoder are used per
// blob.
type gobSerializer struct{}

func (gobSerializer) ID() byte     { return GobID }
func (gobSerializer) Name() string { return "gob" }

func (gobSerializer) Append(dst []byte, values map[string]any) ([]byte, error) {
	out := values
	cloned := false
	var scratch [16]string
	for _, k := range sortedKeys(scratch[:0], values) {
		v := values[k]
		if value.Canonical(value.Gob, v) {
			continue
		}
		n, changed, err := value.Normalize(value.Gob, v)
		if err != nil {
			return dst, unsupported("gob", k, err)
		}
		if !changed {
			continue
		}
		if !cloned {
			out, cloned = maps.Clone(values), true
		}
		out[k] = n
	}
	buf := bytes.NewBuffer(dst)
	if err := gob.NewEncoder(buf).Encode(out); err != nil {
		// Find the key gob could not encode, so the error names it.
		for k, v := range out {
			if err := gob.NewEncoder(new(bytes.Buffer)).Encode(map[string]any{k: v}); err != nil {
				return dst, &UnsupportedError{Serializer: "gob", Key: k, Type: fmt.Sprintf("%T", v), Err: err}
			}
		}
		return dst, fmt.Errorf("serializer gob: %w", err)
	}
	return buf.Bytes(), nil
}

func (gobSerializer) Decode(data []byte) (m map[string]any, err error) {
	r := bytes.NewReader(data)
	if err := gob.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("serializer gob: %w", err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("serializer gob: trailing data after the session map")
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}
