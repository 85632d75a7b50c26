// Package cached is a server.Store made of two stores: a fast cache (for
// example server/redis or server/memory) in front of a durable backing
// store (for example server/mysql or server/file). It is Django's
// cached_db session backend, for any pair of stores:
//
//	cache, err := redis.Open("redis://cache:6379/0", redis.Config{Prefix: "sessionkit:cache:"})
//	...
//	db, err := mysql.Open("sess:secret@tcp(db:3306)/app", mysql.Config{})
//	...
//	st, err := cached.New(cache, db, cached.Options{Logger: logger})
//
// The backing store is the truth; the cache holds copies. Reads come from
// the cache when it has the session; writes go to the backing store first
// and then to the cache. A cache that fails never fails a request: its
// errors are logged (Options.Logger, at level ERROR, as Django logs "Error
// saving to cache") and counted (Store.Stats), and the store goes on with
// the backing store alone. A backing store that fails is an error, as it
// would be without a cache.
//
// # Operations
//
//   - Load reads the cache. On a hit, that is all. On a miss it reads the
//     backing store and fills the cache (see below). If the cache fails,
//     Load reads the backing store and leaves the cache alone.
//   - Create creates the entry in the backing store, then writes it to the
//     cache. The cache may still hold an entry under the new key (an
//     expired one it has not dropped yet); that one is replaced.
//   - Update updates the backing store, then the cache entry, only if the
//     cache has one (an update-only write): a session that a concurrent
//     Delete has just removed from the cache is not put back. An entry
//     missing from the cache is filled by the next Load. When the backing
//     store reports server.ErrNotFound, or any other error (after which it
//     may hold the new blob all the same: a write whose outcome its server
//     did not confirm), the cache entry is removed too. Should such a
//     write take effect in the backing store only later, a Load in between
//     may fill the cache with the old blob, served until it expires (at
//     most MaxTTL) or the next write.
//   - Delete removes the entry from the backing store, then from the cache,
//     whatever the backing store answered.
//   - DeleteExpired runs on the backing store and returns its count; then
//     it runs on the cache, whose count is not reported.
//
// Once the backing store has changed, the cache write that follows does not
// stop when the caller's context is cancelled (a client that hangs up
// during a logout must not leave the session in the cache); it is bounded
// by Options.CacheTimeout instead.
//
// # Filling the cache
//
// Entries written by Create and Update expire with the session. An entry
// that a Load fills in after a miss expires with the backing entry when the
// backing store implements server.ExpiryLoader, as every store of this
// module does. A backing store that does not tell expiries leaves the cache
// guessing: such an entry lives for Options.FillTTL, and so may still load
// up to FillTTL after the session's expiry. Keep FillTTL short for such a
// store. Options.MaxTTL, if set, caps every cache entry's lifetime.
//
// A miss races with concurrent writes: the copy read from the backing
// store may be deleted or replaced there before it lands in the cache. To
// keep a deleted session from coming back through the cache, a fill reads
// the backing store a second time after writing the cache, and removes the
// cache entry if the two reads differ. A miss therefore costs two reads of
// the backing store and one or two writes to the cache; a hit costs one
// read of the cache.
//
// Two concurrent Updates of one session can still reach the backing store
// and the cache in opposite orders, leaving the cache with the older of two
// versions until the next write or the entry's expiry, as in Django.
//
// # When the cache fails
//
// A cache that fails during a write may keep its old entry and serve it
// when it comes back (after a partition, or restarted from its append-only
// file). So every cache entry records when it was written, and after any
// failed cache operation a Store serves no entry written before that
// failure: such an entry is read from the backing store again (and removed
// if the session is gone). An update made while the cache was unreachable
// is therefore never served stale by this Store, and no acknowledged write
// is lost. A Delete whose cache delete fails returns an error wrapping
// ErrCacheNotTold, after deleting the session from the backing store: this
// Store will not serve the copy, but another process sharing the cache
// might, so a logout is not reported as done (the middleware answers with
// its error response, and the user can log out again).
//
// After a failure the Store leaves the cache alone for Options.CoolDown
// (five seconds by default): reads and writes go to the backing store
// alone, so that an outage costs each request the backing store's latency
// rather than the cache's timeout, and the cache is tried again once the
// cool-down is over. A Delete still tries the cache.
//
// A process does not learn of a change made through another process whose
// cache is not the same one (a per-process memory cache in front of a
// shared database), nor of a row an operator deleted in the backing store:
// its copy is served until the entry expires, and MaxTTL (one minute by
// default) caps that. Use a cache shared by every process (Redis) when a
// logout must hold at once everywhere.
//
// # Choosing the stores
//
// Give the cache store a key space of its own (for example its own Redis
// prefix), never the one of another store. Give a network cache a short
// timeout and few retries, so that a cache outage costs each request
// little: it is tried on every request.
//
// A hit costs one round trip to the cache, so the cache pays off as much as
// its round trip is cheaper than the backing store's query. On the
// benchmark machine (BENCHMARKS.md), a Redis on the same host answered a
// hit in 14 µs over its Unix socket (a unix:// URL) and in 59 µs over TCP,
// against 61 to 78 µs for MariaDB's primary-key SELECT; under many
// concurrent requests, a Redis store on go-redis' AutoPipeliner (see
// server/redis) served hits at 3.6 to 4.2 times MariaDB's rate.
package cached

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session/server"
)

