package session

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/serializer"
	"github.com/sessionkit/session/server/memory"
)

// getEqual compares what Get returned with what was stored: times by
// instant (serializers may change the location), everything else deeply.
func getEqual(got, want any) bool {
	switch w := want.(type) {
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	case []time.Time:
		g, ok := got.([]time.Time)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !g[i].Equal(w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

// wantGet checks that Get[T] returns want.
func wantGet[T any](t *testing.T, s *Session, key string, want T) {
	t.Helper()
	got, err := Get[T](s, key)
	if err != nil {
		t.Errorf("Get[%T](%q): %v", want, key, err)
		return
	}
	if !getEqual(got, want) {
		t.Errorf("Get[%T](%q) = %#v, want %#v", want, key, got, want)
	}
}

// wantTypeError checks that Get[T] fails with a *TypeError naming key.
func wantTypeError[T any](t *testing.T, s *Session, key string) {
	t.Helper()
	got, err := Get[T](s, key)
	if err == nil {
		t.Errorf("Get[%s](%q) = %#v, want a *TypeError", reflect.TypeFor[T](), key, got)
		return
	}
	var te *TypeError
	if !errors.Is(err, ErrType) || !errors.As(err, &te) {
		t.Errorf("Get[%s](%q): err = %v, want ErrType and *TypeError", reflect.TypeFor[T](), key, err)
		return
	}
	if te.Key != key || te.Want == "" || te.Got == "" || !strings.Contains(err.Error(), `"`+key+`"`) {
		t.Errorf("Get[%s](%q): TypeError %+v (%q) does not describe the key and types", reflect.TypeFor[T](), key, te, err)
	}
	if errors.Is(err, ErrNoValue) {
		t.Errorf("Get[%s](%q): a type mismatch matches ErrNoValue", reflect.TypeFor[T](), key)
	}
	var zero T
	if !reflect.DeepEqual(got, zero) {
		t.Errorf("Get[%s](%q) returned %#v with its error, want the zero value", reflect.TypeFor[T](), key, got)
	}
}

var (
	convTime  = time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("X", -7*3600-30*60))
	convTime2 = time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)
)

// convValues has one entry per row of the value contract (package
// serializer's table), and the edge cases of the conversions.
var convValues = map[string]any{
	"nil":        nil,
	"true":       true,
	"false":      false,
	"int":        int(42),
	"int8":       int8(-8),
	"int16":      int16(300),
	"int32":      int32(-70000),
	"int64":      int64(1 << 40),
	"minInt64":   int64(math.MinInt64),
	"maxInt64":   int64(math.MaxInt64),
	"uint":       uint(7),
	"uint8":      uint8(255),
	"uint16":     uint16(65535),
	"uint32":     uint32(1 << 31),
	"uint64":     uint64(1 << 50),
	"maxUint64":  uint64(math.MaxUint64),
	"minus1":     -1,
	"float32":    float32(0.25),
	"float64":    1.5,
	"wholeFloat": 3.0,
	"bigFloat":   1e300,
	"string":     "héllo, wörld",
	"empty":      "",
	"timeText":   "2024-01-02T03:04:05Z",
	"bytes":      []byte{0, 1, 2, 0xfe, 0xff},
	"time":       convTime,
	"anys":       []any{"a", int64(1), true, nil},
	"strings":    []string{"x", "", "z"},
	"int64s":     []int64{1, -2, math.MaxInt64},
	"ints":       []int{3, 4},
	"floats":     []float64{0.5, -1.25},
	"bools":      []bool{true, false},
	"times":      []time.Time{convTime, convTime2},
	"byteSlices": [][]byte{{1}, {2, 3}},
	"map":        map[string]any{"s": "x", "n": 7, "t": convTime, "nested": map[string]any{"b": true}, "l": []any{"y"}},
	"intMap":     map[string]any{"a": 1, "b": -2},
	"mapSlice":   []map[string]any{{"k": "v"}},
}

func TestConvertThroughSerializers(t *testing.T) {
	for _, name := range serializer.Names() {
		t.Run(name, func(t *testing.T) {
			m, _ := mwManager(t, Config{Serializer: name})
			value := mwSave(t, m, convValues)
			d, err := m.openCookie(value)
			if err != nil {
				t.Fatal(err)
			}
			if d.Serializer != name {
				t.Fatalf("cookie written with %q, want %q", d.Serializer, name)
			}
			mwDo(m, func(w http.ResponseWriter, r *http.Request) {
				s := FromRequest(r)
				if s.Len() != len(convValues) {
					t.Errorf("loaded %d keys, want %d: %v", s.Len(), len(convValues), s.Keys())
				}
				convChecks(t, s)
			}, value)
		})
	}
}

func convChecks(t *testing.T, s *Session) {
	t.Helper()
	// nil
	wantGet[any](t, s, "nil", nil)
	wantGet[[]string](t, s, "nil", nil)
	wantGet[map[string]any](t, s, "nil", nil)
	wantGet[[]byte](t, s, "nil", nil)
	wantTypeError[int](t, s, "nil")
	wantTypeError[string](t, s, "nil")
	wantTypeError[bool](t, s, "nil")
	wantTypeError[time.Time](t, s, "nil")

	// bool
	wantGet(t, s, "true", true)
	wantGet(t, s, "false", false)
	wantTypeError[int](t, s, "true")
	wantTypeError[string](t, s, "true")

	// Integers, every kind and the conversions between them.
	wantGet(t, s, "int", 42)
	wantGet(t, s, "int", int64(42))
	wantGet(t, s, "int", uint8(42))
	wantGet(t, s, "int", int8(42))
	wantGet(t, s, "int", 42.0)
	wantGet(t, s, "int", float32(42))
	wantGet(t, s, "int8", int8(-8))
	wantGet(t, s, "int8", -8)
	wantTypeError[uint8](t, s, "int8")
	wantTypeError[uint](t, s, "minus1")
	wantTypeError[uint64](t, s, "minus1")
	wantGet(t, s, "int16", int16(300))
	wantTypeError[uint8](t, s, "int16") // 300 overflows
	wantTypeError[int8](t, s, "int16")
	wantGet(t, s, "int32", int32(-70000))
	wantTypeError[int16](t, s, "int32")
	wantGet(t, s, "int64", int64(1<<40))
	wantGet(t, s, "int64", 1<<40)
	wantTypeError[int32](t, s, "int64")
	wantGet(t, s, "minInt64", int64(math.MinInt64))
	wantGet(t, s, "maxInt64", int64(math.MaxInt64))
	wantGet(t, s, "maxInt64", uint64(math.MaxInt64))
	wantGet(t, s, "uint", uint(7))
	wantGet(t, s, "uint", 7)
	wantGet(t, s, "uint8", uint8(255))
	wantGet(t, s, "uint8", 255)
	wantTypeError[int8](t, s, "uint8")
	wantGet(t, s, "uint16", uint16(65535))
	wantTypeError[uint8](t, s, "uint16")
	wantGet(t, s, "uint32", uint32(1<<31))
	wantTypeError[int32](t, s, "uint32")
	wantGet(t, s, "uint64", uint64(1<<50))
	wantGet(t, s, "uint64", int64(1<<50))
	wantGet(t, s, "maxUint64", uint64(math.MaxUint64))
	wantTypeError[int64](t, s, "maxUint64")
	wantTypeError[int](t, s, "maxUint64")
	wantTypeError[string](t, s, "int")
	wantTypeError[bool](t, s, "int")
	wantTypeError[time.Time](t, s, "int")

	// Floats.
	wantGet(t, s, "float32", float32(0.25))
	wantGet(t, s, "float32", 0.25)
	wantGet(t, s, "float64", 1.5)
	wantTypeError[int](t, s, "float64") // a fraction is not an integer
	wantTypeError[int64](t, s, "float64")
	wantTypeError[uint8](t, s, "float64")
	wantGet(t, s, "wholeFloat", 3.0)
	wantGet(t, s, "wholeFloat", 3)
	wantGet(t, s, "bigFloat", 1e300)
	wantTypeError[int64](t, s, "bigFloat")
	wantTypeError[uint64](t, s, "bigFloat")
	wantTypeError[string](t, s, "float64")

	// Strings.
	wantGet(t, s, "string", "héllo, wörld")
	wantGet(t, s, "empty", "")
	wantTypeError[int](t, s, "string")
	wantTypeError[bool](t, s, "string")
	wantTypeError[time.Time](t, s, "string")
	wantTypeError[[]byte](t, s, "string") // not base64
	wantTypeError[[]string](t, s, "string")
	wantTypeError[map[string]any](t, s, "string")

	// []byte
	wantGet(t, s, "bytes", []byte{0, 1, 2, 0xfe, 0xff})
	wantTypeError[int](t, s, "bytes")
	wantTypeError[[]string](t, s, "bytes")

	// time.Time
	wantGet(t, s, "time", convTime)
	wantTypeError[int64](t, s, "time")
	wantTypeError[[]byte](t, s, "time")

	// Slices.
	wantGet(t, s, "strings", []string{"x", "", "z"})
	wantGet(t, s, "strings", []any{"x", "", "z"})
	wantTypeError[[]int](t, s, "strings")
	wantTypeError[string](t, s, "strings")
	wantTypeError[map[string]any](t, s, "strings")
	wantGet(t, s, "int64s", []int64{1, -2, math.MaxInt64})
	wantTypeError[[]int32](t, s, "int64s") // MaxInt64 overflows
	wantTypeError[[]string](t, s, "int64s")
	wantGet(t, s, "ints", []int{3, 4})
	wantGet(t, s, "ints", []uint8{3, 4})
	wantGet(t, s, "ints", []float64{3, 4})
	wantGet(t, s, "floats", []float64{0.5, -1.25})
	wantTypeError[[]int](t, s, "floats")
	wantGet(t, s, "bools", []bool{true, false})
	wantGet(t, s, "times", []time.Time{convTime, convTime2})
	wantGet(t, s, "byteSlices", [][]byte{{1}, {2, 3}})
	anys, err := Get[[]any](s, "anys")
	if err != nil || len(anys) != 4 || anys[0] != "a" || anys[2] != true || anys[3] != nil {
		t.Errorf("Get[[]any](anys) = %#v, %v", anys, err)
	} else if n, err := convert[int](anys[1]); err != nil || n != 1 {
		t.Errorf("anys[1] = %#v (%v), want 1", anys[1], err)
	}
	wantTypeError[[]string](t, s, "anys")

	// Maps.
	mp, err := Get[map[string]any](s, "map")
	if err != nil || len(mp) != 5 || mp["s"] != "x" {
		t.Errorf("Get[map[string]any](map) = %#v, %v", mp, err)
	} else {
		if n, err := convert[int](mp["n"]); err != nil || n != 7 {
			t.Errorf("map[n] = %#v (%v), want 7", mp["n"], err)
		}
		if tm, err := convert[time.Time](mp["t"]); err != nil || !tm.Equal(convTime) {
			t.Errorf("map[t] = %#v (%v), want %v", mp["t"], err, convTime)
		}
		if nested, err := convert[map[string]bool](mp["nested"]); err != nil || !nested["b"] {
			t.Errorf("map[nested] = %#v (%v)", mp["nested"], err)
		}
		if l, err := convert[[]string](mp["l"]); err != nil || !reflect.DeepEqual(l, []string{"y"}) {
			t.Errorf("map[l] = %#v (%v)", mp["l"], err)
		}
	}
	wantGet(t, s, "intMap", map[string]int{"a": 1, "b": -2})
	wantGet(t, s, "intMap", map[string]int64{"a": 1, "b": -2})
	wantTypeError[map[string]uint](t, s, "intMap") // -2
	wantTypeError[map[string]string](t, s, "intMap")
	wantTypeError[map[int]int](t, s, "intMap")
	wantTypeError[[]any](t, s, "intMap")
	ms, err := Get[[]map[string]any](s, "mapSlice")
	if err != nil || len(ms) != 1 || ms[0]["k"] != "v" {
		t.Errorf("Get[[]map[string]any](mapSlice) = %#v, %v", ms, err)
	}
	wantGet(t, s, "mapSlice", []map[string]string{{"k": "v"}})

	// A missing key.
	for _, key := range []string{"missing", ""} {
		_, err := Get[int](s, key)
		if !errors.Is(err, ErrNoValue) || errors.Is(err, ErrType) {
			t.Errorf("Get[int](%q): err = %v, want ErrNoValue", key, err)
		}
		if _, err := Get[any](s, key); !errors.Is(err, ErrNoValue) {
			t.Errorf("Get[any](%q): err = %v, want ErrNoValue", key, err)
		}
	}
}

// TestConvertTimeText checks that a string holding an RFC 3339 time (what
// JSON makes of a time.Time) is returned both as a string and as a time.
func TestConvertTimeText(t *testing.T) {
	m, _ := mwManager(t, Config{})
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.Set("timeText", convValues["timeText"])
		wantGet(t, s, "timeText", "2024-01-02T03:04:05Z")
		wantGet(t, s, "timeText", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
		s.Set("notTime", "2024-13-45")
		wantTypeError[time.Time](t, s, "notTime")
	}, "")
}

