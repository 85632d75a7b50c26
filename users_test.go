package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// A device is one browser of a user's: its own cookie and User-Agent.
type device struct {
	h      *harness
	ua     string
	cookie string
}

// do runs one request of the device through the response algorithm and
// returns the commit's error. f runs as the handler, with the request's
// context carrying the session.
func (d *device) do(f func(ctx context.Context, s *Session)) error {
	d.h.t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("User-Agent", d.ua)
	req.RemoteAddr = "192.0.2.7:4711"
	if d.cookie != "" {
		req.AddCookie(&http.Cookie{Name: d.h.m.jar.Name(), Value: d.cookie})
	}
	s := new(Session)
	ctx := &sessionContext{Context: context.Background(), s: s}
	d.h.m.newSession(ctx, req, s)
	if f != nil {
		f(ctx, s)
	}
	d.h.cookie = d.cookie
	_, err := d.h.commitStatus(s, http.StatusOK)
	if err == nil {
		d.cookie = d.h.cookie
	}
	return err
}

// user returns the user the device's session is bound to, in a request
// that only reads it.
func (d *device) user() string {
	d.h.t.Helper()
	var u string
	if err := d.do(func(_ context.Context, s *Session) { u = s.UserID() }); err != nil {
		d.h.t.Fatalf("%s: request: %v", d.ua, err)
	}
	return u
}

// login logs the device in as user.
func (d *device) login(user string) {
	d.h.t.Helper()
	err := d.do(func(ctx context.Context, s *Session) {
		s.Set("cart", "3 books")
		if err := s.Login(ctx, user); err != nil {
			d.h.t.Errorf("%s: Login: %v", d.ua, err)
		}
	})
	if err != nil {
		d.h.t.Fatalf("%s: login request: %v", d.ua, err)
	}
}

// loggedIn returns a harness for the engine case with its user index and
// a device (User-Agent ua) logged in on it as user.
func loggedIn(t *testing.T, ec engineCase, withIndex func(*Config), ua, user string) (*harness, *device) {
	t.Helper()
	h := newHarness(t, ec, withIndex)
	d := &device{h: h, ua: ua}
	d.login(user)
	return h, d
}

// cycleKey runs a request of the device that changes the session's key
// and then runs then, if not nil, and returns the commit's error.
func (d *device) cycleKey(then func(ctx context.Context, s *Session)) error {
	d.h.t.Helper()
	return d.do(func(ctx context.Context, s *Session) {
		if err := s.CycleKey(ctx); err != nil {
			d.h.t.Errorf("%s: CycleKey: %v", d.ua, err)
		}
		if then != nil {
			then(ctx, s)
		}
	})
}

// logout logs the device out, in a request of its own.
func (d *device) logout() {
	d.h.t.Helper()
	if err := d.do(func(ctx context.Context, s *Session) {
		if err := s.Logout(ctx); err != nil {
			d.h.t.Errorf("%s: Logout: %v", d.ua, err)
		}
	}); err != nil {
		d.h.t.Fatalf("%s: logout request: %v", d.ua, err)
	}
}

// userCases are the engines of the behaviour suite, each with a user
// index: the store's own, and for the cookie engine a Registry.
func userCases(t *testing.T, f func(t *testing.T, ec engineCase, mutate func(*Config))) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		mutate := func(c *Config) {
			if c.Store == nil {
				reg := memory.New()
				t.Cleanup(func() { reg.Close() })
				c.Registry = reg
			} else if _, ok := c.Store.(server.Index); !ok {
				t.Fatalf("store %T keeps no user index", c.Store)
			}
		}
		f(t, ec, mutate)
	})
}

