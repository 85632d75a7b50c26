package cached

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session/server"
)

var _ server.Index = (*Store)(nil)

// ErrNoIndex reports an index call on a Store whose backing store keeps no
// user index (does not implement server.Index). It matches
// errors.ErrUnsupported and ErrMisconfigured. With such a backing store,
// give the session Manager a Registry of its own.
var ErrNoIndex = fmt.Errorf("%w: the backing store keeps no user index (server.Index): %w", ErrMisconfigured, errors.ErrUnsupported)

// index returns the backing store's user index.
func (s *Store) index() (server.Index, error) {
	ix, ok := s.backing.(server.Index)
	if !ok {
		return nil, ErrNoIndex
	}
	return ix, nil
}

// Bind, Touch, Entries and Unbind are the backing store's: the user index
// is never cached, so that a revocation holds at once for every process
// and a listing is always the backing store's truth. A revoked session is
// deleted through the Store's Delete, which keeps the cache's promise.

// Bind stores blob as user's entry id in the backing store's index.
func (s *Store) Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	ix, err := s.index()
	if err != nil {
		return err
	}
	return ix.Bind(ctx, user, id, blob, expires)
}

// Touch replaces user's live entry id in the backing store's index.
func (s *Store) Touch(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	ix, err := s.index()
	if err != nil {
		return err
	}
	return ix.Touch(ctx, user, id, blob, expires)
}

// Entries returns user's live entries from the backing store's index.
func (s *Store) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	ix, err := s.index()
	if err != nil {
		return nil, err
	}
	return ix.Entries(ctx, user)
}

// Unbind removes user's entries from the backing store's index.
func (s *Store) Unbind(ctx context.Context, user string, ids ...string) error {
	ix, err := s.index()
	if err != nil {
		return err
	}
	return ix.Unbind(ctx, user, ids...)
}
