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

	"github.com/sessionkit/session/internal/value"
)

var (
	when   = time.Date(2026, 11, 22, 10, 30, 0, 123456789, time.FixedZone("CET", 3600))
	raw    = []byte{0, 1, 2, 0xfe, 0xff}
	nested = map[string]any{"theme": "dark", "n": 3}
)

// Types of the contract's struct rows.
type (
	role     string
	cartItem struct {
		SKU   string  `json:"sku"`
		Name  string  `json:"name"`
		Qty   int     `json:"qty"`
		Price float64 `json:"price"`
	}
	order struct {
		ID     int64      `msgpack:"id" json:"order_id"` // msgpack wins
		Items  []cartItem `json:"items"`
		Note   string     `json:"note,omitempty"`
		Placed time.Time  `json:"placed,omitzero"`
		Coupon *string    `json:"coupon"`
		Skip   string     `json:"-"`
		Dash   string     `json:"-,"` // named "-"
		Plain  bool       // no tag: its Go name
		Tags   map[string]int
		Any    any `json:"any"`
	}
)

var (
	item   = cartItem{"SKU-1", "Mug", 2, 12.5}
	itemJS = map[string]any{"sku": "SKU-1", "name": "Mug", "qty": int64(2), "price": 12.5}
	itemGb = map[string]any{"sku": "SKU-1", "name": "Mug", "qty": 2, "price": 12.5}
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
	{"float32 0.1", float32(0.1), float32(0.1), 0.1, float32(0.1)},
	{"float64", 19.99, 19.99, 19.99, 19.99},
	{"float64 whole", 2.0, 2.0, 2.0, 2.0},
	{"float64 large", 1e300, 1e300, 1e300, 1e300},
	{"string", "héllo:world", "héllo:world", "héllo:world", "héllo:world"},
	{"bytes", raw, raw, "AAEC/v8=", raw},
	{"empty bytes", []byte{}, []byte{}, "", []byte(nil)},
	{"nil bytes", []byte(nil), nil, nil, []byte(nil)},
	{"time", when, when.UTC(), "2026-11-22T10:30:00.123456789+01:00", when},
	{"[]string", []string{"admin", "beta"}, []any{"admin", "beta"}, []any{"admin", "beta"}, []string{"admin", "beta"}},
	{"nil []string", []string(nil), nil, nil, []string(nil)},
	{"[]int", []int{1, 2}, []any{int64(1), int64(2)}, []any{int64(1), int64(2)}, []int{1, 2}},
	{"[]int64", []int64{1 << 60}, []any{int64(1 << 60)}, []any{int64(1 << 60)}, []int64{1 << 60}},
	{"[]float64", []float64{0.5}, []any{0.5}, []any{0.5}, []float64{0.5}},
	{"[]bool", []bool{true}, []any{true}, []any{true}, []bool{true}},
	{"[]time.Time", []time.Time{when}, []any{when.UTC()}, []any{"2026-11-22T10:30:00.123456789+01:00"}, []time.Time{when.In(time.FixedZone("", 3600))}},
	{"[][]byte", [][]byte{raw}, []any{raw}, []any{"AAEC/v8="}, [][]byte{raw}},
	{"[]any", []any{"a", 1, nil}, []any{"a", int64(1), nil}, []any{"a", int64(1), nil}, []any{"a", 1, nil}},
	{"empty []any", []any{}, []any{}, []any{}, []any(nil)},
	{"empty []string", []string{}, []any{}, []any{}, []string(nil)},
	{"empty map", map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}},
	{"empty []struct", []cartItem{}, []any{}, []any{}, []any(nil)},
	{"map", nested, map[string]any{"theme": "dark", "n": int64(3)}, map[string]any{"theme": "dark", "n": int64(3)}, nested},
	{"[]map", []map[string]any{nested}, []any{map[string]any{"theme": "dark", "n": int64(3)}}, []any{map[string]any{"theme": "dark", "n": int64(3)}}, []map[string]any{nested}},
	{"time.Duration", 90 * time.Second, int64(90e9), int64(90e9), int64(90e9)},
	{"named string", role("admin"), "admin", "admin", "admin"},
	{"[]named", []role{"admin"}, []any{"admin"}, []any{"admin"}, []any{"admin"}},
	{"[3]int", [3]int{1, 2, 3}, []any{int64(1), int64(2), int64(3)}, []any{int64(1), int64(2), int64(3)}, []any{1, 2, 3}},
	{"[4]byte", [4]byte{0, 1, 2, 0xff}, []byte{0, 1, 2, 0xff}, "AAEC/w==", []byte{0, 1, 2, 0xff}},
	{"map[string]int", map[string]int{"a": 1}, map[string]any{"a": int64(1)}, map[string]any{"a": int64(1)}, map[string]any{"a": 1}},
	{"map[role]string", map[role]string{"admin": "x"}, map[string]any{"admin": "x"}, map[string]any{"admin": "x"}, map[string]any{"admin": "x"}},
	{"nil map", map[string]int(nil), nil, nil, nil},
	{"struct", item, itemJS, itemJS, itemGb},
	{"*struct", &item, itemJS, itemJS, itemGb},
	{"nil *struct", (*cartItem)(nil), nil, nil, nil},
	{"*int", new(int), int64(0), int64(0), 0},
	{"[]struct", []cartItem{item, item}, []any{itemJS, itemJS}, []any{itemJS, itemJS}, []any{itemGb, itemGb}},
	{"struct with tags", order{ID: 7, Items: []cartItem{item}, Skip: "x", Dash: "d", Tags: map[string]int{"t": 1}, Any: []string{"a"}},
		map[string]any{"id": int64(7), "items": []any{itemJS}, "coupon": nil, "-": "d", "Plain": false, "Tags": map[string]any{"t": int64(1)}, "any": []any{"a"}},
		map[string]any{"id": int64(7), "items": []any{itemJS}, "coupon": nil, "-": "d", "Plain": false, "Tags": map[string]any{"t": int64(1)}, "any": []any{"a"}},
		map[string]any{"id": int64(7), "items": []any{itemGb}, "coupon": nil, "-": "d", "Plain": false, "Tags": map[string]any{"t": 1}, "any": []string{"a"}}},
	{"struct omitted fields present", order{Note: "n", Placed: when},
		map[string]any{"id": int64(0), "items": nil, "note": "n", "placed": when.UTC(), "coupon": nil, "-": "", "Plain": false, "Tags": nil, "any": nil},
		map[string]any{"id": int64(0), "items": nil, "note": "n", "placed": "2026-11-22T10:30:00.123456789+01:00", "coupon": nil, "-": "", "Plain": false, "Tags": nil, "any": nil},
		map[string]any{"id": int64(0), "items": nil, "note": "n", "placed": when, "coupon": nil, "-": "", "Plain": false, "Tags": nil, "any": nil}},
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
				if err := sameValue(got, want, s == Gob); err != "" {
					t.Fatalf("got %#v (%T), want %#v (%T): %s", got, got, want, want, err)
				}
			})
		}
	}
}

