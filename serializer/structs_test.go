package serializer

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/value"
)

var profiles = map[Serializer]value.Profile{MsgPack: value.MsgPack, JSON: value.JSON, Gob: value.Gob}

// extraValues are values beyond the contract's rows: mixes of containers
// and structs, for the properties below.
var extraValues = []any{
	map[string]any{"items": []cartItem{item}, "n": 3, "when": when, "tags": []role{"a"}, "m": map[string]uint8{"x": 1}},
	[]any{&item, nil, []int8{1}, map[string]*cartItem{"nil": nil, "one": &item}},
	struct {
		A [2]cartItem
		B *[]int
		C map[string][]time.Duration
	}{A: [2]cartItem{item, {}}, B: &[]int{1}, C: map[string][]time.Duration{"d": {time.Second}}},
	[]map[string]any{{"k": []string{}}, {}},
}

// Normalize gives, in the request that sets a value, what Decode gives
// after Append in later requests, for every serializer.
func TestNormalizeIsDecode(t *testing.T) {
	values := extraValues
	for _, c := range contract {
		values = append(values, c.in)
	}
	for s, p := range profiles {
		for i, v := range values {
			b, err := s.Append(nil, map[string]any{"v": v})
			if err != nil {
				t.Fatalf("%s: value %d (%T): Append: %v", s.Name(), i, v, err)
			}
			m, err := s.Decode(b)
			if err != nil {
				t.Fatalf("%s: value %d (%T): Decode: %v", s.Name(), i, v, err)
			}
			n, _, verr := value.Normalize(p, v)
			if verr != nil {
				t.Fatalf("%s: value %d (%T): Normalize: %v", s.Name(), i, v, verr)
			}
			if d := sameValue(n, m["v"], s == Gob); d != "" {
				t.Errorf("%s: value %d (%T): Normalize gives %#v, Decode %#v: %s", s.Name(), i, v, n, m["v"], d)
			}
			// What Decode gives is canonical already: Normalize keeps it.
			again, _, verr := value.Normalize(p, m["v"])
			if verr != nil || sameValue(again, m["v"], s == Gob) != "" {
				t.Errorf("%s: value %d (%T): Normalize of the decoded value changes it: %#v, %v", s.Name(), i, v, again, verr)
			}
			// And the canonical form encodes to the same bytes.
			if s != Gob {
				b2, err := s.Append(nil, map[string]any{"v": n})
				if err != nil || !bytes.Equal(b, b2) {
					t.Errorf("%s: value %d (%T): the canonical form encodes differently:\n %q\n %q (%v)", s.Name(), i, v, b, b2, err)
				}
			}
		}
	}
}

// A decoded map comes back from Normalize as it is, not copied.
func TestNormalizeKeepsCanonical(t *testing.T) {
	for s, p := range profiles {
		b, _ := s.Append(nil, map[string]any{"v": map[string]any{"a": "b", "l": []any{"x"}}})
		m, _ := s.Decode(b)
		n, _, err := value.Normalize(p, m["v"])
		if err != nil {
			t.Fatal(err)
		}
		if reflect.ValueOf(n).Pointer() != reflect.ValueOf(m["v"]).Pointer() {
			t.Errorf("%s: Normalize copied a canonical map", s.Name())
		}
	}
}

type (
	base struct {
		ID   int    `json:"id"`
		Kind string `json:"kind"`
	}
	Audit struct {
		By string `json:"by"`
	}
	hidden       struct{ X int }
	withEmbedded struct {
		base          // promoted
		*Audit        // promoted through a pointer; absent when nil
		Kind   string `json:"kind"` // shallower: wins over base.Kind
		Named  base   `json:"named"`
	}
	tagged struct {
		A      string `json:"a" msgpack:"alpha"`
		B      string `msgpack:"beta"`
		C      string `json:",omitempty"`
		D      int    `json:"d,omitempty"`
		E      []int  `json:"e,omitempty"`
		F      *int   `json:"f,omitempty"`
		G      time.Time
		H      time.Time `json:"h,omitzero"`
		I      zeroer    `json:"i,omitzero"`
		J      struct{}  `json:"j,omitempty"` // a struct is never empty
		secret string    `json:"-"`
	}
	zeroer   struct{ N int }
	conflict struct {
		A string `msgpack:"x"`
		B string `msgpack:"x"`
	}
	conflictEmbedded struct {
		base
		Audit2
	}
	Audit2 struct {
		Kind string `msgpack:"kind"`
	}
	withUnexported struct {
		Name   string
		secret string
	}
	withHiddenPointer struct{ *hidden }
	node              struct {
		Name string
		Next *node
	}
)

