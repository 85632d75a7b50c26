package bench

import (
	"encoding/gob"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	session "github.com/sessionkit/session"
	"github.com/sessionkit/session/serializer"
)

// The struct-valued session is the small session (userValues) with a cart
// of the 20 cartItems as a []CartItem, the way an application keeps it:
//
//	BenchmarkStructCart/encode/<impl>  the codec alone: the session, as a map
//	                                   holding the []CartItem, to a cookie value
//	BenchmarkStructCart/decode/<impl>  the codec alone: the cookie value back to
//	                                   a map (sessionkit's holds the cart as
//	                                   []any of maps; gorilla's as []CartItem)
//	BenchmarkStructCart/save/<impl>    a request whose handler stores the
//	                                   session; its response sets the cookie
//	BenchmarkStructCart/load/<impl>    a request carrying the cookie whose
//	                                   handler reads the cart back as a
//	                                   []CartItem: session.Get[[]CartItem], or
//	                                   gorilla's store.Get and a type assertion
//
// gorilla/sessions' CookieStore (gob) needs CartItem registered with gob;
// sessionkit needs no registration, with any serializer (its gob writes
// the cart as maps).

// CartItem is an item of the struct-valued session's cart.
type CartItem struct {
	SKU   string  `json:"sku"`
	Name  string  `json:"name"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

func init() {
	// For gorilla only: gob carries a type in an interface only once it
	// is registered.
	gob.Register([]CartItem(nil))
}

// structCart returns the 20 cartItems as a []CartItem.
func structCart() []CartItem {
	cart := make([]CartItem, len(cartItems))
	for i, it := range cartItems {
		cart[i] = CartItem{it.sku, it.name, it.qty, it.price}
	}
	return cart
}

// structValues is the struct-valued session.
func structValues() map[string]any {
	v := userValues()
	v["cart"] = structCart()
	return v
}

// structConfigs are the sessionkit configurations measured: each
// serializer with the default encryption and compression ("auto", which
// is zstd for these bodies), and msgpack with s2 and with no compression,
// gorilla's.
var structConfigs = []ourConfig{
	{serializer.MsgPack, false, "auto"},
	{serializer.MsgPack, false, "s2"},
	{serializer.MsgPack, false, "none"},
	{serializer.JSON, false, "auto"},
	{serializer.Gob, false, "auto"},
}

// gorillaStructStore is the CookieStore with hash and block keys; it
// fits the struct-valued session within its default 4096-byte limit.
func gorillaStructStore() *sessions.CookieStore { return newGorillaStore(gorillaModes[1], false) }

// structHandlers returns, for one implementation, the handler that saves
// the struct-valued session and the one that reads its cart back.
type structImpl struct {
	name       string
	save, load http.Handler
}

func structImpls(tb testing.TB) []structImpl {
	tb.Helper()
	var impls []structImpl
	for _, c := range structConfigs {
		m, err := session.New(session.Config{SecretKey: secret, Serializer: c.ser.Name(), Compression: c.comp})
		if err != nil {
			tb.Fatal(err)
		}
		impls = append(impls, structImpl{
			name: c.String(),
			save: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := session.FromRequest(r)
				for k, v := range structValues() {
					s.Set(k, v)
				}
				io.WriteString(w, okBody)
			})),
			load: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				cart, err := session.Get[[]CartItem](session.FromRequest(r), "cart")
				answer(w, err == nil && len(cart) == len(cartItems) && cart[19].Price == cartItems[19].price)
			})),
		})
	}
	store := gorillaStructStore()
	impls = append(impls, structImpl{
		name: "gorilla-hmac+aes",
		save: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := store.Get(r, cookieName)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			s.Values = gorillaValues(structValues())
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			io.WriteString(w, okBody)
		}),
		load: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := store.Get(r, cookieName)
			cart, ok := s.Values["cart"].([]CartItem)
			answer(w, err == nil && ok && len(cart) == len(cartItems) && cart[19].Price == cartItems[19].price)
		}),
	})
	return impls
}

// savedCookie runs impl.save once and returns a request carrying the
// cookie it set.
func savedCookie(tb testing.TB, impl structImpl) *http.Request {
	tb.Helper()
	rec := httptest.NewRecorder()
	impl.save.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusOK || len(cookies) != 1 {
		tb.Fatalf("%s: save: status %d, %d cookies: %s", impl.name, rec.Code, len(cookies), rec.Body)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookies[0])
	return req
}

func BenchmarkStructCart(b *testing.B) {
	b.Run("encode", func(b *testing.B) {
		for _, c := range structConfigs {
			b.Run(c.String(), func(b *testing.B) {
				cd := newCodec(b, c)
				pl := ourPayload(payload{"struct", structValues})
				var s string
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if s, err = cd.Encode(cookieName, pl); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(s)), "bytes")
			})
		}
		b.Run("gorilla-hmac+aes", func(b *testing.B) {
			store := gorillaStructStore()
			values := gorillaValues(structValues())
			var s string
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if s, err = securecookie.EncodeMulti(cookieName, values, store.Codecs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(s)), "bytes")
		})
	})
	b.Run("decode", func(b *testing.B) {
		for _, c := range structConfigs {
			b.Run(c.String(), func(b *testing.B) {
				cd := newCodec(b, c)
				s, err := cd.Encode(cookieName, ourPayload(payload{"struct", structValues}))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := cd.Decode(cookieName, s); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(s)), "bytes")
			})
		}
		b.Run("gorilla-hmac+aes", func(b *testing.B) {
			store := gorillaStructStore()
			s, err := securecookie.EncodeMulti(cookieName, gorillaValues(structValues()), store.Codecs...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				dst := make(map[any]any)
				if err := securecookie.DecodeMulti(cookieName, s, &dst, store.Codecs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(s)), "bytes")
		})
	})
	impls := structImpls(b)
	b.Run("save", func(b *testing.B) {
		for _, impl := range impls {
			b.Run(impl.name, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				b.ReportAllocs()
				for b.Loop() {
					if _, msg := serve(impl.save, req, true); msg != "" {
						b.Fatalf("%s: %s", impl.name, msg)
					}
				}
			})
		}
	})
	b.Run("load", func(b *testing.B) {
		for _, impl := range impls {
			b.Run(impl.name, func(b *testing.B) {
				req := savedCookie(b, impl)
				b.ReportAllocs()
				for b.Loop() {
					if _, msg := serve(impl.load, req, false); msg != "" {
						b.Fatalf("%s: %s", impl.name, msg)
					}
				}
			})
		}
	})
}

// TestStructCart checks what BenchmarkStructCart measures: every
// implementation saves the struct-valued session in one cookie within
// 4096 bytes and reads the whole cart back as a []CartItem; sessionkit
// encodes it with fewer allocations than gorilla, end to end.
func TestStructCart(t *testing.T) {
	allocs := map[string][2]float64{}
	for _, impl := range structImpls(t) {
		req := savedCookie(t, impl)
		if n := len(req.Cookies()[0].Value); n > 4096 {
			t.Errorf("%s: a %d-byte cookie", impl.name, n)
		}
		if _, msg := serve(impl.load, req, false); msg != "" {
			t.Errorf("%s: load: %s", impl.name, msg)
		}
		fresh := httptest.NewRequest(http.MethodGet, "/", nil)
		allocs[impl.name] = [2]float64{
			testing.AllocsPerRun(20, func() { serve(impl.save, fresh, true) }),
			testing.AllocsPerRun(20, func() { serve(impl.load, req, false) }),
		}
	}
	ours, theirs := allocs["sessionkit-msgpack-enc-auto"], allocs["gorilla-hmac+aes"]
	t.Logf("allocations, save and load: %v", allocs)
	if ours[0] >= theirs[0] || ours[1] >= theirs[1] {
		t.Errorf("sessionkit (default) allocates %v times to save and load the struct-valued session, gorilla %v: want fewer", ours, theirs)
	}
}

// unregistered is a struct type that nobody registers with gob.
type unregistered struct {
	SKU string
	Qty int
}

// sessionkit stores a struct that is not registered, with every
// serializer; gorilla's gob cannot.
func TestStructNeedsNoRegistration(t *testing.T) {
	want := []unregistered{{"A", 1}, {"B", 2}}
	for _, ser := range serializer.Names() {
		m, err := session.New(session.Config{SecretKey: secret, Serializer: ser})
		if err != nil {
			t.Fatal(err)
		}
		save := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			session.FromRequest(r).Set("items", want)
			io.WriteString(w, okBody)
		}))
		var got []unregistered
		load := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, err = session.Get[[]unregistered](session.FromRequest(r), "items")
			io.WriteString(w, okBody)
		}))
		req := savedCookie(t, structImpl{name: ser, save: save})
		serve(load, req, false)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Get[[]unregistered] = %v, %v; want %v", ser, got, err, want)
		}
	}
	store := gorillaStructStore()
	_, err := securecookie.EncodeMulti(cookieName, map[any]any{"items": want}, store.Codecs...)
	if err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("gorilla encoded an unregistered type: %v", err)
	}
}
