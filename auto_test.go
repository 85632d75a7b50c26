package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/cookie"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// autoHarness is a harness on the auto engine with a memory store.
func autoHarness(t *testing.T, mutate ...func(*Config)) (*harness, *graceStore) {
	t.Helper()
	store := newGraceStore(t)
	ec := engineCase{name: "auto", engine: EngineAuto, newStore: func(*testing.T) server.Store { return store }}
	h := newHarness(t, ec, mutate...)
	store.now = h.clock.Now
	return h, store
}

// graceStore is a memory store that records each entry's expiry, so that
// a test can tell a live entry from one that a move into the cookie left
// for movedGrace.
type graceStore struct {
	*memory.Store
	now    func() time.Time
	mu     sync.Mutex
	expiry map[string]time.Time
}

func newGraceStore(t *testing.T) *graceStore {
	s := &graceStore{Store: memory.New(), now: time.Now, expiry: map[string]time.Time{}}
	t.Cleanup(func() { s.Close() })
	return s
}

func (s *graceStore) record(key string, expires time.Time, err error) error {
	if err == nil {
		s.mu.Lock()
		s.expiry[key] = expires
		s.mu.Unlock()
	}
	return err
}

func (s *graceStore) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	return s.record(key, expires, s.Store.Create(ctx, key, blob, expires))
}

func (s *graceStore) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	return s.record(key, expires, s.Store.Update(ctx, key, blob, expires))
}

func (s *graceStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	delete(s.expiry, key)
	s.mu.Unlock()
	return s.Store.Delete(ctx, key)
}

// Live counts the entries that outlive the grace a move into the cookie
// leaves.
func (s *graceStore) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.expiry {
		if e.After(s.now().Add(movedGrace)) {
			n++
		}
	}
	return n
}

// Retired reports whether key is kept no longer than the grace of a move
// into the cookie (or is gone).
func (s *graceStore) Retired(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.expiry[key]
	return !ok || !e.After(s.now().Add(movedGrace))
}

// kind decodes the client's cookie and returns what it carries.
func (h *harness) kind() codec.Kind {
	h.t.Helper()
	d, err := h.m.openCookie(h.cookie)
	if err != nil {
		h.t.Fatalf("client cookie does not decode: %v", err)
	}
	return d.Kind
}

// envelope returns what the client's session was saved with: its data
// cookie, or the store blob its reference points to.
func (h *harness) envelope() codec.Decoded {
	h.t.Helper()
	d, err := h.m.openCookie(h.cookie)
	if err != nil {
		h.t.Fatalf("client cookie does not decode: %v", err)
	}
	if d.Kind == codec.KindReference {
		rk := h.m.rowKey(d.Ref)
		blob, err := h.store.Load(context.Background(), rk)
		if err != nil {
			h.t.Fatalf("the reference's store entry: %v", err)
		}
		if d, err = h.m.codec.Decode(rk, string(blob)); err != nil {
			h.t.Fatalf("the store entry does not decode: %v", err)
		}
	}
	return d
}

// setCookieLen returns the length of the Set-Cookie header that the cookie
// engine would send for values, on a Manager configured like h's.
func cookieHeaderLen(t *testing.T, mutate func(*Config), values map[string]any) int {
	t.Helper()
	h := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, mutate)
	s := h.session()
	s.Update(values)
	hdr, err := h.commitStatus(s, http.StatusOK)
	var se *cookie.SizeError
	if errors.As(err, &se) {
		return se.Size // over the budget: the size it would have
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(hdr.Get("Set-Cookie"))
}

func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func TestAutoBoundary(t *testing.T) {
	// One key, so that no serializer's map order can change the size.
	values := map[string]any{"blob": randomText(1500)}
	for _, ser := range []string{"msgpack", "json", "gob"} {
		for _, comp := range []string{"none", "s2", "zstd"} {
			t.Run(ser+"/"+comp, func(t *testing.T) {
				cfg := func(c *Config) { c.Serializer, c.Compression = ser, comp }
				exact := cookieHeaderLen(t, cfg, values)

				// Exactly at the limit: the session stays in the cookie.
				h, store := autoHarness(t, cfg, func(c *Config) { c.CookieMaxSize = exact })
				s := h.session()
				s.Update(values)
				hdr := h.commit(s)
				if len(hdr.Get("Set-Cookie")) != exact || h.kind() != codec.KindData || store.Live() != 0 {
					t.Fatalf("at the limit: header %d bytes (want %d), kind %v, %d rows", len(hdr.Get("Set-Cookie")), exact, h.kind(), store.Live())
				}

				// One byte under the header's size: it spills to the store.
				h, store = autoHarness(t, cfg, func(c *Config) { c.CookieMaxSize = exact - 1 })
				s = h.session()
				s.Update(values)
				h.commit(s)
				if h.kind() != codec.KindReference || store.Live() != 1 || s.Key() == "" {
					t.Fatalf("one byte over: kind %v, %d rows, key %q", h.kind(), store.Live(), s.Key())
				}
				if got := h.session().Values(); !reflect.DeepEqual(got, values) {
					t.Fatalf("spilled session lost data: %v", got)
				}

				// The same from a session that lives in the store (saved
				// through codec.Prepare): shrunk to exactly the limit, it
				// comes back to the cookie; one byte over, it stays.
				for _, c := range []struct {
					limit int
					kind  codec.Kind
					rows  int
				}{{exact, codec.KindData, 0}, {exact - 1, codec.KindReference, 1}} {
					h, store := autoHarness(t, cfg, func(cf *Config) { cf.CookieMaxSize = c.limit })
					s := h.session()
					s.Update(values)
					s.Set("pad", randomText(3000))
					h.commit(s)
					if h.kind() != codec.KindReference {
						t.Fatalf("limit %d: a padded session was not spilled", c.limit)
					}
					s = h.session()
					s.Delete("pad")
					hdr := h.commit(s)
					if h.kind() != c.kind || store.Live() != c.rows {
						t.Fatalf("limit %d (exact %d): shrunk from the store, the session is in a %v cookie of %d bytes with %d rows; want %v and %d rows",
							c.limit, exact, h.kind(), len(hdr.Get("Set-Cookie")), store.Live(), c.kind, c.rows)
					}
					if got := h.session().Values(); !reflect.DeepEqual(got, values) {
						t.Fatalf("limit %d: shrunk session holds %v", c.limit, got)
					}
				}
			})
		}
	}
}

