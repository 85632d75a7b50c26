// Clearsessions removes expired sessions from the server store named by
// the environment, like Django's clearsessions command. Run it from cron:
//
//	# every night at 03:10
//	10 3 * * *  SESSION_STORE=mysql SESSION_MYSQL_DSN='user:password@tcp(db:3306)/app' /usr/local/bin/clearsessions
//
// Usage:
//
//	clearsessions [-timeout 5m]
//
// It reads the variables of the store (see package sessionenv):
//
//	SESSION_STORE          file | mysql | redis | cached
//	SESSION_FILE_PATH      the file store's directory
//	SESSION_MYSQL_DSN      user:password@tcp(host:port)/dbname
//	SESSION_MYSQL_TABLE    the table, default sessions
//	SESSION_REDIS_URL      redis://[:password@]host:port/db
//	SESSION_REDIS_PREFIX   the key prefix, default "sessionkit:" ("sessionkit:cache:" for a cache)
//	SESSION_CACHE_STORE    with cached: memory | redis
//	SESSION_BACKING_STORE  with cached: file | mysql
//
// With SESSION_STORE=cached it clears the backing store, which is the one
// that keeps expired sessions, and reports its count (a Redis cache has
// already dropped its expired copies; a memory cache is in the serving
// process).
//
// Redis drops each session by itself at its expiry, so a Redis store
// needs no cron job: with SESSION_STORE=redis, clearsessions says so and
// exits with status 0 without connecting.
//
// On success it prints "deleted N expired sessions" and exits with status
// 0. On failure it prints the error, and the count of sessions removed
// before it if any, and exits with status 1 (2 for bad usage). The
// timeout bounds the whole run, connecting included; an interrupt or
// SIGTERM stops it early.
//
// Without SESSION_STORE there is nothing to clear: the cookie engine keeps
// every session in its cookie, and nothing on the server. A memory store
// (SESSION_STORE=memory) lives inside the serving process, where another
// process cannot reach it.
//
// # Cleaning up from inside the application
//
// Instead of a cron job, a serving process can remove expired sessions
// itself with server.Cleanup, which calls DeleteExpired at once and then
// at every interval until its context ends:
//
//	go server.Cleanup(ctx, store, 10*time.Minute, func(err error) {
//		log.Printf("removing expired sessions: %v", err)
//	})
//
// With several processes sharing one store, one of them (or one cron job)
// is enough. The memory store can also clean up after itself
// (memory.Options.CleanupInterval).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/redis"
	"github.com/sessionkit/session/sessionenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("clearsessions", flag.ContinueOnError)
	flags.SetOutput(stderr)
	timeout := flags.Duration("timeout", 5*time.Minute, "give up after this long, connecting included")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: clearsessions [-timeout 5m]\n\nRemoves expired sessions from the store named by SESSION_STORE (file, mysql, redis or cached).")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "clearsessions: unexpected argument %q\n", flags.Arg(0))
		flags.Usage()
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "clearsessions: -timeout %v: want a positive duration\n", *timeout)
		return 2
	}

	if err := clearExpired(ctx, *timeout, lookup, stdout); err != nil {
		fmt.Fprintln(stderr, "clearsessions:", err)
		return 1
	}
	return 0
}

// clearExpired opens the store and removes its expired sessions.
func clearExpired(ctx context.Context, timeout time.Duration, lookup func(string) (string, bool), stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg, closeStore, err := sessionenv.Load(ctx)
	if err != nil {
		return withTimeout(err, timeout)
	}
	defer closeStore()
	store := cfg.Store
	switch store.(type) {
	case nil:
		return fmt.Errorf("%s is not set: the cookie engine keeps sessions in their cookies and nothing on the server, so there are no expired sessions to clear", "SESSION_STORE")
	case *memory.Store:
		return fmt.Errorf("%s=memory: a memory store lives inside the serving process, and another process cannot clear it; use server.Cleanup or memory.Options.CleanupInterval there", "SESSION_STORE")
	case *redis.Store:
		fmt.Fprintln(stdout, "nothing to clear: Redis drops each session by itself at its expiry")
		return nil
	}
	n, err := store.DeleteExpired(ctx)
	if err != nil {
		if n > 0 {
			fmt.Fprintf(stdout, "deleted %d expired sessions before an error\n", n)
		}
		return withTimeout(fmt.Errorf("deleting expired sessions: %w", err), timeout)
	}
	fmt.Fprintf(stdout, "deleted %d expired sessions\n", n)
	return nil
}

// withTimeout says which flag to raise when err is the timeout's.
func withTimeout(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (-timeout %v)", err, timeout)
	}
	return err
}
