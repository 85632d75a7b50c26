package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/server"
)

// Defaults for Config.
const (
	// DefaultPrefix is the key prefix used when Config.Prefix is empty.
	DefaultPrefix = "sessionkit:"
	// MaxPrefixLen is the longest Config.Prefix accepted.
	MaxPrefixLen = 64
	// DefaultKeepExpired is how long Redis keeps an entry after its expiry
	// when Config.KeepExpired is zero.
	DefaultKeepExpired = 10 * time.Minute
	// DefaultScanCount is the COUNT hint of each SCAN of DeleteExpired.
	DefaultScanCount = 1000
)

// Errors specific to this store; test with errors.Is.
var (
	// ErrMisconfigured reports an invalid Config or a nil client.
	ErrMisconfigured = errors.New("session store redis: misconfigured")
	// ErrCorrupt reports a value under a session key that this store did
	// not write: too short, or not starting with an expiry.
	ErrCorrupt = errors.New("session store redis: value is not a session entry")
)

// Config configures a Store. The zero value is usable.
type Config struct {
	// Prefix starts every key the store writes: at most MaxPrefixLen
	// printable ASCII characters, no spaces. Default DefaultPrefix.
	Prefix string
	// KeepExpired is how long Redis keeps an entry after its expiry before
	// dropping it by itself (see the package documentation). Default
	// DefaultKeepExpired; negative is an error.
	KeepExpired time.Duration
}

// Store is a server.Store on Redis. It is safe for concurrent use.
type Store struct {
	client goredis.UniversalClient
	owned  bool
	prefix string
	keepMs int64
}

var (
	_ server.Store        = (*Store)(nil)
	_ server.ExpiryLoader = (*Store)(nil)
)

// ValidatePrefix reports whether p is acceptable as Config.Prefix: 1 to
// MaxPrefixLen printable ASCII characters, no spaces.
func ValidatePrefix(p string) error {
	if p == "" || len(p) > MaxPrefixLen {
		return fmt.Errorf("%w: prefix of %d bytes: want 1 to %d", ErrMisconfigured, len(p), MaxPrefixLen)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: prefix %q: byte %d is %q; want printable ASCII without spaces", ErrMisconfigured, p, i, c)
		}
	}
	return nil
}

// New returns a Store on client, which the caller keeps owning: Store.Close
// does not close it. client may be a *goredis.Client, a failover (Sentinel)
// client, a *goredis.ClusterClient or a *goredis.Ring. New does no I/O.
func New(client goredis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrMisconfigured)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	keep := cfg.KeepExpired
	switch {
	case keep == 0:
		keep = DefaultKeepExpired
	case keep < 0:
		return nil, fmt.Errorf("%w: KeepExpired %v is negative", ErrMisconfigured, keep)
	}
	return &Store{client: client, prefix: prefix, keepMs: keep.Milliseconds()}, nil
}

// Open parses url with goredis.ParseURL
// ("redis://user:password@host:port/db?dial_timeout=3s", or rediss:// for
// TLS, or unix://), turns ContextTimeoutEnabled on, and returns a Store on a
// new client that Close closes. Open does no I/O: the first connection is
// made by the first operation.
func Open(url string, cfg Config) (*Store, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: say what is wrong, not what it is.
		return nil, fmt.Errorf("session store redis: open: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	client := goredis.NewClient(opts)
	s, err := New(client, cfg)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// Client returns the client the store uses.
func (s *Store) Client() goredis.UniversalClient { return s.client }

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

// Close closes the client if Open created it; for a Store made by New it
// does nothing.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.client.Close()
}

// headerLen is the length of the expiry that starts every value.
const headerLen = 16

// maxExpiryMs is the end of the year 9999 in Unix milliseconds; it has 15
// digits and is exact as a Lua number.
var maxExpiryMs = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()

// expiryMs converts t to the Unix milliseconds stored in the header,
// truncated and clamped to [0, maxExpiryMs].
func expiryMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if ms < 0 {
		return 0
	}
	if ms > maxExpiryMs {
		return maxExpiryMs
	}
	return ms
}

// wrap prefixes err with the store's name and op. When ctx is done, the
// error also wraps the context's, so that errors.Is(err,
// context.DeadlineExceeded) holds for a call the deadline cut short (the
// client reports that as a network timeout).
func wrap(ctx context.Context, op string, err error) error {
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(d) {
		// The client's read deadline is the context's, and it can fire
		// a moment before the context reports itself done.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		err = errors.Join(err, cerr)
	}
	return fmt.Errorf("session store redis: %s: %w", op, err)
}

func nowMs() int64 { return time.Now().UnixMilli() }

// encode returns the value stored for blob and the time to live of the key,
// in milliseconds (at least 1).
func (s *Store) encode(blob []byte, expires time.Time, now int64) ([]byte, int64) {
	exp := expiryMs(expires)
	digits := strconv.FormatInt(exp, 10)
	v := make([]byte, 0, headerLen+len(blob))
	for i := len(digits); i < headerLen; i++ {
		v = append(v, '0')
	}
	v = append(v, digits...)
	v = append(v, blob...)
	ttl := exp - now + s.keepMs
	if ttl < 1 {
		ttl = 1
	}
	return v, ttl
}

// decode splits a stored value into its expiry and blob.
func decode(v []byte) (time.Time, []byte, error) {
	if len(v) < headerLen {
		return time.Time{}, nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, len(v), headerLen)
	}
	var ms int64
	for _, c := range v[:headerLen] {
		if c < '0' || c > '9' {
			return time.Time{}, nil, fmt.Errorf("%w: the header holds %q, want %d digits", ErrCorrupt, v[:headerLen], headerLen)
		}
		ms = ms*10 + int64(c-'0')
	}
	return time.UnixMilli(ms), v[headerLen:], nil
}

