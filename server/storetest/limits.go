package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
)

// maxLength returns the limit on blobs that the store under test has.
func (o Options) maxLength() int {
	if o.MaxLength > 0 {
		return o.MaxLength
	}
	return codec.DefaultMaxLength
}

// noKeyIn fails t if err contains key: errors end up in logs, and a key
// may be a session's bearer secret.
func noKeyIn(t testing.TB, what string, err error, key string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), key) {
		t.Errorf("%s: the error %q contains the key", what, err)
	}
}

// testTooLarge checks the limit on blobs: a blob of exactly MaxLength bytes
// is written and read back; one byte more is refused by Create and Update
// with server.ErrTooLarge, writing nothing; and, with Options.Plant, a blob
// over the limit that the store holds is refused by Load and LoadWithExpiry
// with server.ErrTooLarge, neither returned nor taken for absent, and
// Delete removes it.
func testTooLarge(t *testing.T, s server.Store, o Options) {
	ctx := context.Background()
	limit := o.maxLength()
	exp := time.Now().Add(hour)
	atLimit, over := blobOf(limit, 3), blobOf(limit+1, 5)
	wantTooLarge := func(what, key string, err error) {
		t.Helper()
		if !errors.Is(err, server.ErrTooLarge) {
			t.Errorf("%s = %v, want an error wrapping server.ErrTooLarge", what, err)
		}
		noKeyIn(t, what, err, key)
	}

	t.Run("AtLimit", func(t *testing.T) {
		key := newKey(t, s)
		mustCreate(t, s, key, atLimit, exp)
		wantBlob(t, s, key, atLimit)
		if err := s.Update(ctx, key, blobOf(limit, 9), exp); err != nil {
			t.Fatalf("Update with %d bytes, the limit: %v", limit, err)
		}
		wantBlob(t, s, key, blobOf(limit, 9))
	})
	t.Run("CreateOver", func(t *testing.T) {
		key := newKey(t, s)
		wantTooLarge("Create of MaxLength+1 bytes", key, s.Create(ctx, key, over, exp))
		wantNotFound(t, s, key, "a Create refused as too large")
		// Nothing was written: the key is free.
		mustCreate(t, s, key, []byte("small"), exp)
		wantBlob(t, s, key, []byte("small"))
	})
	t.Run("UpdateOver", func(t *testing.T) {
		key := newKey(t, s)
		mustCreate(t, s, key, []byte("small"), exp)
		wantTooLarge("Update with MaxLength+1 bytes", key, s.Update(ctx, key, over, exp))
		wantBlob(t, s, key, []byte("small"))
	})
	t.Run("StoredOver", func(t *testing.T) {
		if o.Plant == nil {
			t.Skip("no Options.Plant: the suite cannot put a blob over the limit into the store")
		}
		key, fits := newKey(t, s), newKey(t, s)
		if err := o.Plant(key, over, exp); err != nil {
			t.Fatalf("Plant(%s): %v", key, err)
		}
		if err := o.Plant(fits, atLimit, exp); err != nil {
			t.Fatalf("Plant(%s): %v", fits, err)
		}
		// The planting itself is right: a blob at the limit loads.
		wantBlob(t, s, fits, atLimit)

		blob, err := s.Load(ctx, key)
		wantTooLarge("Load of a stored blob of MaxLength+1 bytes", key, err)
		if err != nil && blob != nil {
			t.Errorf("Load returned %s with the error", describe(blob))
		}
		if el, ok := s.(server.ExpiryLoader); ok {
			blob, _, err := el.LoadWithExpiry(ctx, key)
			wantTooLarge("LoadWithExpiry of a stored blob of MaxLength+1 bytes", key, err)
			if err != nil && blob != nil {
				t.Errorf("LoadWithExpiry returned %s with the error", describe(blob))
			}
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%s) of a blob over the limit: %v", key, err)
		}
		wantNotFound(t, s, key, "Delete of a blob over the limit")
	})
}
