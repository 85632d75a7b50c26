// Package file is a server.Store that keeps each session in a file of its
// own, like Django's file session backend.
//
// # Layout
//
// A session stored under key lives in dir/Prefix+key. Keys pass
// server.ValidateKey before any path is built, so a key is made of a-z and
// 0-9 only and can never name a file outside dir (no "/", "\", "." or NUL;
// see CVE-2011-0698). The file holds a 12-byte header and then the blob:
//
//	bytes 0-3   "SKF" and format version 1
//	bytes 4-11  expiry, Unix nanoseconds, big-endian signed
//	bytes 12-   the blob, as given to Create or Update
//
// Expiry instants outside what that can hold (before 21 September 1677 or
// after 11 April 2262) are stored as the nearest instant that fits. Files are created with mode 0600. Keep dir private to
// the application (mode 0700): anyone who can write to it can delete
// sessions, although not forge them, since blobs are authenticated by
// package codec.
//
// # Writes
//
// Every write goes to a temporary file in dir, named Prefix+".tmp" and a
// random suffix, which is then published under its final name in one step,
// so a reader sees the old file or the new one, never a partial one:
//
//   - Create publishes with os.Link, which fails if the final name exists.
//     That gives the O_CREAT|O_EXCL guarantee (exactly one of any number of
//     concurrent creators wins, in this process or another) without ever
//     exposing a half-written file, as opening the final name with O_EXCL
//     and then writing would. Rename cannot be used: it replaces an
//     existing file silently. dir must therefore be on a file system with
//     hard links, which every Unix file system and NTFS have.
//   - Update writes the temporary file first, then checks that the final
//     file exists and has not expired, and renames over it at once. A
//     Delete that runs between that check and the rename is undone by the
//     rename: the session comes back with the updated data. Django's file
//     backend has the same window. Here all the writing is done before the
//     check, so the window is only the few system calls between reading the
//     old file's header and the rename; closing it entirely would take a
//     lock per session. A Delete that finishes before Update checks is
//     always honoured: Update returns server.ErrNotFound.
//
// Create and Update refuse a blob longer than Options.MaxLength with an
// error wrapping server.ErrTooLarge, and Load refuses, without reading it,
// a file longer than the header and MaxLength.
//
// Files are not synced to disk: after a crash of the machine, a session
// written just before may be lost or, on some file systems, left empty. An
// empty or truncated file is reported as ErrCorrupt, never as an empty
// session.
//
// # Expiry
//
// Load, like every server.Store, never writes: it reports an expired file
// as server.ErrNotFound and leaves it in place (Django's backend deletes it
// there). DeleteExpired scans dir and removes expired session files, and
// also session files that cannot be read as such (ErrCorrupt) and temporary
// files, once they are older than StaleAge. It touches no other file: only
// names made of Prefix and a valid key, or Prefix and ".tmp", and only
// regular files, not directories or symbolic links.
package file

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
)

// Prefix starts the name of every file the store writes. A session file is
// named Prefix followed by its key; a temporary file, Prefix followed by
// ".tmp" and a random suffix.
const Prefix = "sessionkit_"

// tempPrefix starts the name of temporary files.
const tempPrefix = Prefix + ".tmp"

// StaleAge is how old a temporary or corrupt file must be before
// DeleteExpired removes it. Writes finish well within it, so a temporary
// file that old was left behind by a crash.
const StaleAge = time.Minute

// ErrCorrupt reports a session file that is too short to hold the header or
// does not start with the expected magic bytes.
var ErrCorrupt = errors.New("file session store: corrupt session file")

// headerLen is the size of the header before the blob.
const headerLen = 12

// magic starts every session file: "SKF" and the format version.
var magic = [4]byte{'S', 'K', 'F', 1}

// Options configures a Store. The zero value is usable.
type Options struct {
	// MaxLength is the longest blob the store writes or reads, in bytes.
	// Zero means codec.DefaultMaxLength, the longest value the session
	// codec encodes or decodes by default; set it to the codec's MaxLength
	// if that is configured otherwise. Negative is an error.
	MaxLength int
}

// Store is a server.Store that keeps sessions in files in one directory.
// It is safe for concurrent use, also by several processes sharing the
// directory. Create one with New.
type Store struct {
	dir    string // absolute
	maxLen int
}

