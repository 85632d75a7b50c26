package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/storetest"
)

// TestConformance runs the shared store suite, each subtest under a fresh
// prefix of the test server.
func TestConformance(t *testing.T) {
	testenv.RedisURL(t) // skip (or fail) once, here, without a server
	var s *Store
	storetest.Run(t, func(t *testing.T) server.Store {
		s = openStore(t, Config{})
		return s
	}, storetest.Options{
		DropsExpired: true,
		Plant:        func(key string, blob []byte, exp time.Time) error { return plant(s, key, blob, exp) },
	})
}

// TestConformanceMaxLength runs the suite on a store with a limit other
// than the default.
func TestConformanceMaxLength(t *testing.T) {
	testenv.RedisURL(t)
	s := openStore(t, Config{MaxLength: 100_000})
	storetest.Run(t, func(t *testing.T) server.Store { return s }, storetest.Options{
		DropsExpired: true,
		MaxLength:    100_000,
		Plant:        func(key string, blob []byte, exp time.Time) error { return plant(s, key, blob, exp) },
	})
}

func TestConfigValidation(t *testing.T) {
	// No server needed: the configuration is checked before any I/O.
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	bad := []string{
		"with space",
		"tab\t",
		"nl\n",
		"nul\x00",
		"del\x7f",
		"é:",
		strings.Repeat("a", MaxPrefixLen+1),
	}
	for _, p := range bad {
		if err := ValidatePrefix(p); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("ValidatePrefix(%q) = %v, want ErrMisconfigured", p, err)
		}
		if _, err := New(client, Config{Prefix: p}); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("New with prefix %q: err = %v, want ErrMisconfigured", p, err)
		}
		if _, err := Open("redis://127.0.0.1:1/0", Config{Prefix: p}); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("Open with prefix %q: err = %v, want ErrMisconfigured", p, err)
		}
	}
	if err := ValidatePrefix(""); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("ValidatePrefix(\"\") = %v, want ErrMisconfigured", err)
	}
	for _, p := range []string{"s", "sessionkit:", "app:{sessions}:", "a*b?[c]\\", strings.Repeat("~", MaxPrefixLen)} {
		s, err := New(client, Config{Prefix: p})
		if err != nil {
			t.Errorf("New with prefix %q: %v", p, err)
			continue
		}
		if s.Prefix() != p {
			t.Errorf("Prefix() = %q, want %q", s.Prefix(), p)
		}
	}
	s, err := New(client, Config{})
	if err != nil || s.Prefix() != DefaultPrefix {
		t.Errorf("New with the zero Config: %v, prefix %q; want %q", err, s.Prefix(), DefaultPrefix)
	}
	if _, err := New(nil, Config{}); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("New(nil): %v, want ErrMisconfigured", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	for _, url := range []string{"", "http://u:hunter2@host/0", "redis://:hunter2@host:6379/notadb", "redis://:hunter2@host:6379/0?no_such_option=1"} {
		_, err := Open(url, Config{})
		if err == nil {
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if !strings.HasPrefix(err.Error(), "session store redis: open: ") {
			t.Errorf("Open(%q) = %q, want the store's prefix", url, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) = %q reveals the password", url, err)
		}
	}
}

// TestLayout checks what the store writes: the value under Prefix+key
// starts with the expiry in milliseconds, and Redis drops the key at that
// very millisecond (PXAT).
func TestLayout(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	k := keyOf(1)
	exp := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli()).Add(700 * time.Microsecond)
	if err := s.Create(ctx, k, []byte("blob"), exp); err != nil {
		t.Fatal(err)
	}
	wantLayout := func(blob string, exp time.Time) {
		t.Helper()
		v, err := s.Client().Get(ctx, s.Prefix()+k).Bytes()
		if err != nil {
			t.Fatalf("GET %s: %v", s.Prefix()+k, err)
		}
		want := []byte("000" + itoa(exp.UnixMilli()) + blob)
		if !bytes.Equal(v, want) {
			t.Errorf("value = %q, want %q", v, want)
		}
		at, err := s.Client().PExpireTime(ctx, s.Prefix()+k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if at != time.Duration(exp.UnixMilli())*time.Millisecond {
			t.Errorf("PEXPIRETIME = %d ms, want the expiry, %d ms", at.Milliseconds(), exp.UnixMilli())
		}
	}
	wantLayout("blob", exp)
	blob, got, err := s.LoadWithExpiry(ctx, k)
	if err != nil || string(blob) != "blob" || !got.Equal(exp.Truncate(time.Millisecond)) {
		t.Errorf("LoadWithExpiry = %q, %v, %v; want \"blob\", %v", blob, got, err, exp.Truncate(time.Millisecond))
	}
	exp2 := exp.Add(time.Hour)
	if err := s.Update(ctx, k, []byte("blob2"), exp2); err != nil {
		t.Fatal(err)
	}
	wantLayout("blob2", exp2)

	// Past expiries: Create writes nothing, Update removes the key.
	k2 := keyOf(2)
	if err := s.Create(ctx, k2, []byte("old"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Client().Exists(ctx, s.Prefix()+k2).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS after a Create with a past expiry = %d, %v; want 0", n, err)
	}
	if err := s.Update(ctx, k, []byte("gone"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Client().Exists(ctx, s.Prefix()+k).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS after an Update to a past expiry = %d, %v; want 0", n, err)
	}
}

// TestRedisDropsExpired checks what makes DeleteExpired unnecessary: Redis
// drops an entry by itself at its expiry, so that the key is free again.
func TestRedisDropsExpired(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	k := keyOf(1)
	exp := time.Now().Add(50 * time.Millisecond)
	if err := s.Create(ctx, k, []byte("short"), exp); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(exp) + 20*time.Millisecond)
	if n, err := s.Client().Exists(ctx, s.Prefix()+k).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS after the expiry = %d, %v; want 0", n, err)
	}
	if err := s.Update(ctx, k, []byte("back"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Update after the expiry = %v, want ErrNotFound", err)
	}
	if err := s.Create(ctx, k, []byte("new"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("Create after the expiry = %v, want nil", err)
	}
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func TestExpiryClamped(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	far := time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Create(ctx, keyOf(1), []byte("far"), far); err != nil {
		t.Fatal(err)
	}
	_, exp, err := s.LoadWithExpiry(ctx, keyOf(1))
	if err != nil || exp.UnixMilli() != maxExpiryMs {
		t.Errorf("LoadWithExpiry of an entry expiring in the year 12000 = %v, %v; want the end of 9999", exp, err)
	}
	if err := s.Create(ctx, keyOf(2), []byte("past"), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, keyOf(2)); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Load of an entry that expired in year 1 = %v, want ErrNotFound", err)
	}
}

func TestCorruptValue(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	for i, v := range []string{"short", "12345678901234x6blob"} {
		k := keyOf(i)
		if err := s.Client().Set(ctx, s.Prefix()+k, v, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(ctx, k); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Load of %q = %v, want ErrCorrupt", v, err)
		}
		if strings.Contains(errString(s.Load(ctx, k)), k) {
			t.Errorf("the error names the session key")
		}
	}
}

// TestEmptyValue checks that an empty string under a session's key, which
// the store never writes, loads as no entry: GETRANGE answers a missing key
// with an empty string too.
func TestEmptyValue(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	if err := s.Client().Set(ctx, s.Prefix()+keyOf(1), "", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, keyOf(1)); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Load of an empty value = %v, want ErrNotFound", err)
	}
}

func errString(_ []byte, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestDeleteExpired checks that DeleteExpired removes nothing, counts
// nothing and fails only for a done context.
func TestDeleteExpired(t *testing.T) {
	s := openStore(t, Config{})
	ctx := testCtx(t)
	if err := s.Create(ctx, keyOf(1), []byte("live"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	foreign := s.Prefix() + "cache:" + keyOf(1)
	if err := s.Client().Set(ctx, foreign, "0000000000000001foreign", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Fatalf("DeleteExpired = %d, %v; want 0, nil", n, err)
	}
	if got, err := s.Load(ctx, keyOf(1)); err != nil || string(got) != "live" {
		t.Errorf("live entry after DeleteExpired: %q, %v", got, err)
	}
	if c, err := s.Client().Exists(ctx, foreign).Result(); err != nil || c != 1 {
		t.Errorf("DeleteExpired removed a key that is not a session key: %d, %v", c, err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.DeleteExpired(done); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteExpired with a cancelled context = %v, want context.Canceled", err)
	}
}

// countingConn counts the writes of a connection (one per round trip for
// commands and pipelines small enough for one buffer) and, if reads is not
// nil, the bytes it reads.
type countingConn struct {
	net.Conn
	writes, reads *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.reads != nil {
		c.reads.Add(int64(n))
	}
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// countingHook is a go-redis hook that counts round trips (a command sent
// on its own, or a pipeline) and the commands they carry.
type countingHook struct{ trips, cmds atomic.Int64 }

func (h *countingHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *countingHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.trips.Add(1)
		h.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.trips.Add(1)
		h.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// countingStore returns a store on a client of one connection that counts
// its round trips, commands and bytes read, the connection already open.
func countingStore(t *testing.T) (s *Store, writes, reads *atomic.Int64, hook *countingHook) {
	t.Helper()
	opts := testOptions(t)
	writes, reads, hook = new(atomic.Int64), new(atomic.Int64), new(countingHook)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, writes: writes, reads: reads}, nil
	}
	opts.PoolSize = 1
	client := goredis.NewClient(opts)
	client.AddHook(hook)
	t.Cleanup(func() { client.Close() })
	s, err := New(client, Config{Prefix: uniquePrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropPrefix(t, client, s.Prefix()) })
	// The first command opens the connection (HELLO and the like).
	if err := client.Ping(testCtx(t)).Err(); err != nil {
		t.Fatal(err)
	}
	return s, writes, reads, hook
}

func TestOneRoundTripPerOperation(t *testing.T) {
	s, writes, _, hook := countingStore(t)
	ctx := testCtx(t)
	k, big := keyOf(1), keyOf(3)
	exp := time.Now().Add(time.Hour)
	if err := plant(s, big, make([]byte, s.MaxLength()+1), exp); err != nil {
		t.Fatal(err)
	}

	want := func(target error) func(error) error {
		return func(err error) error {
			if !errors.Is(err, target) {
				return errors.Join(errors.New("want "+target.Error()), err)
			}
			return nil
		}
	}
	ok := func(err error) error { return err }
	// The user index: 20 entries of one user, and each script run once so
	// that Redis has it (a first EVALSHA is answered NOSCRIPT and sent
	// again as EVAL).
	user := keyOf(10)
	for i := range 20 {
		if err := s.Bind(ctx, user, keyOf(100+i), []byte("e"), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Touch(ctx, user, keyOf(100), []byte("e"), exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Entries(ctx, user); err != nil {
		t.Fatal(err)
	}
	entries := func(n int) func() error {
		return func() error {
			es, err := s.Entries(ctx, user)
			if err == nil && len(es) != n {
				err = fmt.Errorf("%d entries, want %d", len(es), n)
			}
			return err
		}
	}
	steps := []struct {
		name  string
		op    func() error
		check func(error) error
	}{
		{"Create", func() error { return s.Create(ctx, k, []byte("v1"), exp) }, ok},
		{"Create existing", func() error { return s.Create(ctx, k, []byte("v1"), exp) }, want(server.ErrExists)},
		{"Load", func() error { _, err := s.Load(ctx, k); return err }, ok},
		{"LoadWithExpiry", func() error { _, _, err := s.LoadWithExpiry(ctx, k); return err }, ok},
		{"Load missing", func() error { _, err := s.Load(ctx, keyOf(2)); return err }, want(server.ErrNotFound)},
		{"Load too large", func() error { _, err := s.Load(ctx, big); return err }, want(server.ErrTooLarge)},
		{"Update", func() error { return s.Update(ctx, k, []byte("v2"), exp) }, ok},
		{"Update identical", func() error { return s.Update(ctx, k, []byte("v2"), exp) }, ok},
		{"Update missing", func() error { return s.Update(ctx, keyOf(2), []byte("v"), exp) }, want(server.ErrNotFound)},
		{"Delete", func() error { return s.Delete(ctx, k) }, ok},
		{"Delete missing", func() error { return s.Delete(ctx, k) }, ok},
		{"Bind", func() error { return s.Bind(ctx, user, keyOf(199), []byte("b"), exp) }, ok},
		{"Touch", func() error { return s.Touch(ctx, user, keyOf(199), []byte("c"), exp) }, ok},
		{"Touch missing", func() error { return s.Touch(ctx, user, keyOf(198), []byte("c"), exp) }, want(server.ErrNotFound)},
		{"Entries of 21", entries(21), ok},
		{"Unbind 3", func() error { return s.Unbind(ctx, user, keyOf(100), keyOf(101), keyOf(199)) }, ok},
		{"Entries of 18", entries(18), ok},
	}
	for _, st := range steps {
		w0, c0 := writes.Load(), hook.cmds.Load()
		if err := st.check(st.op()); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		w, c := writes.Load()-w0, hook.cmds.Load()-c0
		t.Logf("%-16s round trips %d, commands %d", st.name, w, c)
		if w != 1 || c != 1 {
			t.Errorf("%s: %d round trips and %d commands, want 1 and 1", st.name, w, c)
		}
	}
}

// TestOversizedValueNotRead plants a 4 MiB value, over the default
// MaxLength: Load refuses it, having read no more than MaxLength and a
// little from the network.
func TestOversizedValueNotRead(t *testing.T) {
	s, _, reads, _ := countingStore(t)
	ctx := testCtx(t)
	k := keyOf(1)
	if err := plant(s, k, bytes.Repeat([]byte{0xab}, 4<<20), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() error{
		"Load":           func() error { _, err := s.Load(ctx, k); return err },
		"LoadWithExpiry": func() error { _, _, err := s.LoadWithExpiry(ctx, k); return err },
	} {
		before := reads.Load()
		err := load()
		n := reads.Load() - before
		if !errors.Is(err, server.ErrTooLarge) {
			t.Errorf("%s of a 4 MiB value = %v, want server.ErrTooLarge", name, err)
		}
		if strings.Contains(err.Error(), k) {
			t.Errorf("%s: the error %q contains the key", name, err)
		}
		if limit := int64(headerLen+s.MaxLength()) + 64; n > limit {
			t.Errorf("%s read %d bytes from the server, want at most %d", name, n, limit)
		}
		t.Logf("%s: %d bytes read: %v", name, n, err)
	}
}

// plant writes key's value with a raw SET, as anyone with access to the
// server could, without the store's checks.
func plant(s *Store, key string, blob []byte, exp time.Time) error {
	v, ms := encode(blob, exp)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Client().Do(ctx, "SET", s.Prefix()+key, v, "PXAT", ms).Err()
}

// TestDeadline checks that a context's deadline bounds a call to a server
// that accepts the connection and never answers.
func TestDeadline(t *testing.T) {
	addr := testenv.SilentServer(t)
	// New, not Open: Open's own check would wait for the PING.
	opts, err := goredis.ParseURL("redis://" + addr + "/0?protocol=2&max_retries=-1")
	if err != nil {
		t.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	client := goredis.NewClient(opts)
	defer client.Close()
	s, err := New(client, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = s.Load(ctx, keyOf(1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load from a server that never answers = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if errors.Is(err, server.ErrNotFound) {
		t.Error("a server that does not answer was reported as an empty session")
	}
}

// TestUnreachable checks that a Redis that is down is an error from every
// method, never server.ErrNotFound, on a client and on an AutoPipeliner.
func TestUnreachable(t *testing.T) {
	opts := func(t *testing.T) *goredis.Options {
		o, err := goredis.ParseURL("redis://127.0.0.1:1/0?max_retries=-1")
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	t.Run("Client", func(t *testing.T) {
		c := newClient(t, opts(t))
		s, err := New(c, Config{})
		if err != nil {
			t.Fatal(err)
		}
		checkUnreachable(t, s)
	})
	t.Run("AutoPipeliner", func(t *testing.T) {
		ap, err := newClient(t, opts(t)).AutoPipeline()
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(ap, Config{})
		if err != nil {
			t.Fatal(err)
		}
		checkUnreachable(t, s)
	})
}

func checkUnreachable(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	k := keyOf(1)
	exp := time.Now().Add(time.Hour)
	_, err := s.Load(ctx, k)
	errs := map[string]error{"Load": err}
	_, _, errs["LoadWithExpiry"] = s.LoadWithExpiry(ctx, k)
	errs["Create"] = s.Create(ctx, k, []byte("x"), exp)
	errs["Update"] = s.Update(ctx, k, []byte("x"), exp)
	errs["Delete"] = s.Delete(ctx, k)
	// DeleteExpired does no I/O (TestDeleteExpired).
	for op, err := range errs {
		switch {
		case err == nil:
			t.Errorf("%s against a closed port succeeded", op)
		case errors.Is(err, server.ErrNotFound) || errors.Is(err, server.ErrExists):
			t.Errorf("%s against a closed port = %v; an outage must not read as an answer", op, err)
		case !strings.HasPrefix(err.Error(), "session store redis: "):
			t.Errorf("%s: error %q lacks the store's prefix", op, err)
		}
		var ne *net.OpError
		if err != nil && !errors.As(err, &ne) {
			t.Errorf("%s: error %v does not wrap the *net.OpError", op, err)
		}
	}
}

// TestWriteWhoseReplyDidNotCome holds Redis busy (a script that spins for
// half a second) while an Update waits for its reply with a shorter
// deadline: the Update fails with the context's error, saying that the
// command may have run, and Redis runs it once the script ends. A write
// refused at the dial says no such thing, on a client that does not
// retry commands.
func TestWriteWhoseReplyDidNotCome(t *testing.T) {
	// A client that sends a command once, so that the error says what
	// this attempt met (one that retries says "may have run" of any).
	opts := testOptions(t)
	opts.MaxRetries = -1
	s, err := New(newClient(t, opts), Config{Prefix: uniquePrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropPrefix(t, s.Client(), s.Prefix()) })
	ctx := testCtx(t)
	k := keyOf(1)
	if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The store's connection is open before Redis is held (a dial then
	// would wait for the handshake's reply, and send nothing).
	if _, err := s.Load(ctx, k); err != nil {
		t.Fatal(err)
	}
	busy, probe := newClient(t, testOptions(t)), newClient(t, testOptions(t))
	spun := make(chan error, 1)
	go func() {
		spun <- busy.Eval(ctx, `local t0 = redis.call('TIME'); while true do local t = redis.call('TIME'); if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 500000 then return 1 end end`, nil).Err()
	}()
	// The script runs once a command from another client waits for it.
	testenv.WaitUntil(t, func() (bool, string) {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		return probe.Ping(short).Err() != nil, "the script does not hold Redis"
	})
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = s.Update(short, k, []byte("y"), time.Now().Add(time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "may have run") {
		t.Fatalf("Update while Redis is busy = %v; want context.DeadlineExceeded, saying that the command may have run", err)
	}
	if err := <-spun; err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, k); err != nil || string(got) != "y" {
		t.Fatalf("Load = %q, %v; want y, written after the Update failed", got, err)
	}

	// A refused dial: nothing ran, which a client that sends a command
	// once can tell, and one that retries cannot (an earlier attempt on
	// a connection that then broke may have run).
	for _, retries := range []int{-1, 1} {
		down, err := New(newClient(t, &goredis.Options{Addr: "127.0.0.1:1", MaxRetries: retries}), Config{})
		if err != nil {
			t.Fatal(err)
		}
		err = down.Update(ctx, k, []byte("z"), time.Now().Add(time.Hour))
		if err == nil || strings.Contains(err.Error(), "may have run") != (retries > 0) {
			t.Errorf("MaxRetries %d: Update on a server that refuses the connection = %v; saying that the command may have run: want %v", retries, err, retries > 0)
		}
	}
	// A cluster client sends a command again after a network error up to
	// MaxRedirects times, whatever its MaxRetries.
	for _, c := range []struct {
		opts *goredis.ClusterOptions
		want bool
	}{
		{&goredis.ClusterOptions{}, true},
		{&goredis.ClusterOptions{MaxRetries: 2, MaxRedirects: -1}, true},
		{&goredis.ClusterOptions{MaxRetries: -1, MaxRedirects: -1}, false},
	} {
		cc := goredis.NewClusterClient(c.opts)
		if got := retriesCommands(cc); got != c.want {
			t.Errorf("cluster client with MaxRetries %d, MaxRedirects %d: retries = %v, want %v", c.opts.MaxRetries, c.opts.MaxRedirects, got, c.want)
		}
		cc.Close()
	}
}
