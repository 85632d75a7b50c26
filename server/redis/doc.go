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
// OpenCluster does the same for a Redis Cluster, from a URL that names one
// or more of its nodes (the format of goredis.ParseClusterURL):
//
//	st, err := redis.OpenCluster("redis://:secret@10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379", redis.Config{WaitReplicas: 1})
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
// followed by the blob; the expiry is there for Load's check (below) and
// for LoadWithExpiry. Expiry therefore has a resolution of one
// millisecond; instants after the year 9999 are stored as the end of that
// year.
//
// # Expiry
//
// Each key is written with PXAT, the entry's expiry as a Unix time in
// milliseconds, so Redis drops the entry by itself at that instant: the key
// then no longer exists, for Load, Update and Create alike. DeleteExpired
// has nothing to do; it returns 0 without any I/O, and no cron job or
// server.Cleanup is needed. An entry written with an expiry in the past is
// not stored at all, and an Update to a past expiry removes the key.
//
// Load also compares the expiry in the value with the application's clock
// (server.Expired), so an entry never loads after its expiry even if the
// Redis server's clock is behind. The other way round, a Redis clock ahead
// of the application's drops entries early by the difference, and one
// behind lets Update write an entry for that long after the application
// considers it expired. Keep the clocks of the application servers and
// Redis in sync, as NTP does to well under a millisecond on one network.
//
// # Commands
//
// Each operation is one command, so one round trip, and atomic on the
// server:
//
//	Load           GETRANGE key 0 16+MaxLength (the blob is returned if its
//	               expiry has not passed; a reply longer than 16+MaxLength
//	               bytes is server.ErrTooLarge)
//	Create         SET key value NX PXAT expiry (not set: server.ErrExists)
//	Update         SET key value XX PXAT expiry (not set: server.ErrNotFound),
//	               so a session that a concurrent logout has deleted, or
//	               that has expired, is never brought back
//	Delete         DEL key
//	DeleteExpired  nothing
//
// With Config.WaitReplicas n, Create, Update and Delete, and the index's
// Bind, Touch and Unbind, send "WAIT n WaitTimeout" after their command, in
// the same pipeline: still one round trip (see Replication below).
//
// Create and Update refuse a blob over Config.MaxLength
// (codec.DefaultMaxLength, 1 MiB, unless configured) before any I/O, with
// an error wrapping server.ErrTooLarge. A Redis string can hold 512 MB,
// and anyone who can write to the server can put a longer value under a
// session's key; Load reads values with GETRANGE rather than GET, which
// costs the same and returns at most one byte more than the longest value
// allowed, so such a value is refused with server.ErrTooLarge after at
// most that many bytes have crossed the network. GETRANGE answers an empty
// string for a missing key, as for an empty value, and no value this store
// writes is empty.
//
// PXAT needs Redis 6.2 or later, or Valkey. The session operations send no
// scripts and no multi-key commands, so each command stays on one Cluster
// slot and servers where scripting is disabled are fine for them. The user
// index (server.Index: Bind, Touch, Entries, Unbind) keeps each user's
// entries in one hash, Config.Prefix+"u:{"+user+"}", and runs a Lua
// script on that one key for each operation but Unbind (HDEL); its
// scripts use PEXPIRETIME, which needs Redis 7.0.
//
// # Redis Cluster
//
// Every command names one key, so sessions spread over the cluster's
// slots and masters; the braces of a user's index key make the user its
// hash tag, which changes nothing, since it is that key's only key. Do
// not put braces in Config.Prefix on a cluster: "app:{sessions}:" would
// hash every session to one slot, so one master. Each master drops its own keys at their
// expiry (their replicas follow), so DeleteExpired has nothing to do on a
// cluster either.
//
// When a master fails, the commands for its slots fail until a replica
// has taken over: cluster-node-timeout, then the replicas' election. The
// store then has the cluster client load the slots again after a command
// that failed for want of its node: a network error, or a MOVED,
// CLUSTERDOWN, TRYAGAIN, READONLY, LOADING or MASTERDOWN reply
// (goredis.ClusterClient.ReloadState, which runs in the
// background and coalesces), since go-redis by itself learns of a
// promotion only from a MOVED reply, which a dead master never sends, or
// after ClusterStateReloadInterval, a minute by default: without the
// reload, the sessions of a dead master's slots were still failing in the
// fault test below 20 s after the kill. Requests fail meanwhile with an
// error, never as an empty session, and the same Store serves them again
// afterwards; nothing needs restarting. A store on a cluster client's
// AutoPipeliner does not see the cluster client and cannot ask it to
// reload: give that client a short ClusterStateReloadInterval instead.
//
// The tests run the conformance suite (server/storetest) on a cluster of
// three masters with a replica each, with and without WaitReplicas, and
// server/cached's suite with the cluster as the cache and as the backing
// store. A fault test kills a master with SIGKILL while 24 clients load,
// increment and save their sessions, logging out now and then. With
// cluster-node-timeout 1000 ms, on one machine, every client succeeded
// again 2.2 to 2.8 s after the kill in 16 runs out of 18: about as long
// as the replica took to be promoted. In the other two the promotion
// itself took longer, 3.6 s, and 14 s after an election that failed and
// was tried again, and the clients followed it. That time grows with
// cluster-node-timeout, whose default is 15 s. Sentinel is not tested.
//
// # Replication
//
// Redis replicates asynchronously: a master acknowledges a write before
// its replicas have it, and if it dies then, the replica that takes over
// may lack it. A session update is then lost, a new session is gone, and,
// worse, a logout is undone: the replica still holds the session. With
// Config.WaitReplicas n, every write is followed, on the same connection
// and in the same round trip, by WAIT n WaitTimeout, and a write that
// fewer than n replicas have acknowledged within WaitTimeout is reported
// as an error wrapping ErrNotReplicated, not as done: the session engine
// answers the request with its error response, and the user can try
// again. The index's writes wait as the sessions' do, so that a revocation
// (Unbind, or RevokeAll's not-before, which Bind writes) is not undone
// either. Set n to the number of replicas of each master. What it costs:
//
//   - No extra round trip between the application and Redis, but each
//     write's reply waits for the master to hear back from its replicas,
//     about one more round trip between them.
//   - A master without enough live replicas fails every write, each after
//     WaitTimeout (DefaultWaitTimeout, 500 ms, unless set; it must be under
//     the client's ReadTimeout). After a failover the promoted replica has
//     no replica of its own until the old master is back (it rejoins as
//     the new master's replica) or another replica migrates to it, so
//     sessions on its slots can be read but not written meanwhile. Loads
//     never wait.
//   - On a cluster, the write and its WAIT go to the key's master's own
//     client (a cluster client would send the WAIT, which names no key,
//     to some other node), and the store follows MOVED and ASK replies
//     itself.
//
// In the fault test above (whose clients also bind each session to a
// user in the index, and unbind it at logout), with WaitReplicas 1 and the
// killed master restarted a second after its replica had taken over, no
// acknowledged write was lost and no acknowledged logout undone (the test
// asserts it),
// and every client succeeded again 3.4 to 4.8 s after the kill (14
// runs): the promotion, the second, and the old master's restart and copy
// of the data. Without WaitReplicas no loss was seen in 18 runs either, but
// on one machine a replica lags by microseconds: that shows how rarely
// the window is hit there, not that it is closed. A write refused for
// want of replicas (min-replicas-to-write, below) is also
// ErrNotReplicated.
//
// WAIT makes a write durable against the loss of its master, not the
// store strongly consistent. It counts the replicas that have the
// connection's last write, so a Delete of a key that is already gone
// waits only for that connection's earlier writes. With more replicas
// than n, the one promoted may not be among those that acknowledged
// (Redis prefers the replica with the most data, without a guarantee).
// And a master that restarts before its replica has taken over (within
// cluster-node-timeout) comes back with what it kept on disk: with no
// persistence, nothing, and its replica then copies the empty data set.
// Turn appendonly on, or restart a failed master only once its replica
// has taken over (the test scripts wait for that). Related server
// settings: min-replicas-to-write 1 (with
// min-replicas-max-lag) makes a master refuse writes at once, rather than
// after WaitTimeout, when its replicas are gone or behind;
// cluster-replica-no-failover yes leaves the promotion to an operator;
// cluster-require-full-coverage no lets the other masters serve their
// slots while some slots have no master.
//
// # Many concurrent requests
//
// Each operation waits for its own round trip, and under many concurrent
// requests most of their cost is the system calls of those round trips, on
// both sides. go-redis can batch concurrent commands into pipelines with its
// AutoPipeliner, and New accepts one, since it is a
// goredis.UniversalClient:
//
//	ap, err := client.AutoPipeline()
//	if err != nil { ... }
//	st, err := redis.New(ap, redis.Config{})
//
// Every operation of the store is then queued and sent with whatever other
// operations are waiting, still one command each. On the benchmark machine
// (see BENCHMARKS.md) this raised the throughput of Load at 32 concurrent
// clients 2.2× over a plain client, and lowered it at one client (0.5 to
// 0.8×: a lone request waits for the hand-off to the batching goroutine).
// Use it where many requests run at once. Know what you trade: go-redis
// marks the AutoPipeliner experimental, and a command it has queued runs on
// its own context, so a request's deadline or cancellation no longer cuts
// that command short; the client's ReadTimeout and WriteTimeout (3 s by
// default) bound it instead. A context that is already done still fails
// the call before anything is queued.
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
// How long a request waits before that error is the client's business.
// Open and OpenCluster make one connection attempt (DefaultDialAttempts)
// and Open one retry (DefaultMaxRetries) unless the URL says otherwise,
// so that a request against a Redis that refuses connections fails in
// milliseconds. A client of your own given to New keeps its settings:
// with go-redis's defaults a failed command is sent again up to three
// times and each connection attempt is made up to five times, 100 ms
// apart, about 1.7 s per request before the error (TestOutageFailsFast
// measures both). A restarted Redis has only what it persisted (RDB or
// AOF); sessions it lost are new sessions to their users.
//
// Errors wrap those of go-redis and of the context (errors.Is(err,
// context.Canceled)) and start with "session store redis: " and the
// operation. They never contain a session key.
//
// Redis runs each command as it reads it, with no lock to wait on, so a
// write cannot be stopped once sent. A write whose reply did not come (a
// timeout, a context that ended, a connection that broke) may have run,
// or run a moment later, and its error says so ("the command may have
// run"). So does every failed write on a client that retries commands
// (go-redis's default, Open's single retry, and a cluster client's
// MaxRedirects, which also resend a command after a network error):
// go-redis returns the last attempt's error only, and an earlier attempt
// may have run. On a client with MaxRetries -1 (and, for a cluster,
// MaxRedirects -1), a write that Redis refused, or that was never sent (a
// failed dial, a pool timeout), says no such thing.
package redis
