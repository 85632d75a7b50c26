package session

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/server/memory"
)

func TestMaxLifetime(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec, func(c *Config) {
			c.MaxLifetime = 10 * time.Hour
			c.CookieAge = 4 * time.Hour
		})
		s := h.session()
		s.Set("user", "alice")
		h.commit(s)
		created := h.clock.Now()

		// Active every three hours: the idle expiry keeps moving, the
		// lifetime does not.
		for i := 0; i < 3; i++ {
			h.clock.Add(3 * time.Hour)
			s = h.session()
			if s.Get("user") != "alice" {
				t.Fatalf("session lost at +%dh", 3*(i+1))
			}
			if i == 1 {
				// Logging in again keeps the creation time.
				if err := s.CycleKey(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			s.Set("n", i)
			hdr := h.commit(s)
			// The cookie and the session expire with the lifetime at
			// the latest.
			want := created.Add(10 * time.Hour)
			if got := s.ExpiryDate(); got.After(want) {
				t.Fatalf("ExpiryDate %v is past the lifetime end %v", got, want)
			}
			c, err := http.ParseSetCookie(hdr.Get("Set-Cookie"))
			if err != nil {
				t.Fatal(err)
			}
			if maxAge := time.Duration(c.MaxAge) * time.Second; h.clock.Now().Add(maxAge).After(want) {
				t.Fatalf("Max-Age %v reaches past the lifetime end", maxAge)
			}
		}
		if d := h.envelope(); !d.Created.Equal(created.Truncate(time.Second)) {
			t.Fatalf("envelope creation time %v, want %v", h.envelope().Created, created.Truncate(time.Second))
		}
		h.clock.Add(1*time.Hour + time.Second) // +10h and a second
		if got := h.session().Get("user"); got != nil {
			t.Fatalf("session outlived MaxLifetime: %v", got)
		}
	})
}

func TestMaxLifetimeLoweredInConfig(t *testing.T) {
	// Sessions written before a MaxLifetime was configured end by it too.
	h := newHarness(t, engineCase{name: "cookie", engine: EngineCookie})
	s := h.session()
	s.Set("user", "alice")
	h.commit(s)
	h.clock.Add(2 * time.Hour)
	strict := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) { c.MaxLifetime = time.Hour })
	strict.clock.now = h.clock.Now()
	strict.cookie = h.cookie
	if got := strict.session().Get("user"); got != nil {
		t.Fatalf("session older than the new MaxLifetime still served: %v", got)
	}
}

func TestRefreshThreshold(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		for _, tc := range []struct {
			threshold float64
			after     time.Duration
			rewrite   bool
		}{
			{0, time.Minute, false},    // default 0.1 of two weeks
			{0, 26 * time.Hour, false}, // under 1.4 days
			{0, 34 * time.Hour, true},  // over 1.4 days
			{-1, time.Second, true},    // Django: every request
			{0.5, 6 * 24 * time.Hour, false},
			{0.5, 8 * 24 * time.Hour, true},
		} {
			h := newHarness(t, ec, func(c *Config) {
				c.SaveEveryRequest = true
				c.RefreshThreshold = tc.threshold
			})
			s := h.session()
			s.Set("user", "alice")
			h.commit(s)
			h.clock.Add(tc.after)
			s = h.session() // not even read by the handler
			hdr := h.commit(s)
			got := strings.HasPrefix(hdr.Get("Set-Cookie"), "sessionid=") && !strings.HasPrefix(hdr.Get("Set-Cookie"), `sessionid=""`)
			if got != tc.rewrite {
				t.Errorf("threshold %v after %v: rewrite %v, want %v (%v)", tc.threshold, tc.after, got, tc.rewrite, hdr)
			}
			if got {
				if d := h.envelope(); !d.Expires.After(h.clock.Now().Add(DefaultCookieAge - time.Minute)) {
					t.Errorf("refreshed session expiry %v", d.Expires)
				}
			}
		}
	})
}

// TestSaveEveryRequestNeverSavesEmpty (CVE-2015-5963/5964): with
// SaveEveryRequest and a refresh due on every request, a request without
// a cookie whose session stays empty (untouched, read, or emptied by the
// handler) sets no cookie and stores nothing, on every engine.
func TestSaveEveryRequestNeverSavesEmpty(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec, func(c *Config) {
			c.SaveEveryRequest = true
			c.RefreshThreshold = -1
		})
		for name, handler := range map[string]func(*Session){
			"untouched": func(*Session) {},
			"read":      func(s *Session) { _ = s.Get("user") },
			"emptied":   func(s *Session) { s.Set("user", "alice"); s.Delete("user") },
		} {
			h.cookie = ""
			s := h.session()
			handler(s)
			if hdr := h.commit(s); len(hdr.Values("Set-Cookie")) != 0 {
				t.Errorf("%s empty session: the response sets %q", name, hdr.Values("Set-Cookie"))
			}
			if s.key != "" && h.exists(s.key) {
				t.Errorf("%s empty session: stored", name)
			}
			if mem, ok := h.store.(*memory.Store); ok && mem.Len() != 0 {
				t.Errorf("%s empty session: the store holds %d sessions", name, mem.Len())
			}
		}
	})
}