func TestLoginListRevoke(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex, func(c *Config) { c.RecordClientAddr = true })
		user := "ada@example.com"
		laptop := &device{h: h, ua: "Laptop/1.0"}
		phone := &device{h: h, ua: "Phone/2.0"}
		laptop.login(user)
		phone.login(user)
		if laptop.user() != user || phone.user() != user {
			t.Fatal("a device is not logged in after Login")
		}

		var list []UserSession
		var laptopID string
		var laptopExpiry time.Time
		err := laptop.do(func(ctx context.Context, s *Session) {
			laptopID = s.ID()
			laptopExpiry = s.ExpiryDate()
			var err error
			if list, err = h.m.UserSessions(ctx, user); err != nil {
				t.Fatal(err)
			}
			if got := s.Get("cart"); got != "3 books" {
				t.Errorf("the session lost its data at Login: cart = %v", got)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("UserSessions lists %d sessions, want 2: %+v", len(list), list)
		}
		var phoneID string
		for _, us := range list {
			switch us.UserAgent {
			case "Laptop/1.0":
				if !us.Current || us.ID != laptopID {
					t.Errorf("the laptop's own session: Current %v, ID %q; want the current one, %q", us.Current, us.ID, laptopID)
				}
				// README: an abandoned session counts until its entry
				// expires, two intervals after the session (rounded up to
				// the second).
				if two := 2 * DefaultRevalidateInterval; us.Expires.Before(laptopExpiry.Add(two).Truncate(time.Second)) || us.Expires.After(laptopExpiry.Add(two+time.Second)) {
					t.Errorf("the laptop's entry expires at %v, the session at %v: want the entry %v after the session, to the second", us.Expires, laptopExpiry, two)
				}
			case "Phone/2.0":
				phoneID = us.ID
				if us.Current {
					t.Error("the phone's session is marked current in the laptop's request")
				}
			default:
				t.Errorf("unexpected device %q", us.UserAgent)
			}
			if us.ClientAddr != "192.0.2.7" {
				t.Errorf("ClientAddr %q, want 192.0.2.7", us.ClientAddr)
			}
			if us.AuthenticatedAt.IsZero() || us.Created.IsZero() || us.LastSeen.IsZero() || !us.Expires.After(h.clock.Now()) {
				t.Errorf("incomplete entry %+v", us)
			}
		}
		if others, err := h.m.UserSessions(context.Background(), "someone else"); err != nil || len(others) != 0 {
			t.Errorf("another user has %d sessions (%v)", len(others), err)
		}

		stolen := phone.cookie
		if err := h.m.RevokeSession(context.Background(), user, phoneID); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		if ec.engine == EngineCookie {
			// Within the interval the cookie session is not read again...
			if phone.user() != user {
				t.Fatal("the cookie engine re-validated before its interval")
			}
			h.clock.Add(DefaultRevalidateInterval)
		}
		// ...and after it (at once on the server and auto engines) the
		// revoked session is gone.
		if got := phone.user(); got != "" {
			t.Fatalf("the revoked session is still logged in as %q", got)
		}
		replay := &device{h: h, ua: "Thief/1.0", cookie: stolen}
		if got := replay.user(); got != "" {
			t.Fatalf("a copy of the revoked cookie is logged in as %q", got)
		}
		if laptop.user() != user {
			t.Fatal("revoking the phone logged the laptop out")
		}
		if err := h.m.RevokeSession(context.Background(), user, phoneID); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("revoking a revoked session: %v, want ErrNotFound", err)
		}
	})
}

func TestLogoutEndsCopies(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex)
		d := &device{h: h, ua: "Browser/1"}
		d.login("grace")
		copied := d.cookie
		d.logout()
		if d.cookie != "" {
			t.Error("the cookie survived Logout")
		}
		if ec.engine == EngineCookie {
			// A cookie session is checked against the registry once per
			// interval; a stored one is gone at once.
			h.clock.Add(DefaultRevalidateInterval)
		}
		if got := (&device{h: h, ua: "Thief", cookie: copied}).user(); got != "" {
			t.Fatalf("a copy of the cookie made before Logout is logged in as %q", got)
		}
		list, err := h.m.UserSessions(context.Background(), "grace")
		if err != nil || len(list) != 0 {
			t.Errorf("after Logout the user has %d sessions (%v)", len(list), err)
		}
	})
}

func TestRevokeUserSessionsKeepsCurrent(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex)
		a, b, c := &device{h: h, ua: "A"}, &device{h: h, ua: "B"}, &device{h: h, ua: "C"}
		for _, d := range []*device{a, b, c} {
			d.login("u1")
		}
		// A changes the password: every other session ends.
		if err := a.do(func(ctx context.Context, s *Session) {
			if err := h.m.RevokeUserSessions(ctx, "u1", s.ID()); err != nil {
				t.Errorf("RevokeUserSessions: %v", err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(DefaultRevalidateInterval)
		if a.user() != "u1" || b.user() != "" || c.user() != "" {
			t.Fatal("after revoking all but the current session: want only A logged in")
		}
		// The account is disabled: every session ends.
		if err := h.m.RevokeUserSessions(context.Background(), "u1", ""); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(DefaultRevalidateInterval)
		if a.user() != "" {
			t.Fatal("the account's last session survived RevokeUserSessions")
		}
	})
}

func TestCycleKeyKeepsTheSessionListed(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, d := loggedIn(t, ec, withIndex, "D", "u2")
		var id string
		if err := d.cycleKey(func(_ context.Context, s *Session) { id = s.ID() }); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(DefaultRevalidateInterval)
		if d.user() != "u2" {
			t.Fatal("CycleKey logged the user out")
		}
		list, err := h.m.UserSessions(context.Background(), "u2")
		if err != nil || len(list) != 1 || list[0].ID != id {
			t.Fatalf("after CycleKey: %+v (%v), want one session with the new ID %s", list, err, id)
		}
	})
}

// TestRevokeAllRefusesAnImportedDataCookie: after RevokeAll, a data
// cookie from before it that the server engine would take in (written by
// the cookie engine of the same deployment, whose Registry is the server
// engine's store) is refused too.
func TestRevokeAllRefusesAnImportedDataCookie(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	old := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) { c.Registry = st })
	anon, user := &device{h: old, ua: "Anon"}, &device{h: old, ua: "User"}
	if err := anon.do(func(_ context.Context, s *Session) { s.Set("theme", "dark") }); err != nil {
		t.Fatal(err)
	}
	user.login("imp")
	h := newHarness(t, engineCase{name: "server", engine: EngineServer}, func(c *Config) { c.Store = st })
	h.clock.now = old.clock.Now()
	anon.h, user.h = h, h
	h.clock.Add(time.Second)
	if err := h.m.RevokeAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	var theme any
	if err := anon.do(func(_ context.Context, s *Session) { theme = s.Get("theme") }); err != nil || theme != nil {
		t.Errorf("an anonymous data cookie from before RevokeAll: theme %v (%v), want none", theme, err)
	}
	if u := user.user(); u != "" {
		t.Errorf("a logged-in data cookie from before RevokeAll is logged in as %q", u)
	}
}

