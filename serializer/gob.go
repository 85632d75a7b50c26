package serializer

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"time"
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

// gobSerializer is encoding/gob. It restores exact Go types, including any
// type the application registers with gob.Register. Each blob carries its own
// type descriptions, so a fresh Encoder and Decoder are used per blob.
type gobSerializer struct{}

func (gobSerializer) ID() byte     { return GobID }
func (gobSerializer) Name() string { return "gob" }

func (gobSerializer) Append(dst []byte, values map[string]any) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := gob.NewEncoder(buf).Encode(values); err != nil {
		// Find the key gob could not encode, so the error names it.
		for k, v := range values {
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
