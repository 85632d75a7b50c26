package value

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestErrorPath(t *testing.T) {
	e := &Error{Type: "chan int"}
	e.field("Price").index(3).field("Items")
	if got, want := e.Error(), "field Items[3].Price: cannot encode chan int"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e = (&Error{Type: "func()", Err: ErrCycle}).key("color").index(0)
	if got, want := e.Error(), `element [0]["color"]: cannot encode func(): the value contains itself`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(e, ErrCycle) {
		t.Error("Error does not unwrap to its Err")
	}
}

// Canonical says true only for what a serializer's Decode returns as it
// is; Normalize then returns the value itself.
func TestCanonical(t *testing.T) {
	local := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		v                  any
		msgpack, json, gob bool
	}{
		{nil, true, true, true},
		{"s", true, true, true},
		{int64(1), true, true, true},
		{1, false, false, true},
		{uint64(1), false, false, true},
		{uint64(math.MaxUint64), true, true, true},
		{float32(1), true, false, true},
		{1.5, true, true, true},
		{[]byte("x"), true, false, true},
		{[]byte{}, true, false, false},
		{[]byte(nil), false, false, true},
		{local, false, false, true},
		{local.UTC(), true, false, true},
		{time.Now(), false, false, true}, // Local, with a monotonic reading
		{time.Second, false, false, false},
		{[]any{}, false, false, false}, // containers: Normalize tells
	} {
		for p, want := range map[Profile]bool{MsgPack: tc.msgpack, JSON: tc.json, Gob: tc.gob} {
			if got := Canonical(p, tc.v); got != want {
				t.Errorf("Canonical(%d, %#v) = %v, want %v", p, tc.v, got, want)
			}
			if want {
				n, changed, err := Normalize(p, tc.v)
				if err != nil || changed || !reflect.DeepEqual(n, tc.v) {
					t.Errorf("Normalize(%d, %#v) = %#v, %v; want it unchanged", p, tc.v, n, err)
				}
			}
		}
	}
}

type fieldsCase struct {
	Z  int `json:"z"`
	A  int
	M  int `msgpack:"m" json:"j"`
	no int `json:"-"`
}

func TestFieldsSortedAndCached(t *testing.T) {
	st := Fields(reflect.TypeFor[fieldsCase]())
	var names []string
	for _, f := range st.Fields {
		names = append(names, f.Name)
	}
	if !reflect.DeepEqual(names, []string{"A", "m", "z"}) || st.Err != nil {
		t.Errorf("fields %v, %v; want [A m z] and no error", names, st.Err)
	}
	if Fields(reflect.TypeFor[fieldsCase]()) != st {
		t.Error("the field table is computed again")
	}
	_ = fieldsCase{}.no
}
