// Package storetest is the conformance suite for server.Store
// implementations. Every store in this module runs it, and a store of your
// own runs it with one call:
//
//	package mystore_test
//
//	import (
//		"testing"
//
//		"example.com/mystore"
//		"github.com/sessionkit/session/server"
//		"github.com/sessionkit/session/server/storetest"
//	)
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) server.Store {
//			s, err := mystore.Open("localhost:6379")
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run calls newStore once for each subtest. newStore may return a fresh
// store or the same shared one every time: the suite uses random keys of 64
// hex digits (from crypto/rand), deletes what it creates, and never assumes
// the store is empty, so it can run against a persistent database that other
// tests, or other copies of the suite, use at the same time. Subtests run
// one after another; newStore is never called concurrently.
//
// A few checks create an entry that is already expired and expect it to be
// present on the next call (Create over it must be server.ErrExists). A
// DeleteExpired running meanwhile, from a cleanup goroutine or another
// process, would remove it, so turn background cleanup off, or make it rare,
// for the stores the suite tests. A store that removes expired entries by
// itself, as Redis does with a key's time to live, says so with
// Options.DropsExpired.
//
// What the suite checks, subtest by subtest:
//
//   - UnknownKey: Load of a key never stored is server.ErrNotFound and
//     creates nothing.
//   - RoundTrip: blobs of 1 byte, 300 bytes and 64 KiB (one byte more than
//     a MySQL BLOB column holds; skipped if over Options.MaxLength)
//     running through every byte value come back exactly, under keys of
//     the shortest and longest valid length. Empty blobs are not tested:
//     encoded sessions are never empty, and a store need not keep them
//     apart from absent ones.
//   - CreateExisting: Create never overwrites, not even an expired entry
//     (with Options.DropsExpired, Create over an expired entry may also
//     succeed, and the new entry then loads).
//   - Update: Update replaces blob and expiry, accepts an identical blob and
//     expiry, and never creates (unknown key, expired key, deleted key).
//   - Delete: Delete removes, and deleting an absent key is not an error.
//   - ExpiredAtCreate: an entry created with a past expiry does not load.
//   - DeleteExpired: expired entries are removed and counted, live ones
//     stay (with Options.DropsExpired, the count may leave out what the
//     store had already dropped).
//   - ExpiresOverTime: an entry loads until its expiry and not after it,
//     and an expiry is not moved to a whole second.
//   - ExpiryPrecision: an expiry is not moved to a whole 100 ms or 10 ms
//     (store times may be truncated to a millisecond or a microsecond).
//     When the machine is too busy to time Loads within 0.9 of that scale
//     around an expiry, the check at that scale skips and says so.
//   - InvalidKeys: every method refuses malformed keys (empty, too short,
//     too long, upper case, path separators, dots, NUL, space, non-ASCII)
//     with server.ErrInvalidKey.
//   - BlobIsolation: the store neither keeps the caller's slice nor hands
//     out its own.
//   - Context: a cancelled context, or one past its deadline, makes every
//     method fail with an error wrapping context.Canceled or
//     context.DeadlineExceeded, and such a call changes nothing.
//   - Concurrency: goroutines racing on the same keys: exactly one Create
//     per key wins, Loads never see a torn or foreign blob, and no other
//     errors occur. Run the suite with -race.
//   - UpdateDeleteRace: 3,000 races of an Update against a Delete of the
//     same live entry (fewer if they take more than 10 seconds), the
//     Delete steered to land at the Update's check for the entry: once
//     Delete has returned, the entry never loads again, whether the
//     Update is still running or has returned. The subtest logs how many
//     races ran and how many left the entry loadable.
//   - TooLarge: a blob of Options.MaxLength bytes is stored and loaded;
//     one byte more is refused by Create and Update with
//     server.ErrTooLarge, writing nothing; and, with Options.Plant, a
//     stored blob over the limit is refused by Load and LoadWithExpiry
//     with server.ErrTooLarge, in an error that does not contain the key.
//   - LoadWithExpiry: for stores that implement the optional
//     server.ExpiryLoader, the expiry comes back with the blob, to the
//     millisecond and never later, and unknown, expired and invalid keys
//     and done contexts are answered as Load answers them.
//   - Index: for stores that implement server.Index (the user index), its
//     contract: Bind stores and replaces, Touch replaces only a live entry
//     and never creates one, Entries lists exactly a user's live entries
//     (150 of them in one call), Unbind removes and ignores absent IDs,
//     users are kept apart, keys, IDs, blob sizes and done contexts are
//     refused as the Store's are, and none of 300 Touches racing an Unbind
//     brings the entry back. A store that does not implement it skips the
//     subtest, and so does one whose Entries returns an error matching
//     errors.ErrUnsupported (a store that wraps another, which keeps
//     none).
//
// RunBenchmarks measures a store's Load, Update and Create+Delete, one call
// at a time, for a BenchmarkXxx function of the store's own.
//
// The time-based subtests sleep between one and two seconds in all, and
// UpdateDeleteRace runs for at most ten. The time-based subtests assume
// that the store's clock agrees with the test process's clock to within a
// few milliseconds, which holds when the store compares expiry against the
// caller's time.Now (as server.Expired does) or runs on the same host.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
)