// TestConvertNeverPanics asks for every value as every type: each answer
// is a value or an ErrType, never a panic.
func TestConvertNeverPanics(t *testing.T) {
	getters := []func(*Session, string) (any, error){
		anyGet[any], anyGet[bool], anyGet[int], anyGet[int8], anyGet[int64], anyGet[uint], anyGet[uint8], anyGet[uint64],
		anyGet[uintptr], anyGet[float32], anyGet[float64], anyGet[complex128], anyGet[string], anyGet[[]byte], anyGet[time.Time],
		anyGet[time.Duration], anyGet[time.Month], anyGet[[]any], anyGet[[]string], anyGet[[]int], anyGet[[][]byte],
		anyGet[[]time.Time], anyGet[map[string]any], anyGet[map[string]string], anyGet[map[string][]int], anyGet[[]map[string]any],
		anyGet[[2]int], anyGet[*int], anyGet[struct{ A int }], anyGet[chan int], anyGet[func()], anyGet[error],
		anyGet[json.Number], anyGet[json.Marshaler], anyGet[interface{ Error() string }], anyGet[map[bool]any],
	}
	values := map[string]any{
		"nan":    math.NaN(),
		"inf":    math.Inf(1),
		"ninf":   math.Inf(-1),
		"num":    json.Number("12"),
		"badnum": json.Number("1e400"),
		"nilmap": map[string]any(nil),
		"deep":   deepValue(40),
	}
	for k, v := range convValues {
		values[k] = v
	}
	m, _ := mwManager(t, Config{})
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.Update(values)
		for key := range values {
			for _, get := range getters {
				if _, err := get(s, key); err != nil && !errors.Is(err, ErrType) {
					t.Errorf("key %q: err = %v, want nil or ErrType", key, err)
				}
			}
		}
	}, "")
}

