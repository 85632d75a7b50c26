package cached

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/storetest"
)

// spy wraps a store, counts the calls of each operation, and runs a
// function once right after a given operation of the wrapped store has
// returned, to stage a race deterministically.
type spy struct {
	inner server.Store
	mu    sync.Mutex
	calls map[string]int
	after map[string]func()
}

func newSpy(inner server.Store) *spy {
	return &spy{inner: inner, calls: map[string]int{}, after: map[string]func(){}}
}

// spyExp is a spy that also passes LoadWithExpiry through (counted as a
// Load).
type spyExp struct{ *spy }

func (s spyExp) LoadWithExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	b, exp, err := s.inner.(server.ExpiryLoader).LoadWithExpiry(ctx, key)
	s.done("Load")
	return b, exp, err
}

func (s *spy) done(op string) {
	s.mu.Lock()
	s.calls[op]++
	f := s.after[op]
	delete(s.after, op)
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

// then arranges for f to run once, after the next call of op returns.
func (s *spy) then(op string, f func()) {
	s.mu.Lock()
	s.after[op] = f
	s.mu.Unlock()
}

func (s *spy) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *spy) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

func (s *spy) Load(ctx context.Context, key string) ([]byte, error) {
	b, err := s.inner.Load(ctx, key)
	s.done("Load")
	return b, err
}

func (s *spy) Create(ctx context.Context, key string, blob []byte, exp time.Time) error {
	err := s.inner.Create(ctx, key, blob, exp)
	s.done("Create")
	return err
}

func (s *spy) Update(ctx context.Context, key string, blob []byte, exp time.Time) error {
	err := s.inner.Update(ctx, key, blob, exp)
	s.done("Update")
	return err
}

func (s *spy) Delete(ctx context.Context, key string) error {
	err := s.inner.Delete(ctx, key)
	s.done("Delete")
	return err
}

func (s *spy) DeleteExpired(ctx context.Context) (int64, error) {
	n, err := s.inner.DeleteExpired(ctx)
	s.done("DeleteExpired")
	return n, err
}

// errDown is what a cache that is down answers.
var errDown = errors.New("cache down: connection refused")

// downStore fails every operation, like a cache server that is down.
type downStore struct{}

func (downStore) Load(context.Context, string) ([]byte, error) { return nil, errDown }
func (downStore) Create(context.Context, string, []byte, time.Time) error {
	return errDown
}
func (downStore) Update(context.Context, string, []byte, time.Time) error {
	return errDown
}
func (downStore) Delete(context.Context, string) error         { return errDown }
func (downStore) DeleteExpired(context.Context) (int64, error) { return 0, errDown }

// logBuffer collects log output.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixture is a cached store over two memory stores, with spies on both and
// the log captured.
type fixture struct {
	s              *Store
	cache, backing *memory.Store
	cspy, bspy     *spy
	logs           *logBuffer
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{cache: memory.New(), backing: memory.New(), logs: &logBuffer{}}
	f.cspy, f.bspy = newSpy(f.cache), newSpy(f.backing)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	}
	s, err := New(spyExp{f.cspy}, spyExp{f.bspy}, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	return f
}

var ctx = context.Background()

const (
	k1 = "cachedtestkey00000000000000000001"
	k2 = "cachedtestkey00000000000000000002"
)

