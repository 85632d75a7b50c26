package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// Requests of one user that overlap: a key change against a logout or a
// revocation that completes while it runs.

// begin starts a request of the device: the session is read, and the
// returned commit ends the request as device.do does.
func (d *device) begin() (context.Context, *Session, func() error) {
	d.h.t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("User-Agent", d.ua)
	if d.cookie != "" {
		req.AddCookie(&http.Cookie{Name: d.h.m.jar.Name(), Value: d.cookie})
	}
	s := new(Session)
	ctx := &sessionContext{Context: context.Background(), s: s}
	d.h.m.newSession(ctx, req, s)
	return ctx, s, func() error {
		d.h.cookie = d.cookie
		_, err := d.h.commitStatus(s, http.StatusOK)
		if err == nil {
			d.cookie = d.h.cookie
		}
		return err
	}
}

// loggedOut checks that no copy of the given cookies is logged in, once
// every copy has been checked again, and that the user lists no session.
func loggedOut(t *testing.T, h *harness, user string, cookies ...string) {
	t.Helper()
	h.clock.Add(DefaultRevalidateInterval) // the cookie engine's next check
	for _, c := range cookies {
		if got := (&device{h: h, ua: "Copy", cookie: c}).user(); got != "" {
			t.Errorf("a cookie of the ended session is logged in as %q", got)
		}
	}
	if list, err := h.m.UserSessions(context.Background(), user); err != nil || len(list) != 0 {
		t.Errorf("the user lists %d sessions (%v), want none", len(list), err)
	}
}

// TestCycleKeyAfterConcurrentLogout: a request reads the logged-in
// session; another logs out and completes; then the first changes the key.
// Its save is ErrInterrupted and leaves nothing: the logout holds.
func TestCycleKeyAfterConcurrentLogout(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, d := loggedIn(t, ec, withIndex, "A", "lou")
		tab := &device{h: h, ua: "A", cookie: d.cookie}
		ctx, s, commit := tab.begin()
		if s.UserID() != "lou" {
			t.Fatal("the session is not logged in")
		}
		d.logout()
		if err := s.CycleKey(ctx); err != nil {
			t.Fatalf("CycleKey: %v", err)
		}
		old := tab.cookie
		if err := commit(); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("saving a key change of a session logged out meanwhile: %v, want ErrInterrupted", err)
		}
		if tab.cookie != old {
			t.Error("the interrupted request set a cookie")
		}
		if mem, ok := h.store.(*memory.Store); ok && mem.Len() != 0 {
			t.Errorf("the store holds %d sessions after the logout, want none", mem.Len())
		}
		loggedOut(t, h, "lou", old)
	})
}

// TestCycleKeyAfterConcurrentFlush: the same for a session bound to no
// user, on the engines that keep it in the store (a cookie session
// bound to no user has nothing on the server to end).
func TestCycleKeyAfterConcurrentFlush(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		if ec.engine != EngineServer {
			t.Skip("kept in the cookie")
		}
		h := newHarness(t, ec)
		d := &device{h: h, ua: "A"}
		if err := d.do(func(_ context.Context, s *Session) { s.Set("cart", "3 books") }); err != nil {
			t.Fatal(err)
		}
		tab := &device{h: h, ua: "A", cookie: d.cookie}
		ctx, s, commit := tab.begin()
		_ = s.Get("cart")
		if err := d.do(func(ctx context.Context, s *Session) {
			if err := s.Flush(ctx); err != nil {
				t.Errorf("Flush: %v", err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.CycleKey(ctx); err != nil {
			t.Fatal(err)
		}
		if err := commit(); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("saving a key change of a session flushed meanwhile: %v, want ErrInterrupted", err)
		}
		if mem, ok := h.store.(*memory.Store); ok && mem.Len() != 0 {
			t.Errorf("the store holds %d sessions after the flush, want none", mem.Len())
		}
		var cart any
		if err := tab.do(func(_ context.Context, s *Session) { cart = s.Get("cart") }); err != nil || cart != nil {
			t.Errorf("the flushed session is back: cart %v (%v)", cart, err)
		}
	})
}

// hookIndex runs a function once after the first Entries of a user (as if
// the caller had been delayed right after reading the list), and another
// once after the first Unbind.
type hookIndex struct {
	server.Index
	once, onceUnbind   sync.Once
	after, afterUnbind func()
}

func (h *hookIndex) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	es, err := h.Index.Entries(ctx, user)
	if h.after != nil && user != globalUser {
		h.once.Do(h.after)
	}
	return es, err
}