func (z zeroer) IsZero() bool { return z.N <= 0 }

// roundTrip encodes v with s and returns what comes back.
func roundTrip(t *testing.T, s Serializer, v any) any {
	t.Helper()
	b, err := s.Append(nil, map[string]any{"v": v})
	if err != nil {
		t.Fatalf("%s: Append(%#v): %v", s.Name(), v, err)
	}
	m, err := s.Decode(b)
	if err != nil {
		t.Fatalf("%s: Decode: %v", s.Name(), err)
	}
	return m["v"]
}

func TestStructFieldNames(t *testing.T) {
	v := withEmbedded{base: base{ID: 1, Kind: "inner"}, Kind: "outer", Named: base{ID: 2, Kind: "n"}}
	for _, s := range []Serializer{MsgPack, JSON} {
		got := roundTrip(t, s, v)
		want := map[string]any{"id": int64(1), "kind": "outer", "named": map[string]any{"id": int64(2), "kind": "n"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: embedded: got %#v, want %#v", s.Name(), got, want)
		}
		v.Audit = &Audit{By: "ops"}
		want["by"] = "ops"
		if got := roundTrip(t, s, v); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: embedded pointer: got %#v, want %#v", s.Name(), got, want)
		}
		v.Audit = nil

		one := 1
		got = roundTrip(t, s, tagged{A: "a", B: "b", F: &one, I: zeroer{1}})
		want = map[string]any{"alpha": "a", "beta": "b", "f": int64(1), "G": time.Time{}, "i": map[string]any{"N": int64(1)}, "j": map[string]any{}}
		if s == JSON {
			want["G"] = "0001-01-01T00:00:00Z"
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: tags: got %#v, want %#v", s.Name(), got, want)
		}
		got = roundTrip(t, s, tagged{C: "c", D: 4, E: []int{5}, H: when, I: zeroer{0}})
		for _, k := range []string{"C", "d", "e", "h"} {
			if _, ok := got.(map[string]any)[k]; !ok {
				t.Errorf("%s: a field that is not empty was left out: %q missing from %v", s.Name(), k, got)
			}
		}
		if _, ok := got.(map[string]any)["i"]; ok {
			t.Errorf("%s: omitzero kept a field whose IsZero says it is zero: %v", s.Name(), got)
		}
	}
}

func TestStructErrors(t *testing.T) {
	type item struct{ Price any }
	type cart struct{ Items []item }
	items := make([]item, 4)
	items[3].Price = make(chan int)
	loop := &node{Name: "a"}
	loop.Next = &node{Name: "b", Next: loop}
	self := map[string]any{}
	self["self"] = self
	list := []any{nil}
	list[0] = list
	for _, tc := range []struct {
		v    any
		want string
	}{
		{cart{Items: items}, `key "v": field Items[3].Price: cannot encode chan int`},
		{map[string]any{"color": func() {}}, `key "v": element ["color"]: cannot encode func()`},
		{[]any{1, 2, complex(1, 2)}, `key "v": element [2]: cannot encode complex128`},
		{withUnexported{Name: "x"}, "key \"v\": field secret: cannot encode string: unexported field: export it, or tag it `json:\"-\"` to leave it out"},
		{withHiddenPointer{}, `key "v": field hidden: cannot encode *serializer.hidden: unexported field`},
		{[]withUnexported{{}}, `key "v": element [0].secret: cannot encode string: unexported field`},
		{conflict{}, `key "v": field A: cannot encode serializer.conflict: fields A and B are both stored as "x"`},
		{conflictEmbedded{}, `fields base.Kind and Audit2.Kind are both stored as "kind"`},
		{loop, `key "v": field Next.Next: cannot encode *serializer.node: the value contains itself`},
		{self, `key "v": element ["self"]: cannot encode map[string]interface {}: the value contains itself`},
		{list, `key "v": element [0]: cannot encode []interface {}: the value contains itself`},
		{map[int]string{1: "a"}, `key "v": cannot encode map[int]string: map keys must be strings`},
		{struct{ M map[int]string }{}, `key "v": field M: cannot encode map[int]string: map keys must be strings`},
	} {
		for _, s := range []Serializer{MsgPack, JSON, Gob} {
			_, err := s.Append(nil, map[string]any{"ok": 1, "v": tc.v})
			var ue *UnsupportedError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupported) || ue.Key != "v" || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %T: err = %v, want one containing %s", s.Name(), tc.v, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "serializer "+s.Name()+": ") {
				t.Errorf("%s: error %q does not name the serializer", s.Name(), err)
			}
		}
	}
	// A cycle's error wraps value.ErrCycle, an unexported field's
	// value.ErrUnexported.
	if _, err := MsgPack.Append(nil, map[string]any{"v": loop}); !errors.Is(err, value.ErrCycle) {
		t.Errorf("cycle: %v does not wrap ErrCycle", err)
	}
	if _, err := JSON.Append(nil, map[string]any{"v": withUnexported{}}); !errors.Is(err, value.ErrUnexported) {
		t.Errorf("unexported: %v does not wrap ErrUnexported", err)
	}
	// A shared pointer that is not a cycle is fine.
	shared := &item{Price: 1}
	if _, err := MsgPack.Append(nil, map[string]any{"v": []*item{shared, shared}}); err != nil {
		t.Errorf("a pointer shared by two elements: %v", err)
	}
}

