package django

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/sessionkit/session/server"
)

// Store is the table of Django's db session backend, django_session: the
// session_data of each session (a value of Signer.Dumps under
// SaltSessionStore) under its raw session key, with its expire_date. Its
// semantics are Django's, made strict as server.Store's are:
//
//   - Load returns the data and expiry of a key whose row has not expired,
//     comparing the key byte for byte (the column's collation compares it
//     case-insensitively); server.ErrNotFound otherwise. It never writes.
//   - Create inserts a row, never overwriting one: a present key, expired
//     or not, is server.ErrExists.
//   - Update replaces the data and expiry of a row that has not expired,
//     never creating one: server.ErrNotFound otherwise, so that a session
//     that a logout deleted (in Django or in Go) is not brought back.
//   - Delete removes a row; a missing one is not an error.
//   - DeleteExpired removes the expired rows, as Django's clearsessions.
//
// Every method refuses, with an error wrapping server.ErrInvalidKey, a key
// that ValidateKey refuses. Package server/mysql has the implementation
// for MySQL and MariaDB (mysql.DjangoStore).
type Store interface {
	// Load returns the session_data and expire_date of key's live row.
	Load(ctx context.Context, key string) (data []byte, expires time.Time, err error)
	// Create inserts a row for key, which must not be there.
	Create(ctx context.Context, key string, data []byte, expires time.Time) error
	// Update replaces the session_data and expire_date of key's live row.
	Update(ctx context.Context, key string, data []byte, expires time.Time) error
	// Delete removes key's row, if there is one.
	Delete(ctx context.Context, key string) error
	// DeleteExpired removes the expired rows and returns how many.
	DeleteExpired(ctx context.Context) (int64, error)
}

// KeyLen is the length of the session keys Django makes, and NewKey.
const KeyLen = 32

// MaxKeyLen is the longest key the session_key column holds.
const MaxKeyLen = 40

const keyChars = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewKey returns a new session key as Django's db backend makes them:
// 32 characters of a-z and 0-9 (get_random_string), from crypto/rand:
// about 165 bits.
func NewKey() string {
	var b [KeyLen]byte
	// 252 is the largest multiple of 36 under 256: rejecting the bytes
	// above it keeps every character equally likely.
	var buf [64]byte
	for n := 0; n < KeyLen; {
		rand.Read(buf[:])
		for _, c := range buf {
			if c < 252 && n < KeyLen {
				b[n] = keyChars[c%36]
				n++
			}
		}
	}
	return string(b[:])
}

// IsKey reports whether v has the form of a key that Django (or NewKey)
// makes: exactly KeyLen characters of a-z and 0-9.
func IsKey(v string) bool {
	return len(v) == KeyLen && ValidateKey(v) == nil
}

// ValidateKey reports whether key may be used with a Store: between 8
// (Django's own minimum) and MaxKeyLen characters, each a lowercase ASCII
// letter or a digit. Lowercase only: the column's collation would
// otherwise find a row under a key that differs in case.
func ValidateKey(key string) error {
	if len(key) < 8 || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length %d, want 8 to %d", server.ErrInvalidKey, len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Errorf("%w: byte %d is %q; only a-z and 0-9 are allowed", server.ErrInvalidKey, i, c)
		}
	}
	return nil
}
