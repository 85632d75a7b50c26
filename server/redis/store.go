package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
)

// Defaults for Config.
const (
	// DefaultPrefix is the key prefix used when Config.Prefix is empty.
	DefaultPrefix = "sessionkit:"
	// MaxPrefixLen is the longest Config.Prefix accepted.
	MaxPrefixLen = 64
)

// Errors specific to this store; test with errors.Is.
var (
	// ErrMisconfigured reports an invalid Config or a nil client.
	ErrMisconfigured = errors.New("session store redis: misconfigured")
	// ErrCorrupt reports a value under a session key that this store did
	// not write: too short, or not starting with an expiry.
	ErrCorrupt = errors.New("session store redis: value is not a session entry")
	// ErrNotReplicated reports a write (Create, Update or Delete) that the
	// master applied but that fewer than Config.WaitReplicas replicas
	// acknowledged within Config.WaitTimeout: it may be lost if the master
	// fails now, so it is not reported as done. The session may or may
	// not hold the write afterwards. It also reports a write the master
	// refused for want of replicas (a NOREPLICAS error, from a server
	// with min-replicas-to-write set), with or without WaitReplicas.
	ErrNotReplicated = errors.New("session store redis: write not acknowledged by enough replicas")
)

// Config configures a Store. The zero value is usable.
type Config struct {
	// Prefix starts every key the store writes: at most MaxPrefixLen
	// printable ASCII characters, no spaces. Default DefaultPrefix.
	Prefix string
	// MaxLength is the longest blob the store writes or reads, in bytes.
	// Zero means codec.DefaultMaxLength, the longest value the session
	// codec encodes or decodes by default; set it to the codec's MaxLength
	// if that is configured otherwise. Negative is an error.
	MaxLength int
	// SkipPing makes Open skip its check that the server answers: for a
	// cache (server/cached), which may be down when the application
	// starts and is tried again on every request.
	SkipPing bool
	// WaitReplicas, if positive, makes Create, Update and Delete wait
	// until that many replicas of the master have acknowledged the write
	// (Redis' WAIT, sent with the write in one round trip on the same
	// connection), and fail with an error wrapping ErrNotReplicated when
	// fewer do within WaitTimeout. Replication in Redis is asynchronous:
	// without it, a write acknowledged just before its master dies can be
	// missing from the replica that takes over. Set it to the number of
	// replicas each master has. It needs a *goredis.Client (a single
	// server or a Sentinel failover client) or a *goredis.ClusterClient;
	// New refuses other clients with it. Negative is an error.
	WaitReplicas int
	// WaitTimeout bounds the wait for the replicas: DefaultWaitTimeout
	// when zero. It must be shorter than the client's ReadTimeout, which
	// bounds the reply to the write and the WAIT together. Negative is an
	// error.
	WaitTimeout time.Duration
}

// DefaultWaitTimeout is Config.WaitTimeout when it is zero.
const DefaultWaitTimeout = 500 * time.Millisecond