func (h *hookIndex) Unbind(ctx context.Context, user string, ids ...string) error {
	err := h.Index.Unbind(ctx, user, ids...)
	if h.afterUnbind != nil {
		h.onceUnbind.Do(h.afterUnbind)
	}
	return err
}

// wrappedHarness returns a harness whose user index (its Registry, or
// its store's own) is the one wrap makes of it.
func wrappedHarness(t *testing.T, ec engineCase, withIndex func(*Config), wrap func(server.Index) server.Index, more ...func(*Config)) *harness {
	t.Helper()
	return newHarness(t, ec, append([]func(*Config){withIndex, func(c *Config) {
		ix := c.Registry
		if ix == nil {
			ix = c.Store.(server.Index)
		}
		c.Registry = wrap(ix)
	}}, more...)...)
}

// hooked returns a harness whose index is wrapped in a hookIndex.
func hooked(t *testing.T, ec engineCase, withIndex func(*Config)) (*harness, *hookIndex) {
	hook := &hookIndex{}
	h := wrappedHarness(t, ec, withIndex, func(ix server.Index) server.Index { hook.Index = ix; return hook })
	return h, hook
}

// failUnbindIndex fails the next Unbind once armed, as an index that is
// briefly unreachable.
type failUnbindIndex struct {
	server.Index
	armed atomic.Bool
}

func (f *failUnbindIndex) Unbind(ctx context.Context, user string, ids ...string) error {
	if f.armed.CompareAndSwap(true, false) {
		return errors.New("index unreachable")
	}
	return f.Index.Unbind(ctx, user, ids...)
}

// TestRevokeKeepsTheSessionWhoseOldEntryLingers: a key change whose old
// index entry could not be removed leaves that entry listed, and the new
// entry names it as prior. RevokeUserSessions keeping the session ends
// the lingering entry and the other sessions, and not the kept session,
// although its entry names an entry the revocation ended.
func TestRevokeKeepsTheSessionWhoseOldEntryLingers(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		fi := &failUnbindIndex{}
		h := wrappedHarness(t, ec, withIndex, func(ix server.Index) server.Index { fi.Index = ix; return fi })
		d, other := &device{h: h, ua: "A"}, &device{h: h, ua: "B"}
		d.login("una")
		other.login("una")
		fi.armed.Store(true)
		var kept string
		if err := d.cycleKey(func(_ context.Context, s *Session) { kept = s.ID() }); err != nil {
			t.Fatalf("the key change: %v", err)
		}
		if fi.armed.Load() {
			t.Fatal("the key change removed no index entry")
		}
		if list, err := h.m.UserSessions(context.Background(), "una"); err != nil || len(list) != 3 {
			t.Fatalf("before the revocation the user lists %d sessions (%v), want 3 (one the old identity's)", len(list), err)
		}
		if err := h.m.RevokeUserSessions(context.Background(), "una", kept); err != nil {
			t.Fatalf("RevokeUserSessions: %v", err)
		}
		h.clock.Add(DefaultRevalidateInterval) // the cookie engine's next check
		if got := d.user(); got != "una" {
			t.Errorf("the kept session is logged in as %q, want una", got)
		}
		if got := other.user(); got != "" {
			t.Errorf("the other session is logged in as %q after the revocation", got)
		}
		list, err := h.m.UserSessions(context.Background(), "una")
		if err != nil || len(list) != 1 || list[0].ID != kept {
			t.Errorf("after the revocation the user lists %v (%v), want only the kept session", list, err)
		}
	})
}

// movingIndex runs onEntries after every Entries of a user while it is
// set, never from within itself.
type movingIndex struct {
	server.Index
	onEntries func()
	in        bool
}

