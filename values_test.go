package session

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/value"
	"github.com/sessionkit/session/serializer"
)

type (
	cartItem struct {
		SKU   string  `json:"sku"`
		Name  string  `json:"name"`
		Qty   int     `json:"qty"`
		Price float64 `json:"price"`
	}
	cart struct {
		Owner   string     `json:"owner"`
		Items   []cartItem `json:"items"`
		Coupon  *string    `json:"coupon,omitempty"`
		Updated time.Time  `json:"updated"`
		Labels  map[string]int
		Note    string `json:"-"`
	}
	base struct {
		ID int64 `json:"id"`
	}
	user struct {
		base
		*Profile
		Name  string        `msgpack:"name" json:"user_name"`
		Roles []role        `json:"roles"`
		Idle  time.Duration `json:"idle"`
		Key   [4]byte       `json:"key"`
		Raw   []byte        `json:"raw"`
	}
	// Profile is exported: an embedded pointer to an unexported
	// struct type cannot be set when the session is read back.
	Profile struct {
		Theme string `json:"theme"`
	}
	role string
)

var (
	setTime  = time.Date(2026, 11, 22, 10, 30, 0, 123456789, time.FixedZone("CET", 3600))
	coupon   = "SPRING"
	someCart = cart{
		Owner:   "ada",
		Items:   []cartItem{{"SKU-1", "Mug", 2, 12.5}, {"SKU-2", "Tee", 1, 19}},
		Coupon:  &coupon,
		Updated: setTime,
		Labels:  map[string]int{"gift": 1},
	}
	someUser = user{base: base{ID: 7}, Profile: &Profile{Theme: "dark"}, Name: "ada", Roles: []role{"admin"}, Idle: time.Minute, Key: [4]byte{1, 2, 3, 4}, Raw: []byte{0, 0xff}}
)

// setValues are values that some serializer reads back as another type.
var setValues = map[string]any{
	"int": 1000, "int8": int8(-8), "uint": uint(7), "uint64": uint64(1 << 63), "float32": float32(0.1),
	"float64 whole": 2.0, "bytes": []byte{1, 2}, "empty bytes": []byte{}, "time": setTime, "duration": time.Second,
	"role": role("admin"), "[]string": []string{"a", "b"}, "[]int": []int{1}, "[]any": []any{1, "x", setTime},
	"map": map[string]any{"n": 1, "t": setTime}, "map[string]int": map[string]int{"a": 1}, "struct": someCart,
	"*struct": &someCart, "[]struct": []cartItem{{"S", "N", 1, 1.5}}, "embedded": someUser, "nil *struct": (*cart)(nil),
	"[2]int": [2]int{1, 2},
}

// A value reads back with the same type and value in the request that
// sets it as in the requests after, with every serializer, through every
// reader (Get, Lookup, Values, Pop, SetDefault).
func TestSetReadsBackAsLater(t *testing.T) {
	for _, ser := range serializer.Names() {
		t.Run(ser, func(t *testing.T) {
			m, _ := mwManager(t, Config{Serializer: ser})
			now := map[string]any{}
			rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
				s := FromRequest(r)
				for k, v := range setValues {
					s.Set(k, v)
					now[k] = s.Get(k)
				}
				s.Set("values", 5)
				if v := s.Values()["values"]; reflect.TypeOf(v) != reflect.TypeOf(now["int"]) {
					t.Errorf("Values gives %T for an int, Get %T", v, now["int"])
				}
				s.Set("popped", 5)
				if v, _ := s.Pop("popped"); reflect.TypeOf(v) != reflect.TypeOf(now["int"]) {
					t.Errorf("Pop gives %T for an int, Get %T", v, now["int"])
				}
				if v := s.SetDefault("default", 5); reflect.TypeOf(v) != reflect.TypeOf(now["int"]) {
					t.Errorf("SetDefault gives %T for an int, Get %T", v, now["int"])
				}
				s.AddFlash(someCart)
				now["flash"] = s.Flashes()[0]
				s.AddFlash(someCart) // for the next request
			}, "")
			c, ok := mwCookie(m, rec.Result().Header)
			if !ok {
				t.Fatalf("no session cookie: %d %s", rec.Code, rec.Body)
			}
			mwDo(m, func(w http.ResponseWriter, r *http.Request) {
				s := FromRequest(r)
				for k := range setValues {
					later, _ := s.Lookup(k)
					if d := sameRead(now[k], later); d != "" {
						t.Errorf("%s: the request that set it reads %#v (%T), a later one %#v (%T): %s", k, now[k], now[k], later, later, d)
					}
				}
				if f := s.Flashes(); len(f) != 1 || sameRead(now["flash"], f[0]) != "" {
					t.Errorf("a flash reads %#v in the request that adds it, %#v later", now["flash"], f)
				}
			}, c.Value)
		})
	}
}