// Options describes what a store does beyond the contract's minimum, so
// that Run checks the behaviour the store promises. The zero value is the
// contract of server.Store as a SQL table keeps it.
type Options struct {
	// DropsExpired says that the store removes expired entries by itself,
	// at their expiry, as Redis does with a key's time to live. Create over
	// the key of an expired entry may then succeed, and DeleteExpired may
	// count nothing. Everything else is checked as for any store: an
	// expired entry never loads, Update never brings it back, and once
	// DeleteExpired has run its key can be created again.
	DropsExpired bool
	// MaxLength is the longest blob the store accepts and loads, as it is
	// configured; zero means codec.DefaultMaxLength, the limit every store
	// of this module has by default. The suite stores blobs of MaxLength
	// bytes and expects one byte more to be refused with
	// server.ErrTooLarge.
	MaxLength int
	// Plant, if not nil, stores blob under key until expires behind the
	// store's back, without its checks, as someone with direct access to
	// its database, server or directory could: the suite then checks that
	// the store refuses to load a blob over MaxLength. blob may be longer
	// than the store accepts; Plant writes it as the store would have,
	// had it accepted it.
	Plant func(key string, blob []byte, expires time.Time) error
}

// Run runs the conformance suite against the stores that newStore returns.
// It calls newStore once per subtest, from the subtest's goroutine. It
// takes at most one Options; with none, the zero Options applies, and when
// several are given the last one is used.
func Run(t *testing.T, newStore func(t *testing.T) server.Store, opts ...Options) {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[len(opts)-1]
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, s server.Store)
	}{
		{"UnknownKey", testUnknownKey},
		{"RoundTrip", func(t *testing.T, s server.Store) { testRoundTrip(t, s, o) }},
		{"CreateExisting", func(t *testing.T, s server.Store) { testCreateExisting(t, s, o) }},
		{"Update", func(t *testing.T, s server.Store) { testUpdate(t, s, o) }},
		{"Delete", testDelete},
		{"ExpiredAtCreate", testExpiredAtCreate},
		{"DeleteExpired", func(t *testing.T, s server.Store) { testDeleteExpired(t, s, o) }},
		{"ExpiresOverTime", func(t *testing.T, s server.Store) { testExpiresOverTime(t, s, o) }},
		{"ExpiryPrecision", testExpiryPrecision},
		{"InvalidKeys", testInvalidKeys},
		{"BlobIsolation", testBlobIsolation},
		{"Context", testContext},
		{"Concurrency", testConcurrency},
		{"UpdateDeleteRace", testUpdateDeleteRace},
		{"TooLarge", func(t *testing.T, s server.Store) { testTooLarge(t, s, o) }},
		{"LoadWithExpiry", testLoadWithExpiry},
		{"Index", func(t *testing.T, s server.Store) { testIndex(t, s, o) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned a nil Store")
			}
			c.fn(t, s)
		})
	}
}

// hour is a comfortable lifetime for entries that must stay alive.
const hour = time.Hour

// randomKey returns a fresh valid key of n lowercase hex digits from
// crypto/rand.
func randomKey(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("crypto/rand: %v", err)
	}
	k := hex.EncodeToString(b)[:n]
	if err := server.ValidateKey(k); err != nil {
		t.Fatalf("generated key %q is invalid: %v", k, err)
	}
	return k
}

// newKey returns a fresh 64-digit key and deletes it from s when the test
// ends, so that a shared store does not keep what the suite wrote.
func newKey(t testing.TB, s server.Store) string {
	t.Helper()
	return trackedKey(t, s, 64)
}

// trackedKey is newKey for keys of n digits.
func trackedKey(t testing.TB, s server.Store, n int) string {
	t.Helper()
	k := randomKey(t, n)
	t.Cleanup(func() {
		if err := s.Delete(context.Background(), k); err != nil {
			t.Errorf("cleanup: Delete(%s): %v", k, err)
		}
	})
	return k
}

// blobOf returns n bytes that run through every byte value, starting at
// seed, so that stores which mangle any value (charset conversion, NUL
// termination, trimming) are caught.
func blobOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) + seed
	}
	return b
}