func TestRevokeAll(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex)
		// A second Manager shares the index: another process.
		cfg := h.m.cfg
		other, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := &device{h: h, ua: "D"}
		d.login("u3")
		anon := &device{h: h, ua: "anonymous"}
		if err := anon.do(func(_ context.Context, s *Session) { s.Set("theme", "dark") }); err != nil {
			t.Fatal(err)
		}
		// The other process has read the not-before (none) already.
		oh := &harness{t: t, m: other, store: h.store, clock: h.clock, logs: h.logs}
		od := &device{h: oh, ua: "D", cookie: d.cookie}
		if od.user() != "u3" {
			t.Fatal("the other Manager does not read the session")
		}
		h.clock.Add(time.Second)
		if err := h.m.RevokeAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d.user() != "" {
			t.Error("the Manager that called RevokeAll still accepts a session from before")
		}
		var theme any
		if err := anon.do(func(_ context.Context, s *Session) { theme = s.Get("theme") }); err != nil || theme != nil {
			t.Errorf("an anonymous session from before RevokeAll: theme %v (%v), want none", theme, err)
		}
		od.cookie = d.cookie
		h.clock.Add(DefaultRevalidateInterval)
		if od.user() != "" {
			t.Error("another Manager accepts a session from before RevokeAll after the interval")
		}
		// New sessions work.
		n := &device{h: h, ua: "N"}
		n.login("u3")
		if n.user() != "u3" {
			t.Error("a login after RevokeAll does not hold")
		}
	})
}

// TestClientAddrOnlyWhenAsked: without RecordClientAddr, a user's
// listed sessions carry their device's User-Agent and no client address.
func TestClientAddrOnlyWhenAsked(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex)
		(&device{h: h, ua: "Laptop/1.0"}).login("addr")
		list, err := h.m.UserSessions(context.Background(), "addr")
		if err != nil || len(list) != 1 {
			t.Fatalf("UserSessions = %v, %v; want one session", list, err)
		}
		if list[0].UserAgent != "Laptop/1.0" || list[0].ClientAddr != "" {
			t.Errorf("listed device: User-Agent %q, address %q; want Laptop/1.0 and no address", list[0].UserAgent, list[0].ClientAddr)
		}
	})
}

