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
// after 11 April 2262) are stored as the nearest instant that fits. Files
// are created with mode 0600.
//
// Keep dir private to the application (mode 0700). Anyone who can write to
// it can delete sessions, although not forge them, since blobs are
// authenticated by package codec. New therefore logs a warning (see
// Options.Logger) when dir is writable by its group or by everyone. It
// warns rather than fails: a directory shared by a group is a legitimate
// way for processes running as different users to share sessions, and it
// costs them their availability, not their integrity.
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
//   - Update writes the temporary file first, then locks the session file,
//     checks that it is still the file under the session's name and has
//     not expired, and renames the temporary file over it before unlocking.
//   - Delete locks the session file, checks that it is still the file under
//     the session's name, and removes it before unlocking.
//
// The lock is flock(2), exclusive, on the session file itself, taken by
// Update, Delete and DeleteExpired; Load and Create take none. It needs no
// lock files, which would have to be created, cleaned up and protected in
// turn, and it works across processes sharing the directory, since it
// belongs to the open file. A rename puts a new, unlocked file under the
// name, so whoever was waiting for the old file's lock finds, once it has
// it, that the name holds another file, and starts again on that one. In
// one process, a lock per key (one of 64 stripes) also orders the calls,
// so that waiters queue instead of polling, and so that the exclusion holds
// where flock does not exclude two descriptors of one process (Linux
// emulates flock with per-process POSIX locks on NFS).
//
// So an Update never creates a session, and once Delete has returned
// nobody loads the session again: an Update that races the Delete either
// renamed before the Delete locked the file, and its file is the one
// deleted, or finds the file gone and returns server.ErrNotFound. A lock
// held by someone else is waited for, in steps of up to 10 ms, until the
// context is done.
//
// flock is used on Linux, macOS, the BSDs and illumos. Elsewhere (Windows,
// Solaris, AIX) only the lock per key applies, so Update and Delete are
// ordered within one process but not between processes; there, give the
// directory to one process. Across machines sharing the directory over NFS,
// the exclusion is only as good as the NFS server's locking: use
// server/mysql or server/redis for several machines.
//
// Files are not synced to disk: after a crash of the machine, a session
// written just before may be lost or, on some file systems, left empty. An
// empty or truncated file is reported as ErrCorrupt, never as an empty
// session.
//
// # Reads
//
// A session file is opened with O_NOFOLLOW and O_NONBLOCK (where the system
// has them) and checked after opening (fstat) to be a regular file: a
// symbolic link, directory, FIFO, socket or device under a session's name
// is never followed, waited on or read, and is reported as ErrNotRegular.
// Load reads at most the header and Options.MaxLength bytes: a longer file
// is refused, without being read, with an error wrapping
// server.ErrTooLarge. Create and Update refuse longer blobs the same way.
//
// # Expiry
//
// Load, like every server.Store, never writes: it reports an expired file
// as server.ErrNotFound and leaves it in place (Django's backend deletes it
// there). DeleteExpired scans dir and removes expired session files, and
// also session files that cannot be read as such (ErrCorrupt) and temporary
// files, once they are older than StaleAge. It touches no other file: only
// names made of Prefix and a valid key, or Prefix and ".tmp", and only
// regular files, not directories or symbolic links. It skips a session file
// that an Update or Delete has locked; the next run sees it.
//
// # Errors
//
// Errors start with "file session store: " and the operation. They name
// the directory, never a session file: a file's name holds its key, which
// is the session's bearer secret when the Manager stores raw keys
// (session.Config.StoreRawKeys). Errors of the operating system are kept
// for errors.Is (fs.ErrPermission, syscall.ENOSPC...), without the file
// name that os.PathError would carry.
package file

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
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

