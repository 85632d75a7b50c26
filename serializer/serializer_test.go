package serializer

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

var (
	when   = time.Date(2026, 11, 22, 10, 30, 0, 123456789, time.FixedZone("CET", 3600))
	raw    = []byte{0, 1, 2, 0xfe, 0xff}
	nested = map[string]any{"theme": "dark", "n": 3}
)

// contract pins what every value of the value contract comes back as, for
// each serializer. The columns are msgpack, json, gob.
var contract = []struct {
	name              string
	in                any
	msgpack, js, gobv any
}{
	{"nil", nil, nil, nil, nil},
	{"bool", true, true, true, true},
	{"int", 42, int64(42), int64(42), 42},
	{"int8", int8(-8), int64(-8), int64(-8), int8(-8)},
	{"int16", int16(300), int64(300), int64(300), int16(300)},
	{"int32", int32(-70000), int64(-70000), int64(-70000), int32(-70000)},
	{"int64 2^53+1", int64(1<<53 + 1), int64(1<<53 + 1), int64(1<<53 + 1), int64(1<<53 + 1)},
	{"int64 min", int64(math.MinInt64), int64(math.MinInt64), int64(math.MinInt64), int64(math.MinInt64)},
	{"uint", uint(7), int64(7), int64(7), uint(7)},
	{"uint8", uint8(200), int64(200), int64(200), uint8(200)},
	{"uint16", uint16(65000), int64(65000), int64(65000), uint16(65000)},
	{"uint32", uint32(70000), int64(70000), int64(70000), uint32(70000)},
	{"uint64 max", uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64)},
	{"float32", float32(1.5), float32(1.5), float64(1.5), float32(1.5)},
	{"float64", 19.99, 19.99, 19.99, 19.99},
	{"float64 whole", 2.0, 2.0, int64(2), 2.0},
	{"string", "héllo:world", "héllo:world", "héllo:world", "héllo:world"},
	{"bytes", raw, raw, "AAEC/v8=", raw},
	{"time", when, when.UTC(), "2026-11-22T10:30:00.123456789+01:00", when},
	{"[]string", []string{"admin", "beta"}, []any{"admin", "beta"}, []any{"admin", "beta"}, []string{"admin", "beta"}},
	{"[]int", []int{1, 2}, []any{int64(1), int64(2)}, []any{int64(1), int64(2)}, []int{1, 2}},
	{"[]int64", []int64{1 << 60}, []any{int64(1 << 60)}, []any{int64(1 << 60)}, []int64{1 << 60}},
	{"[]float64", []float64{0.5}, []any{0.5}, []any{0.5}, []float64{0.5}},
	{"[]bool", []bool{true}, []any{true}, []any{true}, []bool{true}},
	{"[]time.Time", []time.Time{when}, []any{when.UTC()}, []any{"2026-11-22T10:30:00.123456789+01:00"}, []time.Time{when.In(time.FixedZone("", 3600))}},
	{"[][]byte", [][]byte{raw}, []any{raw}, []any{"AAEC/v8="}, [][]byte{raw}},
	{"[]any", []any{"a", 1, nil}, []any{"a", int64(1), nil}, []any{"a", int64(1), nil}, []any{"a", 1, nil}},
	{"map", nested, map[string]any{"theme": "dark", "n": int64(3)}, map[string]any{"theme": "dark", "n": int64(3)}, nested},
	{"[]map", []map[string]any{nested}, []any{map[string]any{"theme": "dark", "n": int64(3)}}, []any{map[string]any{"theme": "dark", "n": int64(3)}}, []map[string]any{nested}},
}

func TestValueContract(t *testing.T) {
	for _, s := range []Serializer{MsgPack, JSON, Gob} {
		for _, c := range contract {
			t.Run(s.Name()+"/"+c.name, func(t *testing.T) {
				b, err := s.Append(nil, map[string]any{"v": c.in})
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				m, err := s.Decode(b)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				want := map[Serializer]any{MsgPack: c.msgpack, JSON: c.js, Gob: c.gobv}[s]
				got, ok := m["v"]
				if !ok {
					t.Fatalf("key lost: %#v", m)
				}
				if wt, ok := want.(time.Time); ok {
					gt, ok := got.(time.Time)
					if !ok || !gt.Equal(wt) || gt.Location().String() != wt.Location().String() && s != Gob {
						t.Fatalf("got %#v (%T), want %v", got, got, want)
					}
					_, wo := wt.Zone()
					if _, goff := gt.Zone(); goff != wo {
						t.Fatalf("offset %d, want %d", goff, wo)
					}
					return
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("got %#v (%T), want %#v (%T)", got, got, want, want)
				}
			})
		}
	}
}

type point struct{ X, Y int }

