package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/sessionkit/session/server"
)

var _ server.ExpiryLoader = (*Store)(nil)

// LoadWithExpiry is Load that also returns the expiry recorded in the
// session file (to the nanosecond). It implements server.ExpiryLoader.
func (s *Store) LoadWithExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	if err := check(ctx, key); err != nil {
		return nil, time.Time{}, err
	}
	p := s.path(key)
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, time.Time{}, server.ErrNotFound
		}
		return nil, time.Time{}, fmt.Errorf("file session store: %w", err)
	}
	if len(data) < headerLen {
		return nil, time.Time{}, corrupt(p, data)
	}
	expires, err := parseHeader(p, data[:headerLen])
	if err != nil {
		return nil, time.Time{}, err
	}
	if server.Expired(expires, time.Now()) {
		return nil, time.Time{}, server.ErrNotFound
	}
	// data was read for this call alone; handing out its tail shares
	// nothing with the store.
	return data[headerLen:], expires, nil
}