// Store is a server.Store on Redis. It is safe for concurrent use.
type Store struct {
	client goredis.UniversalClient
	// cluster is client when it is a cluster client; single, when it is a
	// client of one server. The writes with WAIT use them.
	cluster     *goredis.ClusterClient
	single      *goredis.Client
	owned       bool
	prefix      string
	maxLen      int
	waitN       int
	waitTimeout time.Duration
	retries     bool // the client may send a command more than once (see mayHaveRun)
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
// client, a *goredis.ClusterClient, a *goredis.Ring or an AutoPipeliner;
// with Config.WaitReplicas, only a *goredis.Client or a
// *goredis.ClusterClient. New does no I/O.
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
	maxLen := cfg.MaxLength
	switch {
	case maxLen == 0:
		maxLen = codec.DefaultMaxLength
	case maxLen < 0:
		return nil, fmt.Errorf("%w: MaxLength %d is negative", ErrMisconfigured, maxLen)
	}
	s := &Store{client: client, prefix: prefix, maxLen: maxLen, retries: retriesCommands(client)}
	var readTimeout time.Duration
	switch c := client.(type) {
	case *goredis.ClusterClient:
		s.cluster, readTimeout = c, c.Options().ReadTimeout
	case *goredis.Client:
		s.single, readTimeout = c, c.Options().ReadTimeout
	}
	if cfg.WaitReplicas < 0 || cfg.WaitTimeout < 0 {
		return nil, fmt.Errorf("%w: WaitReplicas %d and WaitTimeout %v: neither may be negative", ErrMisconfigured, cfg.WaitReplicas, cfg.WaitTimeout)
	}
	if cfg.WaitReplicas > 0 {
		if s.cluster == nil && s.single == nil {
			return nil, fmt.Errorf("%w: WaitReplicas needs a *goredis.Client or a *goredis.ClusterClient, which send WAIT on the connection of the write; got %T", ErrMisconfigured, client)
		}
		s.waitN, s.waitTimeout = cfg.WaitReplicas, cfg.WaitTimeout
		if s.waitTimeout == 0 {
			s.waitTimeout = DefaultWaitTimeout
		}
		if s.waitTimeout < time.Millisecond {
			return nil, fmt.Errorf("%w: WaitTimeout %v is under a millisecond (WAIT 0 would never time out)", ErrMisconfigured, s.waitTimeout)
		}
		// ReadTimeout -1 means no deadline; 0 after the client's
		// defaults, none either.
		if readTimeout > 0 && s.waitTimeout >= readTimeout {
			return nil, fmt.Errorf("%w: WaitTimeout %v is not shorter than the client's ReadTimeout %v, which bounds the WAIT's reply", ErrMisconfigured, s.waitTimeout, readTimeout)
		}
	}
	return s, nil
}

// Defaults Open sets for what the URL leaves unset, so that a request
// during an outage fails in milliseconds rather than waiting out go-redis'
// retries (five dials, 100 ms apart, then three retries: about 1.7 s per
// request against a Redis that refuses connections).
const (
	DefaultDialTimeout  = time.Second
	DefaultReadTimeout  = 2 * time.Second
	DefaultMaxRetries   = 1
	DefaultDialAttempts = 1
	// OpenTimeout bounds the PING with which Open checks the server.
	OpenTimeout = 5 * time.Second
)

// Open parses url with goredis.ParseURL
// ("redis://user:password@host:port/db?dial_timeout=3s", or rediss:// for
// TLS, or unix://), turns ContextTimeoutEnabled on, sets the defaults above
// for what the URL leaves unset, and returns a Store on a new client that
// Close closes. It checks that the server answers a PING within
// OpenTimeout (unless Config.SkipPing): an error wraps
// server.ErrUnavailable and names the address and the cause (never the
// password). For a Redis Cluster, see OpenCluster.
func Open(url string, cfg Config) (*Store, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: say what is wrong, not what it is.
		return nil, fmt.Errorf("session store redis: open: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = DefaultDialAttempts
	}
	return open(goredis.NewClient(opts), cfg, opts.Network+" "+opts.Addr)
}

// OpenCluster is Open for a Redis Cluster. It parses url with
// goredis.ParseClusterURL: "redis://user:password@host:port" names one
// node, and each addr parameter one more
// ("redis://:secret@10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379");
// the client learns the others from them. rediss:// is TLS. There is no
// database number: a cluster has database 0 only. It turns
// ContextTimeoutEnabled on and sets DefaultDialTimeout, DefaultReadTimeout
// and DefaultDialAttempts for what the URL leaves unset; retries are the
// cluster client's (max_redirects, default 3, which also covers network
// errors). Unless Config.SkipPing, it checks that every master answers a
// PING within OpenTimeout, with the same errors as Open.
func OpenCluster(url string, cfg Config) (*Store, error) {
	opts, err := goredis.ParseClusterURL(url)
	if err != nil {
		// The URL may hold a password: say what is wrong, not what it is.
		return nil, fmt.Errorf("session store redis: open cluster: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = DefaultDialAttempts
	}
	return open(goredis.NewClusterClient(opts), cfg, "cluster "+strings.Join(opts.Addrs, ","))
}

// open returns a Store on client, which it owns, and checks the server
// unless cfg.SkipPing; where names the server in errors.
func open(client goredis.UniversalClient, cfg Config, where string) (*Store, error) {
	s, err := New(client, cfg)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	s.owned = true
	if cfg.SkipPing {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), OpenTimeout)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("session store redis: open: %w: %s does not answer: %w", server.ErrUnavailable, where, err)
	}
	return s, nil
}

