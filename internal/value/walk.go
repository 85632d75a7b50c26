package value

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Encoder receives a value's parts, in order, from Encode. Integers up to
// math.MaxInt64 arrive through Int, larger ones through Uint. A map's keys
// arrive in sorted order, a struct's fields in the order of their names.
type Encoder interface {
	Nil()
	Bool(bool)
	Int(int64)
	Uint(uint64)
	Float32(float32)
	Float64(float64)
	String(string)
	Bytes([]byte)
	Time(time.Time)
	// BeginArray starts an array of n elements, each preceded by
	// Elem(i); EndArray ends it.
	BeginArray(n int)
	Elem(i int)
	EndArray()
	// BeginMap starts a map of n entries, each a Key(i, k) and then its
	// value; EndMap ends it.
	BeginMap(n int)
	Key(i int, k string)
	EndMap()
}

// Encode walks v, which must be inside the model for p, and hands its
// parts to e. On an *Error, e has received part of v and must be
// discarded.
func Encode(e Encoder, p Profile, v any) *Error {
	w := walker{e: e, p: p}
	return w.any(v, 0)
}

// Check reports whether v is inside the model for p, as Encode would.
func Check(p Profile, v any) *Error { return Encode(discard{}, p, v) }

// discard is the Encoder of Check.
type discard struct{}

func (discard) Nil()            {}
func (discard) Bool(bool)       {}
func (discard) Int(int64)       {}
func (discard) Uint(uint64)     {}
func (discard) Float32(float32) {}
func (discard) Float64(float64) {}
func (discard) String(string)   {}
func (discard) Bytes([]byte)    {}
func (discard) Time(time.Time)  {}
func (discard) BeginArray(int)  {}
func (discard) Elem(int)        {}
func (discard) EndArray()       {}
func (discard) BeginMap(int)    {}
func (discard) Key(int, string) {}
func (discard) EndMap()         {}

// identity is a container on the path from the root to the value being
// walked: a pointer, a map, or a slice (its array and length), as
// encoding/json tells a cycle.
type identity struct {
	ptr uintptr
	len int
}

// walker walks one value; path holds the containers above the current
// one, to tell a cycle.
type walker struct {
	e    Encoder
	p    Profile
	path [MaxDepth + 1]identity
	n    int
}

// enter pushes a container and reports a cycle.
func (w *walker) enter(id identity, t reflect.Type) *Error {
	for _, p := range w.path[:w.n] {
		if p == id {
			return &Error{Type: t.String(), Err: ErrCycle}
		}
	}
	w.path[w.n] = id
	w.n++
	return nil
}

func (w *walker) leave() { w.n-- }

// any walks v, taking the common types without reflection.
func (w *walker) any(v any, depth int) *Error {
	switch v := v.(type) {
	case nil:
		w.e.Nil()
	case bool:
		w.e.Bool(v)
	case string:
		return w.str(v)
	case int:
		w.e.Int(int64(v))
	case int64:
		w.e.Int(v)
	case int32:
		w.e.Int(int64(v))
	case uint64:
		w.uint(v)
	case float64:
		return w.float64(v, "float64")
	case []byte:
		if v == nil {
			w.e.Nil()
		} else {
			w.e.Bytes(v)
		}
	case time.Time:
		return w.time(v)
	default:
		return w.value(reflect.ValueOf(v), depth)
	}
	return nil
}

func (w *walker) str(s string) *Error {
	if w.p == JSON && !utf8.ValidString(s) {
		return &Error{Type: "string", Err: ErrUTF8}
	}
	w.e.String(s)
	return nil
}

func (w *walker) uint(u uint64) {
	if u <= math.MaxInt64 {
		w.e.Int(int64(u))
	} else {
		w.e.Uint(u)
	}
}

func (w *walker) float64(f float64, typ string) *Error {
	if w.p == JSON && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return &Error{Type: typ, Err: ErrNaN}
	}
	w.e.Float64(f)
	return nil
}

func (w *walker) time(t time.Time) *Error {
	if w.p == JSON {
		if y := t.Year(); y < 0 || y > 9999 {
			return &Error{Type: "time.Time", Err: ErrYear}
		}
	}
	w.e.Time(t)
	return nil
}

// value walks v by reflection.
func (w *walker) value(v reflect.Value, depth int) *Error {
	switch v.Kind() {
	case reflect.Bool:
		w.e.Bool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.e.Int(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.uint(v.Uint())
	case reflect.Float32:
		f := v.Float()
		if w.p == JSON && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return &Error{Type: v.Type().String(), Err: ErrNaN}
		}
		w.e.Float32(float32(f))
	case reflect.Float64:
		return w.float64(v.Float(), v.Type().String())
	case reflect.String:
		if err := w.str(v.String()); err != nil {
			err.Type = v.Type().String()
			return err
		}
	case reflect.Interface:
		if v.IsNil() {
			w.e.Nil()
			return nil
		}
		return w.any(v.Interface(), depth)
	case reflect.Pointer:
		if v.IsNil() {
			w.e.Nil()
			return nil
		}
		if depth >= MaxDepth {
			return &Error{Type: v.Type().String(), Err: ErrDepth}
		}
		if err := w.enter(identity{ptr: v.Pointer()}, v.Type()); err != nil {
			return err
		}
		err := w.value(v.Elem(), depth+1)
		w.leave()
		return err
	case reflect.Slice:
		if v.IsNil() {
			w.e.Nil()
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			w.e.Bytes(v.Bytes())
			return nil
		}
		if v.Len() == 0 {
			return w.list(v, depth)
		}
		if err := w.enter(identity{v.Pointer(), v.Len()}, v.Type()); err != nil {
			return err
		}
		err := w.list(v, depth)
		w.leave()
		return err
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			w.bytesOfArray(v)
			return nil
		}
		return w.list(v, depth)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return &Error{Type: v.Type().String(), Err: ErrMapKey}
		}
		if v.IsNil() {
			w.e.Nil()
			return nil
		}
		if err := w.enter(identity{ptr: v.Pointer()}, v.Type()); err != nil {
			return err
		}
		err := w.dict(v, depth)
		w.leave()
		return err
	case reflect.Struct:
		if v.Type() == timeType {
			return w.time(timeOf(v))
		}
		return w.fields(v, Fields(v.Type()), depth)
	default: // Chan, Func, Complex64, Complex128, Uintptr, UnsafePointer
		return &Error{Type: v.Type().String()}
	}
	return nil
}