func TestAutoGrowAndShrink(t *testing.T) {
	for _, ser := range []string{"msgpack", "json", "gob"} {
		for _, comp := range []string{"none", "s2", "zstd"} {
			t.Run(ser+"/"+comp, func(t *testing.T) {
				h, store := autoHarness(t, func(c *Config) { c.Serializer, c.Compression = ser, comp })
				// Grow a cart one item per request until it spills,
				// then shrink it until it comes back.
				var spilledAt, back int
				var key string
				for i := 1; i <= 120 && back == 0; i++ {
					s := h.session()
					cart, _ := Get[[]any](s, "cart")
					if spilledAt == 0 {
						cart = append(cart, map[string]any{"sku": fmt.Sprintf("SKU-%05d", i), "name": randomText(40), "qty": i})
					} else {
						cart = cart[:len(cart)-2]
					}
					s.Set("cart", cart)
					if i == 1 {
						s.SetExpiry(90 * time.Minute)
						s.AddFlash("welcome")
					}
					h.commit(s)
					switch {
					case spilledAt == 0 && h.kind() == codec.KindReference:
						spilledAt = len(cart)
						key = s.Key()
						if store.Live() != 1 || key == "" {
							t.Fatalf("spilled without a row: %d rows", store.Live())
						}
					case spilledAt != 0 && h.kind() == codec.KindData:
						back = len(cart)
						if store.Live() != 0 {
							t.Fatalf("moved back to the cookie but the row is still there")
						}
					case spilledAt != 0 && s.Key() != key:
						t.Fatalf("key changed while spilled: %q → %q", key, s.Key())
					}
					// Whatever side it is on, the data, the expiry and
					// the flash are intact.
					s = h.session()
					got, _ := Get[[]any](s, "cart")
					if len(got) != len(cart) || s.ExpiryAge() != 90*time.Minute {
						t.Fatalf("request %d: cart %d items (want %d), expiry %v", i, len(got), len(cart), s.ExpiryAge())
					}
				}
				t.Logf("spilled at %d items, back in the cookie at %d", spilledAt, back)
				if spilledAt == 0 || back == 0 {
					t.Fatalf("never crossed the limit both ways (spilled at %d, back at %d)", spilledAt, back)
				}
				if f := h.session().Flashes(); !reflect.DeepEqual(f, []any{"welcome"}) {
					t.Fatalf("flash lost across the limit: %v", f)
				}
			})
		}
	}
}

// spilled returns a harness whose client holds a session in the store.
func spilled(t *testing.T) (*harness, *graceStore, string) {
	h, store := autoHarness(t, func(c *Config) { c.CookieMaxSize = 1000 })
	s := h.session()
	s.Set("blob", randomText(2000))
	s.Set("user", "alice")
	h.commit(s)
	if h.kind() != codec.KindReference {
		t.Fatal("not spilled")
	}
	return h, store, s.Key()
}

func TestAutoSpilledCycleKeyAndFlush(t *testing.T) {
	h, store, key := spilled(t)
	s := h.session()
	if err := s.CycleKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.commit(s)
	if s.Key() == key || s.Key() == "" || h.exists(key) || store.Len() != 1 {
		t.Fatalf("CycleKey on a spilled session: new key %q, old exists %v, %d rows", s.Key(), h.exists(key), store.Len())
	}
	if h.session().Get("user") != "alice" {
		t.Fatal("CycleKey lost data")
	}
	key = s.Key()
	s = h.session()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hdr := h.commit(s)
	if h.exists(key) || store.Len() != 0 || !strings.HasPrefix(hdr.Get("Set-Cookie"), `sessionid=""`) {
		t.Fatalf("Flush on a spilled session: row exists %v, %d rows, %q", h.exists(key), store.Len(), hdr.Get("Set-Cookie"))
	}
}

func TestAutoSpilledNoResurrection(t *testing.T) {
	h, _, _ := spilled(t)
	s1 := h.session()
	s1.Len()
	if err := h.session().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s1.Set("more", 1)
	if _, err := h.commitStatus(s1, http.StatusOK); err == nil || !strings.Contains(err.Error(), "deleted before the request completed") {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
}

func TestAutoSessionTooBigEvenForTheStore(t *testing.T) {
	// The store blob has its own cap: the codec's MaxSize (1 MiB).
	h, store := autoHarness(t)
	s := h.session()
	s.Set("huge", randomText(2<<20))
	_, err := h.commitStatus(s, http.StatusOK)
	if err == nil || store.Len() != 0 {
		t.Fatalf("err = %v, %d rows", err, store.Len())
	}
}