// Ping checks that the server answers; on a cluster client, that every
// master does.
func (s *Store) Ping(ctx context.Context) error {
	var err error
	if s.cluster != nil {
		err = s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			if err := c.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("%s: %w", c.Options().Addr, err)
			}
			return nil
		})
	} else {
		err = s.client.Ping(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("session store redis: ping: %w", err)
	}
	return nil
}

// Client returns the client the store uses.
func (s *Store) Client() goredis.UniversalClient { return s.client }

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

// MaxLength returns the longest blob the store writes or reads.
func (s *Store) MaxLength() int { return s.maxLen }

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

// maxExpiryMs is the end of the year 9999 in Unix milliseconds (15
// digits).
var maxExpiryMs = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()

// expiryMs converts t to the Unix milliseconds stored in the header and
// given to PXAT, truncated and clamped to [1, maxExpiryMs] (PXAT refuses
// 0).
func expiryMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if ms < 1 {
		return 1
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

// encode returns the value stored for blob and its expiry in Unix
// milliseconds, which is also the key's PXAT.
func encode(blob []byte, expires time.Time) ([]byte, int64) {
	exp := expiryMs(expires)
	v := make([]byte, headerLen, headerLen+len(blob))
	for i, e := headerLen-1, exp; i >= 0; i-- {
		v[i] = byte('0' + e%10)
		e /= 10
	}
	return append(v, blob...), exp
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
	// GETRANGE instead of GET: the reply holds at most one byte more
	// than the longest value allowed, so a longer one is recognised
	// without being transferred. A missing key is an empty reply (no
	// value this store writes is empty).
	limit := int64(headerLen + s.maxLen)
	v, err := s.client.GetRange(ctx, s.prefix+key, 0, limit).Bytes()
	switch {
	case err != nil && !errors.Is(err, goredis.Nil):
		s.failed(err)
		return nil, time.Time{}, wrap(ctx, op, err)
	case len(v) == 0:
		return nil, time.Time{}, server.ErrNotFound
	case int64(len(v)) > limit:
		return nil, time.Time{}, fmt.Errorf("session store redis: %s: %w: the stored value is longer than the %d-byte header and MaxLength %d",
			op, server.ErrTooLarge, headerLen, s.maxLen)
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
// if the key holds an entry that has not expired (Redis has dropped the
// others), and an error wrapping server.ErrTooLarge for a blob over
// MaxLength.
func (s *Store) Create(ctx context.Context, key string, blob []byte, expires time.Time) error {
	return s.set(ctx, "create", key, blob, expires, "NX", server.ErrExists)
}

// Update replaces the blob and expiry of an existing, unexpired key. It
// returns server.ErrNotFound if the key is absent or expired, and an error
// wrapping server.ErrTooLarge for a blob over MaxLength.
func (s *Store) Update(ctx context.Context, key string, blob []byte, expires time.Time) error {
	return s.set(ctx, "update", key, blob, expires, "XX", server.ErrNotFound)
}

// set writes key with SET … cond PXAT, cond being NX or XX, and returns
// notSet if Redis did not write it. The command goes through Process, as
// the typed commands do, so that an AutoPipeliner given to New batches it
// with the others (its Do would send it on its own).
func (s *Store) set(ctx context.Context, op, key string, blob []byte, expires time.Time, cond string, notSet error) error {
	if err := check(ctx, op, key); err != nil {
		return err
	}
	if len(blob) > s.maxLen {
		return fmt.Errorf("session store redis: %s: %w: %d bytes, over MaxLength %d", op, server.ErrTooLarge, len(blob), s.maxLen)
	}
	v, exp := encode(blob, expires)
	switch _, err := s.writeCmd(ctx, op, s.prefix+key, goredis.NewCmd(ctx, "SET", s.prefix+key, v, cond, "PXAT", exp)); {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return notSet
	default:
		return err
	}
}

// Delete removes key. Deleting an absent key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	_, err := s.writeCmd(ctx, "delete", s.prefix+key, goredis.NewCmd(ctx, "DEL", s.prefix+key))
	return err
}

// writeCmd runs cmd, a command that writes the Redis key key (SET, DEL,
// HDEL, or a script of the index) and nothing else, and returns the
// command that ran (on a cluster with WaitReplicas, a redirection runs a
// copy), with goredis.Nil as is (a SET that did not write) and any other
// error wrapped for op. The command goes through Process, as the typed
// commands do, so that an AutoPipeliner given to New batches it with the
// others (its Do would send it on its own). With WaitReplicas, a WAIT
// follows it in the same pipeline, on the same connection: WAIT counts
// the replicas that have the connection's last write.
func (s *Store) writeCmd(ctx context.Context, op, key string, cmd *goredis.Cmd) (*goredis.Cmd, error) {
	var err error
	switch {
	case s.waitN == 0:
		_ = s.client.Process(ctx, cmd)
		err = cmd.Err()
	case s.cluster != nil:
		cmd, err = s.writeWaitCluster(ctx, key, cmd)
	default:
		err = s.writeWait(ctx, s.single, false, cmd)
	}
	if err == nil || errors.Is(err, goredis.Nil) {
		return cmd, err
	}
	if goredis.IsNoReplicasError(err) {
		err = fmt.Errorf("%w: %w", ErrNotReplicated, err)
	}
	s.failed(err)
	if mayHaveRun(err, s.retries) {
		err = fmt.Errorf("the command may have run: %w", err)
	}
	return cmd, wrap(ctx, op, err)
}

// retriesCommands reports whether client may send a command more than
// once (see mayHaveRun), from its options as it holds them, where -1
// (none) reads 0: a client's MaxRetries; a cluster client's, and its
// MaxRedirects, which also bounds how often it sends a command again
// after a network error. Of other clients nothing is known.
func retriesCommands(client goredis.UniversalClient) bool {
	switch c := client.(type) {
	case *goredis.ClusterClient:
		o := c.Options()
		return o.MaxRetries > 0 || o.MaxRedirects > 0
	case *goredis.Client:
		return c.Options().MaxRetries > 0
	}
	return true
}

// mayHaveRun reports whether a write that failed with err may have run
// all the same: the command was sent (or may have been) and its reply
// did not come, for a timeout, a context that ended or a connection that
// broke. An error reply, a failed dial, a pool with no connection free
// and a closed client mean that Redis did not run it, on a client that
// sends a command once. One that retries (retries) returns the last
// attempt's error only, and an earlier attempt may have run: any error
// may hide one. ErrNotReplicated says what happened itself.
func mayHaveRun(err error, retries bool) bool {
	var reply goredis.Error
	var op *net.OpError
	switch {
	case errors.Is(err, ErrNotReplicated):
		return false
	case retries:
		return true
	case errors.As(err, &reply), errors.Is(err, goredis.ErrPoolTimeout), errors.Is(err, goredis.ErrPoolExhausted),
		errors.Is(err, goredis.ErrClosed), errors.As(err, &op) && op.Op == "dial":
		return false
	}
	return true
}

// failed tells a cluster client that a command failed for want of its
// node (a network error or timeout, or a reply that the cluster is
// changing: CLUSTERDOWN, TRYAGAIN, READONLY, LOADING, MASTERDOWN, MOVED),
// so that it loads the cluster's slots again, in the background and at
// most every 200 ms, rather than going on sending the commands of a
// failed master's slots to it: go-redis follows a replica's promotion by
// itself only on a MOVED reply, which a dead master never sends, or every
// ClusterStateReloadInterval (a minute by default). Other error replies
// (NOSCRIPT, NOREPLICAS, WRONGTYPE) and a shortfall of replicas say
// nothing of where the slots are.
func (s *Store) failed(err error) {
	if s.cluster == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrNotReplicated) {
		return
	}
	var reply goredis.Error
	if errors.As(err, &reply) {
		_, moved := goredis.IsMovedError(err)
		if !moved && !goredis.IsClusterDownError(err) && !goredis.IsTryAgainError(err) && !goredis.IsReadOnlyError(err) &&
			!goredis.IsLoadingError(err) && !goredis.IsMasterDownError(err) {
			return
		}
	}
	s.cluster.ReloadState(context.Background())
}

// maxRedirects bounds how often a write with WAIT on a cluster follows a
// MOVED or ASK reply, or waits for the slots to be loaded again after one.
const maxRedirects = 3

// writeWaitCluster runs cmd and its WAIT on the master of key, and
// returns the command that ran last. The cluster client would send a
// WAIT, which names no key, to some node other than the key's, so both go
// through that master's own client, and this function does the cluster
// client's redirection for them.
func (s *Store) writeWaitCluster(ctx context.Context, key string, cmd *goredis.Cmd) (*goredis.Cmd, error) {
	node, err := s.cluster.MasterForKey(ctx, key)
	if err != nil {
		return cmd, err
	}
	ask := false
	for attempt := 0; ; attempt++ {
		err = s.writeWait(ctx, node, ask, cmd)
		if attempt == maxRedirects {
			return cmd, err
		}
		moved, okMoved := goredis.IsMovedError(err)
		asked, okAsk := goredis.IsAskError(err)
		switch {
		case okMoved || okAsk:
			// The slot is served elsewhere (MOVED: for good, after a
			// failover or a resharding; ASK: during a migration); the
			// write was not applied.
			addr := moved
			if okAsk {
				addr = asked
			} else {
				s.cluster.ReloadState(context.Background())
			}
			if n := s.clusterNode(ctx, addr); n != nil {
				node, ask = n, okAsk
				break
			}
			if okAsk {
				return cmd, err
			}
			fallthrough
		case goredis.IsReadOnlyError(err) || goredis.IsClusterDownError(err) || goredis.IsTryAgainError(err):
			// Wait a moment for the slots to be loaded again.
			s.cluster.ReloadState(context.Background())
			if serr := sleep(ctx, time.Duration(10<<attempt)*time.Millisecond); serr != nil {
				return cmd, err
			}
			if node, err = s.cluster.MasterForKey(ctx, key); err != nil {
				return cmd, err
			}
			ask = false
		default:
			return cmd, err
		}
		cmd = goredis.NewCmd(ctx, cmd.Args()...)
	}
}

// clusterNode returns the client of the cluster's node at addr, or nil if
// the cluster client does not know it.
func (s *Store) clusterNode(ctx context.Context, addr string) *goredis.Client {
	var found atomic.Pointer[goredis.Client]
	_ = s.cluster.ForEachShard(ctx, func(_ context.Context, c *goredis.Client) error {
		if c.Options().Addr == addr {
			found.Store(c)
		}
		return nil
	})
	return found.Load()
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeWait sends cmd and a WAIT for WaitReplicas replicas in one
// pipeline on c (preceded by ASKING if ask), and returns cmd's error, or
// one wrapping ErrNotReplicated if cmd wrote and too few replicas
// acknowledged it.
func (s *Store) writeWait(ctx context.Context, c *goredis.Client, ask bool, cmd *goredis.Cmd) error {
	pipe := c.Pipeline()
	if ask {
		_ = pipe.Process(ctx, goredis.NewStatusCmd(ctx, "ASKING"))
	}
	_ = pipe.Process(ctx, cmd)
	wait := goredis.NewIntCmd(ctx, "WAIT", s.waitN, s.waitTimeout.Milliseconds())
	_ = pipe.Process(ctx, wait)
	_, _ = pipe.Exec(ctx)
	if err := cmd.Err(); err != nil {
		return err
	}
	n, err := wait.Result()
	if err != nil {
		return fmt.Errorf("%w: WAIT failed: %w", ErrNotReplicated, err)
	}
	if n < int64(s.waitN) {
		return fmt.Errorf("%w: %d of %d replicas within %v", ErrNotReplicated, n, s.waitN, s.waitTimeout)
	}
	return nil
}

// DeleteExpired does nothing and returns 0: Redis drops each entry by
// itself at its expiry. It fails only if ctx is done.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("session store redis: delete expired: %w", err)
	}
	return 0, nil
}