// Errors specific to this store; test with errors.Is.
var (
	// ErrCorrupt reports a session file that is too short to hold the
	// header or does not start with the expected magic bytes.
	ErrCorrupt = errors.New("file session store: corrupt session file")
	// ErrNotRegular reports something other than a regular file under a
	// session's name: a symbolic link, directory, FIFO, socket or device.
	// The store neither follows nor reads it.
	ErrNotRegular = errors.New("file session store: not a regular file")
)

// headerLen is the size of the header before the blob.
const headerLen = 12

// magic starts every session file: "SKF" and the format version.
var magic = [4]byte{'S', 'K', 'F', 1}

// lockStripes is the number of in-process locks that keys share.
const lockStripes = 64

// Options configures a Store. The zero value is usable.
type Options struct {
	// MaxLength is the longest blob the store writes or reads, in bytes.
	// Zero means codec.DefaultMaxLength, the longest value the session
	// codec encodes or decodes by default; set it to the codec's MaxLength
	// if that is configured otherwise. Negative is an error.
	MaxLength int
	// Logger receives the warning New gives for a directory that other
	// users can write to. Default slog.Default().
	Logger *slog.Logger
}

// Store is a server.Store that keeps sessions in files in one directory.
// It is safe for concurrent use, also by several processes sharing the
// directory. Create one with New.
type Store struct {
	dir    string // absolute
	maxLen int
	seed   maphash.Seed
	// stripes are the in-process locks on keys: a key's stripe is held
	// while it holds a value.
	stripes [lockStripes]chan struct{}
}

var _ server.Store = (*Store)(nil)

// New returns a Store that keeps its files in dir. The directory must exist;
// New does not create it. A relative dir is made absolute at once, so a
// later change of the working directory does not move the store. New
// takes at most one Options; with none, the zero Options applies, and when
// several are given the last one is used. If dir can be written by its
// group or by everyone, New logs a warning to Options.Logger and goes on.
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
	if perm := fi.Mode().Perm(); perm&0o022 != 0 && runtime.GOOS != "windows" && runtime.GOOS != "plan9" {
		log := o.Logger
		if log == nil {
			log = slog.Default()
		}
		who := "its group"
		if perm&0o002 != 0 {
			who = "every user"
		}
		log.Warn("file session store: the session directory can be written by "+who+", who can delete sessions; make it private to the application (chmod 700)",
			slog.String("dir", abs), slog.String("mode", fmt.Sprintf("%#o", perm)))
	}
	s := &Store{dir: abs, maxLen: o.MaxLength, seed: maphash.MakeSeed()}
	if s.maxLen == 0 {
		s.maxLen = codec.DefaultMaxLength
	}
	for i := range s.stripes {
		s.stripes[i] = make(chan struct{}, 1)
	}
	return s, nil
}

// MaxLength returns the longest blob the store writes or reads.
func (s *Store) MaxLength() int { return s.maxLen }

// check returns the context's error or the key's validation error. Only a
// key that passes it is ever turned into a path.
func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file session store: %w", err)
	}
	return server.ValidateKey(key)
}

// checkLen refuses a blob longer than the store's MaxLength.
func (s *Store) checkLen(op string, blob []byte) error {
	if len(blob) > s.maxLen {
		return fmt.Errorf("file session store: %s: %w: %d bytes, over MaxLength %d", op, server.ErrTooLarge, len(blob), s.maxLen)
	}
	return nil
}

// path returns the file name of a validated key.
func (s *Store) path(key string) string {
	return filepath.Join(s.dir, Prefix+key)
}

// ioError wraps an error of the os package for op. The file name that an
// *fs.PathError or *os.LinkError carries is left out, since a session
// file's name holds its key; the directory is named instead. The
// underlying error stays in the chain for errors.Is.
func (s *Store) ioError(op string, err error) error {
	var (
		pe *fs.PathError
		le *os.LinkError
	)
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("file session store: %s in %s: %s: %w", op, s.dir, pe.Op, pe.Err)
	case errors.As(err, &le):
		return fmt.Errorf("file session store: %s in %s: %s: %w", op, s.dir, le.Op, le.Err)
	}
	return fmt.Errorf("file session store: %s in %s: %w", op, s.dir, err)
}

