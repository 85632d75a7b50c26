package value

import (
	"bytes"
	"encoding/base64"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// Normalize returns v as the serializer of profile p gives it back after
// encoding and decoding it: the canonical form of v, and whether it
// differs from v. A value already in that form comes back as it is,
// without a copy ([]any and map[string]any are copied only when something
// in them changes); anything else is built anew (structs as
// map[string]any, slices as []any, integers as int64 for MessagePack and
// JSON, ...). An *Error reports a value outside the model, as encoding it
// would.
func Normalize(p Profile, v any) (any, bool, *Error) {
	if Canonical(p, v) {
		return v, false, nil
	}
	if err := Check(p, v); err != nil {
		return nil, false, err
	}
	var out any
	var changed bool
	if p == Gob {
		out, changed = gobNorm(reflect.ValueOf(v))
	} else {
		out, changed = norm(p, v)
	}
	if !changed {
		return v, false, nil
	}
	return out, true, nil
}

// norm returns the canonical form of v, which must be inside the model
// for p (MessagePack or JSON), and whether it differs from v: []any and
// map[string]any are copied only when something in them changes.
func norm(p Profile, v any) (any, bool) {
	switch v := v.(type) {
	case []any:
		if v == nil {
			return nil, true
		}
		var out []any
		for i, e := range v {
			if n, changed := norm(p, e); changed {
				if out == nil {
					out = slices.Clone(v)
				}
				out[i] = n
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case map[string]any:
		if v == nil {
			return nil, true
		}
		var out map[string]any
		for k, e := range v {
			if n, changed := norm(p, e); changed {
				if out == nil {
					out = maps.Clone(v)
				}
				out[k] = n
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	}
	if Canonical(p, v) {
		return v, false
	}
	b := builder{p: p}
	Encode(&b, p, v) // checked: cannot fail
	return b.root, true
}

// Canonical reports, without looking inside containers, whether v is
// already what the serializer of profile p gives back for it: a scalar of
// the decoded type. A container (slice, map, struct, pointer) is never
// reported canonical, even when it is; Normalize tells.
func Canonical(p Profile, v any) bool {
	switch v := v.(type) {
	case nil, bool, string, int64, float64:
		return true
	case uint64:
		return v > math.MaxInt64 || p == Gob
	case float32:
		return p != JSON
	case []byte:
		return p == Gob && (v == nil || len(v) > 0) || p == MsgPack && v != nil
	case time.Time:
		switch p {
		case MsgPack:
			return v == v.UTC()
		case Gob:
			return true
		}
		return false
	case int, int8, int16, int32, uint, uint8, uint16, uint32:
		return p == Gob
	}
	return false
}

// builder is the Encoder that Normalize builds the canonical value with,
// for MessagePack and JSON: each part becomes what the decoder makes of it.
type builder struct {
	p     Profile
	root  any
	stack []frame
}

// frame is a container being built.
type frame struct {
	list []any
	dict map[string]any
	i    int    // the element being set
	key  string // the key being set
}

func (b *builder) put(v any) {
	if len(b.stack) == 0 {
		b.root = v
		return
	}
	f := &b.stack[len(b.stack)-1]
	if f.dict != nil {
		f.dict[f.key] = v
	} else {
		f.list[f.i] = v
	}
}

func (b *builder) Nil()          { b.put(nil) }
func (b *builder) Bool(v bool)   { b.put(v) }
func (b *builder) Int(v int64)   { b.put(v) }
func (b *builder) Uint(v uint64) { b.put(v) }

func (b *builder) Float32(v float32) {
	if b.p == JSON {
		// JSON writes the shortest text that reads back as v, and
		// reads it back as a float64.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
		b.put(f)
		return
	}
	b.put(v)
}

func (b *builder) Float64(v float64) { b.put(v) }
func (b *builder) String(v string)   { b.put(v) }

func (b *builder) Bytes(v []byte) {
	if b.p == JSON {
		b.put(base64.StdEncoding.EncodeToString(v))
		return
	}
	b.put(append([]byte{}, v...)) // empty, not nil, as the decoder gives it
}

func (b *builder) Time(v time.Time) {
	if b.p == JSON {
		b.put(v.Format(time.RFC3339Nano))
		return
	}
	b.put(v.UTC())
}

func (b *builder) BeginArray(n int) {
	b.stack = append(b.stack, frame{list: make([]any, n)})
}

func (b *builder) Elem(i int) { b.stack[len(b.stack)-1].i = i }

func (b *builder) EndArray() {
	f := b.stack[len(b.stack)-1]
	b.stack = b.stack[:len(b.stack)-1]
	b.put(f.list)
}

func (b *builder) BeginMap(n int) {
	b.stack = append(b.stack, frame{dict: make(map[string]any, n)})
}

func (b *builder) Key(_ int, k string) { b.stack[len(b.stack)-1].key = k }

func (b *builder) EndMap() {
	f := b.stack[len(b.stack)-1]
	b.stack = b.stack[:len(b.stack)-1]
	b.put(f.dict)
}

// gobBasic are the types that encoding/gob carries in an interface with
// no registration (and the package serializer registers): gob gives each
// back as it is.
var gobBasic = map[reflect.Type]bool{}

func init() {
	for _, v := range []any{
		false, "", int(0), int8(0), int16(0), int32(0), int64(0),
		uint(0), uint8(0), uint16(0), uint32(0), uint64(0), float32(0), float64(0),
		[]byte(nil), []bool(nil), []string(nil), []int(nil), []int8(nil), []int16(nil), []int32(nil), []int64(nil),
		[]uint(nil), []uint16(nil), []uint32(nil), []uint64(nil), []float32(nil), []float64(nil),
		time.Time{}, []time.Time(nil), [][]byte(nil),
	} {
		gobBasic[reflect.TypeOf(v)] = true
	}
}

var (
	anySlice    = reflect.TypeFor[[]any]()
	anyMap      = reflect.TypeFor[map[string]any]()
	anyMapSlice = reflect.TypeFor[[]map[string]any]()
)

// gobNorm returns the canonical form of v for gob, which v must be
// inside the model for, and whether it differs from v.
func gobNorm(v reflect.Value) (any, bool) {
	if !v.IsValid() {
		return nil, false
	}
	t := v.Type()
	if gobBasic[t] {
		switch {
		case t == timeType:
			return timeOf(v), false
		case v.Kind() == reflect.Slice && v.Len() == 0 && !v.IsNil():
			return reflect.Zero(t).Interface(), true // gob gives an empty slice back nil
		}
		return v.Interface(), false
	}
	switch v.Kind() {
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int:
		return int(v.Int()), true
	case reflect.Int8:
		return int8(v.Int()), true
	case reflect.Int16:
		return int16(v.Int()), true
	case reflect.Int32:
		return int32(v.Int()), true
	case reflect.Int64:
		return v.Int(), true
	case reflect.Uint:
		return uint(v.Uint()), true
	case reflect.Uint8:
		return uint8(v.Uint()), true
	case reflect.Uint16:
		return uint16(v.Uint()), true
	case reflect.Uint32:
		return uint32(v.Uint()), true
	case reflect.Uint64:
		return v.Uint(), true
	case reflect.Float32:
		return float32(v.Float()), true
	case reflect.Float64:
		return v.Float(), true
	case reflect.String:
		return v.String(), true
	case reflect.Interface:
		if v.IsNil() {
			return nil, false
		}
		return gobNorm(v.Elem())
	case reflect.Pointer:
		if v.IsNil() {
			return nil, true
		}
		out, _ := gobNorm(v.Elem())
		return out, true
	case reflect.Slice:
		switch {
		case v.IsNil():
			if t == anySlice || t == anyMapSlice {
				return v.Interface(), false
			}
			return nil, true
		case v.Len() == 0:
			if t == anyMapSlice {
				return []map[string]any(nil), true
			}
			return []any(nil), true
		case t.Elem().Kind() == reflect.Uint8:
			return bytes.Clone(v.Bytes()), true
		case t == anyMapSlice:
			list := v.Interface().([]map[string]any)
			var out []map[string]any
			for i, e := range list {
				if m, changed := gobNorm(reflect.ValueOf(e)); changed {
					if out == nil {
						out = slices.Clone(list)
					}
					out[i], _ = m.(map[string]any)
				}
			}
			if out == nil {
				return list, false
			}
			return out, true
		}
		return gobList(v, t == anySlice)
	case reflect.Array:
		switch {
		case v.Len() == 0 && t.Elem().Kind() == reflect.Uint8:
			return []byte(nil), true
		case v.Len() == 0:
			return []any(nil), true
		case t.Elem().Kind() == reflect.Uint8:
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			return b, true
		}
		out, _ := gobList(v, false)
		return out, true
	case reflect.Map:
		if v.IsNil() {
			if t == anyMap {
				return v.Interface(), false
			}
			return nil, true
		}
		if m, ok := v.Interface().(map[string]any); ok {
			// Copied only if something in it changes.
			var out map[string]any
			for k, e := range m {
				if n, changed := gobNorm(reflect.ValueOf(e)); changed {
					if out == nil {
						out = maps.Clone(m)
					}
					out[k] = n
				}
			}
			if out == nil {
				return m, false
			}
			return out, true
		}
		out := make(map[string]any, v.Len())
		var it reflect.MapIter
		it.Reset(v)
		for it.Next() {
			out[it.Key().String()], _ = gobNorm(it.Value())
		}
		return out, true
	case reflect.Struct:
		st := Fields(t)
		out := make(map[string]any, len(st.Fields))
		for i := range st.Fields {
			f := &st.Fields[i]
			fv, ok := FieldValue(v, f)
			if !ok || f.omitted(fv) {
				continue
			}
			out[f.Name], _ = gobNorm(fv)
		}
		return out, true
	}
	return nil, true // not reached for a checked value
}

// gobList returns the elements of a slice or array as a []any; same says
// that v is a []any already, to be returned as it is if no element
// changes.
func gobList(v reflect.Value, same bool) (any, bool) {
	out, changed := make([]any, v.Len()), !same
	for i := range out {
		var c bool
		out[i], c = gobNorm(v.Index(i))
		changed = changed || c
	}
	if !changed {
		return v.Interface(), false
	}
	return out, true
}