// Defaults for Options.
const (
	// DefaultFillTTL is Options.FillTTL when it is zero.
	DefaultFillTTL = 5 * time.Minute
	// DefaultCacheTimeout is Options.CacheTimeout when it is zero.
	DefaultCacheTimeout = 2 * time.Second
	// DefaultMaxTTL is Options.MaxTTL when it is zero: how long a cache
	// entry lives at most, and so how long a cache that another process
	// does not tell (a per-process memory cache in front of a shared
	// database) can serve a session that was changed or deleted there.
	DefaultMaxTTL = time.Minute
	// DefaultCoolDown is Options.CoolDown when it is zero.
	DefaultCoolDown = 5 * time.Second
)

// ErrCacheNotTold reports a Delete that removed the session from the
// backing store but could not remove the cache's copy: the cache may serve
// it again when it comes back, so the logout is not reported as done.
var ErrCacheNotTold = errors.New("session store cached: the session was deleted from the backing store, but the cache could not be told")

// ErrMisconfigured reports a missing store or an invalid Options.
var ErrMisconfigured = errors.New("session store cached: misconfigured")

// Options configures a Store. The zero value is usable.
type Options struct {
	// FillTTL is how long an entry that Load fills into the cache stays
	// there when the backing store is not a server.ExpiryLoader and so
	// does not tell the entry's expiry (see the package documentation).
	// Default DefaultFillTTL; negative is an error.
	FillTTL time.Duration
	// MaxTTL caps the lifetime of every cache entry. Zero means
	// DefaultMaxTTL; negative is an error. It bounds how long a change
	// made through another process, whose cache is not this one, can go
	// unseen here.
	MaxTTL time.Duration
	// CacheTimeout bounds each cache write that follows a change of the
	// backing store, which does not stop when the caller's context is
	// cancelled. Default DefaultCacheTimeout; negative is an error.
	CacheTimeout time.Duration
	// CoolDown is how long the Store leaves the cache alone after one of
	// its operations failed: reads and writes go to the backing store
	// alone, so that an outage of the cache costs each request the backing
	// store's latency, not the cache's timeout. A Delete still tries the
	// cache. Default DefaultCoolDown; negative is an error.
	CoolDown time.Duration
	// Logger receives the cache's errors, at level ERROR. Default
	// slog.Default().
	Logger *slog.Logger
}

// Stats counts what the cache did since the Store was made.
type Stats struct {
	// Hits counts Loads answered by the cache.
	Hits uint64
	// Misses counts Loads that did not find the session in the cache and
	// read the backing store.
	Misses uint64
	// CacheErrors counts failed operations on the cache (each one logged).
	CacheErrors uint64
}

