package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
)

// testIndex checks the server.Index contract of a store that implements it:
// entries round trip and are replaced by Bind; Touch replaces only a live
// entry and never creates one; Entries lists only a user's live entries,
// however many; Unbind removes, absent IDs are fine; users are kept apart;
// keys, IDs and blob sizes are checked as the Store's are; a done context
// fails; and a Touch racing an Unbind never brings the entry back.
func testIndex(t *testing.T, st server.Store, o Options) {
	ix, ok := st.(server.Index)
	if !ok {
		t.Skip("the store does not implement server.Index (the user index)")
	}
	if _, err := ix.Entries(context.Background(), randomKey(t, 64)); errors.Is(err, errors.ErrUnsupported) {
		// A store that wraps another implements Index by passing it on,
		// and the one it wraps may keep none.
		t.Skipf("the store's user index is unsupported: %v", err)
	}
	ctx := context.Background()
	tr := &trackingIndex{Index: ix, ids: make(map[string][]string)}
	ix = tr
	newUser := func(t *testing.T) string {
		user := randomKey(t, 64)
		t.Cleanup(func() {
			tr.mu.Lock()
			ids := tr.ids[user] // expired entries too, which Entries does not list
			tr.mu.Unlock()
			if len(ids) > 0 {
				if err := ix.Unbind(context.Background(), user, ids...); err != nil {
					t.Errorf("cleanup: Unbind: %v", err)
				}
			}
		})
		return user
	}
	entries := func(t *testing.T, user string) map[string]server.Entry {
		t.Helper()
		es, err := ix.Entries(ctx, user)
		if err != nil {
			t.Fatalf("Entries: %v", err)
		}
		m := make(map[string]server.Entry, len(es))
		for _, e := range es {
			if _, dup := m[e.ID]; dup {
				t.Errorf("Entries lists %s twice", e.ID)
			}
			m[e.ID] = e
		}
		return m
	}
	exp := time.Now().Add(hour).Truncate(time.Millisecond)

	t.Run("BindEntries", func(t *testing.T) {
		user := newUser(t)
		if got := entries(t, user); len(got) != 0 {
			t.Fatalf("a new user has %d entries, want none", len(got))
		}
		ids := []string{randomKey(t, 24), randomKey(t, 24), randomKey(t, 24)}
		for i, id := range ids {
			if err := ix.Bind(ctx, user, id, blobOf(100+i, byte(i)), exp); err != nil {
				t.Fatalf("Bind: %v", err)
			}
		}
		got := entries(t, user)
		if len(got) != len(ids) {
			t.Fatalf("Entries has %d entries, want %d", len(got), len(ids))
		}
		for i, id := range ids {
			e := got[id]
			if !bytes.Equal(e.Blob, blobOf(100+i, byte(i))) {
				t.Errorf("entry %d: blob %s, want %s", i, describe(e.Blob), describe(blobOf(100+i, byte(i))))
			}
			if d := e.Expires.Sub(exp); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("entry %d: expires %v, want %v", i, e.Expires, exp)
			}
		}
		// Bind replaces.
		if err := ix.Bind(ctx, user, ids[0], blobOf(7, 9), exp.Add(time.Minute)); err != nil {
			t.Fatalf("Bind again: %v", err)
		}
		got = entries(t, user)
		if len(got) != 3 || !bytes.Equal(got[ids[0]].Blob, blobOf(7, 9)) {
			t.Errorf("after a second Bind of the same ID: %d entries, blob %s; want 3 and the new blob", len(got), describe(got[ids[0]].Blob))
		}
		// Another user sees none of them.
		if other := entries(t, newUser(t)); len(other) != 0 {
			t.Errorf("another user has %d entries", len(other))
		}
	})

	t.Run("Touch", func(t *testing.T) {
		user := newUser(t)
		id := randomKey(t, 24)
		if err := ix.Touch(ctx, user, id, blobOf(10, 1), exp); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("Touch of an absent entry: %v, want ErrNotFound", err)
		}
		if got := entries(t, user); len(got) != 0 {
			t.Fatalf("Touch of an absent entry created %d", len(got))
		}
		if err := ix.Bind(ctx, user, id, blobOf(10, 1), exp); err != nil {
			t.Fatal(err)
		}
		if err := ix.Touch(ctx, user, id, blobOf(20, 2), exp.Add(time.Hour)); err != nil {
			t.Fatalf("Touch of a live entry: %v", err)
		}
		e := entries(t, user)[id]
		if !bytes.Equal(e.Blob, blobOf(20, 2)) || e.Expires.Sub(exp.Add(time.Hour)).Abs() > time.Millisecond {
			t.Errorf("after Touch: %s until %v, want the new blob until %v", describe(e.Blob), e.Expires, exp.Add(time.Hour))
		}
		// An expired entry is neither listed nor touched.
		gone := randomKey(t, 24)
		if err := ix.Bind(ctx, user, gone, blobOf(5, 3), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, ok := entries(t, user)[gone]; ok {
			t.Error("Entries lists an expired entry")
		}
		if err := ix.Touch(ctx, user, gone, blobOf(5, 4), exp); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("Touch of an expired entry: %v, want ErrNotFound", err)
		}
		if _, ok := entries(t, user)[gone]; ok {
			t.Error("Touch brought an expired entry back")
		}
	})

	t.Run("Unbind", func(t *testing.T) {
		user := newUser(t)
		a, b, c := randomKey(t, 24), randomKey(t, 24), randomKey(t, 24)
		for _, id := range []string{a, b, c} {
			if err := ix.Bind(ctx, user, id, blobOf(9, 1), exp); err != nil {
				t.Fatal(err)
			}
		}
		if err := ix.Unbind(ctx, user, a, c, randomKey(t, 24)); err != nil {
			t.Fatalf("Unbind: %v", err)
		}
		got := entries(t, user)
		if _, ok := got[b]; len(got) != 1 || !ok {
			t.Errorf("after Unbind of two of three: %d entries, want only the third", len(got))
		}
		if err := ix.Touch(ctx, user, a, blobOf(9, 2), exp); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("Touch after Unbind: %v, want ErrNotFound", err)
		}
		if err := ix.Unbind(ctx, user); err != nil {
			t.Errorf("Unbind of no IDs: %v", err)
		}
		if err := ix.Unbind(ctx, randomKey(t, 64), a); err != nil {
			t.Errorf("Unbind for a user with no entries: %v", err)
		}
	})

	t.Run("Many", func(t *testing.T) {
		user := newUser(t)
		const n = 150
		for i := range n {
			if err := ix.Bind(ctx, user, randomKey(t, 24), blobOf(200, byte(i)), exp); err != nil {
				t.Fatal(err)
			}
		}
		if got := entries(t, user); len(got) != n {
			t.Errorf("Entries has %d entries, want %d", len(got), n)
		}
	})

	t.Run("Checks", func(t *testing.T) {
		user, id := newUser(t), randomKey(t, 24)
		for name, bad := range invalidKeys() {
			if err := ix.Bind(ctx, bad, id, blobOf(5, 1), exp); !errors.Is(err, server.ErrInvalidKey) {
				t.Errorf("Bind with user key %s: %v, want ErrInvalidKey", name, err)
			}
			if err := ix.Bind(ctx, user, bad, blobOf(5, 1), exp); !errors.Is(err, server.ErrInvalidKey) {
				t.Errorf("Bind with ID %s: %v, want ErrInvalidKey", name, err)
			}
			if err := ix.Touch(ctx, user, bad, blobOf(5, 1), exp); !errors.Is(err, server.ErrInvalidKey) {
				t.Errorf("Touch with ID %s: %v, want ErrInvalidKey", name, err)
			}
			if _, err := ix.Entries(ctx, bad); !errors.Is(err, server.ErrInvalidKey) {
				t.Errorf("Entries with user key %s: %v, want ErrInvalidKey", name, err)
			}
			if err := ix.Unbind(ctx, user, bad); !errors.Is(err, server.ErrInvalidKey) {
				t.Errorf("Unbind with ID %s: %v, want ErrInvalidKey", name, err)
			}
		}
		big := make([]byte, o.maxLength()+1)
		if err := ix.Bind(ctx, user, id, big, exp); !errors.Is(err, server.ErrTooLarge) {
			t.Errorf("Bind of %d bytes: %v, want ErrTooLarge", len(big), err)
		}
		if got := entries(t, user); len(got) != 0 {
			t.Errorf("a refused Bind wrote %d entries", len(got))
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := ix.Bind(done, user, id, blobOf(5, 1), exp); !errors.Is(err, context.Canceled) {
			t.Errorf("Bind with a cancelled context: %v, want context.Canceled", err)
		}
		if _, err := ix.Entries(done, user); !errors.Is(err, context.Canceled) {
			t.Errorf("Entries with a cancelled context: %v, want context.Canceled", err)
		}
		if got := entries(t, user); len(got) != 0 {
			t.Errorf("a cancelled Bind wrote %d entries", len(got))
		}
	})

	t.Run("TouchUnbindRace", func(t *testing.T) {
		user := newUser(t)
		const races = 300
		back := 0
		for range races {
			id := randomKey(t, 24)
			if err := ix.Bind(ctx, user, id, blobOf(30, 1), exp); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := ix.Touch(ctx, user, id, blobOf(30, 2), exp)
				if err != nil && !errors.Is(err, server.ErrNotFound) {
					t.Errorf("Touch: %v", err)
				}
			}()
			if err := ix.Unbind(ctx, user, id); err != nil {
				t.Fatalf("Unbind: %v", err)
			}
			wg.Wait()
			if _, ok := entries(t, user)[id]; ok {
				back++
				_ = ix.Unbind(ctx, user, id)
			}
		}
		if back > 0 {
			t.Errorf("%d of %d Touches racing an Unbind brought the entry back", back, races)
		}
	})
}

// trackingIndex remembers every ID bound under each user, so that the
// suite removes all it wrote, expired entries included.
type trackingIndex struct {
	server.Index
	mu  sync.Mutex
	ids map[string][]string
}

func (t *trackingIndex) Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if server.ValidateEntry(user, id) == nil {
		t.mu.Lock()
		t.ids[user] = append(t.ids[user], id)
		t.mu.Unlock()
	}
	return t.Index.Bind(ctx, user, id, blob, expires)
}
