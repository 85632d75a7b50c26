// Package memory is a server.Store that keeps sessions in process memory.
//
// It suits development, tests, and single-process deployments that can lose
// every session on restart. Sessions are not shared between processes.
//
// The store keeps its own copy of every blob and hands out copies, so
// callers may reuse their slices. Expired entries stop loading at their
// expiry but stay in memory until DeleteExpired removes them; set
// Options.CleanupInterval to have a background goroutine do that, and call
// Close when the store is no longer needed so that the goroutine ends. A
// store without a CleanupInterval starts no goroutine and needs no Close.
//
// Create and Update refuse a blob longer than Options.MaxLength
// (codec.DefaultMaxLength by default) with an error wrapping
// server.ErrTooLarge, so the store never holds one.
//
// Expiry instants are compared on the wall clock (their monotonic reading is
// dropped), as the file and database stores compare them.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
)

// Options configures a Store. The zero value is valid.
type Options struct {
	// CleanupInterval is how often a background goroutine removes expired
	// entries. Zero or negative means no goroutine: expired entries then
	// stay in memory until DeleteExpired is called.
	CleanupInterval time.Duration
	// MaxLength is the longest blob the store accepts, in bytes. Zero or
	// negative means codec.DefaultMaxLength, the longest value the session
	// codec encodes by default; set it to the codec's MaxLength if that is
	// configured otherwise.
	MaxLength int
}

// Store is an in-memory server.Store. It is safe for concurrent use. Create
// one with New.
type Store struct {
	mu      sync.RWMutex
	entries map[string]entry
	users   map[string]map[string]entry // the user index: user key → ID → entry
	maxLen  int

	stop      chan struct{} // closed by Close; nil without a janitor
	done      chan struct{} // closed when the janitor has returned
	closeOnce sync.Once
}

type entry struct {
	blob    []byte
	expires time.Time
}

var _ server.Store = (*Store)(nil)

// New returns an empty Store. It takes at most one Options; with none, the
// zero Options applies, and when several are given the last one is used.
// If CleanupInterval is positive, New starts a goroutine that calls
// DeleteExpired at that interval until Close is called.
func New(opts ...Options) *Store {
	var o Options
	if len(opts) > 0 {
		o = opts[len(opts)-1]
	}
	s := &Store{entries: make(map[string]entry), maxLen: o.MaxLength}
	if s.maxLen <= 0 {
		s.maxLen = codec.DefaultMaxLength
	}
	if o.CleanupInterval > 0 {
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.janitor(o.CleanupInterval)
	}
	return s
}

// janitor removes expired entries every interval until Close.
func (s *Store) janitor(interval time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			// With a background context DeleteExpired cannot fail.
			_, _ = s.DeleteExpired(context.Background())
		}
	}
}

// Close stops the cleanup goroutine, if there is one, and waits for it to
// return. The store stays usable afterwards, without background cleanup.
// Close always returns nil, and calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
			<-s.done
		}
	})
	return nil
}

// Len reports how many entries the store holds, counting expired entries
// that have not been removed yet.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// check returns the context's error or the key's validation error.
func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory session store: %w", err)
	}
	return server.ValidateKey(key)
}

// checkWrite is check for Create and Update, which also refuse a blob
// over MaxLength.
func (s *Store) checkWrite(ctx context.Context, op, key string, blob []byte) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	if len(blob) > s.maxLen {
		return fmt.Errorf("memory session store: %s: %w: %d bytes, over MaxLength %d", op, server.ErrTooLarge, len(blob), s.maxLen)
	}
	return nil
}

// Load returns a copy of the blob stored under key, or server.ErrNotFound
// if there is none or it has expired.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	blob, _, err := s.LoadWithExpiry(ctx, key)
	return blob, err
}

// Create stores a copy of blob under key until expires. It returns
// server.ErrExists if the key is present, expired or not, and an error
// wrapping server.ErrTooLarge for a blob over MaxLength.
func (s *Store) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := s.checkWrite(ctx, "create", key, blob); err != nil {
		return err
	}
	e := entry{blob: clone(blob), expires: expires.Round(0)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[key]; ok {
		return server.ErrExists
	}
	s.entries[key] = e
	return nil
}

// Update replaces the blob and expiry of an existing, unexpired key with a
// copy of blob and expires. It returns server.ErrNotFound if the key is
// absent or expired, and an error wrapping server.ErrTooLarge for a blob
// over MaxLength.
func (s *Store) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := s.checkWrite(ctx, "update", key, blob); err != nil {
		return err
	}
	e := entry{blob: clone(blob), expires: expires.Round(0)}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.entries[key]
	if !ok || server.Expired(old.expires, now) {
		return server.ErrNotFound
	}
	s.entries[key] = e
	return nil
}

// Delete removes key. Deleting an absent key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.entries, key)
	s.mu.Unlock()
	return nil
}

// DeleteExpired removes every expired entry and returns how many it removed.
// It finds them under the read lock and takes the write lock only to remove
// them, so Loads go on while it scans.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory session store: %w", err)
	}
	now := time.Now()
	var expired []string
	s.mu.RLock()
	for k, e := range s.entries {
		if server.Expired(e.expires, now) {
			expired = append(expired, k)
		}
	}
	idx := len(s.users) > 0
	s.mu.RUnlock()
	if len(expired) == 0 && !idx {
		return 0, nil
	}
	var n int64
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteExpiredEntries(now)
	for _, k := range expired {
		// The entry may have been deleted, or deleted and created again,
		// since the scan.
		if e, ok := s.entries[k]; ok && server.Expired(e.expires, now) {
			delete(s.entries, k)
			n++
		}
	}
	return n, nil
}

// clone returns a copy of b that shares no memory with it.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}