// notRegular reports fi, found under a session's name, as ErrNotRegular.
func notRegular(op string, fi fs.FileInfo) error {
	kind := "a special file"
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		kind = "a symbolic link"
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a FIFO"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	}
	return fmt.Errorf("%w: %s is where a session file belongs (%s)", ErrNotRegular, kind, op)
}

// open opens the session file p for reading without following a symbolic
// link or blocking on a FIFO or device, and checks that it is a regular
// file. A missing file is an error wrapping fs.ErrNotExist, anything but a
// regular file ErrNotRegular.
func (s *Store) open(op, p string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(p, openFlags, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
		// O_NOFOLLOW fails on a symbolic link (ELOOP on Linux, EMLINK on
		// FreeBSD, EFTYPE on NetBSD): say what is there.
		if fi, lerr := os.Lstat(p); lerr == nil && !fi.Mode().IsRegular() {
			return nil, nil, notRegular(op, fi)
		}
		return nil, nil, s.ioError(op, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, s.ioError(op, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, notRegular(op, fi)
	}
	if !noFollow {
		// Without O_NOFOLLOW, the open followed a link if there was one.
		cur, err := os.Lstat(p)
		if err != nil {
			f.Close()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, err
			}
			return nil, nil, s.ioError(op, err)
		}
		if !cur.Mode().IsRegular() {
			f.Close()
			return nil, nil, notRegular(op, cur)
		}
		if !os.SameFile(fi, cur) {
			f.Close()
			return nil, nil, fmt.Errorf("file session store: %s: the session file changed while it was opened", op)
		}
	}
	return f, fi, nil
}

// lockKey takes key's in-process lock, waiting until ctx is done, and
// returns the function that releases it.
func (s *Store) lockKey(ctx context.Context, key string) (func(), error) {
	c := s.stripes[maphash.String(s.seed, key)%lockStripes]
	select {
	case c <- struct{}{}:
	default:
		select {
		case c <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("file session store: %w", ctx.Err())
		}
	}
	return func() { <-c }, nil
}

// tryLockKey takes key's in-process lock if it is free.
func (s *Store) tryLockKey(key string) (func(), bool) {
	c := s.stripes[maphash.String(s.seed, key)%lockStripes]
	select {
	case c <- struct{}{}:
		return func() { <-c }, true
	default:
		return nil, false
	}
}

// Longest and shortest pause between attempts at a file lock that someone
// else holds.
const (
	minLockPause = 20 * time.Microsecond
	maxLockPause = 10 * time.Millisecond
)

// lockFile takes the file lock on f, waiting until ctx is done.
func (s *Store) lockFile(ctx context.Context, op string, f *os.File) error {
	pause := minLockPause
	var timer *time.Timer
	for {
		ok, err := tryLockFile(f)
		if err != nil {
			return s.ioError(op, err)
		}
		if ok {
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(pause)
		} else {
			timer.Reset(pause)
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("file session store: %s: waiting for the session file's lock: %w", op, ctx.Err())
		case <-timer.C:
		}
		pause = min(2*pause, maxLockPause)
	}
}

// maxReopen bounds how often locked starts again on a session file that
// was replaced while it waited for the lock.
const maxReopen = 100

// locked finds the session file of key, locks it (key's in-process lock,
// then the file lock) and checks that it is still the file under that
// name. It then calls mutate with the file's path and, if withExpiry, its
// expiry (a header that does not parse is returned as the error instead),
// and unlocks. An absent file is server.ErrNotFound, anything but a
// regular file an error wrapping ErrNotRegular.
func (s *Store) locked(ctx context.Context, op, key string, withExpiry bool, mutate func(p string, expires time.Time) error) error {
	unlock, err := s.lockKey(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	p := s.path(key)
	for range maxReopen {
		f, fi, err := s.open(op, p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return server.ErrNotFound
			}
			return err
		}
		done, err := s.lockedFile(ctx, op, p, f, fi, withExpiry, mutate)
		f.Close() // and so unlock, if mutate has not closed it
		if done {
			return err
		}
	}
	return fmt.Errorf("file session store: %s: the session file was replaced %d times while waiting for its lock", op, maxReopen)
}

// lockedFile is the part of locked for one open file f: it reports false
// if f is no longer under the name p and should be opened again.
func (s *Store) lockedFile(ctx context.Context, op, p string, f *os.File, fi fs.FileInfo, withExpiry bool, mutate func(string, time.Time) error) (bool, error) {
	if err := s.lockFile(ctx, op, f); err != nil {
		return true, err
	}
	cur, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, server.ErrNotFound // deleted while we waited
	case err != nil:
		return true, s.ioError(op, err)
	case !os.SameFile(fi, cur):
		return false, nil // replaced while we waited: lock the new one
	}
	var expires time.Time
	if withExpiry {
		if expires, err = readHeader(f); err != nil {
			return true, s.headerError(op, err)
		}
	}
	if !holdOpen {
		// Where the lock is only in-process, the file must be closed
		// before it can be renamed over or removed (Windows).
		f.Close()
	}
	return true, mutate(p, expires)
}