func mustCreate(t testing.TB, s server.Store, key string, blob []byte, expires time.Time) {
	t.Helper()
	if err := s.Create(context.Background(), key, blob, expires); err != nil {
		t.Fatalf("Create(%s): %v", key, err)
	}
}

// wantBlob loads key and checks that it holds want.
func wantBlob(t testing.TB, s server.Store, key string, want []byte) {
	t.Helper()
	got, err := s.Load(context.Background(), key)
	if err != nil {
		t.Errorf("Load(%s): %v, want the stored blob", key, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Load(%s) = %s, want %s", key, describe(got), describe(want))
	}
}

// wantNotFound loads key and checks that it is server.ErrNotFound.
func wantNotFound(t testing.TB, s server.Store, key string, why string) {
	t.Helper()
	got, err := s.Load(context.Background(), key)
	if !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Load(%s) after %s = %s, %v; want ErrNotFound", key, why, describe(got), err)
	}
}

// describe summarizes a blob for failure messages.
func describe(b []byte) string {
	if len(b) <= 16 {
		return fmt.Sprintf("%d bytes %x", len(b), b)
	}
	return fmt.Sprintf("%d bytes %x…", len(b), b[:16])
}

func testUnknownKey(t *testing.T, s server.Store) {
	key := newKey(t, s)
	wantNotFound(t, s, key, "nothing was stored")
	// Load must not have written anything (CVE-2015-5143): the key is
	// still free.
	blob := blobOf(40, 1)
	if err := s.Create(context.Background(), key, blob, time.Now().Add(hour)); err != nil {
		t.Fatalf("Create(%s) after Load of the unknown key: %v; Load must not create entries", key, err)
	}
	wantBlob(t, s, key, blob)
}

func testRoundTrip(t *testing.T, s server.Store, o Options) {
	cases := []struct {
		name   string
		keyLen int
		blob   []byte
	}{
		{"1B", 64, []byte{0}},
		{"300B", 64, blobOf(300, 7)},
		{"64KiB", 64, blobOf(64<<10, 0)},
		{"MinKeyLen", server.MinKeyLen, blobOf(256, 128)},
		{"MaxKeyLen", server.MaxKeyLen, blobOf(256, 255)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.blob) > o.maxLength() {
				t.Skipf("the store's MaxLength is %d bytes", o.maxLength())
			}
			key := trackedKey(t, s, c.keyLen)
			mustCreate(t, s, key, c.blob, time.Now().Add(hour))
			wantBlob(t, s, key, c.blob)
			// A second Load gives the same bytes.
			wantBlob(t, s, key, c.blob)
		})
	}
	t.Run("DistinctKeys", func(t *testing.T) {
		a, b := newKey(t, s), newKey(t, s)
		mustCreate(t, s, a, []byte("first"), time.Now().Add(hour))
		mustCreate(t, s, b, []byte("second"), time.Now().Add(hour))
		wantBlob(t, s, a, []byte("first"))
		wantBlob(t, s, b, []byte("second"))
	})
}

// wantCreateOverExpired calls Create on the key of an expired entry. A
// store that keeps expired entries must refuse with server.ErrExists and
// the entry must still not load; one that drops them (o.DropsExpired) may
// instead accept, and then the new entry loads.
func wantCreateOverExpired(t testing.TB, s server.Store, o Options, key string) {
	t.Helper()
	blob := []byte("new over expired")
	err := s.Create(context.Background(), key, blob, time.Now().Add(hour))
	switch {
	case errors.Is(err, server.ErrExists):
		wantNotFound(t, s, key, "a refused Create over an expired entry")
	case err == nil && o.DropsExpired:
		wantBlob(t, s, key, blob)
	case err == nil:
		t.Errorf("Create(%s) over an expired entry succeeded, want ErrExists (present, expired or not; set Options.DropsExpired for a store that drops expired entries itself)", key)
	default:
		t.Errorf("Create(%s) over an expired entry = %v, want ErrExists", key, err)
	}
}

func testCreateExisting(t *testing.T, s server.Store, o Options) {
	ctx := context.Background()
	t.Run("Live", func(t *testing.T) {
		key := newKey(t, s)
		orig := blobOf(100, 3)
		mustCreate(t, s, key, orig, time.Now().Add(hour))
		err := s.Create(ctx, key, []byte("intruder"), time.Now().Add(2*hour))
		if !errors.Is(err, server.ErrExists) {
			t.Fatalf("second Create(%s) = %v, want ErrExists", key, err)
		}
		wantBlob(t, s, key, orig)
	})
	t.Run("Expired", func(t *testing.T) {
		key := newKey(t, s)
		mustCreate(t, s, key, []byte("old"), time.Now().Add(-time.Minute))
		wantCreateOverExpired(t, s, o, key)
	})
}