// inCache reports what the cache itself holds under key.
func (f *fixture) inCache(t *testing.T, key string) ([]byte, bool) {
	t.Helper()
	b, err := f.cache.Load(ctx, key)
	if errors.Is(err, server.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < entryHeader || string(b[:len(entryMagic)]) != entryMagic {
		t.Fatalf("cache entry %q has no entry header", b)
	}
	return b[entryHeader:], true
}

func mustLoad(t *testing.T, s server.Store, key, want string) {
	t.Helper()
	got, err := s.Load(ctx, key)
	if err != nil || string(got) != want {
		t.Fatalf("Load = %q, %v; want %q", got, err, want)
	}
}

func TestConformanceMemoryMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store {
		s, err := New(memory.New(), memory.New())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceMemoryFile(t *testing.T) {
	var dir string
	storetest.Run(t, func(t *testing.T) server.Store {
		dir = t.TempDir()
		backing, err := file.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(memory.New(), backing)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, storetest.Options{
		// A blob planted in the backing store, as the file store lays it
		// out: the cache misses, and the backing store refuses it.
		Plant: func(key string, blob []byte, exp time.Time) error {
			data := binary.BigEndian.AppendUint64([]byte("SKF\x01"), uint64(exp.UnixNano()))
			return os.WriteFile(filepath.Join(dir, file.Prefix+key), append(data, blob...), 0o600)
		},
	})
}

// TestConformanceNoExpiryLoader runs the suite with a backing store that
// does not report expiries (the spy hides LoadWithExpiry).
func TestConformanceNoExpiryLoader(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store {
		s, err := New(memory.New(), newSpy(memory.New()))
		if err != nil {
			t.Fatal(err)
		}
		if s.expiry != nil {
			t.Fatal("the spy passed LoadWithExpiry through")
		}
		return s
	})
}

func TestNew(t *testing.T) {
	m := memory.New()
	if _, err := New(nil, m); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("New(nil, m) = %v, want ErrMisconfigured", err)
	}
	if _, err := New(m, nil); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("New(m, nil) = %v, want ErrMisconfigured", err)
	}
	for _, o := range []Options{{FillTTL: -1}, {MaxTTL: -1}, {CacheTimeout: -1}} {
		if _, err := New(m, m, o); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("New with %+v = %v, want ErrMisconfigured", o, err)
		}
	}
	s, err := New(m, m, Options{FillTTL: -1}, Options{})
	if err != nil {
		t.Fatalf("the last Options must win: %v", err)
	}
	if s.fillTTL != DefaultFillTTL || s.cacheTimeout != DefaultCacheTimeout || s.maxTTL != DefaultMaxTTL || s.coolDown != DefaultCoolDown || s.log == nil {
		t.Errorf("defaults: %v %v %v %v %v", s.fillTTL, s.cacheTimeout, s.maxTTL, s.coolDown, s.log)
	}
	if s.Cache() != m || s.Backing() != m {
		t.Error("Cache or Backing does not return the store given to New")
	}
}

// TestCacheIsUsed checks that a Load the cache can answer never reaches
// the backing store, and that a miss fills the cache.
func TestCacheIsUsed(t *testing.T) {
	f := newFixture(t, Options{})
	exp := time.Now().Add(time.Hour)
	if err := f.s.Create(ctx, k1, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		mustLoad(t, f.s, k1, "v1")
	}
	if n := f.bspy.count("Load"); n != 0 {
		t.Errorf("%d Loads reached the backing store; the cache holds the session", n)
	}
	if st := f.s.Stats(); st != (Stats{Hits: 3}) {
		t.Errorf("Stats = %+v, want 3 hits", st)
	}

	// After an update, the cache has the new blob.
	if err := f.s.Update(ctx, k1, []byte("v2"), exp); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, f.s, k1, "v2")
	if n := f.bspy.count("Load"); n != 0 {
		t.Errorf("%d Loads reached the backing store after an Update", n)
	}

	// Lose the cache's copy: one miss reads the backing store (twice: the
	// read and the check after the fill), and then the cache answers again.
	if err := f.cache.Delete(ctx, k1); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, f.s, k1, "v2")
	if n := f.bspy.count("Load"); n != 2 {
		t.Errorf("a miss read the backing store %d times, want 2", n)
	}
	if b, ok := f.inCache(t, k1); !ok || string(b) != "v2" {
		t.Errorf("the miss did not fill the cache: %q, %v", b, ok)
	}
	mustLoad(t, f.s, k1, "v2")
	if n := f.bspy.count("Load"); n != 2 {
		t.Errorf("the Load after the fill reached the backing store (%d Loads)", n)
	}
	if st := f.s.Stats(); st != (Stats{Hits: 5, Misses: 1}) {
		t.Errorf("Stats = %+v, want 5 hits and 1 miss", st)
	}

	// An unknown key: a miss, and nothing filled.
	if _, err := f.s.Load(ctx, k2); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Load of an unknown key = %v, want ErrNotFound", err)
	}
	if _, ok := f.inCache(t, k2); ok {
		t.Error("a Load of an unknown key put something in the cache")
	}
	if f.logs.String() != "" {
		t.Errorf("logs without a cache failure: %s", f.logs)
	}
}

