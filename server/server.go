// Package server defines the contract between the session engine and the
// stores that keep sessions on the server: MySQL/MariaDB (server/mysql),
// PostgreSQL (server/postgres), an SQLite file (server/sqlite), Redis
// (server/redis), files (server/file), process memory (server/memory), a
// cache in front of another store (server/cached), or a store of your own.
//
// A Store keeps opaque blobs under keys. The blobs are already encoded and
// authenticated by package codec, and each is bound to its key, so a store
// never interprets them and a blob copied to another key does not decode.
// Stores know nothing of cookies or HTTP.
//
// The semantics are Django's session backends', made strict:
//
//   - Load never writes. An unknown or expired key is ErrNotFound.
//   - Create never overwrites: a key that is present (even if expired) is
//     ErrExists, and the caller retries with a new key.
//   - Update never creates: a key that is absent or expired is ErrNotFound.
//     The session engine turns that into HTTP 400, so a session deleted by a
//     concurrent logout is not brought back to life.
//   - Delete of an absent key is not an error.
//   - DeleteExpired removes every expired entry and reports how many.
//
// Keys are validated with ValidateKey before any use; a store returns an
// error wrapping ErrInvalidKey for anything else. Blobs are bounded: a
// store refuses to write, and to read into memory, a blob longer than its
// limit (the codec's MaxLength, codec.DefaultMaxLength unless configured),
// with an error wrapping ErrTooLarge. Every method takes a context and
// must honour its cancellation where the store does I/O. A write that
// returns an error should not take effect later: a store whose server
// can keep a statement waiting after the client gave up on it (a SQL
// database, for one waiting on a row lock, as server/mysql and
// server/postgres do) ends it there before returning, and where it
// cannot, its error says that the write may have taken effect.
//
// Errors and log lines never contain a key, nor a file name made from
// one: with session.Config.StoreRawKeys the key is the session's bearer
// secret.
//
// A store may also keep the user index (Index): for each user, the
// sessions bound to that user, which the session engine lists and revokes.
// Every store of this module does.
//
// Package server/storetest holds the conformance suite that every store,
// including yours, runs with one call.
package server

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store keeps encoded sessions. Implementations must be safe for concurrent
// use. Create and Update must not modify blob, and must copy it if they keep
// it after returning; the blob Load returns belongs to the caller.
type Store interface {
	// Load returns the blob stored under key, or ErrNotFound if there is
	// none or it has expired. It never writes.
	Load(ctx context.Context, key string) ([]byte, error)
	// Create stores blob under key until expires. It returns ErrExists if
	// the key is present, expired or not.
	Create(ctx context.Context, key string, blob []byte, expires time.Time) error
	// Update replaces the blob and expiry of an existing, unexpired key. It
	// returns ErrNotFound if the key is absent or expired.
	Update(ctx context.Context, key string, blob []byte, expires time.Time) error
	// Delete removes key. Deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteExpired removes every expired entry and returns how many it
	// removed.
	DeleteExpired(ctx context.Context) (int64, error)
}

// Errors that stores return, wrapped or as is; test with errors.Is.
var (
	// ErrNotFound reports a key that is absent or expired.
	ErrNotFound = errors.New("session store: not found")
	// ErrExists reports a Create on a key that is already present.
	ErrExists = errors.New("session store: key exists")
	// ErrInvalidKey reports a key that ValidateKey rejects.
	ErrInvalidKey = errors.New("session store: invalid key")
	// ErrTooLarge reports a blob longer than the store's limit: given to
	// Create or Update, or found in the store by Load, which does not read
	// it into memory.
	ErrTooLarge = errors.New("session store: blob too large")
	// ErrUnavailable reports a store whose server does not answer: Open
	// checks it, so that a configuration that is right but whose server
	// is down is told apart from one that is wrong.
	ErrUnavailable = errors.New("session store: server unavailable")
)

// Limits on keys.
const (
	MinKeyLen = 16
	MaxKeyLen = 128
)

// ValidateKey reports whether key may be used as a store key: between
// MinKeyLen and MaxKeyLen characters, each a lowercase ASCII letter or a
// digit. That alphabet is safe as a file name on every file system (no path
// separators, no dots, no case folding) and as a cache or database key.
func ValidateKey(key string) error {
	if len(key) < MinKeyLen || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length %d, want %d to %d", ErrInvalidKey, len(key), MinKeyLen, MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Errorf("%w: byte %d is %q; only a-z and 0-9 are allowed", ErrInvalidKey, i, c)
		}
	}
	return nil
}

// Expired reports whether an entry that expires at expires has expired at
// now. Every store uses this rule: an entry is gone from its expiry on.
func Expired(expires, now time.Time) bool { return !now.Before(expires) }