// check returns the context's error or the key's validation error, wrapped
// for op.
func check(ctx context.Context, op, key string) error {
	if err := server.ValidateKey(key); err != nil {
		return fmt.Errorf("session store redis: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session store redis: %s: %w", op, err)
	}
	return nil
}

// updateScript replaces the value and time to live of KEYS[1] if it holds
// an entry whose expiry (the header, Unix ms) is after ARGV[1] (now, Unix
// ms). ARGV[2] is the new value, ARGV[3] the new time to live in ms. It
// returns 1 if it replaced the value, 0 otherwise.
const updateScript = `local e = tonumber(redis.call('GETRANGE', KEYS[1], 0, 15))
if not e or e <= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`

// deleteExpiredScript deletes KEYS[1] if it holds an entry whose expiry is
// at or before ARGV[1] (now, Unix ms), and returns how many keys it
// deleted.
const deleteExpiredScript = `local e = tonumber(redis.call('GETRANGE', KEYS[1], 0, 15))
if e and e <= tonumber(ARGV[1]) then return redis.call('DEL', KEYS[1]) end
return 0`

// Load returns the blob stored under key, or server.ErrNotFound if there is
// none or it has expired.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	blob, _, err := s.load(ctx, "load", key)
	return blob, err
}

// LoadWithExpiry is Load that also returns the entry's expiry, to the
// millisecond. It implements server.ExpiryLoader.
func (s *Store) LoadWithExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	blob, exp, err := s.load(ctx, "load", key)
	return blob, exp, err
}

func (s *Store) load(ctx context.Context, op, key string) ([]byte, time.Time, error) {
	if err := check(ctx, op, key); err != nil {
		return nil, time.Time{}, err
	}
	v, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return nil, time.Time{}, server.ErrNotFound
		}
		return nil, time.Time{}, wrap(ctx, op, err)
	}
	exp, blob, err := decode(v)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("session store redis: %s: %w", op, err)
	}
	if server.Expired(exp, time.UnixMilli(nowMs())) {
		return nil, time.Time{}, server.ErrNotFound
	}
	// v was allocated for this call; its tail shares nothing with anyone.
	return blob, exp, nil
}

// Create stores blob under key until expires. It returns server.ErrExists
// if the key is present, expired or not (see the package documentation
// for how long Redis keeps expired entries).
func (s *Store) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := check(ctx, "create", key); err != nil {
		return err
	}
	v, ttl := s.encode(blob, expires, nowMs())
	err := s.client.Do(ctx, "SET", s.prefix+key, v, "PX", ttl, "NX").Err()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return server.ErrExists
	default:
		return wrap(ctx, "create", err)
	}
}

// Update replaces the blob and expiry of an existing, unexpired key. It
// returns server.ErrNotFound if the key is absent or expired.
func (s *Store) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	if err := check(ctx, "update", key); err != nil {
		return err
	}
	now := nowMs()
	v, ttl := s.encode(blob, expires, now)
	n, err := s.client.Eval(ctx, updateScript, []string{s.prefix + key}, now, v, ttl).Int64()
	if err != nil {
		return wrap(ctx, "update", err)
	}
	if n == 0 {
		return server.ErrNotFound
	}
	return nil
}

// Delete removes key. Deleting an absent key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
		return wrap(ctx, "delete", err)
	}
	return nil
}

// DeleteExpired removes the expired entries that Redis still keeps (see
// the package documentation) and returns how many it removed. It scans the
// keys that start with the prefix, on every master of a Cluster, and checks
// ctx between batches; on an error it returns the count so far with the
// error.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("session store redis: delete expired: %w", err)
	}
	now := nowMs()
	// ForEachMaster and ForEachShard call scan concurrently.
	var total atomic.Int64
	scan := func(ctx context.Context, c goredis.UniversalClient) error {
		n, err := s.deleteExpiredOn(ctx, c, now)
		total.Add(n)
		return err
	}
	var err error
	switch c := s.client.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error { return scan(ctx, node) })
	case *goredis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, shard *goredis.Client) error { return scan(ctx, shard) })
	default:
		err = scan(ctx, c)
	}
	if err != nil {
		return total.Load(), wrap(ctx, "delete expired", err)
	}
	return total.Load(), nil
}

// deleteExpiredOn scans one server.
func (s *Store) deleteExpiredOn(ctx context.Context, c goredis.UniversalClient, now int64) (int64, error) {
	var (
		cursor uint64
		total  int64
		match  = globEscape(s.prefix) + "*"
	)
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		keys, next, err := c.Scan(ctx, cursor, match, DefaultScanCount).Result()
		if err != nil {
			return total, err
		}
		var cmds []*goredis.Cmd
		if len(keys) > 0 {
			pipe := c.Pipeline()
			for _, k := range keys {
				if server.ValidateKey(strings.TrimPrefix(k, s.prefix)) != nil {
					continue // another store's key under a longer prefix
				}
				cmds = append(cmds, pipe.Eval(ctx, deleteExpiredScript, []string{k}, now))
			}
			if len(cmds) > 0 {
				if _, err := pipe.Exec(ctx); err != nil {
					// Count what was deleted before the failure.
					total += sumInts(cmds)
					return total, err
				}
			}
		}
		total += sumInts(cmds)
		if next == 0 {
			return total, nil
		}
		cursor = next
	}
}

func sumInts(cmds []*goredis.Cmd) int64 {
	var n int64
	for _, c := range cmds {
		if v, err := c.Int64(); err == nil {
			n += v
		}
	}
	return n
}

// globEscape escapes the characters that SCAN's MATCH pattern treats
// specially.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