func TestNotBefore(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		old := newHarness(t, ec)
		d := &device{h: old, ua: "D"}
		if err := d.do(func(ctx context.Context, s *Session) {
			s.Set("k", "v")
			if err := s.Login(ctx, "u4"); err != nil {
				t.Error(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		cut := old.clock.Now().Add(time.Second)
		// The same deployment, configured with a not-before after the
		// session was made; for the cookie engine, also switched to the
		// server engine, which would otherwise import the data cookie.
		h := newHarness(t, ec, func(c *Config) {
			c.NotBefore = cut
			if ec.engine == EngineCookie {
				st := memory.New()
				t.Cleanup(func() { st.Close() })
				c.Engine, c.Store = EngineServer, st
			} else {
				c.Store = old.store
			}
		})
		h.clock.now = old.clock.Now()
		d.h = h
		var got any
		if err := d.do(func(_ context.Context, s *Session) { got = s.Get("k") }); err != nil || got != nil {
			t.Fatalf("a session from before NotBefore read %v (%v), want none", got, err)
		}
		if d.cookie != "" {
			t.Error("the refused session's cookie was not deleted")
		}
		h.clock.Add(2 * time.Second)
		n := &device{h: h, ua: "N"}
		n.login("u4")
		if n.user() != "u4" {
			t.Error("a session made after NotBefore is refused")
		}
	})
}

// TestNotBeforeCreatedOrAuthenticated: NotBefore refuses an anonymous
// session created before it and a logged-in one authenticated before it,
// and keeps a session created before it but logged in after, on every
// engine (the cookie engine's own data cookies included).
func TestNotBeforeCreatedOrAuthenticated(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		old := newHarness(t, ec)
		anon, early, late := &device{h: old, ua: "Anon"}, &device{h: old, ua: "Early"}, &device{h: old, ua: "Late"}
		for _, d := range []*device{anon, late} {
			if err := d.do(func(_ context.Context, s *Session) { s.Set("k", "v") }); err != nil {
				t.Fatal(err)
			}
		}
		early.login("nb")
		cut := old.clock.Now().Add(5 * time.Second)
		old.clock.Add(10 * time.Second)
		if err := late.do(func(ctx context.Context, s *Session) {
			if err := s.Login(ctx, "nb"); err != nil {
				t.Error(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, ec, func(c *Config) { c.NotBefore, c.Store = cut, old.store })
		h.clock.now = old.clock.Now()
		for _, d := range []*device{anon, early, late} {
			d.h = h
		}
		var got any
		if err := anon.do(func(_ context.Context, s *Session) { got = s.Get("k") }); err != nil || got != nil {
			t.Errorf("an anonymous session created before NotBefore read %v (%v), want none", got, err)
		}
		if u := early.user(); u != "" {
			t.Errorf("a session authenticated before NotBefore is logged in as %q", u)
		}
		if u := late.user(); u != "nb" {
			t.Errorf("a session created before NotBefore and logged in after is logged in as %q, want nb", u)
		}
	})
}

func TestMaxUserSessions(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		t.Run("refuse", func(t *testing.T) {
			h := newHarness(t, ec, withIndex, func(c *Config) { c.MaxUserSessions = 2 })
			a, b, c := &device{h: h, ua: "A"}, &device{h: h, ua: "B"}, &device{h: h, ua: "C"}
			a.login("u5")
			b.login("u5")
			var lerr error
			if err := c.do(func(ctx context.Context, s *Session) { lerr = s.Login(ctx, "u5") }); err != nil {
				t.Fatalf("a refused login failed the request: %v", err)
			}
			if !errors.Is(lerr, ErrTooManySessions) {
				t.Fatalf("a third login: %v, want ErrTooManySessions", lerr)
			}
			if c.user() != "" || a.user() != "u5" || b.user() != "u5" {
				t.Fatal("a refused login changed who is logged in")
			}
			// Logging in again on a device already counted is not a new session.
			a.login("u5")
			if a.user() != "u5" {
				t.Fatal("logging in again at the limit was refused")
			}
		})
		t.Run("end oldest", func(t *testing.T) {
			h := newHarness(t, ec, withIndex, func(c *Config) { c.MaxUserSessions, c.EndOldestSession = 2, true })
			a, b, c := &device{h: h, ua: "A"}, &device{h: h, ua: "B"}, &device{h: h, ua: "C"}
			a.login("u6")
			h.clock.Add(time.Second)
			b.login("u6")
			h.clock.Add(time.Second)
			c.login("u6")
			h.clock.Add(DefaultRevalidateInterval)
			if a.user() != "" || b.user() != "u6" || c.user() != "u6" {
				t.Fatal("at the limit, the oldest session was not the one ended")
			}
			list, err := h.m.UserSessions(context.Background(), "u6")
			if err != nil || len(list) != 2 {
				t.Fatalf("%d sessions (%v), want 2", len(list), err)
			}
		})
	})
}

func TestReauthentication(t *testing.T) {
	h := newHarness(t, engineCase{name: "cookie", engine: EngineCookie})
	d := &device{h: h, ua: "D"}
	if err := d.do(func(_ context.Context, s *Session) {
		if s.AuthenticatedWithin(time.Hour) || !s.AuthenticatedAt().IsZero() {
			t.Error("an anonymous session reports an authentication")
		}
	}); err != nil {
		t.Fatal(err)
	}
	d.login("u7")
	h.clock.Add(11 * time.Minute)
	if err := d.do(func(_ context.Context, s *Session) {
		if s.AuthenticatedWithin(10 * time.Minute) {
			t.Error("an 11-minute-old login counts as within 10 minutes")
		}
		s.Reauthenticated()
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.do(func(_ context.Context, s *Session) {
		if !s.AuthenticatedWithin(10 * time.Minute) {
			t.Error("Reauthenticated did not count")
		}
		if s.UserID() != "u7" {
			t.Error("the user is lost without an index")
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.UserSessions(context.Background(), "u7"); !errors.Is(err, ErrNoIndex) {
		t.Errorf("UserSessions without an index: %v, want ErrNoIndex", err)
	}
}

// TestReauthenticatedInTheIndex: Reauthenticated reaches the index with
// the response that saves it, not at the session's next check: the list
// shows the new authentication time, and EndOldestSession, which ends the
// session authenticated longest ago, spares it.
func TestReauthenticatedInTheIndex(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex, func(c *Config) { c.MaxUserSessions, c.EndOldestSession = 2, true })
		a, b, c := &device{h: h, ua: "A"}, &device{h: h, ua: "B"}, &device{h: h, ua: "C"}
		a.login("u13")
		h.clock.Add(time.Second)
		b.login("u13")
		h.clock.Add(10 * time.Second) // within the interval: no check is due
		var aID string
		if err := a.do(func(_ context.Context, s *Session) { aID = s.ID(); s.Reauthenticated() }); err != nil {
			t.Fatal(err)
		}
		list, err := h.m.UserSessions(context.Background(), "u13")
		if err != nil {
			t.Fatal(err)
		}
		for _, us := range list {
			if us.ID == aID && us.AuthenticatedAt.Unix() != h.clock.Now().Unix() {
				t.Errorf("after Reauthenticated the index says A authenticated at %v, want %v", us.AuthenticatedAt, h.clock.Now())
			}
		}
		c.login("u13")
		h.clock.Add(DefaultRevalidateInterval)
		if a.user() != "u13" || b.user() != "" || c.user() != "u13" {
			t.Fatalf("at the limit: A %q, B %q, C %q; want B, the session authenticated longest ago, ended", a.user(), b.user(), c.user())
		}
	})
}

// countingIndex counts the index operations of a real index and fails
// them on demand.
type countingIndex struct {
	server.Index
	binds, touches, entries, unbinds atomic.Int64
	fail                             atomic.Bool
}

var errIndexDown = errors.New("index unreachable")

func (c *countingIndex) Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	c.binds.Add(1)
	if c.fail.Load() {
		return errIndexDown
	}
	return c.Index.Bind(ctx, user, id, blob, expires)
}

func (c *countingIndex) Touch(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	c.touches.Add(1)
	if c.fail.Load() {
		return errIndexDown
	}
	return c.Index.Touch(ctx, user, id, blob, expires)
}

func (c *countingIndex) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	c.entries.Add(1)
	if c.fail.Load() {
		return nil, errIndexDown
	}
	return c.Index.Entries(ctx, user)
}

func (c *countingIndex) Unbind(ctx context.Context, user string, ids ...string) error {
	c.unbinds.Add(1)
	if c.fail.Load() {
		return errIndexDown
	}
	return c.Index.Unbind(ctx, user, ids...)
}

func (c *countingIndex) total() int64 {
	return c.binds.Load() + c.touches.Load() + c.entries.Load() + c.unbinds.Load()
}

// TestRegistryOperationsPerInterval: a cookie session bound to a user makes
// at most two registry operations per interval, over 10,000 requests.
func TestRegistryOperationsPerInterval(t *testing.T) {
	reg := &countingIndex{Index: memory.New()}
	h := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) { c.Registry = reg })
	d := &device{h: h, ua: "D"}
	d.login("u8")
	start := reg.total()
	const requests = 10000
	step := 100 * time.Millisecond // 10,000 requests over 1,000 s: 16.7 intervals
	for i := range requests {
		h.clock.Add(step)
		if err := d.do(func(_ context.Context, s *Session) {
			if s.UserID() != "u8" {
				t.Fatalf("request %d: logged out", i)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	ops := reg.total() - start
	intervals := float64(requests) * float64(step) / float64(DefaultRevalidateInterval)
	perInterval := float64(ops) / intervals
	t.Logf("%d registry operations over %d requests, %.1f intervals: %.2f per interval (touches %d, reads of the global not-before %d)", ops, requests, intervals, perInterval, reg.touches.Load(), reg.entries.Load())
	if perInterval > 2 {
		t.Errorf("%.2f registry operations per session per interval, want at most 2", perInterval)
	}
	if ops == 0 {
		t.Error("no registry operation at all: the session is never re-validated")
	}
}

// TestNotBeforeReadOncePerInterval: the global not-before is read once
// per interval by the Manager, however many logged-in sessions it serves;
// each session's own check stays one touch per interval.
func TestNotBeforeReadOncePerInterval(t *testing.T) {
	reg := &countingIndex{Index: memory.New()}
	h := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) { c.Registry = reg })
	devices := make([]*device, 5)
	for i := range devices {
		devices[i] = &device{h: h, ua: "D"}
		devices[i].login("u12")
	}
	reads, touches := reg.entries.Load(), reg.touches.Load()
	const intervals = 10
	for range intervals * 100 {
		h.clock.Add(DefaultRevalidateInterval / 100)
		for _, d := range devices {
			if d.user() != "u12" {
				t.Fatal("logged out")
			}
		}
	}
	reads, touches = reg.entries.Load()-reads, reg.touches.Load()-touches
	t.Logf("%d sessions over %d intervals: %d reads of the global not-before, %d touches", len(devices), intervals, reads, touches)
	if reads > intervals+1 || touches > int64(len(devices))*(intervals+1) || reads == 0 || touches == 0 {
		t.Errorf("%d reads of the global not-before and %d touches; want at most %d and %d", reads, touches, intervals+1, len(devices)*(intervals+1))
	}
}

// TestRevocationBetweenChecks: a cookie session revoked between two of
// its checks stays usable until its next check is due, and a request that
// begins before that moment and saves after it succeeds (its load did not
// check the index, and its save has no reason to); the request after it
// is refused. Only a request that lasts longer than an interval touches
// the entry at save, and finding it revoked is then ErrInterrupted.
func TestRevocationBetweenChecks(t *testing.T) {
	ctx := context.Background()
	interval := DefaultRevalidateInterval
	for _, frac := range []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 999 * time.Millisecond} {
		h := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) { c.Registry = memory.New() })
		h.clock.Add(time.Duration(h.clock.Now().UnixNano()%int64(time.Second))*-1 + frac)
		d := &device{h: h, ua: "D"}
		d.login("u10")
		if err := h.m.RevokeUserSessions(ctx, "u10", ""); err != nil {
			t.Fatal(err)
		}
		// The check is due a whole interval after the login's second.
		h.clock.Add(interval - frac - 10*time.Millisecond)
		var user string
		err := d.do(func(_ context.Context, s *Session) {
			user = s.UserID()
			s.Set("visits", 1)
			h.clock.Add(20 * time.Millisecond) // the check falls due while the handler runs
		})
		if err != nil || user != "u10" {
			t.Fatalf("login at +%v: a request begun before the check was due: %v (user %q), want it served", frac, err, user)
		}
		if got := d.user(); got != "" {
			t.Fatalf("login at +%v: once the check is due the revoked session is still logged in as %q", frac, got)
		}
	}

	// A request longer than an interval touches the entry when it saves.
	h := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) { c.Registry = memory.New() })
	d := &device{h: h, ua: "D"}
	d.login("u11")
	cookie := d.cookie
	if err := h.m.RevokeUserSessions(ctx, "u11", ""); err != nil {
		t.Fatal(err)
	}
	err := d.do(func(_ context.Context, s *Session) {
		s.Set("visits", 1)
		h.clock.Add(3 * interval)
	})
	if !errors.Is(err, ErrInterrupted) || d.cookie != cookie {
		t.Fatalf("a save after the session was revoked, past its entry's slack: %v, cookie changed %v; want ErrInterrupted and no cookie", err, d.cookie != cookie)
	}
}