func TestUnsupportedNamesKey(t *testing.T) {
	bad := []any{point{1, 2}, make(chan int), func() {}, map[int]string{1: "a"}, []any{struct{}{}}, map[string]any{"deep": complex(1, 2)}, &point{}}
	for _, s := range []Serializer{MsgPack, JSON} {
		for _, v := range bad {
			_, err := s.Append(nil, map[string]any{"ok": 1, "the_key": v})
			var ue *UnsupportedError
			if !errors.As(err, &ue) || ue.Key != "the_key" || !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s: %T: err = %v, want UnsupportedError naming the_key", s.Name(), v, err)
			}
		}
	}
	// Gob refuses unregistered types, naming the key.
	for _, v := range []any{point{1, 2}, make(chan int)} {
		_, err := Gob.Append(nil, map[string]any{"ok": 1, "the_key": v})
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Key != "the_key" {
			t.Errorf("gob: %T: err = %v, want UnsupportedError naming the_key", v, err)
		}
	}
	_, err := JSON.Append(nil, map[string]any{"nan": math.NaN()})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Key != "nan" {
		t.Errorf("json NaN: err = %v", err)
	}
}

func TestDepthLimit(t *testing.T) {
	v := any("leaf")
	for range maxDepth + 2 {
		v = []any{v}
	}
	for _, s := range []Serializer{MsgPack, JSON} {
		if _, err := s.Append(nil, map[string]any{"deep": v}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err = %v, want ErrUnsupported", s.Name(), err)
		}
	}
}

func TestDecodeGarbage(t *testing.T) {
	inputs := [][]byte{nil, {}, []byte("null"), []byte("[1,2]"), []byte("{\"a\":1} x"), {0x81}, {0x81, 0xa1, 'a'}, {0xdf, 0xff, 0xff, 0xff, 0xff}, {0x93, 1, 2, 3}, []byte("\x80\x00")}
	for _, s := range []Serializer{MsgPack, JSON, Gob} {
		for _, in := range inputs {
			if m, err := s.Decode(in); err == nil && len(m) != 0 {
				t.Errorf("%s: Decode(%q) = %v, nil; want an error", s.Name(), in, m)
			} else if err == nil && s != Gob {
				t.Errorf("%s: Decode(%q) returned no error", s.Name(), in)
			}
		}
	}
}

func TestRegistry(t *testing.T) {
	for _, s := range []Serializer{MsgPack, JSON, Gob} {
		if got, ok := ByID(s.ID()); !ok || got != s {
			t.Errorf("ByID(%d) = %v", s.ID(), got)
		}
		if got, err := ByName(strings.ToUpper(s.Name())); err != nil || got != s {
			t.Errorf("ByName(%q) = %v, %v", s.Name(), got, err)
		}
	}
	if _, ok := ByID(0); ok {
		t.Error("ByID(0) found a serializer")
	}
	if _, err := ByName("pickle"); err == nil || !strings.Contains(err.Error(), "msgpack, json, gob") {
		t.Errorf("ByName(pickle) error = %v", err)
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	for _, s := range []Serializer{MsgPack, JSON, Gob} {
		prefix := []byte("HDR")
		b, err := s.Append(prefix, map[string]any{"a": "b"})
		if err != nil || string(b[:3]) != "HDR" {
			t.Fatalf("%s: %q, %v", s.Name(), b, err)
		}
		if m, err := s.Decode(b[3:]); err != nil || m["a"] != "b" {
			t.Fatalf("%s: %v, %v", s.Name(), m, err)
		}
	}
}

// MessagePack output does not depend on map order: the same session always
// encodes to the same bytes.
func TestMsgPackDeterministic(t *testing.T) {
	values := map[string]any{"b": 1, "a": "x", "c": map[string]any{"z": 1, "y": 2, "x": []any{map[string]any{"q": 1, "p": 2}}}}
	for i := range 20 {
		values[string(rune('d'+i))] = i
	}
	first, err := MsgPack.Append(nil, values)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		again, _ := MsgPack.Append(nil, values)
		if string(again) != string(first) {
			t.Fatal("two encodings of one session differ")
		}
	}
}

// Decoding interns repeated map keys; keys beyond what it remembers, and
// maps whose keys differ, must still come back exactly.
func TestMsgPackKeysRoundTrip(t *testing.T) {
	var items []any
	for i := range 30 {
		item := map[string]any{"sku": int64(i), "name": "n", "": "empty key"}
		for j := range i % 20 {
			item[string(rune('a'+j))+"_key"] = int64(j)
		}
		items = append(items, item)
	}
	in := map[string]any{"cart": items, "": int64(1)}
	b, err := MsgPack.Append(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := MsgPack.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip changed the session:\n got %v\nwant %v", out, in)
	}
}

// TestMsgpackSharesCommonKeys checks that the map keys of decoded sessions
// are allocated once for the process, and that the table of shared keys is
// bounded.
func TestMsgpackSharesCommonKeys(t *testing.T) {
	b, err := MsgPack.Append(nil, map[string]any{"shared_key_1": true, "shared_key_2": false})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := MsgPack.Decode(b)
	second, _ := MsgPack.Decode(b)
	for k := range first {
		for k2 := range second {
			if k == k2 && unsafe.StringData(k) != unsafe.StringData(k2) {
				t.Errorf("key %q was allocated again by the second decode", k)
			}
		}
	}
	for i := range 2 * maxCommonKeys {
		b, _ := MsgPack.Append(nil, map[string]any{fmt.Sprintf("many-%d", i): 1})
		MsgPack.Decode(b)
	}
	if n := len(*commonKeys.Load()); n > maxCommonKeys {
		t.Errorf("%d shared keys, want at most %d", n, maxCommonKeys)
	}
}