// Load returns the blob stored under key, or server.ErrNotFound if there is
// no such file or it has expired. A file that is not a session file gives
// an error wrapping ErrCorrupt, ErrNotRegular or server.ErrTooLarge.
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
	tmp, err := s.writeTemp("create", blob, expires)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, s.path(key)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return server.ErrExists
		}
		return s.ioError("create", err)
	}
	return nil
}

// Update replaces the blob and expiry of the file for key. It returns
// server.ErrNotFound if there is no such file or it has expired, an error
// wrapping server.ErrTooLarge for a blob over MaxLength, and an error
// wrapping ErrCorrupt or ErrNotRegular, leaving the file alone, if it is
// not a session file. See the package documentation for how Update and
// Delete exclude each other.
func (s *Store) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	if err := s.checkLen("update", blob); err != nil {
		return err
	}
	// The writing happens before the lock, so that the lock is held only
	// for the check and the rename.
	tmp, err := s.writeTemp("update", blob, expires)
	if err != nil {
		return err
	}
	published := false
	defer func() {
		if !published {
			os.Remove(tmp)
		}
	}()
	return s.locked(ctx, "update", key, true, func(p string, old time.Time) error {
		if server.Expired(old, time.Now()) {
			return server.ErrNotFound
		}
		if err := os.Rename(tmp, p); err != nil {
			return s.ioError("update", err)
		}
		published = true
		return nil
	})
}

// Delete removes the file for key. A missing file is not an error. Under
// a session's name Delete also removes what is not a regular file (a
// symbolic link, not its target; an empty directory), so that the session
// is gone.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	remove := func(p string, _ time.Time) error {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s.ioError("delete", err)
		}
		return nil
	}
	err := s.locked(ctx, "delete", key, false, remove)
	if errors.Is(err, ErrNotRegular) {
		// Nothing that Update writes over: no lock is needed.
		err = remove(s.path(key), time.Time{})
	}
	if errors.Is(err, server.ErrNotFound) {
		return nil
	}
	return err
}