// TestRegistryDown: a bound session whose check against the registry
// fails gets the error response, never an empty session or a silent pass;
// a login whose entry cannot be written fails and writes nothing.
func TestRegistryDown(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		var reg *countingIndex
		h := wrappedHarness(t, ec, withIndex, func(ix server.Index) server.Index { reg = &countingIndex{Index: ix}; return reg })
		d := &device{h: h, ua: "D"}
		d.login("u9")
		cookie := d.cookie
		reg.fail.Store(true)
		h.clock.Add(DefaultRevalidateInterval)
		var read any
		err := d.do(func(_ context.Context, s *Session) { read = s.Get("cart") })
		if !errors.Is(err, ErrStore) || !errors.Is(err, errIndexDown) {
			t.Fatalf("a check against a registry that is down: %v, want a store error", err)
		}
		if read != nil {
			t.Errorf("the session was served (%v) although it could not be checked", read)
		}
		if d.cookie != cookie {
			t.Error("the failed request changed the cookie")
		}
		// A login while the registry is down fails and leaves nothing.
		n := &device{h: h, ua: "N"}
		err = n.do(func(ctx context.Context, s *Session) {
			if err := s.Login(ctx, "u9"); err != nil {
				t.Errorf("Login itself: %v", err) // the entry is written at save
			}
		})
		if !errors.Is(err, ErrStore) || n.cookie != "" {
			t.Fatalf("a login whose index entry failed: %v, cookie %q; want a store error and no cookie", err, n.cookie)
		}
		if mem, ok := h.store.(*memory.Store); ok && mem.Len() != 1 {
			t.Errorf("the store holds %d sessions, want only the first device's", mem.Len())
		}
		reg.fail.Store(false)
		if d.user() != "u9" {
			t.Error("the session is lost once the registry is back")
		}
	})
}