// sameRead compares two reads of one value: the same types throughout,
// and the same values, times compared by instant and offset.
func sameRead(a, b any) string {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return fmt.Sprintf("type %T, then %T", a, b)
	}
	switch a := a.(type) {
	case time.Time:
		_, ao := a.Zone()
		_, bo := b.(time.Time).Zone()
		if !a.Equal(b.(time.Time)) || ao != bo {
			return "another time"
		}
	case []any:
		for i := range a {
			if d := sameRead(a[i], b.([]any)[i]); d != "" {
				return fmt.Sprintf("[%d]: %s", i, d)
			}
		}
	case map[string]any:
		if len(a) != len(b.(map[string]any)) {
			return "other keys"
		}
		for k := range a {
			if d := sameRead(a[k], b.(map[string]any)[k]); d != "" {
				return fmt.Sprintf("[%q]: %s", k, d)
			}
		}
	default:
		if !reflect.DeepEqual(a, b) {
			return "another value"
		}
	}
	return ""
}

// Get[T] gives structs back, in the request that sets them and later.
func TestGetStruct(t *testing.T) {
	for _, ser := range serializer.Names() {
		t.Run(ser, func(t *testing.T) {
			m, _ := mwManager(t, Config{Serializer: ser})
			check := func(s *Session, when string) {
				t.Helper()
				c, err := Get[cart](s, "cart")
				want := someCart
				want.Note = "" // tagged "-": not stored
				if err != nil || !c.Updated.Equal(want.Updated) {
					t.Fatalf("%s: Get[cart]: %+v, %v", when, c, err)
				}
				c.Updated = want.Updated
				if !reflect.DeepEqual(c, want) {
					t.Errorf("%s: Get[cart] = %+v, want %+v", when, c, want)
				}
				if p, err := Get[*cart](s, "cart"); err != nil || p.Owner != "ada" || *p.Coupon != coupon {
					t.Errorf("%s: Get[*cart] = %+v, %v", when, p, err)
				}
				if items, err := Get[[]cartItem](s, "items"); err != nil || !reflect.DeepEqual(items, someCart.Items) {
					t.Errorf("%s: Get[[]cartItem] = %+v, %v", when, items, err)
				}
				if byID, err := Get[map[string]cartItem](s, "by_id"); err != nil || byID["SKU-1"] != someCart.Items[0] {
					t.Errorf("%s: Get[map[string]cartItem] = %+v, %v", when, byID, err)
				}
				if u, err := Get[user](s, "user"); err != nil || !reflect.DeepEqual(u, someUser) {
					t.Errorf("%s: Get[user] = %+v (%+v), %v; want %+v", when, u, u.Profile, err, someUser)
				}
				if n, err := Get[*cart](s, "none"); err != nil || n != nil {
					t.Errorf("%s: Get[*cart] of nil = %v, %v", when, n, err)
				}
			}
			rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
				s := FromRequest(r)
				withNote := someCart
				withNote.Note = "not stored"
				s.Set("cart", withNote)
				s.Set("items", someCart.Items)
				s.Set("by_id", map[string]cartItem{"SKU-1": someCart.Items[0]})
				s.Set("user", &someUser)
				s.Set("none", (*cart)(nil))
				check(s, "the request that sets it")
			}, "")
			c, ok := mwCookie(m, rec.Result().Header)
			if !ok {
				t.Fatalf("no session cookie: %d %s", rec.Code, rec.Body)
			}
			mwDo(m, func(w http.ResponseWriter, r *http.Request) { check(FromRequest(r), "a later request") }, c.Value)
		})
	}
}

