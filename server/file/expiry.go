package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	const op = "load"
	f, fi, err := s.open(op, s.path(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, time.Time{}, server.ErrNotFound
		}
		return nil, time.Time{}, err
	}
	defer f.Close()
	limit := headerLen + s.maxLen
	if fi.Size() > int64(limit) {
		return nil, time.Time{}, s.tooLarge(op, fi.Size())
	}
	data, err := readAtMost(f, int(fi.Size()), limit)
	if err != nil {
		if errors.Is(err, server.ErrTooLarge) {
			return nil, time.Time{}, s.tooLarge(op, int64(len(data)))
		}
		return nil, time.Time{}, s.ioError(op, err)
	}
	if len(data) < headerLen {
		return nil, time.Time{}, s.headerError(op, corrupt(len(data)))
	}
	expires, err := parseHeader(data[:headerLen])
	if err != nil {
		return nil, time.Time{}, s.headerError(op, err)
	}
	if server.Expired(expires, time.Now()) {
		return nil, time.Time{}, server.ErrNotFound
	}
	// data was read for this call alone; handing out its tail shares
	// nothing with the store.
	return data[headerLen:], expires, nil
}

// tooLarge reports a session file of size bytes (at least), over the
// header and MaxLength.
func (s *Store) tooLarge(op string, size int64) error {
	return fmt.Errorf("file session store: %s: %w: the session file holds %d bytes or more, over the %d-byte header and MaxLength %d",
		op, server.ErrTooLarge, size, headerLen, s.maxLen)
}

// readAtMost reads r to its end into a buffer sized for hint bytes and
// returns what it read. If r holds more than limit bytes it stops after
// limit+1 and returns them with server.ErrTooLarge: a file that grew
// since its size was taken is still read only up to the limit.
func readAtMost(r io.Reader, hint, limit int) ([]byte, error) {
	// One byte more than expected, so that the end of the file is seen
	// without growing the buffer.
	buf := make([]byte, 0, min(hint, limit)+1)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return buf, server.ErrTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
			buf = buf[:len(buf):min(cap(buf), limit+1)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case len(buf) > limit:
			return buf, server.ErrTooLarge
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}