// TestAutoKeepsBoundSessionsInTheStore: on the auto engine a logged-in
// session lives in the store, where a revocation deletes it at once.
func TestAutoKeepsBoundSessionsInTheStore(t *testing.T) {
	st := memory.New()
	h := newHarness(t, engineCase{name: "auto", engine: EngineAuto}, func(c *Config) { c.Store = st })
	d := &device{h: h, ua: "D"}
	if err := d.do(func(_ context.Context, s *Session) { s.Set("a", 1) }); err != nil {
		t.Fatal(err)
	}
	if codec.IsRef(d.cookie) {
		t.Fatal("an anonymous small session is not in the cookie")
	}
	d.login("u10")
	if !codec.IsRef(d.cookie) || st.Len() != 1 {
		t.Fatalf("a logged-in session is not in the store (cookie of %d bytes, %d stored)", len(d.cookie), st.Len())
	}
}

// opStore is a memory store, index included, that counts every operation:
// each is one round trip on the MySQL and Redis stores (see their
// round-trip tests).
type opStore struct {
	*memory.Store
	ops atomic.Int64
}

func (s *opStore) Load(ctx context.Context, k string) ([]byte, error) {
	s.ops.Add(1)
	return s.Store.Load(ctx, k)
}
func (s *opStore) Create(ctx context.Context, k string, b []byte, e time.Time) error {
	s.ops.Add(1)
	return s.Store.Create(ctx, k, b, e)
}
func (s *opStore) Update(ctx context.Context, k string, b []byte, e time.Time) error {
	s.ops.Add(1)
	return s.Store.Update(ctx, k, b, e)
}
func (s *opStore) Delete(ctx context.Context, k string) error {
	s.ops.Add(1)
	return s.Store.Delete(ctx, k)
}
func (s *opStore) Bind(ctx context.Context, u, id string, b []byte, e time.Time) error {
	s.ops.Add(1)
	return s.Store.Bind(ctx, u, id, b, e)
}
func (s *opStore) Touch(ctx context.Context, u, id string, b []byte, e time.Time) error {
	s.ops.Add(1)
	return s.Store.Touch(ctx, u, id, b, e)
}
func (s *opStore) Entries(ctx context.Context, u string) ([]server.Entry, error) {
	s.ops.Add(1)
	return s.Store.Entries(ctx, u)
}
func (s *opStore) Unbind(ctx context.Context, u string, ids ...string) error {
	s.ops.Add(1)
	return s.Store.Unbind(ctx, u, ids...)
}