// A tag "-" leaves an unexported field out without an error.
func TestUnexportedTaggedDash(t *testing.T) {
	for _, s := range []Serializer{MsgPack, JSON, Gob} {
		got := roundTrip(t, s, tagged{A: "a", secret: "s"})
		if _, ok := got.(map[string]any)["secret"]; ok {
			t.Errorf("%s: the field tagged - was stored", s.Name())
		}
	}
}

// The JSON serializer writes what encoding/json writes (without HTML
// escaping), except that a float always reads back as a float.
func TestJSONText(t *testing.T) {
	strs := []string{"", "plain", `quo"te`, `back\slash`, "\b\f\n\r\t\x00\x1f", "<a href='x'>&amp;</a>", "line\u2028sep\u2029", "héllo 😀", "\x7f"}
	for _, str := range strs {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(map[string]any{"s": str})
		got, err := JSON.Append(nil, map[string]any{"s": str})
		if err != nil || string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("%q: got %s, want %s (%v)", str, got, want.String(), err)
		}
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{2.0, "2.0"}, {-0.0, "0.0"}, {1.5, "1.5"}, {1e21, "1e+21"}, {1e20, "100000000000000000000.0"}, {1e-7, "1e-7"},
		{float32(0.1), "0.1"}, {float32(16777216), "16777216.0"}, {int64(2), "2"}, {uint64(math.MaxUint64), "18446744073709551615"},
	} {
		got, err := JSON.Append(nil, map[string]any{"v": tc.v})
		if want := `{"v":` + tc.want + `}`; err != nil || string(got) != want {
			t.Errorf("%T %v: got %s, want %s (%v)", tc.v, tc.v, got, want, err)
		}
	}
	got, _ := JSON.Append(nil, map[string]any{"b": 1, "a": map[string]any{"z": 1, "y": []any{}}, "c": nil})
	if want := `{"a":{"y":[],"z":1},"b":1,"c":null}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Struct values encode without reflection's usual allocations: a slice of
// structs costs the same as a slice of maps, or less.
func TestStructEncodeAllocs(t *testing.T) {
	items := make([]cartItem, 20)
	for i := range items {
		items[i] = item
	}
	buf := make([]byte, 0, 4096)
	for _, s := range []Serializer{MsgPack, JSON} {
		values := map[string]any{"cart": items, "user_id": int64(1)}
		n := testing.AllocsPerRun(50, func() {
			if _, err := s.Append(buf[:0], values); err != nil {
				t.Fatal(err)
			}
		})
		if n > 2 {
			t.Errorf("%s: %v allocations to encode a 20-item []struct, want at most 2", s.Name(), n)
		}
	}
}

// BenchmarkAppendCart is a 20-item cart encoded as a []struct and as the
// []map[string]any it reads back as, for each serializer.
func BenchmarkAppendCart(b *testing.B) {
	items := make([]cartItem, 20)
	maps := make([]map[string]any, 20)
	for i := range items {
		items[i] = item
		maps[i] = itemJS
	}
	buf := make([]byte, 0, 8192)
	for _, s := range []Serializer{MsgPack, JSON, Gob} {
		for name, v := range map[string]any{"structs": items, "maps": maps} {
			b.Run(s.Name()+"/"+name, func(b *testing.B) {
				values := map[string]any{"cart": v}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Append(buf[:0], values); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
