package session

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server/memory"
)

// TestSessionID checks that every engine gives a session one ID for its
// whole life (across requests, and across the auto engine's moves between
// cookie and store), a new one at CycleKey, and that the ID is neither the
// cookie nor the store key.
func TestSessionID(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec, func(c *Config) { c.CookieMaxSize = 1500 })
		s := h.session()
		s.Set("user", "ada")
		id := s.ID()
		if len(id) != 16 {
			t.Fatalf("ID %q is %d characters, want 16", id, len(id))
		}
		h.commit(s)
		for i, step := range []func(*Session){
			func(s *Session) { s.Get("user") },
			func(s *Session) { s.Set("n", 1) },
			func(s *Session) { s.Set("pad", randomText(3000)) }, // the auto engine spills
			func(s *Session) { s.Set("n", 2) },
			func(s *Session) { s.Delete("pad") }, // and comes back
		} {
			if ec.engine == EngineCookie && i >= 2 {
				break // a cookie session this large does not fit
			}
			s := h.session()
			step(s)
			if got := s.ID(); got != id {
				t.Fatalf("step %d: ID %q, want %q", i, got, id)
			}
			h.commit(s)
			if got := h.session().ID(); got != id {
				t.Fatalf("step %d, next request: ID %q, want %q", i, got, id)
			}
			if strings.Contains(h.cookie, id) || s.Key() != "" && (strings.Contains(s.Key(), id) || strings.Contains(h.m.rowKey(s.Key()), id)) {
				t.Fatalf("step %d: the ID %q appears in the cookie or the store key", i, id)
			}
		}
		s = h.session()
		if err := s.CycleKey(context.Background()); err != nil {
			t.Fatal(err)
		}
		cycled := s.ID()
		h.commit(s)
		if cycled == id || h.session().ID() != cycled {
			t.Fatalf("after CycleKey: ID %q then %q, want a new one that stays (old %q)", cycled, h.session().ID(), id)
		}
		s = h.session()
		s.Flush(context.Background())
		h.commit(s)
		s = h.session()
		s.Set("user", "bob")
		if s.ID() == cycled {
			t.Fatal("a session after Flush kept the old ID")
		}
	})
}

// TestSessionIDForOldSessions checks that a session saved before sessions
// had IDs gets one on its next response and keeps it.
func TestSessionIDForOldSessions(t *testing.T) {
	store := memory.New()
	defer store.Close()
	for _, engine := range []Engine{EngineCookie, EngineServer} {
		m, _ := mwManager(t, Config{Engine: engine, Store: store})
		// What an earlier version wrote: no ID in the envelope, and for
		// the server engine an encoded reference.
		now := m.cfg.Now()
		data := codec.Payload{Kind: codec.KindData, Values: map[string]any{"user": "ada"}, Created: now, Expires: now.Add(m.cfg.CookieAge)}
		var value string
		if engine == EngineCookie {
			value, _ = m.jar.Encode(data)
		} else {
			key := newKey()
			blob, _ := m.codec.Encode(m.rowKey(key), data)
			if err := store.Create(context.Background(), m.rowKey(key), []byte(blob), data.Expires); err != nil {
				t.Fatal(err)
			}
			value, _ = m.jar.Encode(codec.Payload{Kind: codec.KindReference, Ref: key, Expires: data.Expires, Created: now})
		}
		var id string
		rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) { id = FromRequest(r).ID() }, value)
		c, ok := mwCookie(m, rec.Header())
		if rec.Code != http.StatusOK || !ok {
			t.Fatalf("%s: status %d, no rewrite of an old session", engine, rec.Code)
		}
		if engine == EngineServer && len(c.Value) != codec.RefLen {
			t.Fatalf("%s: the old reference was rewritten as %d characters, want the %d-character form", engine, len(c.Value), codec.RefLen)
		}
		var again, user string
		mwDo(m, func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			again, user = s.ID(), s.Get("user").(string)
		}, c.Value)
		if again != id || user != "ada" {
			t.Fatalf("%s: after the rewrite ID %q user %q, want %q and ada", engine, again, user, id)
		}
	}
}

// TestCompactReference checks the reference cookie: 64 characters, a
// Set-Cookie of at most 160 bytes with the default attributes, refused
// before any store I/O when forged, and sent again unchanged while its key
// holds.
func TestCompactReference(t *testing.T) {
	store := &countingStore{Store: memory.New()}
	defer store.Close()
	m, _ := mwManager(t, Config{Engine: EngineServer, Store: store})
	rec := mwDo(m, setHandler("user", "ada"), "")
	c, _ := mwCookie(m, rec.Header())
	if len(c.Value) != codec.RefLen {
		t.Fatalf("reference cookie is %d characters, want %d", len(c.Value), codec.RefLen)
	}
	if sc := rec.Header().Get("Set-Cookie"); len(sc) > 160 {
		t.Errorf("Set-Cookie is %d bytes, want at most 160: %s", len(sc), sc)
	}
	rec = mwDo(m, setHandler("n", 1), c.Value)
	if again, _ := mwCookie(m, rec.Header()); again == nil || again.Value != c.Value {
		t.Errorf("a save that keeps the key sent another reference")
	}
	// A forged key, or the right key with a bad tag, never reaches the
	// store.
	loads := store.loads.Load()
	forged := strings.Repeat("A", 43) + c.Value[43:]
	for _, bad := range []string{forged, c.Value[:63] + "A", c.Value[:63] + "B"} {
		if bad == c.Value {
			continue
		}
		var got any
		mwDo(m, func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r).Get("user") }, bad)
		if got != nil {
			t.Errorf("a forged reference loaded %v", got)
		}
	}
	if n := store.loads.Load() - loads; n != 0 {
		t.Errorf("forged references cost %d store loads, want 0", n)
	}
}

// countingStore is a memory store that counts its loads.
type countingStore struct {
	*memory.Store
	loads atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, key string) ([]byte, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}
