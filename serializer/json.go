package serializer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// jsonSerializer is encoding/json. Numbers without a fraction or exponent
// come back as int64 (uint64 above MaxInt64), others as float64, so integers
// keep every digit.
type jsonSerializer struct{}

func (jsonSerializer) ID() byte     { return JSONID }
func (jsonSerializer) Name() string { return "json" }

func (jsonSerializer) Append(dst []byte, values map[string]any) ([]byte, error) {
	if err := check("json", values); err != nil {
		return dst, err
	}
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(values); err != nil {
		// Contract types only fail on NaN and ±Inf; find the key.
		for k, v := range values {
			if _, err := json.Marshal(v); err != nil {
				return dst, &UnsupportedError{Serializer: "json", Key: k, Type: fmt.Sprintf("%T", v), Err: err}
			}
		}
		return dst, fmt.Errorf("serializer json: %w", err)
	}
	out := buf.Bytes()
	return out[:len(out)-1], nil // drop Encode's newline
}

var errJSONTrailing = errors.New("serializer json: trailing data after the session object")

func (jsonSerializer) Decode(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("serializer json: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("serializer json: data is not an object")
	}
	if dec.More() {
		return nil, errJSONTrailing
	}
	for k, v := range m {
		m[k] = normalizeJSON(v)
	}
	return m, nil
}

// normalizeJSON replaces json.Number by int64, uint64 or float64.
func normalizeJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
			if u, err := strconv.ParseUint(s, 10, 64); err == nil {
				if u <= math.MaxInt64 {
					return int64(u)
				}
				return u
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case []any:
		for i, e := range v {
			v[i] = normalizeJSON(e)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = normalizeJSON(e)
		}
	}
	return v
}