func testUpdate(t *testing.T, s server.Store, o Options) {
	ctx := context.Background()
	t.Run("Replaces", func(t *testing.T) {
		key := newKey(t, s)
		mustCreate(t, s, key, blobOf(50, 0), time.Now().Add(hour))
		next := blobOf(min(70000, o.maxLength()), 9)
		if err := s.Update(ctx, key, next, time.Now().Add(2*hour)); err != nil {
			t.Fatalf("Update(%s): %v", key, err)
		}
		wantBlob(t, s, key, next)
		// Shrinking works too.
		if err := s.Update(ctx, key, []byte{0xff}, time.Now().Add(2*hour)); err != nil {
			t.Fatalf("Update(%s) with a shorter blob: %v", key, err)
		}
		wantBlob(t, s, key, []byte{0xff})
	})
	t.Run("ReplacesExpiry", func(t *testing.T) {
		key := newKey(t, s)
		mustCreate(t, s, key, []byte("alive"), time.Now().Add(hour))
		if err := s.Update(ctx, key, []byte("alive"), time.Now().Add(-time.Second)); err != nil {
			t.Fatalf("Update(%s) to a past expiry: %v", key, err)
		}
		wantNotFound(t, s, key, "an Update that moved the expiry into the past")
	})
	t.Run("Identical", func(t *testing.T) {
		// An UPDATE that changes nothing must still succeed: MySQL reports
		// 0 affected rows for it unless the client asks for found rows.
		key := newKey(t, s)
		blob := blobOf(300, 1)
		exp := time.Now().Add(hour).Truncate(time.Second)
		mustCreate(t, s, key, blob, exp)
		for i := 0; i < 2; i++ {
			if err := s.Update(ctx, key, blob, exp); err != nil {
				t.Fatalf("Update(%s) #%d with identical blob and expiry: %v", key, i+1, err)
			}
		}
		wantBlob(t, s, key, blob)
	})
	t.Run("Unknown", func(t *testing.T) {
		key := newKey(t, s)
		err := s.Update(ctx, key, []byte("ghost"), time.Now().Add(hour))
		if !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("Update(%s) of an unknown key = %v, want ErrNotFound", key, err)
		}
		wantNotFound(t, s, key, "an Update of an unknown key")
	})
	t.Run("Expired", func(t *testing.T) {
		key := newKey(t, s)
		mustCreate(t, s, key, []byte("old"), time.Now().Add(-time.Minute))
		err := s.Update(ctx, key, []byte("revived"), time.Now().Add(hour))
		if !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("Update(%s) of an expired key = %v, want ErrNotFound", key, err)
		}
		wantNotFound(t, s, key, "an Update of an expired key")
	})
	t.Run("AfterDelete", func(t *testing.T) {
		// Django's "no resurrection": a session deleted by a concurrent
		// logout must not come back when the other request saves.
		key := newKey(t, s)
		mustCreate(t, s, key, []byte("logged in"), time.Now().Add(hour))
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%s): %v", key, err)
		}
		err := s.Update(ctx, key, []byte("logged in, modified"), time.Now().Add(hour))
		if !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("Update(%s) after Delete = %v, want ErrNotFound", key, err)
		}
		wantNotFound(t, s, key, "an Update after Delete")
	})
}

func testDelete(t *testing.T, s server.Store) {
	ctx := context.Background()
	key, other := newKey(t, s), newKey(t, s)
	mustCreate(t, s, key, []byte("bye"), time.Now().Add(hour))
	mustCreate(t, s, other, []byte("stay"), time.Now().Add(hour))
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete(%s): %v", key, err)
	}
	wantNotFound(t, s, key, "Delete")
	wantBlob(t, s, other, []byte("stay"))
	// The key is free again.
	mustCreate(t, s, key, []byte("again"), time.Now().Add(hour))
	wantBlob(t, s, key, []byte("again"))

	if err := s.Delete(ctx, newKey(t, s)); err != nil {
		t.Errorf("Delete of an unknown key = %v, want nil", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete(%s): %v", key, err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Errorf("second Delete(%s) = %v, want nil", key, err)
	}
}

func testExpiredAtCreate(t *testing.T, s server.Store) {
	for _, ago := range []time.Duration{time.Millisecond, time.Hour, 24 * 365 * time.Hour} {
		key := newKey(t, s)
		mustCreate(t, s, key, []byte("stale"), time.Now().Add(-ago))
		wantNotFound(t, s, key, fmt.Sprintf("a Create that expired %v ago", ago))
	}
}