// TestServerEngineUserRoundTrips counts the store operations of a user's
// requests on the server engine against the same requests of an anonymous
// session: an ordinary request of a bound session costs none more, a login
// one more (the index entry), and listing a user's sessions one, whatever
// their number.
func TestServerEngineUserRoundTrips(t *testing.T) {
	st := &opStore{Store: memory.New()}
	h := newHarness(t, engineCase{name: "server", engine: EngineServer}, func(c *Config) { c.Store = st })
	count := func(d *device, f func(ctx context.Context, s *Session)) int64 {
		t.Helper()
		before := st.ops.Load()
		if err := d.do(f); err != nil {
			t.Fatal(err)
		}
		return st.ops.Load() - before
	}
	read := func(_ context.Context, s *Session) { _ = s.Get("cart") }
	write := func(_ context.Context, s *Session) { s.Set("cart", "2 books") }

	anon, user := &device{h: h, ua: "anon"}, &device{h: h, ua: "user"}
	count(anon, func(_ context.Context, s *Session) { s.Set("cart", "1 book") })
	count(user, func(_ context.Context, s *Session) { s.Set("cart", "1 book") })
	count(anon, read) // the Manager reads the global not-before once per interval
	// Login of an existing session: a new entry created, the index entry
	// bound and the old entry deleted; CycleKey checks the old entry (an
	// update) before it deletes it, and binds nothing.
	cycle := count(anon, func(ctx context.Context, s *Session) { s.CycleKey(ctx) })
	login := count(user, func(ctx context.Context, s *Session) { s.Login(ctx, "u11") })
	t.Logf("CycleKey %d operations, Login %d", cycle, login)
	if cycle != 4 || login != 4 {
		t.Errorf("CycleKey of a stored session: %d store operations, Login %d; want 4 each", cycle, login)
	}
	if login > cycle+1 {
		t.Errorf("Login costs %d store operations, CycleKey %d: want at most one more", login, cycle)
	}
	for _, c := range []struct {
		name string
		f    func(ctx context.Context, s *Session)
	}{{"read", read}, {"write", write}} {
		a, u := count(anon, c.f), count(user, c.f)
		t.Logf("%s: anonymous %d operations, logged in %d", c.name, a, u)
		if u != a || a > 2 {
			t.Errorf("an ordinary %s of a logged-in session costs %d operations, an anonymous one %d", c.name, u, a)
		}
	}
	// Once per interval, the first request of a logged-in session also
	// touches its index entry and saves the session with the check's time.
	h.clock.Add(DefaultRevalidateInterval)
	count(anon, read) // the global not-before, read again
	a := count(anon, read)
	if u := count(user, read); u != a+2 {
		t.Errorf("the first read of a logged-in session in an interval costs %d operations, an anonymous one %d: want two more", u, a)
	}
	if u := count(user, read); u != a {
		t.Errorf("the next read of a logged-in session in the interval costs %d operations, an anonymous one %d", u, a)
	}
	// A key change of a logged-in session: the load, the new copy and its
	// entry, the old copy's check (an update) and delete, and the old
	// entry's removal.
	other := &device{h: h, ua: "other"}
	other.login("u12")
	if n := count(other, func(ctx context.Context, s *Session) { s.CycleKey(ctx) }); n != 6 {
		t.Errorf("CycleKey of a logged-in session: %d store operations, want 6", n)
	}
	// A logout of a logged-in session: the load, the entry's removal, the
	// copy's delete and one listing, for a key change that raced it.
	if n := count(other, func(ctx context.Context, s *Session) { s.Logout(ctx) }); n != 4 {
		t.Errorf("Logout of a logged-in session: %d store operations, want 4", n)
	}
	// With MaxUserSessions, Login also reads the user's entries: one more.
	hl := newHarness(t, engineCase{name: "server", engine: EngineServer}, func(c *Config) {
		c.Store, c.MaxUserSessions = st, 5
	})
	limited := &device{h: hl, ua: "limited"}
	if err := limited.do(func(_ context.Context, s *Session) { s.Set("cart", "1 book") }); err != nil {
		t.Fatal(err)
	}
	if err := limited.do(read); err != nil { // the global not-before, once
		t.Fatal(err)
	}
	before := st.ops.Load()
	limited.login("u11b")
	if n := st.ops.Load() - before; n != login+1 {
		t.Errorf("Login under MaxUserSessions: %d store operations, want %d (Login's and the listing)", n, login+1)
	}
	for range 40 {
		(&device{h: h, ua: "more"}).login("u11")
	}
	before = st.ops.Load()
	list, err := h.m.UserSessions(context.Background(), "u11")
	if n := st.ops.Load() - before; err != nil || n != 1 || len(list) != 41 {
		t.Errorf("listing 41 sessions: %d sessions, %d operations (%v); want 41 in one", len(list), n, err)
	}
}

// BenchmarkUserSession is BenchmarkRoundTrip for a logged-in session on
// the cookie engine, without and with a Registry: what re-validation
// against the registry costs an ordinary request. The clock moves 6 ms per
// request (10,000 requests a minute, one RevalidateInterval), and each
// request carries the cookie the previous response set, as a browser does.
func BenchmarkUserSession(b *testing.B) {
	for _, withRegistry := range []bool{false, true} {
		name := "cookie"
		if withRegistry {
			name = "cookie+registry"
		}
		b.Run(name, func(b *testing.B) {
			clock := &fakeClock{now: time.Now()}
			cfg := Config{Logger: slog.New(slog.DiscardHandler), Now: clock.Now}
			reg := &countingIndex{Index: memory.New()}
			if withRegistry {
				cfg.Registry = reg
			}
			m, _ := mwManager(b, cfg)
			rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) {
				s := FromRequest(r)
				s.Set("n", 1)
				if err := s.Login(r.Context(), "u42"); err != nil {
					b.Fatal(err)
				}
			}, "")
			c, ok := mwCookie(m, rec.Result().Header)
			if !ok {
				b.Fatal("no cookie after Login")
			}
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := FromRequest(r)
				n, _ := Get[int](s, "n")
				s.Set("n", n+1)
				io.WriteString(w, "ok")
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Cookie", m.jar.Name()+"="+c.Value)
			start := reg.total()
			b.ReportAllocs()
			for b.Loop() {
				clock.Add(6 * time.Millisecond)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				c, ok := mwCookie(m, rec.Result().Header)
				if rec.Code != 200 || !ok {
					b.Fatalf("status %d, headers %v", rec.Code, rec.Header())
				}
				req.Header.Set("Cookie", m.jar.Name()+"="+c.Value)
			}
			if withRegistry {
				b.ReportMetric(float64(reg.total()-start)/float64(b.N)*10000, "registry-ops/10k-req")
			}
		})
	}
}