var _ server.Store = (*Store)(nil)

// New returns a Store that keeps its files in dir. The directory must exist;
// New does not create it. A relative dir is made absolute at once, so a
// later change of the working directory does not move the store. New
// takes at most one Options; with none, the zero Options applies, and when
// several are given the last one is used.
func New(dir string, opts ...Options) (*Store, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[len(opts)-1]
	}
	if dir == "" {
		return nil, errors.New("file session store: no directory given")
	}
	if o.MaxLength < 0 {
		return nil, fmt.Errorf("file session store: MaxLength %d is negative", o.MaxLength)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file session store: directory %q: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("file session store: directory %q does not exist: %w", abs, err)
		}
		return nil, fmt.Errorf("file session store: directory %q: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("file session store: %q is not a directory", abs)
	}
	s := &Store{dir: abs, maxLen: o.MaxLength}
	if s.maxLen == 0 {
		s.maxLen = codec.DefaultMaxLength
	}
	return s, nil
}

// MaxLength returns the longest blob the store writes or reads.
func (s *Store) MaxLength() int { return s.maxLen }

// checkLen refuses a blob longer than the store's MaxLength.
func (s *Store) checkLen(op string, blob []byte) error {
	if len(blob) > s.maxLen {
		return fmt.Errorf("file session store: %s: %w: %d bytes, over MaxLength %d", op, server.ErrTooLarge, len(blob), s.maxLen)
	}
	return nil
}

// check returns the context's error or the key's validation error. Only a
// key that passes it is ever turned into a path.
func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file session store: %w", err)
	}
	return server.ValidateKey(key)
}

// path returns the file name of a validated key.
func (s *Store) path(key string) string {
	return filepath.Join(s.dir, Prefix+key)
}

// Load returns the blob stored under key, or server.ErrNotFound if there is
// no such file or it has expired. A file that is not a session file gives
// an error wrapping ErrCorrupt or server.ErrTooLarge.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	blob, _, err := s.LoadWithExpiry(ctx, key)
	return blob, err
}

// Create stores blob under key until expires. It returns server.ErrExists if
// a file for key is present, expired or not, and an error wrapping
// server.ErrTooLarge for a blob over MaxLength.
func (s *Store) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	if err := s.checkLen("create", blob); err != nil {
		return err
	}
	tmp, err := s.writeTemp(blob, expires)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, s.path(key)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return server.ErrExists
		}
		return fmt.Errorf("file session store: %w", err)
	}
	return nil
}

// Update replaces the blob and expiry of the file for key. It returns
// server.ErrNotFound if there is no such file or it has expired, an error
// wrapping server.ErrTooLarge for a blob over MaxLength, and an error
// wrapping ErrCorrupt, leaving the file alone, if it is not a session
// file. See the package documentation for how Update races with Delete.
func (s *Store) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	if err := s.checkLen("update", blob); err != nil {
		return err
	}
	// All the writing happens before the check, so that only the check
	// and the rename remain between a concurrent Delete and this Update.
	tmp, err := s.writeTemp(blob, expires)
	if err != nil {
		return err
	}
	published := false
	defer func() {
		if !published {
			os.Remove(tmp)
		}
	}()
	p := s.path(key)
	old, err := readExpiry(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return server.ErrNotFound
		}
		return err
	}
	if server.Expired(old, time.Now()) {
		return server.ErrNotFound
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("file session store: %w", err)
	}
	published = true
	return nil
}

// Delete removes the file for key. A missing file is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	if err := os.Remove(s.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file session store: %w", err)
	}
	return nil
}

