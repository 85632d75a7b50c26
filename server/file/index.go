package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionkit/session/server"
)

// UsersDir is the subdirectory of the store's directory that holds the
// user index (server.Index): a directory for each user key, holding a file
// for each of the user's entries, in the session files' format and under
// the same locking, so that a Touch racing an Unbind is exactly an Update
// racing a Delete.
const UsersDir = "sessionkit-users"

var _ server.Index = (*Store)(nil)

// userStore returns the store of user's entries: the same store, on the
// user's directory, sharing the in-process locks. user must be valid.
func (s *Store) userStore(user string) *Store {
	u := *s
	u.dir = filepath.Join(s.dir, UsersDir, user)
	return &u
}

// checkEntry validates an index call's context, user key and entry IDs.
func checkEntry(ctx context.Context, user string, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file session store: %w", err)
	}
	return server.ValidateEntry(user, ids...)
}

// Bind stores blob as user's entry id until expires, replacing the entry if
// there is one.
func (s *Store) Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkEntry(ctx, user, id); err != nil {
		return err
	}
	if err := s.checkLen("bind", blob); err != nil {
		return err
	}
	u := s.userStore(user)
	for range maxReopen {
		if err := os.MkdirAll(u.dir, 0o700); err != nil {
			return s.ioError("bind", err)
		}
		err := u.Create(ctx, id, blob, expires)
		if errors.Is(err, server.ErrExists) {
			err = u.Update(ctx, id, blob, expires)
			if errors.Is(err, server.ErrNotFound) {
				// Expired (or deleted meanwhile): make room and create.
				if err = u.Delete(ctx, id); err == nil {
					continue
				}
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue // DeleteExpired removed the empty directory meanwhile
		}
		return err
	}
	return fmt.Errorf("file session store: bind: the entry kept changing")
}

// Touch replaces user's entry id if it exists and has not expired;
// otherwise it returns server.ErrNotFound.
func (s *Store) Touch(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkEntry(ctx, user, id); err != nil {
		return err
	}
	err := s.userStore(user).Update(ctx, id, blob, expires)
	if errors.Is(err, fs.ErrNotExist) {
		return server.ErrNotFound // the user's directory is gone
	}
	return err
}

// Entries returns user's unexpired entries.
func (s *Store) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	if err := checkEntry(ctx, user); err != nil {
		return nil, err
	}
	u := s.userStore(user)
	d, err := os.Open(u.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, s.ioError("entries", err)
	}
	defer d.Close()
	var out []server.Entry
	for {
		names, rerr := d.Readdirnames(256)
		for _, name := range names {
			if len(name) <= len(Prefix) || name[:len(Prefix)] != Prefix {
				continue
			}
			id := name[len(Prefix):]
			if server.ValidateKey(id) != nil {
				continue
			}
			blob, exp, err := u.LoadWithExpiry(ctx, id)
			if errors.Is(err, server.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, server.Entry{ID: id, Blob: blob, Expires: exp})
		}
		if rerr == io.EOF {
			return out, nil
		}
		if rerr != nil {
			return nil, s.ioError("entries", rerr)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("file session store: %w", err)
		}
	}
}

// Unbind removes user's entries with the given IDs.
func (s *Store) Unbind(ctx context.Context, user string, ids ...string) error {
	if err := checkEntry(ctx, user, ids...); err != nil {
		return err
	}
	u := s.userStore(user)
	for _, id := range ids {
		if err := u.Delete(ctx, id); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	// Directories left empty go (a Bind that loses the race retries).
	if os.Remove(u.dir) == nil {
		os.Remove(filepath.Dir(u.dir))
	}
	return nil
}

// deleteExpiredEntries removes the index's expired entries, and the
// directories of users left with none.
func (s *Store) deleteExpiredEntries(ctx context.Context) error {
	root := filepath.Join(s.dir, UsersDir)
	users, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return s.ioError("delete expired", err)
	}
	var first error
	for _, e := range users {
		if !e.IsDir() || server.ValidateKey(e.Name()) != nil {
			continue
		}
		u := s.userStore(e.Name())
		if _, err := u.DeleteExpired(ctx); err != nil && first == nil {
			first = err
		}
		os.Remove(u.dir) // only if empty; a Bind that loses the race retries
	}
	return first
}