// TestLoginNewIdentity: Login is a new identity (ID, store key, cookie),
// the old one is gone, and the data stays.
func TestLoginNewIdentity(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex)
		d := &device{h: h, ua: "D"}
		var id, key string
		if err := d.do(func(_ context.Context, s *Session) { s.Set("cart", "1 book"); id = s.ID() }); err != nil {
			t.Fatal(err)
		}
		before := d.cookie
		if err := d.do(func(_ context.Context, s *Session) { key = s.Key() }); err != nil {
			t.Fatal(err)
		}
		var newID, newKey string
		if err := d.do(func(ctx context.Context, s *Session) {
			if err := s.Login(ctx, "u12"); err != nil {
				t.Fatal(err)
			}
			newID = s.ID()
		}); err != nil {
			t.Fatal(err)
		}
		if err := d.do(func(_ context.Context, s *Session) { newKey = s.Key() }); err != nil {
			t.Fatal(err)
		}
		if newID == id || d.cookie == before || (key != "" && (newKey == key || h.exists(key))) {
			t.Errorf("Login kept the identity: ID %s → %s, key changed %v, old key stored %v", id, newID, newKey != key, h.exists(key))
		}
		old := &device{h: h, ua: "D", cookie: before}
		if ec.keyed && old.user() != "" {
			t.Error("the cookie from before Login reads the logged-in session")
		}
	})
}

// TestIndexEntriesSealed: the index keeps no user ID and no device in
// clear, and an entry copied under another user or ID does not verify.
func TestIndexEntriesSealed(t *testing.T) {
	st := memory.New()
	h := newHarness(t, engineCase{name: "server", engine: EngineServer}, func(c *Config) { c.Store = st })
	user, agent := "ada@example.com", "DistinctiveBrowser/9.9"
	d := &device{h: h, ua: agent}
	d.login(user)
	ctx := context.Background()
	es, err := st.Entries(ctx, indexUserKey(user))
	if err != nil || len(es) != 1 {
		t.Fatalf("the index holds %d entries under the user's key (%v), want 1", len(es), err)
	}
	if uk := indexUserKey(user); strings.Contains(uk, "ada") || len(uk) != 64 {
		t.Errorf("user key %q is not a SHA-256 of the user ID", uk)
	}
	for _, s := range []string{user, agent, "192.0.2.7"} {
		if strings.Contains(string(es[0].Blob), s) {
			t.Errorf("the entry holds %q in clear", s)
		}
	}
	other := "grace@example.com"
	if err := st.Bind(ctx, indexUserKey(other), es[0].ID, es[0].Blob, es[0].Expires); err != nil {
		t.Fatal(err)
	}
	if list, err := h.m.UserSessions(ctx, other); err != nil || len(list) != 0 {
		t.Errorf("an entry copied to another user is listed: %d sessions (%v)", len(list), err)
	}
	if err := st.Bind(ctx, indexUserKey(user), strings.Repeat("0", 24), es[0].Blob, es[0].Expires); err != nil {
		t.Fatal(err)
	}
	if list, err := h.m.UserSessions(ctx, user); err != nil || len(list) != 1 {
		t.Errorf("an entry copied under another ID is listed: %d sessions (%v), want the one real", len(list), err)
	}
}

// TestTokenRevocation: a logged-in cookie-engine token, like the cookie, is
// refused within RevalidateInterval of its revocation, copies included.
func TestTokenRevocation(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	reg := memory.New()
	m, _ := mwManager(t, Config{TokenHeader: "Session-Token", Registry: reg, Now: clock.Now})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		switch r.URL.Path {
		case "/login":
			if err := s.Login(r.Context(), "u13"); err != nil {
				t.Error(err)
			}
		case "/whoami":
			io.WriteString(w, s.UserID())
		}
	}))
	c := &tokenClient{t: t, m: m, h: h}
	c.do("/login")
	stolen := c.tok
	if got := c.do("/whoami").Body.String(); got != "u13" {
		t.Fatalf("after login the token reads %q", got)
	}
	if err := m.RevokeUserSessions(context.Background(), "u13", ""); err != nil {
		t.Fatal(err)
	}
	clock.Add(DefaultRevalidateInterval)
	for _, tok := range []string{c.tok, stolen} {
		thief := &tokenClient{t: t, m: m, h: h, tok: tok}
		if got := thief.do("/whoami").Body.String(); got != "" {
			t.Errorf("a revoked token reads as %q", got)
		}
	}
}
