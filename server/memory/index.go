package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionkit/session/server"
)

var _ server.Index = (*Store)(nil)

// checkIndex validates an index call's context, user key and entry IDs.
func checkIndex(ctx context.Context, user string, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory session store: %w", err)
	}
	return server.ValidateEntry(user, ids...)
}

// Bind stores a copy of blob as user's entry id until expires.
func (s *Store) Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkIndex(ctx, user, id); err != nil {
		return err
	}
	if err := s.checkWrite(ctx, "bind", user, blob); err != nil {
		return err
	}
	e := entry{blob: clone(blob), expires: expires.Round(0)}
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.users[user]
	if set == nil {
		if s.users == nil {
			s.users = make(map[string]map[string]entry)
		}
		set = make(map[string]entry)
		s.users[user] = set
	}
	set[id] = e
	return nil
}

// Touch replaces user's entry id with a copy of blob if it exists and has
// not expired; otherwise it returns server.ErrNotFound.
func (s *Store) Touch(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkIndex(ctx, user, id); err != nil {
		return err
	}
	if err := s.checkWrite(ctx, "touch", user, blob); err != nil {
		return err
	}
	e := entry{blob: clone(blob), expires: expires.Round(0)}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.users[user][id]
	if !ok || server.Expired(old.expires, now) {
		return server.ErrNotFound
	}
	s.users[user][id] = e
	return nil
}

// Entries returns copies of user's unexpired entries.
func (s *Store) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	if err := checkIndex(ctx, user); err != nil {
		return nil, err
	}
	now := time.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []server.Entry
	for id, e := range s.users[user] {
		if !server.Expired(e.expires, now) {
			out = append(out, server.Entry{ID: id, Blob: clone(e.blob), Expires: e.expires})
		}
	}
	return out, nil
}

// Unbind removes user's entries with the given IDs.
func (s *Store) Unbind(ctx context.Context, user string, ids ...string) error {
	if err := checkIndex(ctx, user, ids...); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.users[user]
	for _, id := range ids {
		delete(set, id)
	}
	if len(set) == 0 {
		delete(s.users, user)
	}
	return nil
}

// deleteExpiredEntries removes the index's expired entries; s.mu must be
// held for writing.
func (s *Store) deleteExpiredEntries(now time.Time) {
	for user, set := range s.users {
		for id, e := range set {
			if server.Expired(e.expires, now) {
				delete(set, id)
			}
		}
		if len(set) == 0 {
			delete(s.users, user)
		}
	}
}