func testDeleteExpired(t *testing.T, s server.Store, o Options) {
	ctx := context.Background()
	dead := []string{newKey(t, s), newKey(t, s), newKey(t, s)}
	live := []string{newKey(t, s), newKey(t, s)}
	for i, k := range dead {
		mustCreate(t, s, k, []byte("dead"), time.Now().Add(-time.Duration(i+1)*time.Minute))
	}
	for _, k := range live {
		mustCreate(t, s, k, []byte("live"), time.Now().Add(hour))
	}
	n, err := s.DeleteExpired(ctx)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	// A shared store may hold other expired entries, so n may be larger.
	if n < int64(len(dead)) && !o.DropsExpired {
		t.Errorf("DeleteExpired = %d, want at least %d (the entries this test expired)", n, len(dead))
	}
	for _, k := range dead {
		// The entry is gone, not merely expired: its key can be created
		// again.
		if err := s.Create(ctx, k, []byte("reborn"), time.Now().Add(hour)); err != nil {
			t.Errorf("Create(%s) after DeleteExpired = %v; the expired entry was not removed", k, err)
		}
	}
	for _, k := range live {
		wantBlob(t, s, k, []byte("live"))
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatalf("second DeleteExpired: %v", err)
	}
	for _, k := range live {
		wantBlob(t, s, k, []byte("live"))
	}
}

// loadProbe loads key and reports whether it was found, with the times
// just before and after the call. Errors other than ErrNotFound fail t.
func loadProbe(t testing.TB, s server.Store, key string, want []byte) (found bool, start, end time.Time) {
	t.Helper()
	start = time.Now()
	got, err := s.Load(context.Background(), key)
	end = time.Now()
	switch {
	case err == nil:
		if !bytes.Equal(got, want) {
			t.Errorf("Load(%s) = %s, want %s", key, describe(got), describe(want))
		}
		return true, start, end
	case errors.Is(err, server.ErrNotFound):
		return false, start, end
	default:
		t.Fatalf("Load(%s): %v", key, err)
		return false, start, end
	}
}

// aligned returns the first instant at or after t that lies off into its
// slot, slots being counted from the Unix epoch. The result carries no
// monotonic clock reading, so sleeping until it follows the wall clock, as
// stores do when they compare expiry instants.
func aligned(t time.Time, slot, off time.Duration) time.Time {
	e := t.Truncate(slot).Add(off)
	if e.Before(t) {
		e = e.Add(slot)
	}
	return e
}

func testExpiresOverTime(t *testing.T, s server.Store, o Options) {
	ctx := context.Background()
	// exp is 0.45 s past a whole second and expLate 0.55 s: a store that
	// keeps whole seconds (truncating, or rounding to the nearest second)
	// moves exp 450 ms earlier, and one that rounds up or to the nearest
	// second moves expLate 450 ms later. Both show up below with 400 ms to
	// spare.
	exp := aligned(time.Now().Add(500*time.Millisecond), time.Second, 450*time.Millisecond)
	expLate := exp.Add(100 * time.Millisecond)
	kLoad, kUpdate, kCreate, kSweep, kExtend, kLate, kLive :=
		newKey(t, s), newKey(t, s), newKey(t, s), newKey(t, s), newKey(t, s), newKey(t, s), newKey(t, s)
	for _, k := range []string{kLoad, kUpdate, kCreate, kSweep, kExtend} {
		mustCreate(t, s, k, []byte("short"), exp)
	}
	mustCreate(t, s, kLate, []byte("late"), expLate)
	mustCreate(t, s, kLive, []byte("long"), time.Now().Add(hour))
	// Moving the expiry later keeps the entry past the first expiry.
	if err := s.Update(ctx, kExtend, []byte("extended"), time.Now().Add(hour)); err != nil {
		t.Fatalf("Update(%s): %v", kExtend, err)
	}

	// Before the expiry: found.
	time.Sleep(time.Until(exp.Add(-400 * time.Millisecond)))
	for k, blob := range map[string]string{kLoad: "short", kLate: "late"} {
		found, _, end := loadProbe(t, s, k, []byte(blob))
		switch {
		case found:
		case end.Before(exp):
			t.Errorf("Load(%s) = ErrNotFound %v before its expiry of %s; does the store keep only whole seconds?",
				k, exp.Sub(end), exp.Format(time.RFC3339Nano))
		default:
			t.Fatalf("Load(%s) only returned %v after the entry's expiry; the machine is too slow for this test", k, end.Sub(exp))
		}
	}

	// After the expiry: gone.
	time.Sleep(time.Until(expLate))
	found, _, end := loadProbe(t, s, kLate, nil)
	if found {
		t.Errorf("Load(%s) found the entry %v after its expiry of %s; does the store round expiry up to whole seconds?",
			kLate, end.Sub(expLate), expLate.Format(time.RFC3339Nano))
	} else if end.After(expLate.Add(400 * time.Millisecond)) {
		t.Fatalf("Load(%s) took until %v after the expiry; the machine is too slow for this test", kLate, end.Sub(expLate))
	}

	wantNotFound(t, s, kLoad, "its expiry passed")
	if err := s.Update(ctx, kUpdate, []byte("late"), time.Now().Add(hour)); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Update(%s) after its expiry = %v, want ErrNotFound", kUpdate, err)
	}
	wantNotFound(t, s, kUpdate, "a refused Update after expiry")
	wantCreateOverExpired(t, s, o, kCreate)
	wantBlob(t, s, kExtend, []byte("extended"))
	wantBlob(t, s, kLive, []byte("long"))

	n, err := s.DeleteExpired(ctx)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n < 5 && !o.DropsExpired {
		t.Errorf("DeleteExpired = %d, want at least 5 (the entries this test let expire)", n)
	}
	if err := s.Create(ctx, kSweep, []byte("new"), time.Now().Add(hour)); err != nil {
		t.Errorf("Create(%s) after DeleteExpired = %v; the expired entry was not removed", kSweep, err)
	}
	wantBlob(t, s, kExtend, []byte("extended"))
	wantBlob(t, s, kLive, []byte("long"))
}

