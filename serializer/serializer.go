// Package serializer turns a session's values into bytes and back.
//
// A Serializer has a stable one-byte ID, written into every encoded session
// by package codec, and a name used in configuration. Because the ID travels
// with the data, a session written by one serializer can always be read after
// the configuration switches to another.
//
// Three serializers are built in: MsgPack (the default), JSON and Gob.
//
// # The value contract
//
// A session value may hold nil, bool, every int, uint and float kind, string,
// []byte, time.Time, []any, map[string]any, and slices of those ([]string,
// []int64, []time.Time, []map[string]any, ...). MsgPack and JSON refuse any
// other type at encode time with an *UnsupportedError that names the key; Gob
// also accepts any type registered with encoding/gob.
//
// What each value comes back as:
//
//	stored                 MsgPack            JSON                      Gob
//	nil                    nil                nil                       nil
//	bool                   bool               bool                      bool
//	int, int8 … int64      int64              int64                     the same type
//	uint … uint64          int64 (uint64      int64 (uint64 above       the same type
//	                       above MaxInt64)    MaxInt64)
//	float32                float32            float64 (int64 if whole)  float32
//	float64                float64            float64 (int64 if whole)  float64
//	string                 string             string                    string
//	[]byte                 []byte             string (std base64)       []byte
//	time.Time              time.Time (UTC)    string (RFC 3339, nanos)  time.Time (offset kept)
//	[]any, []T             []any              []any                     []any, []T
//	map[string]any         map[string]any     map[string]any            map[string]any
//
// Values inside []any and map[string]any follow the same table. The root
// package's typed getter (session.Get[T]) converts every one of these back to
// the type that was stored.
package serializer

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Serializer encodes and decodes the values of one session.
//
// Implementations must be safe for concurrent use.
type Serializer interface {
	// ID is the stable byte written into every encoded session. 0 is
	// reserved; 1–3 are the built-in serializers.
	ID() byte
	// Name is the name used in configuration, such as "msgpack".
	Name() string
	// Append appends the encoding of values to dst and returns the
	// extended slice. It must not keep or modify values.
	Append(dst []byte, values map[string]any) ([]byte, error)
	// Decode decodes data produced by Append. It must not keep data.
	Decode(data []byte) (map[string]any, error)
}

// The IDs of the built-in serializers. They are written into stored data and
// never change.
const (
	MsgPackID byte = 1
	JSONID    byte = 2
	GobID     byte = 3
)

// Built-in serializers.
var (
	MsgPack Serializer = msgpackSerializer{}
	JSON    Serializer = jsonSerializer{}
	Gob     Serializer = gobSerializer{}
)

var builtin = [...]Serializer{MsgPack, JSON, Gob}

// Names lists the names of the built-in serializers, in ID order.
func Names() []string {
	names := make([]string, len(builtin))
	for i, s := range builtin {
		names[i] = s.Name()
	}
	return names
}

// ByID returns the built-in serializer with the given ID.
func ByID(id byte) (Serializer, bool) {
	for _, s := range builtin {
		if s.ID() == id {
			return s, true
		}
	}
	return nil, false
}

// ByName returns the built-in serializer with the given name
// ("msgpack", "json" or "gob"), ignoring case.
func ByName(name string) (Serializer, error) {
	for _, s := range builtin {
		if strings.EqualFold(s.Name(), name) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("serializer: unknown serializer %q (want one of %s)", name, strings.Join(Names(), ", "))
}

// ErrUnsupported is matched by errors.Is for every *UnsupportedError.
var ErrUnsupported = errors.New("serializer: unsupported value")

// UnsupportedError reports a session value that a serializer cannot encode.
type UnsupportedError struct {
	Serializer string // name of the serializer
	Key        string // the session key holding the value
	Type       string // the Go type that could not be encoded
	Err        error  // the underlying error, if any
}

// Error names the serializer, the session key and the type.
func (e *UnsupportedError) Error() string {
	msg := fmt.Sprintf("serializer %s: session key %q: cannot encode value of type %s", e.Serializer, e.Key, e.Type)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Unwrap returns the underlying error.
func (e *UnsupportedError) Unwrap() error { return e.Err }

// maxDepth bounds the nesting of []any and map[string]any, on encode and
// decode.
const maxDepth = 32

// check reports whether every value in values is inside the value contract.
func check(name string, values map[string]any) error {
	for k, v := range values {
		if t := checkValue(v, 0); t != "" {
			return &UnsupportedError{Serializer: name, Key: k, Type: t}
		}
	}
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// checkValue returns "" when v is inside the value contract, otherwise a
// description of the offending type.
func checkValue(v any, depth int) string {
	if depth > maxDepth {
		return fmt.Sprintf("value nested deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case nil, bool, string, []byte, time.Time,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64,
		[]string, []int, []int64, []float64, []bool, []time.Time:
		return ""
	case []any:
		for _, e := range v {
			if t := checkValue(e, depth+1); t != "" {
				return t
			}
		}
		return ""
	case map[string]any:
		for _, e := range v {
			if t := checkValue(e, depth+1); t != "" {
				return t
			}
		}
		return ""
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice && elemOK(rv.Type().Elem()) {
		if rv.Type().Elem().Kind() == reflect.Interface || rv.Type().Elem().Kind() == reflect.Map {
			for i := range rv.Len() {
				if t := checkValue(rv.Index(i).Interface(), depth+1); t != "" {
					return t
				}
			}
		}
		return ""
	}
	return reflect.TypeOf(v).String()
}

// elemOK reports whether a slice of t is inside the value contract.
func elemOK(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return t.PkgPath() == "" // not a named type such as time.Month
	case reflect.Interface:
		return t.NumMethod() == 0
	case reflect.Slice:
		return t.Elem().Kind() == reflect.Uint8 && t.Elem().PkgPath() == "" // [][]byte
	case reflect.Map:
		return t.Key().Kind() == reflect.String && t.Key().PkgPath() == "" && t.Elem().Kind() == reflect.Interface && t.Elem().NumMethod() == 0
	case reflect.Struct:
		return t == timeType
	}
	return false
}