// Store is a server.Store with a cache in front of a backing store. It is
// safe for concurrent use.
type Store struct {
	cache, backing server.Store
	expiry         server.ExpiryLoader // backing, if it reports expiries
	fillTTL        time.Duration
	maxTTL         time.Duration
	cacheTimeout   time.Duration
	log            *slog.Logger

	hits, misses, cacheErrors atomic.Uint64
	coolDown                  time.Duration
	// distrustBefore is when the cool-down after the last failed cache
	// operation ends, in Unix nanoseconds: entries written before then
	// may be copies that a write or a delete since could not replace (or
	// that the cool-down skipped), and are not served; until then the
	// cache is left alone.
	distrustBefore atomic.Int64
}

var _ server.Store = (*Store)(nil)

// New returns a Store with cache in front of backing. It takes at most one
// Options; with none, the zero Options applies, and when several are given
// the last one is used. New does no I/O.
func New(cache, backing server.Store, opts ...Options) (*Store, error) {
	if cache == nil || backing == nil {
		return nil, fmt.Errorf("%w: New needs a cache and a backing store", ErrMisconfigured)
	}
	var o Options
	if len(opts) > 0 {
		o = opts[len(opts)-1]
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"FillTTL", o.FillTTL}, {"MaxTTL", o.MaxTTL}, {"CacheTimeout", o.CacheTimeout}, {"CoolDown", o.CoolDown}} {
		if d.v < 0 {
			return nil, fmt.Errorf("%w: %s %v is negative", ErrMisconfigured, d.name, d.v)
		}
	}
	s := &Store{
		cache:        cache,
		backing:      backing,
		fillTTL:      o.FillTTL,
		maxTTL:       o.MaxTTL,
		cacheTimeout: o.CacheTimeout,
		coolDown:     o.CoolDown,
		log:          o.Logger,
	}
	if s.fillTTL == 0 {
		s.fillTTL = DefaultFillTTL
	}
	if s.cacheTimeout == 0 {
		s.cacheTimeout = DefaultCacheTimeout
	}
	if s.maxTTL == 0 {
		s.maxTTL = DefaultMaxTTL
	}
	if s.coolDown == 0 {
		s.coolDown = DefaultCoolDown
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.expiry, _ = backing.(server.ExpiryLoader)
	return s, nil
}

// Cache returns the cache store.
func (s *Store) Cache() server.Store { return s.cache }

// Backing returns the backing store.
func (s *Store) Backing() server.Store { return s.backing }

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{Hits: s.hits.Load(), Misses: s.misses.Load(), CacheErrors: s.cacheErrors.Load()}
}

// check returns the key's validation error or the context's, wrapped for
// op.
func check(ctx context.Context, op, key string) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store cached: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session store cached: %s: %w", op, err)
	}
	return nil
}

// cacheFailed logs and counts a failed cache operation, and stops trusting
// the entries the cache holds: the failed operation may have been a write
// or a delete that the cache did not apply, and a cache that comes back
// (after a partition, or restarted from its append-only file) comes back
// with the copies it had.
func (s *Store) cacheFailed(ctx context.Context, op string, err error) {
	s.distrustBefore.Store(time.Now().Add(s.coolDown).UnixNano())
	s.cacheErrors.Add(1)
	s.log.LogAttrs(ctx, slog.LevelError, "session cache: "+op+" failed; going on with the backing store",
		slog.String("op", op), slog.Any("error", err))
}

// detached returns a context for cache work that must finish even if ctx
// is cancelled: ctx's values, no cancellation, CacheTimeout.
func (s *Store) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.cacheTimeout)
}

// cooling reports whether the cache is being left alone after a failure.
func (s *Store) cooling() bool { return time.Now().UnixNano() < s.distrustBefore.Load() }

// cacheExpiry returns the expiry of a cache entry for a session that
// expires at exp: exp, or now+MaxTTL if that is earlier.
func (s *Store) cacheExpiry(exp time.Time) time.Time {
	if limit := time.Now().Add(s.maxTTL); limit.Before(exp) {
		return limit
	}
	return exp
}