func (mi *movingIndex) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	es, err := mi.Index.Entries(ctx, user)
	if mi.onEntries != nil && !mi.in && user != globalUser {
		mi.in = true
		mi.onEntries()
		mi.in = false
	}
	return es, err
}

// TestRevokeOfSessionsThatKeepMoving: a session that changes its key
// every time a revocation has listed the user's sessions outruns the
// revocation's rounds; RevokeUserSessions then says so instead of
// reporting success, and a revocation once it has stopped ends it.
func TestRevokeOfSessionsThatKeepMoving(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		mi := &movingIndex{}
		h := wrappedHarness(t, ec, withIndex, func(ix server.Index) server.Index { mi.Index = ix; return mi })
		d := &device{h: h, ua: "A"}
		d.login("max")
		moves := 0
		mi.onEntries = func() {
			moves++
			if err := d.cycleKey(nil); err != nil {
				t.Errorf("key change %d: %v", moves, err)
			}
		}
		err := h.m.RevokeUserSessions(context.Background(), "max", "")
		mi.onEntries = nil
		if !errors.Is(err, errKeptMoving) {
			t.Errorf("RevokeUserSessions of a session that moved %d times: %v, want errKeptMoving", moves, err)
		}
		// One listing before the revocation starts, then one after each
		// of its five rounds (SECURITY.md: "up to five times").
		if want := 1 + 5; maxSuccessorRounds+1 != 5 || moves != want {
			t.Errorf("the session moved %d times (rounds %d), want %d: the first listing and one after each of 5 rounds", moves, maxSuccessorRounds+1, want)
		}
		if got := d.user(); got != "max" {
			t.Fatalf("the moving session is logged in as %q: nothing for the error to report", got)
		}
		if err := h.m.RevokeUserSessions(context.Background(), "max", ""); err != nil {
			t.Fatalf("RevokeUserSessions once the session stopped moving: %v", err)
		}
		loggedOut(t, h, "max", d.cookie)
	})
}

// TestLogoutRacingCycleKey: while a logout runs (its index entry just
// removed, its stored copy not yet deleted), another request saves a key
// change of the same session. Either the key change finds the old identity
// gone and is interrupted, or the logout ends the new identity too.
func TestLogoutRacingCycleKey(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, hook := hooked(t, ec, withIndex)
		d := &device{h: h, ua: "A"}
		d.login("liv")
		tab := &device{h: h, ua: "A", cookie: d.cookie}
		ctx, s, commit := tab.begin()
		if err := s.CycleKey(ctx); err != nil {
			t.Fatal(err)
		}
		var saveErr error
		hook.afterUnbind = func() {
			hook.afterUnbind = nil
			saveErr = commit()
		}
		d.logout()
		if saveErr != nil && !errors.Is(saveErr, ErrInterrupted) {
			t.Fatalf("the key change: %v, want success or ErrInterrupted", saveErr)
		}
		if mem, ok := h.store.(*memory.Store); ok && mem.Len() != 0 {
			t.Errorf("the store holds %d sessions after the logout, want none", mem.Len())
		}
		loggedOut(t, h, "liv", tab.cookie)
	})
}

// TestCycleKeyThenRevokeOthers: a request changes the key and then, as at
// a password change, ends every other session of the user but its own:
// its own, whose old identity is still listed until the save, stays.
func TestCycleKeyThenRevokeOthers(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex)
		d, other := &device{h: h, ua: "D"}, &device{h: h, ua: "O"}
		d.login("pat")
		other.login("pat")
		if err := d.cycleKey(func(ctx context.Context, s *Session) {
			if err := h.m.RevokeUserSessions(ctx, "pat", s.ID()); err != nil {
				t.Errorf("RevokeUserSessions: %v", err)
			}
		}); err != nil {
			t.Fatalf("the request: %v", err)
		}
		h.clock.Add(DefaultRevalidateInterval)
		if d.user() != "pat" {
			t.Error("the session that changed its key and kept itself was ended")
		}
		if other.user() != "" {
			t.Error("the other session survived")
		}
	})
}

