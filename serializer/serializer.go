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
// A session value may hold nil, bool, every int, uint and float kind,
// string, []byte, time.Time, named types of those kinds (time.Duration, a
// type Role string), and, built of supported values: slices and arrays,
// maps whose keys are strings (map[string]any, map[string]T), structs and
// pointers. No type needs registering, with any serializer.
//
// A struct is written as a map of its exported fields. A field's key is the
// name in its `msgpack` tag or, when it has none, its `json` tag, or else
// the field's Go name: the same keys for every serializer, so switching
// serializers keeps them. A tag "-" leaves the field out ("-," names it
// "-"); the option omitempty leaves it out when it is false, 0, "", a nil
// pointer or interface, or an empty slice, map or array, and omitzero when
// it is its type's zero value or its IsZero method says so. The fields of
// an embedded struct (or pointer to one) are promoted as encoding/json
// promotes them, unless the embedded field is tagged with a name; of
// several fields with one key the shallowest wins, then the one tagged
// with it. Struct fields are written in the order of their keys, as a
// map's entries are, so a struct and the map it reads back as encode to
// the same bytes. Methods (MarshalJSON, MarshalText, GobEncode) are not
// used.
//
// Append refuses, with an *UnsupportedError that names the session key and
// where in the value (Path, such as "Items[3].Price"): channels, functions,
// complex numbers, uintptr and unsafe pointers; maps with other keys; a
// struct with an unexported field that is not tagged "-", or with two
// fields that no rule above tells apart; a value that contains itself
// (a cycle through pointers, maps or slices); nesting deeper than 32
// levels. JSON also refuses NaN and infinities, strings that are not
// valid UTF-8, and times outside the years 0 to 9999.
//
// What each value comes back as:
//
//	stored                 MsgPack             JSON                      Gob
//	nil                    nil                 nil                       nil
//	bool                   bool                bool                      bool
//	int, int8 … int64      int64               int64                     the same type
//	uint … uint64          int64 (uint64       int64 (uint64 above       the same type
//	                       above MaxInt64)     MaxInt64)
//	float32                float32             float64                   float32
//	float64                float64             float64                   float64
//	string                 string              string                    string
//	[]byte                 []byte              string (std base64)       []byte (nil if empty)
//	time.Time              time.Time (UTC)     string (RFC 3339, nanos)  time.Time (offset kept)
//	named type of a kind   as its kind above   as its kind above         its kind's unnamed type
//	  (time.Duration)        (int64)             (int64)                   (int64)
//	[]T, [N]T              []any               []any                     []any; []T kept for T
//	                                                                     bool, string, a number,
//	                                                                     []byte or time.Time (nil
//	                                                                     if empty); []any (nil if
//	                                                                     empty)
//	[N]byte                []byte              string (std base64)       []byte
//	map[string]any,        map[string]any      map[string]any            map[string]any
//	  map[K]T (K a string)
//	struct                 map[string]any      map[string]any            map[string]any
//	*T                     what T gives        what T gives              what T gives
//	nil slice, map, *T     nil                 nil                       nil; a nil []T kept as
//	                                                                     above
//
// Values inside slices, maps and structs follow the same table. The root
// package's Session gives a value set in a request back in this form in
// that request too, and its typed getter (session.Get[T]) converts every
// one of them back to the type that was stored, structs included.
package serializer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sessionkit/session/internal/value"
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
	// Path is where in the value the offending part is, with struct
	// fields under their Go names: "Items[3].Price", `Meta["color"]`,
	// "[2]". It is empty when the value itself is at fault.
	Path string
	Type string // the Go type that could not be encoded
	// Err says why, beyond the type (an unexported field, a cycle, NaN
	// in JSON), or is the underlying encoder's error; nil when the type
	// is not supported at all.
	Err error
}

// Error names the serializer, the session key, where in the value, the
// type and why: serializer msgpack: key "cart": field Items[3].Price:
// cannot encode chan int.
func (e *UnsupportedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "serializer %s: key %q: ", e.Serializer, e.Key)
	if e.Path != "" {
		b.WriteString(value.Where(e.Path))
		b.WriteString(": ")
	}
	b.WriteString("cannot encode ")
	b.WriteString(e.Type)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Unwrap returns the underlying error.
func (e *UnsupportedError) Unwrap() error { return e.Err }

// unsupported turns a value error into the UnsupportedError of key.
func unsupported(ser, key string, e *value.Error) *UnsupportedError {
	return &UnsupportedError{Serializer: ser, Key: key, Path: e.Path, Type: e.Type, Err: e.Err}
}

// sortedKeys appends the keys of m to dst in order. Maps are written in key
// order so that one session always encodes to the same bytes: its size, and
// so whether it fits a cookie, does not change from one save to the next.
func sortedKeys(dst []string, m map[string]any) []string {
	for k := range m {
		dst = append(dst, k)
	}
	slices.Sort(dst)
	return dst
}