// DeleteExpired removes every expired session file and returns how many it
// removed; the count includes corrupt session files older than StaleAge,
// which it removes too. It also removes temporary files older than
// StaleAge, without counting them, and leaves every other file alone, as
// well as session files that an Update or Delete holds locked.
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
		return 0, s.ioError("delete expired", err)
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
			if strings.HasPrefix(name, tempPrefix) {
				if err := s.removeIfStale(filepath.Join(s.dir, name), now); err != nil {
					fail(err)
				}
				continue
			}
			key := name[len(Prefix):]
			if server.ValidateKey(key) != nil {
				continue
			}
			removed, err := s.removeIfExpired(key, now)
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
			return n, s.ioError("delete expired: reading the directory", rerr)
		}
	}
	if err := s.deleteExpiredEntries(ctx); err != nil {
		fail(err)
	}
	if failures > 0 {
		return n, fmt.Errorf("file session store: delete expired: %d files could not be cleaned up; first: %w", failures, first)
	}
	return n, nil
}

// removeIfStale removes the temporary file p if it was last written more
// than StaleAge before now.
func (s *Store) removeIfStale(p string, now time.Time) error {
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return s.ioError("delete expired", err)
	}
	if !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) <= StaleAge {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s.ioError("delete expired", err)
	}
	return nil
}

// removeIfExpired removes the session file of key if it has expired at
// now, or if it is corrupt and older than StaleAge, and reports whether it
// did. Before removing, it takes the same locks as Update and Delete, but
// does not wait for them: a file someone holds is left for the next run.
func (s *Store) removeIfExpired(key string, now time.Time) (bool, error) {
	const op = "delete expired"
	p := s.path(key)
	f, fi, err := s.open(op, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNotRegular) {
			return false, nil
		}
		return false, err
	}
	defer f.Close()
	expires, err := readHeader(f)
	switch {
	case errors.Is(err, ErrCorrupt):
		if now.Sub(fi.ModTime()) <= StaleAge {
			return false, nil
		}
	case err != nil:
		return false, s.headerError(op, err)
	case !server.Expired(expires, now):
		return false, nil
	}
	unlock, ok := s.tryLockKey(key)
	if !ok {
		return false, nil
	}
	defer unlock()
	if ok, err := tryLockFile(f); err != nil || !ok {
		if err != nil {
			return false, s.ioError(op, err)
		}
		return false, nil
	}
	// Expired and corrupt files are never replaced (Create refuses them
	// and Update does not write over them; an Update that checked the
	// expiry just before it passed holds the lock until it has renamed),
	// so once the lock is held the name holds the file just read, unless
	// it was replaced or deleted before.
	cur, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, s.ioError(op, err)
	}
	if !os.SameFile(fi, cur) {
		return false, nil
	}
	if !holdOpen {
		f.Close()
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, s.ioError(op, err)
	}
	return true, nil
}

// writeTemp writes the header and blob to a new temporary file in the
// store's directory and returns its path. The file has mode 0600.
func (s *Store) writeTemp(op string, blob []byte, expires time.Time) (string, error) {
	f, err := os.CreateTemp(s.dir, tempPrefix+"*")
	if err != nil {
		return "", s.ioError(op, err)
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
		return "", s.ioError(op, werr)
	}
	return f.Name(), nil
}

// readHeader reads and parses the header of a session file from r.
func readHeader(r io.Reader) (time.Time, error) {
	var h [headerLen]byte
	n, err := io.ReadFull(r, h[:])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return time.Time{}, corrupt(n)
		}
		return time.Time{}, err
	}
	return parseHeader(h[:])
}

// headerError wraps an error of readHeader for op.
func (s *Store) headerError(op string, err error) error {
	if errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%w (%s)", err, op)
	}
	return s.ioError(op, err)
}

// parseHeader parses a header of headerLen bytes.
func parseHeader(h []byte) (time.Time, error) {
	if [4]byte(h[:4]) != magic {
		return time.Time{}, fmt.Errorf("%w: it starts with %x, want %x (%q and format version %d)",
			ErrCorrupt, h[:4], magic[:], magic[:3], magic[3])
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(h[4:headerLen]))), nil
}

// corrupt reports a session file of n bytes, too short for the header.
func corrupt(n int) error {
	return fmt.Errorf("%w: %d bytes long, shorter than the %d-byte header", ErrCorrupt, n, headerLen)
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