// A value that cannot be a T is a *TypeError that says where in it.
func TestGetStructTypeError(t *testing.T) {
	m, _ := mwManager(t, Config{})
	mwDo(m, func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.Set("cart", map[string]any{"owner": "ada", "items": []any{
			map[string]any{"sku": "S", "price": 1.5},
			map[string]any{"sku": "T", "price": "free"},
		}})
		_, err := Get[cart](s, "cart")
		var te *TypeError
		if !errors.As(err, &te) || !errors.Is(err, ErrType) {
			t.Fatalf("err = %v, want a *TypeError", err)
		}
		if te.Key != "cart" || te.Path != "Items[1].Price" || te.Want != "float64" || te.Got != "string" {
			t.Errorf("TypeError %+v, want key cart, path Items[1].Price, float64 and string", te)
		}
		if want := `session: key "cart": field Items[1].Price holds a string, not a float64`; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		s.Set("list", []any{1, "x"})
		_, err = Get[[]int](s, "list")
		if want := `session: key "list": element [1] holds a string, not a int`; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
		_, err = Get[cart](s, "list")
		if want := `session: key "list" holds a []interface {}, not a session.cart`; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
		// Entries without a field are ignored; fields without an entry
		// keep their zero value.
		s.Set("partial", map[string]any{"owner": "bob", "unknown": 1})
		if c, err := Get[cart](s, "partial"); err != nil || c.Owner != "bob" || c.Items != nil {
			t.Errorf("Get[cart] of a partial map = %+v, %v", c, err)
		}
	}, "")
}

// SetE reports, at once, a value that saving would refuse, naming the key
// and where in the value, and leaves the session as it was.
func TestSetE(t *testing.T) {
	type item struct{ Price any }
	type withItems struct{ Items []item }
	items := make([]item, 4)
	items[3].Price = make(chan int)
	type secret struct{ hidden string }
	for _, ser := range serializer.Names() {
		m, _ := mwManager(t, Config{Serializer: ser})
		mwDo(m, func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			for _, tc := range []struct {
				v    any
				want string
			}{
				{withItems{items}, `key "cart": field Items[3].Price: cannot encode chan int`},
				{secret{}, `key "cart": field hidden: cannot encode string: unexported field`},
				{map[int]string{}, `key "cart": cannot encode map[int]string: map keys must be strings`},
			} {
				err := s.SetE("cart", tc.v)
				var ue *serializer.UnsupportedError
				if !errors.As(err, &ue) || !errors.Is(err, serializer.ErrUnsupported) || ue.Key != "cart" || ue.Serializer != ser || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: SetE(%T) = %v, want an UnsupportedError containing %s", ser, tc.v, err, tc.want)
				}
			}
			if s.Has("cart") || s.Modified() {
				t.Errorf("%s: a refused SetE changed the session", ser)
			}
			if ser == "json" {
				if err := s.SetE("price", 0/zero()); !errors.Is(err, value.ErrNaN) {
					t.Errorf("json: SetE(NaN) = %v, want ErrNaN", err)
				}
			}
			if err := s.SetE("cart", someCart); err != nil || !s.Has("cart") || !s.Modified() {
				t.Errorf("%s: SetE of a good value: %v", ser, err)
			}
		}, "")
	}
}

func zero() float64 { return 0 }

// Set of a plain value allocates nothing: the boxing into any is the
// caller's, and the value is brought to its read-back form only if it is
// read back in the same request.
func TestSetAllocs(t *testing.T) {
	for _, ser := range serializer.Names() {
		m, _ := mwManager(t, Config{Serializer: ser})
		s := new(Session)
		m.newSession(t.Context(), nil, s)
		s.Set("user_id", int64(42))
		for _, v := range []any{1000, int64(1000), 1.5, "name", true, setTime, setTime.UTC(), []byte("x"), uint8(3), someCart} {
			if n := testing.AllocsPerRun(100, func() { s.Set("v", v) }); n != 0 {
				t.Errorf("%s: Set(%T) allocates %v times", ser, v, n)
			}
		}
	}
}
