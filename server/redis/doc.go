// Package redis is a server.Store that keeps sessions in Redis (or a server
// that speaks its protocol, such as Valkey), through
// github.com/redis/go-redis/v9.
//
// # Opening a store
//
// Open takes a Redis URL (the format of goredis.ParseURL) and creates and
// owns a client:
//
//	st, err := redis.Open("redis://:secret@cache:6379/0", redis.Config{})
//	if err != nil { ... }
//	defer st.Close()
//
// New takes a client you already have and still own (Store.Close leaves it
// open). Any goredis.UniversalClient works: a single server, Sentinel (a
// failover client) or Cluster, which goredis.NewUniversalClient picks from
// its options (see the examples). Give the client ContextTimeoutEnabled, so
// that a context's deadline also bounds the network reads and writes, as
// Open does.
//
// # Keys and values
//
// A session stored under key lives in the Redis key Config.Prefix+key
// ("sessionkit:" by default). Keys pass server.ValidateKey before any I/O,
// so a session key can never name a key outside the prefix, and the prefix
// keeps sessions apart from whatever else the database holds (Django's
// cache backend once used bare session keys, CVE-2011-4136). Give each
// store its own prefix: two stores on one prefix see each other's
// sessions.
//
// The value is the entry's expiry in Unix milliseconds, as 16 ASCII digits,
// followed by the blob. Expiry therefore has a resolution of one
// millisecond; instants before 1970 are stored as 1970 and instants after
// the year 9999 as the end of that year.
//
// # Expiry
//
// Expiry follows the rule of every store (server.Expired), on the
// application's clock: an entry stops loading at its expiry, and Update
// never brings an expired entry back. Keep the application servers' clocks
// in sync.
//
// Redis also expires each key by itself: a key is given a time to live
// that ends Config.KeepExpired (DefaultKeepExpired) after the entry's
// expiry, counted on the Redis server from the moment the command arrives.
// Until then the expired entry is still there, as a row is in a SQL table
// until it is swept: Load reports it as server.ErrNotFound, Create on its
// key is server.ErrExists, and DeleteExpired removes and counts it. After
// that Redis has dropped it, and nobody needs to run DeleteExpired at all.
// An entry written with an expiry more than KeepExpired in the past lives
// for one millisecond.
//
// # Commands
//
// Each operation is one command, so one round trip, and atomic on the
// server:
//
//	Load           GET key (the blob is returned if its expiry has not passed)
//	Create         SET key value PX ttl NX (not set: server.ErrExists)
//	Update         EVAL of a short Lua script: if the key holds an entry whose
//	               expiry has not passed, SET key value PX ttl; otherwise
//	               server.ErrNotFound. SET XX alone would update an expired
//	               entry that Redis still keeps.
//	Delete         DEL key
//	DeleteExpired  SCAN over Prefix*, then per batch one pipeline of an EVAL
//	               that deletes each key whose expiry has passed
//
// Update needs a server that runs Lua scripts (every Redis since 2.6 and
// Valkey, unless scripting has been disabled). The script takes one key, so
// it works on Cluster. DeleteExpired scans every master of a Cluster and
// every shard of a Ring; it reads only keys made of the prefix and a valid
// session key.
//
// # Failures
//
// A Redis that cannot be reached is an error from every method, never an
// empty session: the session engine answers with its error response, and
// nobody is logged out by an outage (Django's cache backend, which reads
// any cache error as "no session", does log them out). For a cache in
// front of a database that keeps serving while Redis is down, see package
// server/cached.
//
// How long a request waits before that error is the client's business:
// with go-redis's defaults a failed command is sent again up to three times
// and each connection attempt is made up to five times, 100 ms apart, so a
// Redis that is back within a second or so is waited for rather than
// reported. Set MaxRetries (max_retries in the URL) and DialerRetries to
// fail sooner. A restarted Redis has only what it persisted (RDB or AOF);
// sessions it lost are new sessions to their users.
//
// Errors wrap those of go-redis and of the context (errors.Is(err,
// context.Canceled)) and start with "session store redis: " and the
// operation. They never contain a session key.
package redis
