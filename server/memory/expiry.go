package memory

import (
	"context"
	"time"

	"github.com/sessionkit/session/server"
)

var _ server.ExpiryLoader = (*Store)(nil)

// LoadWithExpiry is Load that also returns the expiry the entry was stored
// with. It implements server.ExpiryLoader.
func (s *Store) LoadWithExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	if err := check(ctx, key); err != nil {
		return nil, time.Time{}, err
	}
	now := time.Now()
	s.mu.RLock()
	e, ok := s.entries[key]
	s.mu.RUnlock()
	if !ok || server.Expired(e.expires, now) {
		return nil, time.Time{}, server.ErrNotFound
	}
	// A stored blob is never written to (Update stores a new one), so it
	// can be copied outside the lock.
	return clone(e.blob), e.expires, nil
}