func anyGet[T any](s *Session, key string) (any, error) { return Get[T](s, key) }

func deepValue(n int) any {
	var v any = "leaf"
	for range n {
		v = []any{v}
	}
	return v
}

func TestConvertEdgeCases(t *testing.T) {
	m, _ := mwManager(t, Config{})
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.Update(map[string]any{
			"nan":     math.NaN(),
			"inf":     math.Inf(1),
			"num":     json.Number("12"),
			"neg":     json.Number("-3"),
			"frac":    json.Number("2.5"),
			"deep":    deepValue(40),
			"shallow": deepValue(3),
		})
		wantTypeError[int](t, s, "nan")
		wantTypeError[uint64](t, s, "nan")
		wantTypeError[int64](t, s, "inf")
		wantTypeError[uint](t, s, "inf")
		// A json.Number is a named string: it is stored, and read back,
		// as its text.
		wantGet(t, s, "num", "12")
		wantGet(t, s, "num", json.Number("12"))
		wantTypeError[int](t, s, "num")
		wantGet(t, s, "neg", "-3")
		wantTypeError[float64](t, s, "frac")
		wantTypeError[[][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][][]string](t, s, "deep")
		wantGet(t, s, "shallow", [][][]string{{{"leaf"}}})
		// A named type is converted from its underlying kind.
		s.Set("age", int64(90))
		wantGet(t, s, "age", time.Duration(90))
		wantGet(t, s, "age", time.Month(90))
	}, "")
}

// TestGetLoadError checks that Get reports the session's load error rather
// than a missing key.
func TestGetLoadError(t *testing.T) {
	store := &mwFailStore{Store: memory.New()}
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: store, ErrorHandler: func(http.ResponseWriter, *http.Request, error) {}})
	value := mwSave(t, m, map[string]any{"n": 1})
	store.failLoad.Store(true)
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		_, err := Get[int](s, "n")
		if !errors.Is(err, ErrStore) || !errors.Is(err, errMwStore) || errors.Is(err, ErrNoValue) || errors.Is(err, ErrType) {
			t.Errorf("Get with a failing store: err = %v, want ErrStore", err)
		}
	}, value)
}
