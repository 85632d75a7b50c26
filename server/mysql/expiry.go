package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session/server"
)

var _ server.ExpiryLoader = (*Store)(nil)

// LoadWithExpiry is Load that also returns the row's expiry (UTC, to the
// microsecond), in the same single statement:
//
//	SELECT IF(LENGTH(data) <= MaxLength, data, NULL), expiry
//	FROM t WHERE session_key = ? AND expiry > ?now
//
// It implements server.ExpiryLoader.
func (s *Store) LoadWithExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	if err := server.ValidateKey(key); err != nil {
		return nil, time.Time{}, fmt.Errorf("session store mysql: load: %w", err)
	}
	var (
		data   sql.Null[[]byte]
		expiry time.Time
	)
	err := s.db.QueryRowContext(ctx, s.qLoadExpiry, key, now()).Scan(&data, &expiry)
	switch {
	case err == nil:
		if !data.Valid {
			return nil, time.Time{}, s.tooLarge()
		}
		return data.V, expiry, nil
	case errors.Is(err, sql.ErrNoRows):
		return nil, time.Time{}, server.ErrNotFound
	default:
		return nil, time.Time{}, fmt.Errorf("session store mysql: load: %w", err)
	}
}