// TestUserSessionsCurrentAfterCycleKey: in the request of a key change,
// before its save, the session's listed entry (its identity before) is
// the current one.
func TestUserSessionsCurrentAfterCycleKey(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex)
		d, other := &device{h: h, ua: "D"}, &device{h: h, ua: "O"}
		d.login("cai")
		other.login("cai")
		if err := d.cycleKey(func(ctx context.Context, s *Session) {
			list, err := h.m.UserSessions(ctx, "cai")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range list {
				if e.Current {
					n++
					if e.UserAgent != "D" {
						t.Errorf("the current entry is %q's", e.UserAgent)
					}
				}
			}
			if len(list) != 2 || n != 1 {
				t.Errorf("%d sessions listed, %d current; want 2 and 1", len(list), n)
			}
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCycleKeyThenRevokeOthersOutOfTheRequest: the same with a context
// that does not carry the session: its old identity is ended with the
// others, and the key change's save is ErrInterrupted.
func TestCycleKeyThenRevokeOthersOutOfTheRequest(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, d := loggedIn(t, ec, withIndex, "D", "pat")
		err := d.cycleKey(func(ctx context.Context, s *Session) {
			if err := h.m.RevokeUserSessions(context.Background(), "pat", s.ID()); err != nil {
				t.Errorf("RevokeUserSessions: %v", err)
			}
		})
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("the request: %v, want ErrInterrupted", err)
		}
	})
}

// TestCycleKeyThenEmpty: a key change, then every value removed by hand
// (a logout without Flush): nothing is saved, and the old identity ends.
func TestCycleKeyThenEmpty(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, d := loggedIn(t, ec, withIndex, "D", "eve")
		old := d.cookie
		if err := d.cycleKey(func(ctx context.Context, s *Session) {
			s.Clear()
		}); err != nil {
			t.Fatal(err)
		}
		if mem, ok := h.store.(*memory.Store); ok && mem.Len() != 0 {
			t.Errorf("the store holds %d sessions, want none", mem.Len())
		}
		loggedOut(t, h, "eve", old)
	})
}

// TestCycleKeyRacingRevocation: RevokeUserSessions lists the user's
// sessions, then a request that changed the key saves it (a new entry,
// the old one checked and removed) before the revocation deletes what it
// listed. The revocation ends the session under its new identity too.
func TestCycleKeyRacingRevocation(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, hook := hooked(t, ec, withIndex)
		d := &device{h: h, ua: "A"}
		d.login("rae")
		old := d.cookie
		ctx, s, commit := d.begin()
		if err := s.CycleKey(ctx); err != nil {
			t.Fatal(err)
		}
		var saveErr error
		hook.after = func() { saveErr = commit() }
		if err := h.m.RevokeUserSessions(context.Background(), "rae", ""); err != nil {
			t.Fatalf("RevokeUserSessions: %v", err)
		}
		if saveErr != nil {
			t.Fatalf("the key change, saved while the old entry was still listed: %v", saveErr)
		}
		if d.cookie == old {
			t.Fatal("the key change set no new cookie")
		}
		loggedOut(t, h, "rae", old, d.cookie)
	})
}

// TestEngineSwitchRecordsTheStoreKey: a session logged in on the cookie
// engine, read after the switch to the server or auto engine on the
// same store, moves into the store, and its index entry then names its
// store key, so that a revocation deletes it at once.
func TestEngineSwitchRecordsTheStoreKey(t *testing.T) {
	for _, engine := range []Engine{EngineServer, EngineAuto} {
		t.Run(string(engine), func(t *testing.T) {
			st := memory.New()
			t.Cleanup(func() { st.Close() })
			before := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) { c.Registry = st })
			d := &device{h: before, ua: "D"}
			d.login("sam")
			after := newHarness(t, engineCase{name: string(engine), engine: engine}, func(c *Config) { c.Store = st })
			d.h = after
			var id string
			if err := d.do(func(_ context.Context, s *Session) { id = s.ID() }); err != nil {
				t.Fatal(err)
			}
			if st.Len() != 1 {
				t.Fatalf("after the switch the store holds %d sessions, want the moved one", st.Len())
			}
			if err := after.m.RevokeSession(context.Background(), "sam", id); err != nil {
				t.Fatal(err)
			}
			if st.Len() != 0 {
				t.Error("the revocation left the stored session")
			}
			if got := d.user(); got != "" {
				t.Errorf("revoked, the session is still logged in as %q", got)
			}
		})
	}
}