// A cache entry is the blob behind a header: entryMagic and the time it
// was written, in Unix nanoseconds, big-endian.
const (
	entryMagic  = "\xc5\x01"
	entryHeader = len(entryMagic) + 8
)

// wrap returns the cache entry for blob, written now.
func wrap(blob []byte) []byte {
	e := make([]byte, entryHeader, entryHeader+len(blob))
	copy(e, entryMagic)
	binary.BigEndian.PutUint64(e[len(entryMagic):], uint64(time.Now().UnixNano()))
	return append(e, blob...)
}

// unwrap returns the blob of a cache entry that this Store still trusts:
// one written after the last failure of a cache operation.
func (s *Store) unwrap(e []byte) ([]byte, bool) {
	if len(e) < entryHeader || string(e[:len(entryMagic)]) != entryMagic {
		return nil, false
	}
	written := int64(binary.BigEndian.Uint64(e[len(entryMagic):]))
	if written <= s.distrustBefore.Load() {
		return nil, false
	}
	return e[entryHeader:], true
}

// loadBacking reads key from the backing store, with the entry's expiry
// when the store reports it, or now+FillTTL otherwise.
func (s *Store) loadBacking(ctx context.Context, key string) ([]byte, time.Time, error) {
	if s.expiry != nil {
		return s.expiry.LoadWithExpiry(ctx, key)
	}
	blob, err := s.backing.Load(ctx, key)
	return blob, time.Now().Add(s.fillTTL), err
}

// put writes blob to the cache under key, replacing what the cache has.
func (s *Store) put(ctx context.Context, key string, blob []byte, exp time.Time) error {
	blob = wrap(blob)
	err := s.cache.Create(ctx, key, blob, exp)
	if !errors.Is(err, server.ErrExists) {
		return err
	}
	// An entry the cache still keeps: an expired one, or one written
	// meanwhile. Replace it; fill checks afterwards that the copy is right.
	if err := s.cache.Delete(ctx, key); err != nil {
		return err
	}
	err = s.cache.Create(ctx, key, blob, exp)
	if errors.Is(err, server.ErrExists) {
		return nil // another writer got there first; its copy stands
	}
	return err
}

// Load returns the blob stored under key, from the cache if it has it,
// else from the backing store, or server.ErrNotFound.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	if err := check(ctx, "load", key); err != nil {
		return nil, err
	}
	if s.cooling() {
		blob, _, err := s.loadBacking(ctx, key)
		return blob, err
	}
	entry, err := s.cache.Load(ctx, key)
	fill := false
	switch {
	case err == nil:
		if blob, ok := s.unwrap(entry); ok {
			s.hits.Add(1)
			return blob, nil
		}
		// An entry from before a cache failure (or in another format):
		// not trusted, replaced from the backing store.
		s.misses.Add(1)
		fill = true
	case errors.Is(err, server.ErrNotFound):
		s.misses.Add(1)
		fill = true
	case ctx.Err() != nil:
		return nil, fmt.Errorf("session store cached: load: %w", err)
	default:
		s.cacheFailed(ctx, "load", err)
	}
	blob, exp, err := s.loadBacking(ctx, key)
	if errors.Is(err, server.ErrNotFound) && fill && entry != nil {
		// The distrusted entry is of a session that is gone.
		dctx, cancel := s.detached(ctx)
		defer cancel()
		if cerr := s.cache.Delete(dctx, key); cerr != nil {
			s.cacheFailed(ctx, "remove a stale entry", cerr)
		}
	}
	if err != nil {
		return nil, err
	}
	if fill && ctx.Err() == nil {
		s.fill(ctx, key, blob, exp)
	}
	return blob, nil
}