// list walks a slice or an array.
func (w *walker) list(v reflect.Value, depth int) *Error {
	if depth >= MaxDepth {
		return &Error{Type: v.Type().String(), Err: ErrDepth}
	}
	n := v.Len()
	w.e.BeginArray(n)
	if et := v.Type().Elem(); et.Kind() == reflect.Struct && et != timeType {
		// The elements share one field table.
		st := Fields(et)
		for i := range n {
			w.e.Elem(i)
			if err := w.fields(v.Index(i), st, depth+1); err != nil {
				return err.index(i)
			}
		}
	} else {
		for i := range n {
			w.e.Elem(i)
			if err := w.value(v.Index(i), depth+1); err != nil {
				return err.index(i)
			}
		}
	}
	w.e.EndArray()
	return nil
}

// bytesOfArray hands over a [N]byte as bytes.
func (w *walker) bytesOfArray(v reflect.Value) {
	if v.CanAddr() {
		w.e.Bytes(v.Bytes())
		return
	}
	var small [64]byte
	b := small[:0]
	for i := range v.Len() {
		b = append(b, byte(v.Index(i).Uint()))
	}
	w.e.Bytes(b)
}

// dict walks a map with string keys, in key order.
func (w *walker) dict(v reflect.Value, depth int) *Error {
	if depth >= MaxDepth {
		return &Error{Type: v.Type().String(), Err: ErrDepth}
	}
	if m, ok := v.Interface().(map[string]any); ok {
		return w.anyMap(m, depth)
	}
	n := v.Len()
	// The entries are copied out in iteration order, then walked in key
	// order.
	var keysBuf [16]string
	var orderBuf [16]int
	keys, order := keysBuf[:0], orderBuf[:0]
	vals := reflect.MakeSlice(reflect.SliceOf(v.Type().Elem()), n, n)
	kv := reflect.New(v.Type().Key()).Elem()
	var it reflect.MapIter
	it.Reset(v)
	for i := 0; it.Next(); i++ {
		kv.SetIterKey(&it)
		keys = append(keys, kv.String())
		vals.Index(i).SetIterValue(&it)
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	w.e.BeginMap(n)
	for i, j := range order {
		if w.p == JSON && !utf8.ValidString(keys[j]) {
			return &Error{Type: v.Type().String(), Err: ErrUTF8}
		}
		w.e.Key(i, keys[j])
		if err := w.value(vals.Index(j), depth+1); err != nil {
			return err.key(keys[j])
		}
	}
	w.e.EndMap()
	return nil
}

// anyMap walks a map[string]any, in key order.
func (w *walker) anyMap(m map[string]any, depth int) *Error {
	var keysBuf [16]string
	keys := keysBuf[:0]
	for k := range m {
		if w.p == JSON && !utf8.ValidString(k) {
			return &Error{Type: "map[string]interface {}", Err: ErrUTF8}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.e.BeginMap(len(keys))
	for i, k := range keys {
		w.e.Key(i, k)
		if err := w.any(m[k], depth+1); err != nil {
			return err.key(k)
		}
	}
	w.e.EndMap()
	return nil
}

// fields walks struct v, whose field table is st, as a map of its stored
// fields.
func (w *walker) fields(v reflect.Value, st *Struct, depth int) *Error {
	if st.Err != nil {
		err := *st.Err
		return &err
	}
	if depth >= MaxDepth {
		return &Error{Type: v.Type().String(), Err: ErrDepth}
	}
	if st.fixed {
		// Every field is written: no options, no embedded pointers.
		w.e.BeginMap(len(st.Fields))
		for i := range st.Fields {
			f := &st.Fields[i]
			var fv reflect.Value
			if len(f.Index) == 1 {
				fv = v.Field(f.Index[0])
			} else {
				fv = v.FieldByIndex(f.Index)
			}
			w.e.Key(i, f.Name)
			if err := w.value(fv, depth+1); err != nil {
				return err.field(f.GoName)
			}
		}
		w.e.EndMap()
		return nil
	}
	// Count the fields written, for the map's header, noting which.
	var small uint64
	var large []bool
	if len(st.Fields) > 64 {
		large = make([]bool, len(st.Fields))
	}
	n := 0
	for i := range st.Fields {
		f := &st.Fields[i]
		fv, ok := FieldValue(v, f)
		if !ok || f.omitted(fv) {
			continue
		}
		n++
		if large != nil {
			large[i] = true
		} else {
			small |= 1 << i
		}
	}
	w.e.BeginMap(n)
	n = 0
	for i := range st.Fields {
		if large != nil && !large[i] || large == nil && small&(1<<i) == 0 {
			continue
		}
		f := &st.Fields[i]
		fv, _ := FieldValue(v, f)
		w.e.Key(n, f.Name)
		n++
		if err := w.value(fv, depth+1); err != nil {
			return err.field(f.GoName)
		}
	}
	w.e.EndMap()
	return nil
}