// DeleteExpired removes every expired session file and returns how many it
// removed; the count includes corrupt session files older than StaleAge,
// which it removes too. It also removes temporary files older than
// StaleAge, without counting them, and leaves every other file alone.
//
// It reads the directory in batches and checks ctx between them. Files it
// cannot read or remove do not stop the scan; the first such error is
// returned, with the count of files removed.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("file session store: %w", err)
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return 0, fmt.Errorf("file session store: %w", err)
	}
	defer d.Close()

	var (
		n        int64
		failures int
		first    error
	)
	fail := func(err error) {
		if failures == 0 {
			first = err
		}
		failures++
	}
	for {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("file session store: %w", err)
		}
		entries, rerr := d.ReadDir(256)
		now := time.Now()
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || !strings.HasPrefix(name, Prefix) {
				continue
			}
			p := filepath.Join(s.dir, name)
			if strings.HasPrefix(name, tempPrefix) {
				if err := removeIfStale(p, now); err != nil {
					fail(err)
				}
				continue
			}
			if server.ValidateKey(name[len(Prefix):]) != nil {
				continue
			}
			removed, err := removeIfExpired(p, now)
			if err != nil {
				fail(err)
			}
			if removed {
				n++
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				break
			}
			return n, fmt.Errorf("file session store: reading %s: %w", s.dir, rerr)
		}
	}
	if failures > 0 {
		return n, fmt.Errorf("file session store: %d files could not be cleaned up; first: %w", failures, first)
	}
	return n, nil
}

// removeIfStale removes the temporary file p if it was last written more
// than StaleAge before now.
func removeIfStale(p string, now time.Time) error {
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("file session store: %w", err)
	}
	if !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) <= StaleAge {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file session store: %w", err)
	}
	return nil
}

// removeIfExpired removes the session file p if it has expired at now, or
// if it is corrupt and older than StaleAge. It reports whether it removed
// the file.
func removeIfExpired(p string, now time.Time) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("file session store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return false, fmt.Errorf("file session store: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return false, nil
	}
	expires, err := readHeader(f, p)
	f.Close()
	switch {
	case errors.Is(err, ErrCorrupt):
		if now.Sub(fi.ModTime()) <= StaleAge {
			return false, nil
		}
	case err != nil:
		return false, err
	case !server.Expired(expires, now):
		return false, nil
	}
	// Expired and corrupt files are never replaced (Create refuses them
	// and Update does not write over them), so the name still holds the
	// file just read unless it was deleted and created again since, or
	// replaced by a symbolic link (which Open followed). Checking that it
	// is the same file narrows that to the time between two system calls,
	// and a new session under the same random key.
	cur, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("file session store: %w", err)
	}
	if !os.SameFile(fi, cur) {
		return false, nil
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("file session store: %w", err)
	}
	return true, nil
}

// writeTemp writes the header and blob to a new temporary file in the
// store's directory and returns its path. The file has mode 0600.
func (s *Store) writeTemp(blob []byte, expires time.Time) (string, error) {
	f, err := os.CreateTemp(s.dir, tempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("file session store: %w", err)
	}
	buf := make([]byte, headerLen+len(blob))
	copy(buf, magic[:])
	binary.BigEndian.PutUint64(buf[4:headerLen], uint64(unixNanos(expires)))
	copy(buf[headerLen:], blob)
	_, werr := f.Write(buf)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("file session store: %w", werr)
	}
	return f.Name(), nil
}

// readExpiry returns the expiry recorded in the session file p.
func readExpiry(p string) (time.Time, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return time.Time{}, err
		}
		return time.Time{}, fmt.Errorf("file session store: %w", err)
	}
	defer f.Close()
	return readHeader(f, p)
}

// readHeader reads and parses the header of the session file p from r.
func readHeader(r io.Reader, p string) (time.Time, error) {
	var h [headerLen]byte
	n, err := io.ReadFull(r, h[:])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return time.Time{}, corrupt(p, h[:n])
		}
		return time.Time{}, fmt.Errorf("file session store: %s: %w", p, err)
	}
	return parseHeader(p, h[:])
}

// parseHeader parses a header of headerLen bytes read from p.
func parseHeader(p string, h []byte) (time.Time, error) {
	if [4]byte(h[:4]) != magic {
		return time.Time{}, fmt.Errorf("%w: %s starts with %x, want %x (%q and format version %d)",
			ErrCorrupt, p, h[:4], magic[:], magic[:3], magic[3])
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(h[4:headerLen]))), nil
}

// corrupt reports a session file too short for the header.
func corrupt(p string, data []byte) error {
	return fmt.Errorf("%w: %s is %d bytes long, shorter than the %d-byte header", ErrCorrupt, p, len(data), headerLen)
}

// Bounds of what Unix nanoseconds in an int64 can represent.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// unixNanos returns t as Unix nanoseconds, clamped to the int64 range.
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}