// fill copies an entry just read from the backing store into the cache,
// then reads the backing store again and removes the copy if the entry has
// changed or gone meanwhile.
func (s *Store) fill(ctx context.Context, key string, blob []byte, exp time.Time) {
	dctx, cancel := s.detached(ctx)
	defer cancel()
	if err := s.put(dctx, key, blob, s.cacheExpiry(exp)); err != nil {
		if !errors.Is(err, server.ErrTooLarge) { // too large to cache is no failure
			s.cacheFailed(ctx, "fill", err)
		}
		return
	}
	again, exp2, err := s.loadBacking(dctx, key)
	if err == nil && bytes.Equal(again, blob) && (s.expiry == nil || exp2.Equal(exp)) {
		return
	}
	if err := s.cache.Delete(dctx, key); err != nil {
		s.cacheFailed(ctx, "remove a stale fill", err)
	}
}

// Create stores blob under key until expires, in the backing store, then
// in the cache. It returns server.ErrExists if the backing store has the
// key, expired or not.
func (s *Store) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := check(ctx, "create", key); err != nil {
		return err
	}
	if err := s.backing.Create(ctx, key, blob, expires); err != nil {
		return err
	}
	if s.cooling() {
		return nil
	}
	dctx, cancel := s.detached(ctx)
	defer cancel()
	if err := s.put(dctx, key, blob, s.cacheExpiry(expires)); err != nil {
		if !errors.Is(err, server.ErrTooLarge) { // too large to cache is no failure
			s.cacheFailed(ctx, "create", err)
		}
	}
	return nil
}

// Update replaces the blob and expiry of an existing, unexpired key in the
// backing store, then in the cache if the cache has the key. It returns
// server.ErrNotFound if the backing store has no such live key, and then
// removes the key from the cache; so it does after any error of the
// backing store, which may have taken the write all the same.
func (s *Store) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := check(ctx, "update", key); err != nil {
		return err
	}
	err := s.backing.Update(ctx, key, blob, expires)
	switch {
	case s.cooling():
		return err // what the cache holds is not served now, nor after
	case err != nil:
		// ErrNotFound, or a failure after which the backing store may
		// hold the new blob all the same (a write whose outcome the
		// server did not confirm): the cache's copy goes either way.
		dctx, cancel := s.detached(ctx)
		defer cancel()
		if cerr := s.cache.Delete(dctx, key); cerr != nil {
			s.cacheFailed(ctx, "update", cerr)
		}
		return err
	}
	dctx, cancel := s.detached(ctx)
	defer cancel()
	cerr := s.cache.Update(dctx, key, wrap(blob), s.cacheExpiry(expires))
	switch {
	case cerr == nil, errors.Is(cerr, server.ErrNotFound):
	case errors.Is(cerr, server.ErrTooLarge):
		// Too large for the cache, not a failure of it: drop the old copy
		// and serve this session from the backing store.
		if derr := s.cache.Delete(dctx, key); derr != nil {
			s.cacheFailed(ctx, "update", derr)
		}
	default:
		s.cacheFailed(ctx, "update", cerr)
	}
	return nil
}

// Delete removes key from the backing store, then from the cache. Deleting
// an absent key is not an error. If the backing store fails, that is the
// error. If the cache fails, the error wraps ErrCacheNotTold: the cache
// may come back with its copy, which this Store no longer serves but
// another process sharing the cache might, so a logout is not reported as
// done until the cache has been told.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	err := s.backing.Delete(ctx, key)
	// Also after a failure: the backing store may have deleted the entry
	// before reporting an error, and a cache entry is only a copy.
	dctx, cancel := s.detached(ctx)
	defer cancel()
	if cerr := s.cache.Delete(dctx, key); cerr != nil {
		s.cacheFailed(ctx, "delete", cerr)
		if err == nil {
			err = fmt.Errorf("%w: %w", ErrCacheNotTold, cerr)
		}
	}
	return err
}

// DeleteExpired removes every expired entry from the backing store and
// returns how many it removed, then removes the cache's expired entries
// (not counted; a failure there is logged).
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("session store cached: delete expired: %w", err)
	}
	n, err := s.backing.DeleteExpired(ctx)
	if ctx.Err() != nil || s.cooling() {
		return n, err
	}
	if _, cerr := s.cache.DeleteExpired(ctx); cerr != nil && ctx.Err() == nil {
		s.cacheFailed(ctx, "delete expired", cerr)
	}
	return n, err
}
