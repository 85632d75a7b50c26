package storetest_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/storetest"
)

// flaw is a deliberate defect of refStore.
type flaw string

const (
	noFlaw                 flaw = ""
	createOverwrites       flaw = "create-overwrites"
	createExpiredSucceeds  flaw = "create-over-expired-succeeds"
	updateCreates          flaw = "update-creates"
	updateExpiredSucceeds  flaw = "update-of-expired-succeeds"
	updateKeepsExpiry      flaw = "update-keeps-old-expiry"
	updateIdenticalFails   flaw = "update-identical-not-found"
	loadAliases            flaw = "load-returns-internal-slice"
	loadCreates            flaw = "load-creates-entry"
	loadIgnoresExpiry      flaw = "load-ignores-expiry"
	keepsArgument          flaw = "keeps-caller-slice"
	ignoresContext         flaw = "ignores-context"
	acceptsAnyKey          flaw = "accepts-any-key"
	deleteMissingFails     flaw = "delete-missing-fails"
	deleteExpiredCountsNil flaw = "delete-expired-reports-zero"
	deleteExpiredKeepsAll  flaw = "delete-expired-removes-nothing"
	truncatesToSecond      flaw = "expiry-truncated-to-second"
	roundsToSecond         flaw = "expiry-rounded-to-nearest-second"
	roundsUpToSecond       flaw = "expiry-rounded-up-to-second"
	truncatesTo100ms       flaw = "expiry-truncated-to-100ms"
	truncatesTo10ms        flaw = "expiry-truncated-to-10ms"
	roundsUpTo10ms         flaw = "expiry-rounded-up-to-10ms"
	racyCreate             flaw = "create-check-then-insert"
	racyUpdate             flaw = "update-check-then-write"
	noLengthLimit          flaw = "no-length-limit"
	limitExclusive         flaw = "refuses-max-length"
	loadUnbounded          flaw = "load-ignores-length-limit"
	tooLargeNamesKey       flaw = "too-large-error-names-key"
)

// refStore is a small, obviously correct store used to check the suite
// itself: without a flaw it must pass, and with any flaw it must fail.
type refStore struct {
	mu   sync.Mutex
	m    map[string]refEntry
	flaw flaw
	// drops makes the store drop expired entries itself, as Redis does:
	// every method first forgets the entry of its key if it has expired,
	// and DeleteExpired counts nothing.
	drops bool
}

type refEntry struct {
	blob    []byte
	expires time.Time
}

func newRef(f flaw) *refStore { return &refStore{m: make(map[string]refEntry), flaw: f} }

