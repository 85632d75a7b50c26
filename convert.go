package session

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/sessionkit/session/internal/value"
)

// convError reports where a value could not be converted: Path within
// it, and the types there.
type convError struct {
	path      string
	want, got string
}

// mismatch is the convError of v, which cannot be a t.
func mismatch(t reflect.Type, v any) *convError {
	got := "nil"
	if v != nil {
		got = reflect.TypeOf(v).String()
	}
	return &convError{want: t.String(), got: got}
}

// convert returns v as a T, undoing what each serializer does to the value
// contract's types (see package serializer), structs included.
func convert[T any](v any) (T, *convError) {
	if t, ok := v.(T); ok {
		return t, nil
	}
	var out T
	// The common cases without reflection: an integer stored by one
	// serializer and read as another integer type.
	if n, ok := v.(int64); ok {
		switch p := any(&out).(type) {
		case *int:
			if int64(int(n)) == n {
				*p = int(n)
				return out, nil
			}
		case *float64:
			*p = float64(n)
			return out, nil
		}
	}
	p := new(T) // not &out, which would put out on the heap on every call
	if err := assign(reflect.ValueOf(p).Elem(), v, 0); err != nil {
		return out, err
	}
	return *p, nil
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	bytesType = reflect.TypeFor[[]byte]()
)

// assign sets dst, which is settable, to v converted to dst's type.
func assign(dst reflect.Value, v any, depth int) *convError {
	t := dst.Type()
	if depth > value.MaxDepth+1 {
		return mismatch(t, v)
	}
	if v == nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Slice, reflect.Map, reflect.Pointer:
			dst.SetZero()
			return nil
		}
		return mismatch(t, v)
	}
	rv := reflect.ValueOf(v)
	if rv.Type() == t || t.Kind() == reflect.Interface && rv.Type().Implements(t) {
		dst.Set(rv)
		return nil
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := asInt64(v)
		if !ok || dst.OverflowInt(n) {
			return mismatch(t, v)
		}
		dst.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := asUint64(v)
		if !ok || dst.OverflowUint(n) {
			return mismatch(t, v)
		}
		dst.SetUint(n)
		return nil
	case reflect.Float32, reflect.Float64:
		f, ok := asFloat64(v)
		if !ok || dst.OverflowFloat(f) {
			return mismatch(t, v)
		}
		dst.SetFloat(f)
		return nil
	case reflect.String:
		if rv.Kind() == reflect.String {
			dst.SetString(rv.String())
			return nil
		}
	case reflect.Bool:
		if rv.Kind() == reflect.Bool {
			dst.SetBool(rv.Bool())
			return nil
		}
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := assign(p.Elem(), v, depth+1); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case reflect.Struct:
		if t == timeType {
			return assignTime(dst, v)
		}
		if m, ok := v.(map[string]any); ok {
			return assignStruct(dst, m, depth)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if b, ok := bytesOf(v); ok {
				dst.SetBytes(b)
				return nil
			}
		}
		if rv.Kind() != reflect.Slice || rv.Type() == bytesType {
			break
		}
		n := rv.Len()
		out := reflect.MakeSlice(t, n, n)
		for i := range n {
			if err := assign(out.Index(i), rv.Index(i).Interface(), depth+1); err != nil {
				err.path = value.IndexPath(i, err.path)
				return err
			}
		}
		dst.Set(out)
		return nil
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if b, ok := bytesOf(v); ok && len(b) == t.Len() {
				reflect.Copy(dst, reflect.ValueOf(b))
				return nil
			}
			break
		}
		if rv.Kind() != reflect.Slice || rv.Type() == bytesType || rv.Len() != t.Len() {
			break
		}
		for i := range t.Len() {
			if err := assign(dst.Index(i), rv.Index(i).Interface(), depth+1); err != nil {
				err.path = value.IndexPath(i, err.path)
				return err
			}
		}
		return nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String || rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			break
		}
		out := reflect.MakeMapWithSize(t, rv.Len())
		e := reflect.New(t.Elem()).Elem()
		for it := rv.MapRange(); it.Next(); {
			e.SetZero()
			k := it.Key().String()
			if err := assign(e, it.Value().Interface(), depth+1); err != nil {
				err.path = value.KeyPath(k, err.path)
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		dst.Set(out)
		return nil
	}
	return mismatch(t, v)
}

// assignTime sets dst, a time.Time, from a time or JSON's text of one.
func assignTime(dst reflect.Value, v any) *convError {
	s, ok := v.(string)
	if !ok {
		return mismatch(dst.Type(), v)
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return mismatch(dst.Type(), v)
	}
	dst.Set(reflect.ValueOf(tm))
	return nil
}

// assignStruct sets the fields of dst, a struct, from the map a struct is
// stored as: each field from the entry of its name (see package
// serializer). Entries without a field are ignored; fields without an
// entry keep their zero value.
func assignStruct(dst reflect.Value, m map[string]any, depth int) *convError {
	st := value.Fields(dst.Type())
	for i := range st.Fields {
		f := &st.Fields[i]
		e, ok := m[f.Name]
		if !ok {
			continue
		}
		fd, ok := settableField(dst, f)
		if !ok {
			continue // behind an embedded pointer to an unexported type
		}
		if err := assign(fd, e, depth+1); err != nil {
			err.path = value.FieldPath(f.GoName, err.path)
			return err
		}
	}
	return nil
}

// settableField returns field f of struct dst, allocating the embedded
// structs on the way that are nil pointers.
func settableField(dst reflect.Value, f *value.Field) (reflect.Value, bool) {
	v := dst
	for n, i := range f.Index {
		if n > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, v.CanSet()
}

// bytesOf returns v as bytes: a []byte, or JSON's base64 text of one.
func bytesOf(v any) ([]byte, bool) {
	switch v := v.(type) {
	case []byte:
		return v, true
	case string:
		b, err := base64.StdEncoding.DecodeString(v)
		return b, err == nil
	}
	return nil, false
}

func asInt64(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := rv.Uint()
		return int64(u), u <= math.MaxInt64
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, false
		}
		return int64(f), true
	}
	if n, ok := v.(json.Number); ok {
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	}
	return 0, false
}

func asUint64(v any) (uint64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return uint64(rv.Int()), rv.Int() >= 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint(), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if f != math.Trunc(f) || f < 0 || f >= math.MaxUint64 {
			return 0, false
		}
		return uint64(f), true
	}
	if n, ok := v.(json.Number); ok {
		u, err := strconv.ParseUint(string(n), 10, 64)
		return u, err == nil
	}
	return 0, false
}

func asFloat64(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	if n, ok := v.(json.Number); ok {
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
