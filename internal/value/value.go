// Package value is the session value model that package serializer and
// the root package share: which Go values a session may hold, how a
// struct's fields are named, how a value is walked for encoding, and what
// each built-in serializer gives back for each Go type (Normalize), so that
// a value reads back the same in the request that set it as in later ones.
//
// The model, for every serializer:
//
//   - nil, bool, every int, uint and float kind, string, []byte and
//     time.Time, named types of those kinds (time.Duration, a type Role
//     string), and pointers to any supported value (nil is nil);
//   - slices and arrays of supported values, written as arrays; []byte and
//     [N]byte as bytes;
//   - maps whose keys are strings (or a named string type) and whose
//     values are supported, written as maps;
//   - structs, written as maps of their exported fields, named by their
//     `msgpack` tag or, when a field has none, its `json` tag, or else by
//     the field's own name. A tag "-" leaves the field out; the options
//     omitempty (false, 0, "", a nil pointer or interface, an empty slice,
//     map or array) and omitzero (the zero value, or IsZero() reporting
//     true) leave it out when empty. Embedded structs promote their fields
//     as encoding/json does, the shallower field winning.
//
// Refused, with an *Error naming where in the value: channels, functions,
// complex numbers, uintptr and unsafe pointers; maps with other keys; an
// unexported struct field that is not tagged "-"; two fields of one depth
// with the same name; a value that contains itself; nesting deeper than
// MaxDepth. JSON also refuses NaN, infinities, strings that are not UTF-8
// and times outside the years 0 to 9999.
package value

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Profile names a built-in serializer's view of the model.
type Profile uint8

// The profiles of the built-in serializers.
const (
	MsgPack Profile = iota + 1
	JSON
	Gob
)

// MaxDepth bounds the nesting of containers (slices, maps, structs,
// pointers), on encode and decode.
const MaxDepth = 32

// Error reports a value outside the model.
type Error struct {
	// Path is where in the value: "Items[3].Price", `Meta["color"]`,
	// "[2]"; empty for the value itself. Struct fields appear under their
	// Go names.
	Path string
	// Type is the Go type found there.
	Type string
	// Err says what is wrong, beyond the type itself; nil for a type that
	// is not supported at all.
	Err error
}

// Error describes the value; callers add the session key.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(Where(e.Path))
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

// Where names a non-empty path in a message: "field Items[3].Price", or
// "element [2]" for a path that starts with an index or key.
func Where(path string) string {
	if path[0] == '[' {
		return "element " + path
	}
	return "field " + path
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Why a value is refused, in Error.Err.
var (
	ErrUnexported = errors.New("unexported field: export it, or tag it `json:\"-\"` to leave it out")
	ErrCycle      = errors.New("the value contains itself")
	ErrDepth      = fmt.Errorf("nested deeper than %d levels", MaxDepth)
	ErrMapKey     = errors.New("map keys must be strings")
	ErrNaN        = errors.New("JSON has no NaN or infinity")
	ErrUTF8       = errors.New("not valid UTF-8, which JSON strings must be (keep bytes in a []byte)")
	ErrYear       = errors.New("JSON times are limited to the years 0 to 9999")
)

func (e *Error) field(name string) *Error { e.Path = FieldPath(name, e.Path); return e }
func (e *Error) index(i int) *Error       { e.Path = IndexPath(i, e.Path); return e }
func (e *Error) key(k string) *Error      { e.Path = KeyPath(k, e.Path); return e }

// FieldPath returns the path of rest within the struct field name.
func FieldPath(name, rest string) string {
	if rest == "" || rest[0] == '[' {
		return name + rest
	}
	return name + "." + rest
}

// IndexPath returns the path of rest within element i of a slice or
// array.
func IndexPath(i int, rest string) string { return "[" + strconv.Itoa(i) + "]" + dot(rest) }

// KeyPath returns the path of rest within the entry k of a map.
func KeyPath(k, rest string) string { return "[" + strconv.Quote(k) + "]" + dot(rest) }

// dot returns the rest of a path after an index: fields need a dot.
func dot(rest string) string {
	if rest == "" || rest[0] == '[' {
		return rest
	}
	return "." + rest
}