func (s *refStore) check(ctx context.Context, key string) error {
	if s.flaw != ignoresContext {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if s.flaw == acceptsAnyKey {
		return nil
	}
	return server.ValidateKey(key)
}

func (s *refStore) expiry(t time.Time) time.Time {
	switch s.flaw {
	case truncatesToSecond:
		return t.Truncate(time.Second)
	case roundsToSecond:
		return t.Round(time.Second)
	case roundsUpToSecond:
		return t.Add(time.Second - 1).Truncate(time.Second)
	case truncatesTo100ms:
		return t.Truncate(100 * time.Millisecond)
	case truncatesTo10ms:
		return t.Truncate(10 * time.Millisecond)
	case roundsUpTo10ms:
		return t.Add(10*time.Millisecond - 1).Truncate(10 * time.Millisecond)
	}
	return t
}

// drop forgets key's entry if it has expired and s drops expired
// entries. s.mu must be held.
func (s *refStore) drop(key string) {
	if e, ok := s.m[key]; ok && s.drops && server.Expired(e.expires, time.Now()) {
		delete(s.m, key)
	}
}

// checkLen refuses a blob over codec.DefaultMaxLength, the limit the
// suite assumes without Options.MaxLength.
func (s *refStore) checkLen(key string, b []byte) error {
	limit := codec.DefaultMaxLength
	switch s.flaw {
	case noLengthLimit:
		return nil
	case limitExclusive:
		limit--
	}
	if len(b) <= limit {
		return nil
	}
	if s.flaw == tooLargeNamesKey {
		return fmt.Errorf("%w: %s", server.ErrTooLarge, key)
	}
	return server.ErrTooLarge
}

// plant stores blob under key without any check.
func (s *refStore) plant(key string, blob []byte, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = refEntry{append([]byte{}, blob...), expires}
	return nil
}

func (s *refStore) copyIn(b []byte) []byte {
	if s.flaw == keepsArgument {
		return b
	}
	return append([]byte{}, b...)
}

func (s *refStore) Load(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flaw != loadIgnoresExpiry {
		s.drop(key)
	}
	e, ok := s.m[key]
	if !ok {
		if s.flaw == loadCreates {
			s.m[key] = refEntry{nil, time.Now().Add(time.Hour)}
		}
		return nil, server.ErrNotFound
	}
	if server.Expired(e.expires, time.Now()) && s.flaw != loadIgnoresExpiry {
		return nil, server.ErrNotFound
	}
	if s.flaw != loadUnbounded && s.flaw != noLengthLimit {
		if err := s.checkLen(key, e.blob); err != nil {
			return nil, err
		}
	}
	if s.flaw == loadAliases {
		return e.blob, nil
	}
	return append([]byte{}, e.blob...), nil
}

func (s *refStore) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if err := s.checkLen(key, blob); err != nil {
		return err
	}
	if s.flaw == racyCreate {
		s.mu.Lock()
		_, ok := s.m[key]
		s.mu.Unlock()
		if ok {
			return server.ErrExists
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop(key)
	if e, ok := s.m[key]; ok && s.flaw != createOverwrites && s.flaw != racyCreate {
		if s.flaw != createExpiredSucceeds || !server.Expired(e.expires, time.Now()) {
			return server.ErrExists
		}
	}
	s.m[key] = refEntry{s.copyIn(blob), s.expiry(expires)}
	return nil
}

func (s *refStore) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if err := s.checkLen(key, blob); err != nil {
		return err
	}
	if s.flaw == racyUpdate {
		// Check, let others run, write: a Delete in between is undone.
		s.mu.Lock()
		e, ok := s.m[key]
		s.mu.Unlock()
		if !ok || server.Expired(e.expires, time.Now()) {
			return server.ErrNotFound
		}
		runtime.Gosched()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flaw != updateExpiredSucceeds {
		s.drop(key)
	}
	e, ok := s.m[key]
	switch {
	case !ok && s.flaw != updateCreates && s.flaw != racyUpdate:
		return server.ErrNotFound
	case ok && server.Expired(e.expires, time.Now()) && s.flaw != updateExpiredSucceeds:
		return server.ErrNotFound
	case ok && s.flaw == updateIdenticalFails && string(e.blob) == string(blob) && e.expires.Equal(s.expiry(expires)):
		return server.ErrNotFound
	case ok && s.flaw == updateKeepsExpiry:
		expires = e.expires
	}
	s.m[key] = refEntry{s.copyIn(blob), s.expiry(expires)}
	return nil
}

func (s *refStore) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && s.flaw == deleteMissingFails {
		return server.ErrNotFound
	}
	delete(s.m, key)
	return nil
}

func (s *refStore) DeleteExpired(ctx context.Context) (int64, error) {
	if s.flaw != ignoresContext {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	now := time.Now()
	for k, e := range s.m {
		if server.Expired(e.expires, now) {
			if s.flaw != deleteExpiredKeepsAll {
				delete(s.m, k)
			}
			n++
		}
	}
	if s.flaw == deleteExpiredCountsNil || s.drops {
		return 0, nil
	}
	return n, nil
}

// flawEnv selects the flaw of the store that TestRefStore runs the suite
// against, and dropsEnv whether that store drops expired entries itself:
// "declared" (the suite runs with Options.DropsExpired) or "undeclared"
// (it does not). TestSuiteCatchesFlaws sets them in child processes.
const (
	flawEnv  = "SESSIONKIT_STORETEST_FLAW"
	dropsEnv = "SESSIONKIT_STORETEST_DROPS"
)

// TestRefStore runs the suite against refStore, once with a fresh store per
// subtest and once with one shared store. Without flawEnv and dropsEnv the
// store is correct and the suite must pass; it must then also pass a store
// that drops expired entries when told so (Drops).
func TestRefStore(t *testing.T) {
	f := flaw(os.Getenv(flawEnv))
	mode := os.Getenv(dropsEnv)
	var current *refStore // the store the suite was last given
	opts := storetest.Options{
		DropsExpired: mode == "declared",
		Plant: func(key string, blob []byte, expires time.Time) error {
			return current.plant(key, blob, expires)
		},
	}
	newStore := func(drops bool) *refStore {
		s := newRef(f)
		s.drops = drops
		current = s
		return s
	}
	t.Run("Fresh", func(t *testing.T) {
		storetest.Run(t, func(*testing.T) server.Store { return newStore(mode != "") }, opts)
	})
	t.Run("Shared", func(t *testing.T) {
		s := newStore(mode != "")
		storetest.Run(t, func(*testing.T) server.Store { return s }, opts)
		if f == noFlaw && len(s.m) != 0 {
			t.Errorf("the suite left %d entries in a shared store", len(s.m))
		}
	})
	if mode == "" {
		t.Run("Drops", func(t *testing.T) {
			o := opts
			o.DropsExpired = true
			storetest.Run(t, func(*testing.T) server.Store { return newStore(true) }, o)
		})
	}
}

// TestSuiteCatchesFlaws runs the suite, in a child process, against stores
// with one deliberate defect each, and checks that the named subtest fails.
func TestSuiteCatchesFlaws(t *testing.T) {
	if os.Getenv(flawEnv) != "" {
		t.Skip("already in a child process")
	}
	cases := []struct {
		flaw    flaw
		subtest string
		// busy is the subtest that may skip, rather than fail, when the
		// machine is too busy to time Loads closely enough to show the
		// flaw.
		busy string
		// drops is dropsEnv for the child process.
		drops string
	}{
		// A store that drops expired entries but does not say so.
		{flaw: noFlaw, subtest: "CreateExisting", drops: "undeclared"},
		// One that says so is still held to the rest of the contract.
		{flaw: updateExpiredSucceeds, subtest: "Update", drops: "declared"},
		{flaw: createOverwrites, subtest: "CreateExisting", drops: "declared"},
		{flaw: loadIgnoresExpiry, subtest: "ExpiredAtCreate", drops: "declared"},
		{flaw: createOverwrites, subtest: "CreateExisting"},
		{flaw: createExpiredSucceeds, subtest: "CreateExisting"},
		{flaw: updateCreates, subtest: "Update"},
		{flaw: updateExpiredSucceeds, subtest: "Update"},
		{flaw: updateKeepsExpiry, subtest: "Update"},
		{flaw: updateIdenticalFails, subtest: "Update"},
		{flaw: loadAliases, subtest: "BlobIsolation"},
		{flaw: loadCreates, subtest: "UnknownKey"},
		{flaw: loadIgnoresExpiry, subtest: "ExpiredAtCreate"},
		{flaw: keepsArgument, subtest: "BlobIsolation"},
		{flaw: ignoresContext, subtest: "Context"},
		{flaw: acceptsAnyKey, subtest: "InvalidKeys"},
		{flaw: deleteMissingFails, subtest: "Delete"},
		{flaw: deleteExpiredCountsNil, subtest: "DeleteExpired"},
		{flaw: deleteExpiredKeepsAll, subtest: "DeleteExpired"},
		{flaw: truncatesToSecond, subtest: "ExpiresOverTime"},
		{flaw: roundsToSecond, subtest: "ExpiresOverTime"},
		{flaw: roundsUpToSecond, subtest: "ExpiresOverTime"},
		{flaw: truncatesTo100ms, subtest: "ExpiryPrecision"},
		{flaw: truncatesTo10ms, subtest: "ExpiryPrecision", busy: "ExpiryPrecision/10ms"},
		{flaw: roundsUpTo10ms, subtest: "ExpiryPrecision", busy: "ExpiryPrecision/10ms"},
		{flaw: racyCreate, subtest: "Concurrency"},
		{flaw: racyUpdate, subtest: "UpdateDeleteRace"},
		{flaw: noLengthLimit, subtest: "TooLarge"},
		{flaw: limitExclusive, subtest: "TooLarge"},
		{flaw: loadUnbounded, subtest: "TooLarge"},
		{flaw: tooLargeNamesKey, subtest: "TooLarge"},
	}
	for _, c := range cases {
		name := string(c.flaw)
		if c.drops != "" {
			name = "drops-" + c.drops + "/" + cmp.Or(name, "no-flaw")
		}
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRefStore$/^Fresh$/^"+c.subtest+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), flawEnv+"="+string(c.flaw), dropsEnv+"="+c.drops)
			out, err := cmd.CombinedOutput()
			if err == nil {
				if c.busy != "" && strings.Contains(string(out), "--- SKIP: TestRefStore/Fresh/"+c.busy) {
					t.Logf("not shown on this run: the machine was too busy for %s", c.busy)
					return
				}
				t.Fatalf("the suite passed a store whose flaw is %s:\n%s", c.flaw, out)
			}
			if want := "--- FAIL: TestRefStore/Fresh/" + c.subtest; !strings.Contains(string(out), want) {
				t.Fatalf("the child process failed, but not in %s:\n%s", c.subtest, out)
			}
		})
	}
}

// TestRunBenchmarks runs the benchmarks once against refStore: every
// operation succeeds, and they leave nothing behind.
func TestRunBenchmarks(t *testing.T) {
	if os.Getenv(flawEnv) != "" {
		t.Skip("in a child process of TestSuiteCatchesFlaws")
	}
	s := newRef(noFlaw)
	var failed bool
	testing.Benchmark(func(b *testing.B) {
		storetest.RunBenchmarks(b, s)
		failed = b.Failed()
	})
	if failed {
		t.Fatal("the benchmarks failed")
	}
	if len(s.m) != 0 {
		t.Errorf("the benchmarks left %d entries", len(s.m))
	}
}