// sameValue compares a decoded value with the contract's: deeply, with
// times by instant and offset (and by location name too, except for gob,
// which keeps the offset only). It returns what differs, or "".
func sameValue(got, want any, gobTimes bool) string {
	switch w := want.(type) {
	case time.Time:
		g, ok := got.(time.Time)
		if !ok || !g.Equal(w) {
			return "time differs"
		}
		_, wo := w.Zone()
		if _, goff := g.Zone(); goff != wo {
			return fmt.Sprintf("offset %d, want %d", goff, wo)
		}
		if !gobTimes && g.Location().String() != w.Location().String() {
			return fmt.Sprintf("location %s, want %s", g.Location(), w.Location())
		}
		return ""
	case []time.Time:
		g, ok := got.([]time.Time)
		if !ok || len(g) != len(w) {
			return "not the same []time.Time"
		}
		for i := range w {
			if d := sameValue(g[i], w[i], gobTimes); d != "" {
				return fmt.Sprintf("[%d]: %s", i, d)
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) || (g == nil) != (w == nil) {
			return fmt.Sprintf("%T of %d, want []any of %d", got, len(g), len(w))
		}
		for i := range w {
			if d := sameValue(g[i], w[i], gobTimes); d != "" {
				return fmt.Sprintf("[%d]: %s", i, d)
			}
		}
		return ""
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) || (g == nil) != (w == nil) {
			return fmt.Sprintf("%T %v, want map[string]any %v", got, got, w)
		}
		for k := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("key %q missing", k)
			}
			if d := sameValue(gv, w[k], gobTimes); d != "" {
				return fmt.Sprintf("[%q]: %s", k, d)
			}
		}
		return ""
	}
	if !reflect.DeepEqual(got, want) {
		return "differs"
	}
	return ""
}

type point struct{ X, Y int }

func TestUnsupportedNamesKey(t *testing.T) {
	bad := []any{make(chan int), func() {}, map[int]string{1: "a"}, []any{complex(1, 2)}, map[string]any{"deep": complex(1, 2)}, uintptr(1), &struct{ c chan int }{}}
	for _, s := range []Serializer{MsgPack, JSON, Gob} {
		for _, v := range bad {
			_, err := s.Append(nil, map[string]any{"ok": 1, "the_key": v})
			var ue *UnsupportedError
			if !errors.As(err, &ue) || ue.Key != "the_key" || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `key "the_key"`) {
				t.Errorf("%s: %T: err = %v, want UnsupportedError naming the_key", s.Name(), v, err)
			}
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1), float32(math.Inf(-1)), "bad \xff utf-8", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, err := JSON.Append(nil, map[string]any{"ok": 1, "bad": v})
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Key != "bad" || ue.Err == nil {
			t.Errorf("json %#v: err = %v, want one naming the key and why", v, err)
		}
	}
	if _, err := JSON.Append(nil, map[string]any{"bad \xff key": 1}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("json: a key that is not UTF-8: err = %v", err)
	}
	// MessagePack has NaN, and strings of any bytes.
	for _, v := range []any{math.NaN(), "bad \xff utf-8"} {
		if _, err := MsgPack.Append(nil, map[string]any{"v": v}); err != nil {
			t.Errorf("msgpack %#v: %v", v, err)
		}
	}
}

// The depth limit holds on encode, and whatever encodes decodes.
func TestDepthLimit(t *testing.T) {
	nest := func(n int, leaf any) any {
		v := leaf
		for range n {
			v = []any{v}
		}
		return v
	}
	for _, s := range []Serializer{MsgPack, JSON, Gob} {
		for _, leaf := range []any{"leaf", point{1, 2}} {
			b, err := s.Append(nil, map[string]any{"deep": nest(value.MaxDepth-1, leaf)})
			if err != nil {
				t.Errorf("%s: %d levels: %v", s.Name(), value.MaxDepth, err)
				continue
			}
			if _, err := s.Decode(b); err != nil {
				t.Errorf("%s: %d levels encode but do not decode: %v", s.Name(), value.MaxDepth, err)
			}
			if s == Gob {
				continue // gob decodes deeper values; the encoder refuses them
			}
			if _, err := s.Append(nil, map[string]any{"deep": nest(value.MaxDepth+1, leaf)}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "deeper") {
				t.Errorf("%s: %d levels: err = %v, want ErrUnsupported", s.Name(), value.MaxDepth+1, err)
			}
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