// TestLogoutWhenTheLoadFails: a Logout whose own load of the session
// fails (the index, checked at the load, does not answer) says so instead
// of reporting an ended session.
func TestLogoutWhenTheLoadFails(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		reg := &countingIndex{}
		h := wrappedHarness(t, ec, withIndex, func(ix server.Index) server.Index { reg.Index = ix; return reg })
		d := &device{h: h, ua: "D"}
		d.login("lee")
		reg.fail.Store(true)
		h.clock.Add(DefaultRevalidateInterval)
		var logoutErr error
		err := d.do(func(ctx context.Context, s *Session) { logoutErr = s.Logout(ctx) })
		if !errors.Is(logoutErr, ErrStore) {
			t.Errorf("Logout when the session cannot be loaded: %v, want a store error", logoutErr)
		}
		if !errors.Is(err, ErrStore) {
			t.Errorf("the request: %v, want a store error", err)
		}
		reg.fail.Store(false)
		if d.user() != "lee" {
			t.Error("the failed Logout ended the session after all")
		}
	})
}

// hangIndex blocks reads of the global not-before until release is
// closed, once hang is set.
type hangIndex struct {
	server.Index
	hang    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (h *hangIndex) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	if user == globalUser && h.hang.Load() {
		select {
		case h.entered <- struct{}{}:
		default: // a later read: the test waits for the first only
		}
		select {
		case <-h.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return h.Index.Entries(ctx, user)
}

// TestStaleNotBeforeWhileTheIndexHangs: while one request waits on an
// index that does not answer for the global not-before, another does not
// serve a session on a value two intervals old: it waits too, until its
// context ends.
func TestStaleNotBeforeWhileTheIndexHangs(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		_, d, hi, first := hungNotBefore(t, ec, withIndex, 3*DefaultRevalidateInterval)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		s := d.read(ctx)
		if got := s.UserID(); got != "" {
			t.Errorf("served as %q on a not-before three intervals old while its read hangs", got)
		}
		if err := s.Err(); !errors.Is(err, ErrStore) {
			t.Errorf("the waiting request: %v, want a store error", err)
		}
		close(hi.release)
		if err := <-first; err != nil {
			t.Errorf("the first request, once the index answers: %v", err)
		}
	})
}

// TestYoungNotBeforeServedWhileTheIndexHangs: while one request reads
// the global not-before from an index that hangs, the others are served
// at once with the value they hold, as long as it is younger than two
// intervals.
func TestYoungNotBeforeServedWhileTheIndexHangs(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		_, d, hi, first := hungNotBefore(t, ec, withIndex, DefaultRevalidateInterval+DefaultRevalidateInterval/2)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		s := d.read(ctx)
		if got := s.UserID(); got != "pam" || s.Err() != nil {
			t.Errorf("while the read hangs, a request on a not-before 1.5 intervals old: user %q, err %v; want pam, served", got, s.Err())
		}
		close(hi.release)
		if err := <-first; err != nil && !errors.Is(err, ErrStore) {
			t.Errorf("the first request, once the index answers: %v", err)
		}
	})
}