// testExpiryPrecision checks expiry below a second, at two scales. At each
// scale S, one entry expires 95% into a slot of length S and another 5%
// into the next slot: a store that truncates expiry to S moves the first
// 0.95 S earlier, and one that rounds up to S moves the second 0.95 S
// later. Loads 0.9 S before the first expiry and just after the second
// show either mistake, provided each Load returns within 0.9 S. The test
// retries until it has seen both Loads return in time; if the machine is
// too busy for that, it skips, saying so, after asserting what it could.
// ExpiresOverTime checks whole seconds.
func testExpiryPrecision(t *testing.T, s server.Store) {
	for _, c := range []struct {
		slot     time.Duration
		attempts int
	}{
		{100 * time.Millisecond, 5},
		{10 * time.Millisecond, 10},
	} {
		t.Run(c.slot.String(), func(t *testing.T) {
			slot := c.slot
			var sawEarly, sawLate bool
			for attempt := 0; attempt < c.attempts && !(sawEarly && sawLate); attempt++ {
				kEarly, kLate := newKey(t, s), newKey(t, s)
				exp := aligned(time.Now().Add(30*time.Millisecond+slot), slot, slot*19/20)
				expLate := exp.Add(slot / 10)
				mustCreate(t, s, kEarly, []byte("early"), exp)
				mustCreate(t, s, kLate, []byte("late"), expLate)

				time.Sleep(time.Until(exp.Add(-slot * 9 / 10)))
				found, _, end := loadProbe(t, s, kEarly, []byte("early"))
				if end.Before(exp) {
					if !found {
						t.Fatalf("Load(%s) = ErrNotFound %v before its expiry of %s; the store truncates expiry to %v or coarser",
							kEarly, exp.Sub(end), exp.Format(time.RFC3339Nano), slot)
					}
					sawEarly = true
				}

				time.Sleep(time.Until(expLate))
				found, _, end = loadProbe(t, s, kLate, []byte("late"))
				if found {
					t.Fatalf("Load(%s) found the entry %v after its expiry of %s; the store rounds expiry up to %v or coarser",
						kLate, end.Sub(expLate), expLate.Format(time.RFC3339Nano), slot)
				}
				if end.Before(expLate.Add(slot * 9 / 10)) {
					sawLate = true
				}
				wantNotFound(t, s, kEarly, "its expiry passed")
			}
			if !sawEarly || !sawLate {
				t.Skipf("in %d attempts no Load returned within %v of an expiry (before: %v, after: %v); the machine is too busy to check expiry to %v",
					c.attempts, slot*9/10, sawEarly, sawLate, slot)
			}
		})
	}
}

