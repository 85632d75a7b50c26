package server

import (
	"context"
	"time"
)

// ExpiryLoader is implemented by stores that can return an entry's expiry
// with its blob, in the same single read. Every store of this module
// implements it. A cache in front of a store (server/cached) uses it to
// give a cached entry the lifetime the entry has left, so that the copy
// never outlives the original.
type ExpiryLoader interface {
	// LoadWithExpiry returns what Load returns, and, with a blob, the
	// expiry the entry was stored with (at the store's resolution, never
	// later than the expiry given to Create or Update). Unknown and expired
	// keys are ErrNotFound, as for Load.
	LoadWithExpiry(ctx context.Context, key string) ([]byte, time.Time, error)
}
