package server

import (
	"context"
	"fmt"
	"time"
)

// Index keeps, for each user, the sessions bound to that user: what lets an
// application list a user's sessions and revoke them. A store that keeps an
// index implements Index beside Store; every store in this module does.
//
// An index holds, under each user key, a set of entries: an entry ID and an
// opaque, authenticated blob (the session engine's record of the session:
// which store key it lives under, when it was created and last seen, its
// device), each with its own expiry. The semantics follow the Store's:
//
//   - Bind creates or replaces an entry.
//   - Touch replaces an entry that exists and has not expired, and never
//     creates one: an absent or expired entry is ErrNotFound. The engine
//     reads that as "revoked", so a Touch racing an Unbind must not bring
//     the entry back.
//   - Entries returns every unexpired entry of a user, in one round trip to
//     the server, whatever their number.
//   - Unbind removes entries; absent ones are not an error.
//   - DeleteExpired (the Store's) also removes expired entries.
//
// User keys and entry IDs are validated as store keys are
// (ValidateEntry). Blobs are bounded like the Store's. Every method takes a context
// and honours its cancellation.
type Index interface {
	// Bind stores blob as user's entry id until expires, replacing the
	// entry if there is one.
	Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error
	// Touch replaces the blob and expiry of user's entry id if it exists
	// and has not expired; otherwise it returns ErrNotFound.
	Touch(ctx context.Context, user, id string, blob []byte, expires time.Time) error
	// Entries returns user's unexpired entries, in no particular order.
	// A user with none has none: that is not an error.
	Entries(ctx context.Context, user string) ([]Entry, error)
	// Unbind removes user's entries with the given IDs.
	Unbind(ctx context.Context, user string, ids ...string) error
}

// Entry is one entry of a user's set in an Index.
type Entry struct {
	// ID is the entry's ID, as given to Bind.
	ID string
	// Blob is the entry's blob; it belongs to the caller.
	Blob []byte
	// Expires is when the entry expires, to the precision the store
	// keeps (at least the millisecond).
	Expires time.Time
}

// ValidateEntry checks the user key and the entry IDs of an Index call
// with ValidateKey, as every Index does before any I/O, and returns the
// first error.
func ValidateEntry(user string, ids ...string) error {
	if err := ValidateKey(user); err != nil {
		return fmt.Errorf("user key: %w", err)
	}
	for _, id := range ids {
		if err := ValidateKey(id); err != nil {
			return fmt.Errorf("entry ID: %w", err)
		}
	}
	return nil
}