// TestFillExpiry checks the expiry of a filled cache entry: the backing
// entry's when the backing store reports it, else now+FillTTL, and never
// more than MaxTTL from now.
func TestFillExpiry(t *testing.T) {
	exp := time.Now().Add(time.Hour).Round(0)
	// ttl 0: the filled entry expires with the backing entry; else ttl
	// from the Load.
	fillAndCheck := func(t *testing.T, s *Store, cache *memory.Store, backing server.Store, ttl time.Duration) {
		t.Helper()
		if err := backing.Create(ctx, k1, []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
		lo, hi := exp, exp
		if ttl > 0 {
			lo = time.Now().Add(ttl)
		}
		mustLoad(t, s, k1, "v")
		if ttl > 0 {
			hi = time.Now().Add(ttl)
		}
		_, got, err := cache.LoadWithExpiry(ctx, k1)
		if err != nil {
			t.Fatalf("the miss did not fill the cache: %v", err)
		}
		if got.Before(lo) || got.After(hi) {
			t.Errorf("filled entry expires at %v, want between %v and %v", got, lo, hi)
		}
	}
	t.Run("ExpiryLoader", func(t *testing.T) {
		cache, backing := memory.New(), memory.New()
		s, _ := New(cache, backing, Options{MaxTTL: 2 * time.Hour})
		fillAndCheck(t, s, cache, backing, 0)
	})
	t.Run("DefaultMaxTTL", func(t *testing.T) {
		cache, backing := memory.New(), memory.New()
		s, _ := New(cache, backing)
		fillAndCheck(t, s, cache, backing, DefaultMaxTTL)
	})
	t.Run("FillTTL", func(t *testing.T) {
		cache, backing := memory.New(), memory.New()
		s, _ := New(cache, newSpy(backing), Options{FillTTL: time.Minute})
		fillAndCheck(t, s, cache, backing, time.Minute)
	})
	t.Run("MaxTTL", func(t *testing.T) {
		cache, backing := memory.New(), memory.New()
		s, _ := New(cache, backing, Options{MaxTTL: 10 * time.Second})
		fillAndCheck(t, s, cache, backing, 10*time.Second)
		// Create and Update are capped too.
		for _, op := range []func() error{
			func() error { return s.Create(ctx, k2, []byte("c"), exp) },
			func() error { return s.Update(ctx, k2, []byte("u"), exp) },
		} {
			now := time.Now()
			if err := op(); err != nil {
				t.Fatal(err)
			}
			_, got, err := cache.LoadWithExpiry(ctx, k2)
			if err != nil || got.Before(now.Add(10*time.Second)) || got.After(time.Now().Add(10*time.Second)) {
				t.Errorf("cache entry expires at %v, %v; want 10 s from now", got, err)
			}
			_, got, err = backing.LoadWithExpiry(ctx, k2)
			if err != nil || !got.Equal(exp) {
				t.Errorf("backing entry expires at %v, %v; want %v (MaxTTL is for the cache only)", got, err, exp)
			}
		}
	})
}

// TestFillRacesDelete stages a miss whose fill lands after a concurrent
// Delete (a logout): the deleted session must not stay in the cache.
func TestFillRacesDelete(t *testing.T) {
	f := newFixture(t, Options{})
	if err := f.backing.Create(ctx, k1, []byte("logged in"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The Load reads the backing store, then the logout runs to the end,
	// then the Load fills the cache.
	f.bspy.then("Load", func() {
		if err := f.s.Delete(ctx, k1); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})
	mustLoad(t, f.s, k1, "logged in") // read before the logout
	if b, ok := f.inCache(t, k1); ok {
		t.Fatalf("the cache holds the deleted session: %q", b)
	}
	if _, err := f.s.Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load after the logout = %v, want ErrNotFound", err)
	}
}

// TestFillRacesUpdate stages a miss whose fill lands after a concurrent
// Update: the cache must not keep the older blob.
func TestFillRacesUpdate(t *testing.T) {
	f := newFixture(t, Options{})
	exp := time.Now().Add(time.Hour)
	if err := f.backing.Create(ctx, k1, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	f.bspy.then("Load", func() {
		if err := f.s.Update(ctx, k1, []byte("v2"), exp); err != nil {
			t.Errorf("Update: %v", err)
		}
	})
	mustLoad(t, f.s, k1, "v1")
	if b, ok := f.inCache(t, k1); ok && string(b) != "v2" {
		t.Fatalf("the cache holds %q, older than the backing store's v2", b)
	}
	mustLoad(t, f.s, k1, "v2")
}

// TestUpdateRacesDelete stages an Update whose cache write comes after a
// concurrent Delete: the cache must not bring the session back.
func TestUpdateRacesDelete(t *testing.T) {
	f := newFixture(t, Options{})
	exp := time.Now().Add(time.Hour)
	if err := f.s.Create(ctx, k1, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	f.bspy.then("Update", func() {
		if err := f.s.Delete(ctx, k1); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})
	if err := f.s.Update(ctx, k1, []byte("v2"), exp); err != nil {
		t.Fatal(err)
	}
	if b, ok := f.inCache(t, k1); ok {
		t.Fatalf("the cache brought back the deleted session: %q", b)
	}
	if _, err := f.s.Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load after the Delete = %v, want ErrNotFound", err)
	}
}

// TestUpdateNotFoundClearsCache checks that an Update the backing store
// refuses removes the cache's copy.
func TestUpdateNotFoundClearsCache(t *testing.T) {
	f := newFixture(t, Options{})
	if err := f.cache.Create(ctx, k1, wrap([]byte("stale")), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Update(ctx, k1, []byte("new"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Update = %v, want ErrNotFound", err)
	}
	if b, ok := f.inCache(t, k1); ok {
		t.Errorf("the cache still holds %q", b)
	}
}

// appliedThenFailed is a backing store whose Update and Delete write and
// then report an error, as a database does whose reply was lost.
type appliedThenFailed struct{ server.Store }

func (a appliedThenFailed) Update(ctx context.Context, key string, blob []byte, exp time.Time) error {
	if err := a.Store.Update(ctx, key, blob, exp); err != nil {
		return err
	}
	return errors.New("connection reset; the write may have taken effect")
}

// cachedOld returns a Store on a memory cache in front of an
// appliedThenFailed memory store, holding k1 as "old", read once so that
// the cache has it, and its cache.
func cachedOld(t *testing.T) (*Store, *memory.Store) {
	t.Helper()
	cache, backing := memory.New(), memory.New()
	s, err := New(cache, appliedThenFailed{backing}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, k1, []byte("old"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, s, k1, "old")
	return s, cache
}

// TestUpdateErrorClearsCache: after a backing Update that failed, the
// cache's copy goes, so that the session is read from the backing store,
// which may hold the new blob.
func TestUpdateErrorClearsCache(t *testing.T) {
	s, cache := cachedOld(t)
	if err := s.Update(ctx, k1, []byte("new"), time.Now().Add(time.Hour)); err == nil {
		t.Fatal("Update reported no error")
	}
	if _, err := cache.Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("the cache still has an entry after the failed Update (Load: %v)", err)
	}
	mustLoad(t, s, k1, "new")
}

func (a appliedThenFailed) Delete(ctx context.Context, key string) error {
	if err := a.Store.Delete(ctx, key); err != nil {
		return err
	}
	return errors.New("connection reset; the delete may have taken effect")
}

// TestDeleteErrorClearsCache: a backing Delete that failed is the
// Delete's error, and the cache's copy goes all the same, so that a
// logout whose delete did land is not undone by the cache.
func TestDeleteErrorClearsCache(t *testing.T) {
	s, cache := cachedOld(t)
	if err := s.Delete(ctx, k1); err == nil || errors.Is(err, ErrCacheNotTold) {
		t.Fatalf("Delete whose backing store failed: %v; want the backing store's error", err)
	}
	if _, err := cache.Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("the cache still has an entry after the failed Delete (Load: %v)", err)
	}
	if _, err := s.Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Load after a Delete that landed: %v, want server.ErrNotFound", err)
	}
}

// TestCreateReplacesStaleCacheEntry checks Create when the cache still has
// an entry under the new key, expired or live.
func TestCreateReplacesStaleCacheEntry(t *testing.T) {
	for name, exp := range map[string]time.Time{"expired": time.Now().Add(-time.Minute), "live": time.Now().Add(time.Hour)} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Options{})
			if err := f.cache.Create(ctx, k1, wrap([]byte("stale")), exp); err != nil {
				t.Fatal(err)
			}
			if err := f.s.Create(ctx, k1, []byte("fresh"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if b, ok := f.inCache(t, k1); !ok || string(b) != "fresh" {
				t.Errorf("cache holds %q, %v; want \"fresh\"", b, ok)
			}
			mustLoad(t, f.s, k1, "fresh")
			if f.s.Stats().CacheErrors != 0 {
				t.Errorf("cache errors: %s", f.logs)
			}
		})
	}
}

// TestMissReplacesExpiredCacheEntry checks that a fill replaces an expired
// entry the cache still keeps (a memory cache keeps them until its
// DeleteExpired), so that the cache does not miss forever.
func TestMissReplacesExpiredCacheEntry(t *testing.T) {
	f := newFixture(t, Options{})
	if err := f.backing.Create(ctx, k1, []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.cache.Create(ctx, k1, wrap([]byte("old")), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, f.s, k1, "v")
	mustLoad(t, f.s, k1, "v")
	if st := f.s.Stats(); st != (Stats{Hits: 1, Misses: 1}) {
		t.Errorf("Stats = %+v, want 1 miss then 1 hit", st)
	}
}

// TestCacheDown checks that a cache that fails every operation fails no
// request: the backing store serves, and every failure is logged at ERROR
// and counted.
func TestCacheDown(t *testing.T) {
	logs := &logBuffer{}
	backing := memory.New()
	s, err := New(downStore{}, backing, Options{CoolDown: time.Nanosecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	steps := []struct {
		name string
		op   func() error
	}{
		{"Create", func() error { return s.Create(ctx, k1, []byte("v1"), exp) }},
		{"Load", func() error {
			b, err := s.Load(ctx, k1)
			if err == nil && string(b) != "v1" {
				return errors.New("Load returned " + string(b))
			}
			return err
		}},
		{"Update", func() error { return s.Update(ctx, k1, []byte("v2"), exp) }},
		{"Delete", func() error { return s.Delete(ctx, k1) }},
		{"DeleteExpired", func() error { _, err := s.DeleteExpired(ctx); return err }},
	}
	for i, st := range steps {
		err := st.op()
		if st.name == "Delete" {
			// A logout the cache was not told of is not a success.
			if !errors.Is(err, ErrCacheNotTold) {
				t.Fatalf("Delete with the cache down: %v, want ErrCacheNotTold", err)
			}
		} else if err != nil {
			t.Fatalf("%s with the cache down: %v", st.name, err)
		}
		if got := s.Stats().CacheErrors; got != uint64(i+1) {
			t.Errorf("after %s: %d cache errors, want %d", st.name, got, i+1)
		}
	}
	if _, err := backing.Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Delete did not reach the backing store: %v", err)
	}
	// Update of a deleted session is still refused.
	if err := s.Update(ctx, k1, []byte("v3"), exp); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Update after Delete with the cache down = %v, want ErrNotFound", err)
	}
	out := logs.String()
	if n := strings.Count(out, "level=ERROR"); n != 6 {
		t.Errorf("%d ERROR records, want 6:\n%s", n, out)
	}
	if !strings.Contains(out, errDown.Error()) || !strings.Contains(out, "session cache") {
		t.Errorf("the log does not say what failed:\n%s", out)
	}
	if strings.Contains(out, k1) {
		t.Errorf("the log names the session key:\n%s", out)
	}
	if st := s.Stats(); st.Hits != 0 || st.Misses != 0 {
		t.Errorf("Stats = %+v: a failed cache read is neither a hit nor a miss", st)
	}
}

// TestBackingErrors checks that the backing store's failures are errors,
// never an empty session, even when the cache works.
func TestBackingErrors(t *testing.T) {
	s, err := New(memory.New(), downStore{}, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	if _, err := s.Load(ctx, k1); !errors.Is(err, errDown) {
		t.Errorf("Load = %v, want the backing store's error", err)
	}
	if err := s.Create(ctx, k1, []byte("v"), exp); !errors.Is(err, errDown) {
		t.Errorf("Create = %v, want the backing store's error", err)
	}
	if _, err := s.Cache().Load(ctx, k1); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("a Create the backing store refused reached the cache: %v", err)
	}
	if err := s.Update(ctx, k1, []byte("v"), exp); !errors.Is(err, errDown) {
		t.Errorf("Update = %v, want the backing store's error", err)
	}
	if err := s.Delete(ctx, k1); !errors.Is(err, errDown) {
		t.Errorf("Delete = %v, want the backing store's error", err)
	}
	if _, err := s.DeleteExpired(ctx); !errors.Is(err, errDown) {
		t.Errorf("DeleteExpired = %v, want the backing store's error", err)
	}
}

// TestCacheWriteOutlivesCancel checks that once the backing store has
// deleted a session, the cache's copy goes too, even if the caller's
// context is cancelled in between (a client hanging up during a logout).
func TestCacheWriteOutlivesCancel(t *testing.T) {
	f := newFixture(t, Options{})
	exp := time.Now().Add(time.Hour)
	for _, op := range []string{"Delete", "Update"} {
		if err := f.s.Create(ctx, k1, []byte("v1"), exp); err != nil {
			t.Fatal(err)
		}
		c, cancel := context.WithCancel(ctx)
		f.bspy.then(op, cancel)
		var err error
		if op == "Delete" {
			err = f.s.Delete(c, k1)
		} else {
			err = f.s.Update(c, k1, []byte("v2"), exp)
		}
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		b, ok := f.inCache(t, k1)
		if op == "Delete" && ok {
			t.Errorf("Delete cancelled after the backing store: the cache still holds %q", b)
		}
		if op == "Update" && string(b) != "v2" {
			t.Errorf("Update cancelled after the backing store: the cache holds %q, want v2", b)
		}
		_ = f.s.Delete(ctx, k1)
	}
}

// TestInvalidKeysDoNoIO checks that malformed keys reach neither store.
func TestInvalidKeysDoNoIO(t *testing.T) {
	f := newFixture(t, Options{})
	for _, key := range []string{"", "short", "../../../../etc/passwd", strings.Repeat("A", 32), "django.contrib.sessions.cache" + k1} {
		if _, err := f.s.Load(ctx, key); !errors.Is(err, server.ErrInvalidKey) {
			t.Errorf("Load(%q) = %v", key, err)
		}
		if err := f.s.Create(ctx, key, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrInvalidKey) {
			t.Errorf("Create(%q) = %v", key, err)
		}
		if err := f.s.Update(ctx, key, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrInvalidKey) {
			t.Errorf("Update(%q) = %v", key, err)
		}
		if err := f.s.Delete(ctx, key); !errors.Is(err, server.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v", key, err)
		}
	}
	if n := f.cspy.total() + f.bspy.total(); n != 0 {
		t.Errorf("%d store calls for invalid keys, want 0", n)
	}
}

// TestDeleteExpired checks that DeleteExpired reports the backing store's
// count and clears the cache's expired entries too.
func TestDeleteExpired(t *testing.T) {
	f := newFixture(t, Options{})
	past := time.Now().Add(-time.Minute)
	if err := f.s.Create(ctx, k1, []byte("dead"), past); err != nil {
		t.Fatal(err)
	}
	if err := f.cache.Create(ctx, k2, wrap([]byte("dead, cache only")), past); err != nil {
		t.Fatal(err)
	}
	n, err := f.s.DeleteExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1 (the backing store's count)", n, err)
	}
	if f.cache.Len() != 0 || f.backing.Len() != 0 {
		t.Errorf("after DeleteExpired: cache %d entries, backing %d; want none", f.cache.Len(), f.backing.Len())
	}
}