// invalidKeys are keys that every store must refuse.
func invalidKeys() map[string]string {
	valid := "0123456789abcdef0123456789abcdef" // 32 characters
	with := func(i int, s string) string { return valid[:i] + s + valid[i+len(s):] }
	return map[string]string{
		"empty":              "",
		"one char":           "a",
		"too short":          valid[:server.MinKeyLen-1],
		"too long":           string(bytes.Repeat([]byte("a"), server.MaxKeyLen+1)),
		"upper case":         with(5, "A"),
		"all upper case":     "0123456789ABCDEF0123456789ABCDEF",
		"traversal":          "../../etc/passwd",
		"long traversal":     "../../../../../../../../etc/passwd",
		"slash":              "a/b",
		"slash, valid len":   with(16, "/"),
		"leading slash":      "/" + valid[1:],
		"absolute path":      "/tmp/" + valid,
		"backslash":          `a\b`,
		"backslash, valid":   with(16, `\`),
		"windows traversal":  `..\..\..\windows\win.ini`,
		"dotdot":             "..",
		"dot, valid len":     with(31, "."),
		"dotdot, valid len":  "..0123456789abcdef0123456789abcd",
		"NUL":                with(10, "\x00"),
		"NUL at end":         valid + "\x00",
		"space":              with(10, " "),
		"newline":            with(31, "\n"),
		"tab":                with(0, "\t"),
		"dash":               with(8, "-"),
		"underscore":         with(8, "_"),
		"colon":              with(8, ":"),
		"percent":            with(8, "%"),
		"unicode":            with(8, "é"),
		"unicode digit":      with(8, "٣"),
		"fullwidth letter":   with(8, "ａ"),
		"high byte":          with(8, "\xff"),
		"long unicode":       string(bytes.Repeat([]byte("é"), 40)),
		"max len plus upper": string(bytes.Repeat([]byte("a"), server.MaxKeyLen-1)) + "A",
	}
}

func testInvalidKeys(t *testing.T, s server.Store) {
	ctx := context.Background()
	exp := time.Now().Add(hour)
	for name, key := range invalidKeys() {
		t.Run(name, func(t *testing.T) {
			if server.ValidateKey(key) == nil {
				t.Fatalf("test bug: %q is a valid key", key)
			}
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, server.ErrInvalidKey) {
					t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, key, err)
				}
			}
			blob, err := s.Load(ctx, key)
			check("Load", err)
			if blob != nil {
				t.Errorf("Load(%q) returned %s with the error", key, describe(blob))
			}
			check("Create", s.Create(ctx, key, []byte("x"), exp))
			check("Update", s.Update(ctx, key, []byte("x"), exp))
			check("Delete", s.Delete(ctx, key))
			// Still refused after a Create attempt.
			_, err = s.Load(ctx, key)
			check("Load", err)
		})
	}
}

func testBlobIsolation(t *testing.T, s server.Store) {
	ctx := context.Background()
	t.Run("CreateArgument", func(t *testing.T) {
		key := newKey(t, s)
		arg := blobOf(64, 0)
		mustCreate(t, s, key, arg, time.Now().Add(hour))
		for i := range arg {
			arg[i] = 'X'
		}
		wantBlob(t, s, key, blobOf(64, 0))
	})
	t.Run("UpdateArgument", func(t *testing.T) {
		key := newKey(t, s)
		mustCreate(t, s, key, []byte("first"), time.Now().Add(hour))
		arg := blobOf(64, 5)
		if err := s.Update(ctx, key, arg, time.Now().Add(hour)); err != nil {
			t.Fatalf("Update(%s): %v", key, err)
		}
		for i := range arg {
			arg[i] = 'X'
		}
		wantBlob(t, s, key, blobOf(64, 5))
	})
	t.Run("LoadResult", func(t *testing.T) {
		key := newKey(t, s)
		mustCreate(t, s, key, blobOf(64, 0), time.Now().Add(hour))
		got, err := s.Load(ctx, key)
		if err != nil {
			t.Fatalf("Load(%s): %v", key, err)
		}
		for i := range got {
			got[i] = 'X'
		}
		wantBlob(t, s, key, blobOf(64, 0))
	})
	t.Run("LoadResultsAreDistinct", func(t *testing.T) {
		key := newKey(t, s)
		mustCreate(t, s, key, []byte("shared?"), time.Now().Add(hour))
		a, errA := s.Load(ctx, key)
		b, errB := s.Load(ctx, key)
		if errA != nil || errB != nil {
			t.Fatalf("Load(%s): %v, %v", key, errA, errB)
		}
		a[0] = 'X'
		if b[0] != 's' {
			t.Errorf("two Loads of %s returned the same memory", key)
		}
	})
}

func testContext(t *testing.T, s server.Store) {
	key := newKey(t, s)
	mustCreate(t, s, key, []byte("present"), time.Now().Add(hour))
	fresh := newKey(t, s)

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()

	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"Canceled", canceled, context.Canceled},
		{"DeadlineExceeded", expired, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, c.want) {
					t.Errorf("%s with a done context = %v, want an error wrapping %v", op, err, c.want)
				}
			}
			blob, err := s.Load(c.ctx, key)
			check("Load", err)
			if blob != nil {
				t.Errorf("Load with a done context returned %s", describe(blob))
			}
			check("Create", s.Create(c.ctx, fresh, []byte("no"), time.Now().Add(hour)))
			check("Update", s.Update(c.ctx, key, []byte("no"), time.Now().Add(hour)))
			check("Delete", s.Delete(c.ctx, key))
			_, err = s.DeleteExpired(c.ctx)
			check("DeleteExpired", err)

			// None of those calls changed anything.
			wantBlob(t, s, key, []byte("present"))
			wantNotFound(t, s, fresh, "a Create with a done context")
		})
	}
}

func testConcurrency(t *testing.T, s server.Store) {
	const (
		workers = 16
		nkeys   = 8
		ops     = 50
	)
	ctx := context.Background()
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = newKey(t, s)
	}
	exp := time.Now().Add(hour)

	// Phase 1: every worker creates every key at once. Exactly one Create
	// per key may win.
	var (
		mu      sync.Mutex
		wins    = make([]int, nkeys)
		winner  = make([]int, nkeys)
		exists  int
		others  []error
		start   = make(chan struct{})
		wg      sync.WaitGroup
		fail    = func(err error) { mu.Lock(); others = append(others, err); mu.Unlock() }
		blobFor = func(k, w, n int) []byte {
			// Key index, writer and length, then a body that only that
			// writer would write: a torn or misplaced blob shows up.
			b := make([]byte, 3+n)
			b[0], b[1], b[2] = byte(k), byte(w), byte(n)
			for i := 3; i < len(b); i++ {
				b[i] = byte(k*31 + w*7 + i)
			}
			return b
		}
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < nkeys; i++ {
				k := (i + w) % nkeys
				err := s.Create(ctx, keys[k], blobFor(k, w, 10+w), exp)
				mu.Lock()
				switch {
				case err == nil:
					wins[k]++
					winner[k] = w
				case errors.Is(err, server.ErrExists):
					exists++
				default:
					others = append(others, fmt.Errorf("Create: %w", err))
				}
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	for k, n := range wins {
		if n != 1 {
			t.Errorf("key %d: %d concurrent Creates succeeded, want exactly 1", k, n)
		}
	}
	if want := workers*nkeys - nkeys; exists != want {
		t.Errorf("%d Creates returned ErrExists, want %d", exists, want)
	}
	for _, err := range others {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for k := range keys {
		wantBlob(t, s, keys[k], blobFor(k, winner[k], 10+winner[k]))
	}

	// Phase 2: a mix of all operations on the same keys.
	check := func(k int, blob []byte) error {
		if len(blob) < 3 {
			return fmt.Errorf("Load of key %d returned %s: torn blob", k, describe(blob))
		}
		if int(blob[0]) != k {
			return fmt.Errorf("Load of key %d returned a blob written for key %d", k, blob[0])
		}
		if want := blobFor(k, int(blob[1]), int(blob[2])); !bytes.Equal(blob, want) {
			return fmt.Errorf("Load of key %d returned %s, want %s: torn or mixed blob", k, describe(blob), describe(want))
		}
		return nil
	}
	start = make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < ops; i++ {
				k := (w*7 + i*3) % nkeys
				key := keys[k]
				n := (w*13+i)%200 + 1
				switch (w + i) % 5 {
				case 0, 1:
					blob, err := s.Load(ctx, key)
					switch {
					case err == nil:
						if err := check(k, blob); err != nil {
							fail(err)
						}
					case !errors.Is(err, server.ErrNotFound):
						fail(fmt.Errorf("Load: %w", err))
					}
				case 2:
					err := s.Update(ctx, key, blobFor(k, w, n), exp)
					if err != nil && !errors.Is(err, server.ErrNotFound) {
						fail(fmt.Errorf("Update: %w", err))
					}
				case 3:
					err := s.Create(ctx, key, blobFor(k, w, n), exp)
					if err != nil && !errors.Is(err, server.ErrExists) {
						fail(fmt.Errorf("Create: %w", err))
					}
				case 4:
					if i%10 == 4 {
						if err := s.Delete(ctx, key); err != nil {
							fail(fmt.Errorf("Delete: %w", err))
						}
					} else {
						blob, err := s.Load(ctx, key)
						if err == nil {
							err = check(k, blob)
						} else if errors.Is(err, server.ErrNotFound) {
							err = nil
						}
						if err != nil {
							fail(err)
						}
					}
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range others {
		t.Error(err)
	}
	// Whatever survived is whole.
	for k, key := range keys {
		blob, err := s.Load(ctx, key)
		switch {
		case err == nil:
			if err := check(k, blob); err != nil {
				t.Error(err)
			}
		case !errors.Is(err, server.ErrNotFound):
			t.Errorf("Load(%s): %v", key, err)
		}
	}
}
