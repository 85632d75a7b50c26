package session

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"time"
)

var errConvert = errors.New("cannot convert")

// convert returns v as a T, undoing what each serializer does to the value
// contract's types (see package serializer).
func convert[T any](v any) (T, error) {
	if t, ok := v.(T); ok {
		return t, nil
	}
	var zero T
	// The common cases without reflection: an integer stored by one
	// serializer and read as another integer type.
	if n, ok := v.(int64); ok {
		switch p := any(&zero).(type) {
		case *int:
			if int64(int(n)) == n {
				*p = int(n)
				return zero, nil
			}
		case *float64:
			*p = float64(n)
			return zero, nil
		}
	}
	out, err := convertTo(v, reflect.TypeFor[T](), 0)
	if err != nil {
		return zero, err
	}
	// A nil interface value (nil asked as an interface type) is T's zero
	// value; the unchecked assertion would panic on it.
	t, _ := out.Interface().(T)
	return t, nil
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	bytesType = reflect.TypeFor[[]byte]()
)

func convertTo(v any, t reflect.Type, depth int) (reflect.Value, error) {
	if depth > 32 {
		return reflect.Value{}, errConvert
	}
	if v == nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Slice, reflect.Map, reflect.Pointer:
			return reflect.Zero(t), nil
		}
		return reflect.Value{}, errConvert
	}
	rv := reflect.ValueOf(v)
	if rv.Type() == t || t.Kind() == reflect.Interface && rv.Type().Implements(t) {
		return rv.Convert(t), nil
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := asInt64(v)
		if !ok || reflect.Zero(t).OverflowInt(n) {
			return reflect.Value{}, errConvert
		}
		return reflect.ValueOf(n).Convert(t), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := asUint64(v)
		if !ok || reflect.Zero(t).OverflowUint(n) {
			return reflect.Value{}, errConvert
		}
		return reflect.ValueOf(n).Convert(t), nil
	case reflect.Float32, reflect.Float64:
		f, ok := asFloat64(v)
		if !ok || reflect.Zero(t).OverflowFloat(f) {
			return reflect.Value{}, errConvert
		}
		return reflect.ValueOf(f).Convert(t), nil
	case reflect.String, reflect.Bool:
		if rv.Kind() == t.Kind() {
			return rv.Convert(t), nil
		}
	case reflect.Struct:
		if t == timeType {
			if s, ok := v.(string); ok {
				tm, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					return reflect.Value{}, errConvert
				}
				return reflect.ValueOf(tm), nil
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if s, ok := v.(string); ok {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return reflect.Value{}, errConvert
				}
				return reflect.ValueOf(b).Convert(t), nil
			}
		}
		if rv.Kind() != reflect.Slice || rv.Type() == bytesType {
			break
		}
		out := reflect.MakeSlice(t, rv.Len(), rv.Len())
		for i := range rv.Len() {
			e, err := convertTo(rv.Index(i).Interface(), t.Elem(), depth+1)
			if err != nil {
				return reflect.Value{}, err
			}
			out.Index(i).Set(e)
		}
		return out, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String || rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			break
		}
		out := reflect.MakeMapWithSize(t, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			e, err := convertTo(it.Value().Interface(), t.Elem(), depth+1)
			if err != nil {
				return reflect.Value{}, err
			}
			out.SetMapIndex(it.Key().Convert(t.Key()), e)
		}
		return out, nil
	}
	return reflect.Value{}, errConvert
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