// hungNotBefore logs a device in as pam (which reads the global
// not-before), lets the value age by age, makes the index hang, and
// starts a request that reads the value again and is held there. It
// returns the harness, the device, the index (close its release) and the
// held request's outcome.
func hungNotBefore(t *testing.T, ec engineCase, withIndex func(*Config), age time.Duration, more ...func(*Config)) (*harness, *device, *hangIndex, <-chan error) {
	t.Helper()
	hi := &hangIndex{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := wrappedHarness(t, ec, withIndex, func(ix server.Index) server.Index { hi.Index = ix; return hi }, more...)
	d := &device{h: h, ua: "D"}
	d.login("pam")
	if d.user() != "pam" {
		t.Fatal("not logged in")
	}
	h.clock.Add(age)
	hi.hang.Store(true)
	first := make(chan error, 1)
	go func() { first <- (&device{h: h, ua: "D", cookie: d.cookie}).doQuiet() }()
	select {
	case <-hi.entered: // the first request holds the read
	case <-time.After(30 * time.Second):
		t.Fatal("the first request never read the global not-before")
	}
	return h, d, hi, first
}

// read starts a request of the device under ctx and reads its session.
func (d *device) read(ctx context.Context) *Session {
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: d.h.m.jar.Name(), Value: d.cookie})
	s := new(Session)
	d.h.m.newSession(&sessionContext{Context: ctx, s: s}, req, s)
	_ = s.UserID()
	return s
}

// doQuiet is do without the harness's shared cookie, for a request on
// another goroutine: it reads the session and returns the commit's error.
func (d *device) doQuiet() error {
	_, err := d.h.m.commit(d.read(context.Background()), http.Header{}, http.StatusOK)
	return err
}

// TestTwoTabsCycleKeyAndLogout: two tabs read the session; the first
// changes the key and is saved; the second changes the key too, then logs
// out. The session ends under both new identities.
func TestTwoTabsCycleKeyAndLogout(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, d := loggedIn(t, ec, withIndex, "A", "tia")
		a, b := &device{h: h, ua: "A", cookie: d.cookie}, &device{h: h, ua: "A", cookie: d.cookie}
		actx, as, acommit := a.begin()
		bctx, bs, bcommit := b.begin()
		_, _ = as.UserID(), bs.UserID()
		if err := as.CycleKey(actx); err != nil {
			t.Fatal(err)
		}
		if err := acommit(); err != nil {
			t.Fatalf("the first tab's key change: %v", err)
		}
		if err := bs.CycleKey(bctx); err != nil {
			t.Fatal(err)
		}
		if err := bs.Logout(bctx); err != nil {
			t.Fatalf("Logout after CycleKey: %v", err)
		}
		if err := bcommit(); err != nil && !errors.Is(err, ErrInterrupted) {
			t.Fatalf("the second tab: %v", err)
		}
		loggedOut(t, h, "tia", a.cookie, d.cookie)
	})
}

// TestLoginAfterCycleKeyCountsOneSession: with MaxUserSessions 1, a
// request that changes the key and then logs the same user in again is
// one session, not two.
func TestLoginAfterCycleKeyCountsOneSession(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h := newHarness(t, ec, withIndex, func(c *Config) { c.MaxUserSessions = 1 })
		d := &device{h: h, ua: "D"}
		d.login("una")
		if err := d.cycleKey(func(ctx context.Context, s *Session) {
			if err := s.Login(ctx, "una"); err != nil {
				t.Errorf("Login after CycleKey: %v", err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		h.clock.Add(DefaultRevalidateInterval)
		if d.user() != "una" {
			t.Error("the session is not logged in")
		}
	})
}

// keyChangedInAnotherTab logs a device in as user on the cookie engine
// (with a Registry) and saves a CycleKey; it returns the harness, the
// device, which holds the new cookie, and the cookie from before.
func keyChangedInAnotherTab(t *testing.T, user string) (*harness, *device, string) {
	t.Helper()
	reg := memory.New()
	t.Cleanup(func() { reg.Close() })
	h := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) { c.Registry = reg })
	d := &device{h: h, ua: "A"}
	d.login(user)
	old := d.cookie
	if err := d.cycleKey(nil); err != nil {
		t.Fatal(err)
	}
	return h, d, old
}

