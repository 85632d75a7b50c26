package serializer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/session/internal/value"
)

// jsonSerializer writes JSON itself, in key order, and reads it with
// encoding/json. Numbers without a fraction or exponent come back as int64
// (uint64 above MaxInt64), others as float64, so integers keep every digit;
// a float is always written with a fraction or an exponent ("2.0"), so it
// comes back a float64.
type jsonSerializer struct{}

func (jsonSerializer) ID() byte     { return JSONID }
func (jsonSerializer) Name() string { return "json" }

func (jsonSerializer) Append(dst []byte, values map[string]any) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '{')
	var scratch [16]string
	for i, k := range sortedKeys(scratch[:0], values) {
		if !utf8.ValidString(k) {
			return dst[:start], &UnsupportedError{Serializer: "json", Key: k, Type: "string", Err: value.ErrUTF8}
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		mark := len(dst)
		var ok bool
		if dst, ok = appendJSON(dst, values[k], 0); ok {
			continue
		}
		w := &jsonWriter{b: dst[:mark]}
		if err := value.Encode(w, value.JSON, values[k]); err != nil {
			return dst[:start], unsupported("json", k, err)
		}
		dst = w.b
	}
	return append(dst, '}'), nil
}

// appendJSON appends v if it is made of the common types alone, without
// reflection, and reports whether it was; if not (another type, NaN, a
// string that is not UTF-8, too deep), what it appended must be dropped.
func appendJSON(b []byte, v any, depth int) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, v), true
	case string:
		if !utf8.ValidString(v) {
			return b, false
		}
		return appendJSONString(b, v), true
	case int:
		return strconv.AppendInt(b, int64(v), 10), true
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return b, false
		}
		return appendJSONFloat(b, v, 64), true
	case []byte:
		if v == nil {
			return append(b, "null"...), true
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v)
		return append(b, '"'), true
	case time.Time:
		if y := v.Year(); y < 0 || y > 9999 {
			return b, false
		}
		b = append(b, '"')
		b = v.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), true
	case []map[string]any:
		return appendJSONList(b, v, depth)
	case []string:
		if v == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range v {
			if !utf8.ValidString(e) {
				return b, false
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, e)
		}
		return append(b, ']'), true
	case []any:
		return appendJSONList(b, v, depth)
	case map[string]any:
		if v == nil {
			return append(b, "null"...), true
		}
		if depth >= value.MaxDepth {
			return b, false
		}
		b = append(b, '{')
		var scratch [16]string
		for i, k := range sortedKeys(scratch[:0], v) {
			if !utf8.ValidString(k) {
				return b, false
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			var ok bool
			if b, ok = appendJSON(b, v[k], depth+1); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	}
	return b, false
}

// jsonWriter is the value.Encoder that writes JSON.
type jsonWriter struct{ b []byte }

func (w *jsonWriter) Nil()              { w.b = append(w.b, "null"...) }
func (w *jsonWriter) Bool(v bool)       { w.b = strconv.AppendBool(w.b, v) }
func (w *jsonWriter) Int(v int64)       { w.b = strconv.AppendInt(w.b, v, 10) }
func (w *jsonWriter) Uint(v uint64)     { w.b = strconv.AppendUint(w.b, v, 10) }
func (w *jsonWriter) Float32(v float32) { w.b = appendJSONFloat(w.b, float64(v), 32) }
func (w *jsonWriter) Float64(v float64) { w.b = appendJSONFloat(w.b, v, 64) }
func (w *jsonWriter) String(v string)   { w.b = appendJSONString(w.b, v) }
func (w *jsonWriter) Bytes(v []byte) {
	w.b = append(w.b, '"')
	w.b = base64.StdEncoding.AppendEncode(w.b, v)
	w.b = append(w.b, '"')
}
func (w *jsonWriter) Time(v time.Time) {
	w.b = append(w.b, '"')
	w.b = v.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}
func (w *jsonWriter) BeginArray(int) { w.b = append(w.b, '[') }
func (w *jsonWriter) Elem(i int) {
	if i > 0 {
		w.b = append(w.b, ',')
	}
}
func (w *jsonWriter) EndArray()    { w.b = append(w.b, ']') }
func (w *jsonWriter) BeginMap(int) { w.b = append(w.b, '{') }
func (w *jsonWriter) Key(i int, k string) {
	if i > 0 {
		w.b = append(w.b, ',')
	}
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
}
func (w *jsonWriter) EndMap() { w.b = append(w.b, '}') }

// appendJSONFloat appends f as encoding/json writes a float of the given
// bits, plus ".0" when that text would read back as an integer.
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does.
		if n := len(b); n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, ".0"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s, valid UTF-8, quoted as encoding/json quotes
// it without HTML escaping.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but not valid JavaScript: escaped, as
			// encoding/json does.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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

// appendJSONList appends the array v, nil as null, each element one level
// deeper.
func appendJSONList[E any](b []byte, v []E, depth int) ([]byte, bool) {
	if v == nil {
		return append(b, "null"...), true
	}
	if depth >= value.MaxDepth {
		return b, false
	}
	b = append(b, '[')
	for i, e := range v {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendJSON(b, e, depth+1); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}