// logoutWith logs out with cookie, which must carry the session of
// loggedIn ("" for none).
func logoutWith(t *testing.T, h *harness, cookie, loggedIn string) {
	t.Helper()
	tab := &device{h: h, ua: "A", cookie: cookie}
	if err := tab.do(func(ctx context.Context, s *Session) {
		if got := s.UserID(); got != loggedIn {
			t.Errorf("the old cookie is logged in as %q, want %q", got, loggedIn)
		}
		if err := s.Logout(ctx); err != nil {
			t.Errorf("Logout: %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// TestCookieLogoutWithTheOldCookie: on the cookie engine, a logout sent
// with the cookie from before a key change saved in another tab ends the
// session's new identity too.
func TestCookieLogoutWithTheOldCookie(t *testing.T) {
	h, d, old := keyChangedInAnotherTab(t, "ivy")
	logoutWith(t, h, old, "ivy")
	loggedOut(t, h, "ivy", d.cookie, old)
}

// TestCookieLogoutWithTheOldCookieLimits pins the two limits SECURITY.md
// gives to an old cookie's logout on the cookie engine: once the new
// entry has been touched (here by Reauthenticated), the entry no longer
// names the old identity and the old cookie's logout ends nothing of the
// new one; and once the old cookie has been checked again, it is refused,
// its entry being gone since the key change was saved.
func TestCookieLogoutWithTheOldCookieLimits(t *testing.T) {
	stillIn := func(t *testing.T, h *harness, d *device) {
		t.Helper()
		h.clock.Add(DefaultRevalidateInterval) // the new cookie's next check
		if got := d.user(); got != "ivy" {
			t.Errorf("the new cookie is logged in as %q, want ivy", got)
		}
		if list, err := h.m.UserSessions(context.Background(), "ivy"); err != nil || len(list) != 1 {
			t.Errorf("the user lists %d sessions (%v), want 1", len(list), err)
		}
	}
	t.Run("new entry touched", func(t *testing.T) {
		h, d, old := keyChangedInAnotherTab(t, "ivy")
		h.clock.Add(time.Second)
		if err := d.do(func(_ context.Context, s *Session) { s.Reauthenticated() }); err != nil {
			t.Fatal(err)
		}
		logoutWith(t, h, old, "ivy") // not checked again yet
		stillIn(t, h, d)
	})
	t.Run("old cookie checked", func(t *testing.T) {
		h, d, old := keyChangedInAnotherTab(t, "ivy")
		h.clock.Add(DefaultRevalidateInterval)
		logoutWith(t, h, old, "")
		stillIn(t, h, d)
	})
}

// TestNotBeforeWaitIsBounded: a request waiting for another's read of the
// global not-before from an index that hangs gives up RevalidateInterval
// after it started, even when its own context never ends: waiting for the
// other read and reading itself, once the other has given up, share that
// interval.
func TestNotBeforeWaitIsBounded(t *testing.T) {
	const interval = time.Second
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		_, d, hi, first := hungNotBefore(t, ec, withIndex, 3*interval, func(c *Config) { c.RevalidateInterval = interval })
		// Half an interval into the first read: when that one gives up,
		// this request must not start an interval of reading of its own.
		time.Sleep(interval / 2)
		second := make(chan *Session, 1)
		start := time.Now()
		go func() { second <- d.read(context.Background()) }()
		select {
		case s := <-second:
			if took := time.Since(start); took > interval*5/4 {
				t.Errorf("the waiting request gave up after %v, more than its interval of %v", took, interval)
			}
			if got := s.UserID(); got != "" {
				t.Errorf("served as %q while the read hangs", got)
			}
			if err := s.Err(); !errors.Is(err, ErrStore) {
				t.Errorf("the waiting request: %v, want a store error", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("a request with a context that never ends still waits for the hung read")
		}
		close(hi.release)
		// The read itself is bounded by the interval too: the first
		// request fails, or is served if the index answered in time.
		if err := <-first; err != nil && !errors.Is(err, ErrStore) {
			t.Errorf("the first request, once the index answers: %v", err)
		}
	})
}

// TestOldCookieLogoutAfterASavedKeyChange: once a key change has been
// saved, a logout sent with the cookie from before it ends nothing on the
// server and auto engines (the old identity is gone, and the session goes
// on under its new key), and ends the session on the cookie engine (the
// old cookie still carries it, and the new entry names the old one).
func TestOldCookieLogoutAfterASavedKeyChange(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, d := loggedIn(t, ec, withIndex, "A", "ola")
		old := d.cookie
		if err := d.cycleKey(nil); err != nil {
			t.Fatal(err)
		}
		(&device{h: h, ua: "A", cookie: old}).logout()
		if ec.engine == EngineCookie {
			loggedOut(t, h, "ola", d.cookie, old)
			return
		}
		if got := d.user(); got != "ola" {
			t.Errorf("the new cookie, after a logout with the old one: user %q, want ola", got)
		}
		if list, err := h.m.UserSessions(context.Background(), "ola"); err != nil || len(list) != 1 {
			t.Errorf("the user lists %d sessions (%v), want the new one", len(list), err)
		}
	})
}

// TestLoginAfterConcurrentLogout: a request reads the logged-in session;
// another logs out and completes; then the first logs in (a fresh
// authentication). Its save succeeds, unlike a CycleKey's: the login
// stands, under a new identity, and the logged-out cookie stays out.
func TestLoginAfterConcurrentLogout(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, d := loggedIn(t, ec, withIndex, "A", "pia")
		old := d.cookie
		tab := &device{h: h, ua: "A", cookie: old}
		ctx, s, commit := tab.begin()
		if s.UserID() != "pia" {
			t.Fatal("the session is not logged in")
		}
		d.logout()
		if err := s.Login(ctx, "pia"); err != nil {
			t.Fatal(err)
		}
		if err := commit(); err != nil {
			t.Fatalf("the login's save: %v, want it to stand", err)
		}
		if tab.cookie == old || tab.user() != "pia" {
			t.Errorf("after the login: new cookie %v, user %q; want a new cookie logged in as pia", tab.cookie != old, tab.user())
		}
		h.clock.Add(DefaultRevalidateInterval)
		if got := (&device{h: h, ua: "A", cookie: old}).user(); got != "" {
			t.Errorf("the logged-out cookie is logged in as %q", got)
		}
	})
}

// TestFailedKeyChangeKeepsTheOldIdentity: a key change (CycleKey, or a
// Login of the logged-in session, as the same user or another) in a
// request whose handler answers 500, or whose save fails (a value over
// the codec's limit), leaves the old identity as it was: its cookie still
// logged in, its entry listed, and no other.
func TestFailedKeyChangeKeepsTheOldIdentity(t *testing.T) {
	userCases(t, func(t *testing.T, ec engineCase, withIndex func(*Config)) {
		h, d := loggedIn(t, ec, withIndex, "A", "rex")
		ops := map[string]func(context.Context, *Session) error{
			"CycleKey":         func(ctx context.Context, s *Session) error { return s.CycleKey(ctx) },
			"Login again":      func(ctx context.Context, s *Session) error { return s.Login(ctx, "rex") },
			"Login as another": func(ctx context.Context, s *Session) error { return s.Login(ctx, "sam") },
		}
		for op, change := range ops {
			for _, c := range []struct {
				name   string
				status int
				value  any
			}{
				{"handler answered 500", http.StatusInternalServerError, nil},
				{"save failed", http.StatusOK, strings.Repeat("x", codec.DefaultMaxLength+1)},
			} {
				tab := &device{h: h, ua: "A", cookie: d.cookie}
				ctx, s, _ := tab.begin()
				if err := change(ctx, s); err != nil {
					t.Fatal(err)
				}
				if c.value != nil {
					s.Set("big", c.value)
				}
				h.cookie = d.cookie
				_, err := h.commitStatus(s, c.status)
				if c.value != nil && err == nil {
					t.Fatalf("%s, %s: the save did not fail", op, c.name)
				}
				h.clock.Add(DefaultRevalidateInterval) // the cookie engine's next check
				if got := d.user(); got != "rex" {
					t.Errorf("%s, %s: the old cookie: user %q, want rex", op, c.name, got)
				}
				if list, err := h.m.UserSessions(context.Background(), "rex"); err != nil || len(list) != 1 {
					t.Errorf("%s, %s: the user lists %d sessions (%v), want the old one", op, c.name, len(list), err)
				}
				if list, err := h.m.UserSessions(context.Background(), "sam"); err != nil || len(list) != 0 {
					t.Errorf("%s, %s: the other user lists %d sessions (%v), want none", op, c.name, len(list), err)
				}
			}
		}
	})
}
