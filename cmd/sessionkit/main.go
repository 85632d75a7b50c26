// Sessionkit is the command-line tool of package session: it makes secret
// keys, decodes session cookies and stored sessions, and looks after the
// server store (removing expired sessions, creating the MySQL, PostgreSQL
// or SQLite table, checking that the store answers). It reads the same SESSION_* variables
// as the application (session.ConfigFromEnv and package sessionenv).
//
// Usage:
//
//	sessionkit keygen [-bytes 32]
//	sessionkit decode [-store-key KEY] [-load] [VALUE]
//	sessionkit clear-expired [-timeout 5m]
//	sessionkit migrate [-timeout 1m]
//	sessionkit ping [-timeout 30s]
//	sessionkit help [COMMAND]
//
// Every command takes -h or --help.
//
// # keygen
//
// keygen prints a new secret key: the standard base64 of 32 random bytes
// from crypto/rand (or -bytes of them, 32 at least), on one line. The
// configuration uses a secret as its exact bytes, and this text is one:
//
//	SESSION_SECRET_KEY=$(sessionkit keygen)
//	sessionkit keygen > /run/secrets/session_key   # for SESSION_SECRET_KEY_FILE; the final newline is not part of it
//
// # decode
//
// decode verifies a session cookie's value (VALUE, or standard input when
// VALUE is absent or "-"; "NAME=VALUE" as copied from a Cookie header is
// accepted) with SESSION_SECRET_KEY (or SESSION_SECRET_KEY_FILE) and the
// keys of SESSION_SECRET_KEY_FALLBACKS, for the cookie named by
// SESSION_COOKIE_NAME, decrypts it, and prints it as JSON: its kind (data
// or reference), which key verified it, whether it was encrypted, the
// serializer and compression it was written with, when the session was
// created and when it expires, its ID and its values (with each value's Go
// type as the serializer gives it back). With -store-key, VALUE is a blob
// from the server store, and KEY the store key it is kept under (the
// purpose it is sealed for).
//
// The cookie of the server engine is a 64-character compact reference to a
// store key: decode says so and prints the store key (the SHA-256 of the
// session key, as the Manager computes it unless Config.StoreRawKeys is
// set). With -load, it also loads that blob from the store SESSION_STORE
// names and decodes it. A session past its expiry is printed too, with
// "expired": true, and the exit status is 1.
//
// # clear-expired
//
// clear-expired removes expired sessions from the store SESSION_STORE
// names, as Django's clearsessions does, and prints "deleted N expired
// sessions". Run it from cron for the mysql, postgres, sqlite and file
// stores (with cached, it clears the backing store). Redis drops each session by itself at its
// expiry: with SESSION_STORE=redis it says so and does nothing. A memory
// store lives in the serving process, where this command cannot reach it.
// With SESSION_DJANGO and Django's db or cached_db engine, it also removes
// the expired rows of Django's django_session table (SESSION_DJANGO_TABLE),
// as Django's clearsessions would, and prints "deleted N expired Django
// sessions from django_session"; SESSION_STORE may then be unset.
//
//	10 3 * * *  SESSION_STORE=mysql SESSION_MYSQL_DSN='user:password@tcp(db:3306)/app' sessionkit clear-expired
//	10 3 * * *  SESSION_STORE=sqlite SESSION_SQLITE_PATH=/var/lib/app/sessions.db sessionkit clear-expired
//
// An SQLite file may be cleared while the application runs: the
// command's batches and the application's writes wait for each other
// (the store's busy timeout).
//
// # migrate
//
// migrate creates what the store needs before it is used: the MySQL,
// PostgreSQL or SQLite tables, the sessions' and the user index's, and
// their indexes (CREATE TABLE IF NOT EXISTS, also behind a cache; the
// user in the DSN needs the CREATE privilege). It is safe to run on every
// deployment; for the other stores there is nothing to create.
//
// # ping
//
// ping checks that the store answers: it looks up a session key that does
// not exist, in the store and, for SESSION_STORE=cached, in the cache and
// the backing store separately, and prints one line per store with the
// time it took. A MySQL, PostgreSQL or SQLite table that is missing is
// reported (run migrate).
//
// # Exit status
//
//	0  success
//	1  the command failed: the value does not verify, is malformed or has
//	   expired; a store does not answer or an operation on it failed
//	2  bad usage: an unknown command, flag or argument
//	3  bad configuration: a SESSION_* variable is missing or invalid, or
//	   SESSION_STORE names no store the command can work on
//
// Errors go to standard error; results to standard output. An interrupt
// or SIGTERM stops a command early (status 1).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sessionkit/session"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitConfig = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	name    string
	args    string // the synopsis after the flags
	summary string // one line, for the list of commands
	help    string // what -h says about the command
	// flags declares the command's flags on fs and returns the function
	// that runs it with the arguments left.
	flags func(fs *flag.FlagSet) func(ctx context.Context, env *env, args []string) error
}

// env is what a command reads and writes besides its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

var commands = []*command{keygenCmd, decodeCmd, clearExpiredCmd, migrateCmd, pingCmd}

func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// usageError is bad usage: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// configError is bad configuration: exit status 3, like any error that
// matches session.ErrConfig.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configf(format string, args ...any) error {
	return &configError{fmt.Sprintf(format, args...)}
}

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(rest) == 0 || name != "help" {
			usage(stdout)
			return exitOK
		}
		c := lookupCommand(rest[0])
		if c == nil {
			fmt.Fprintf(stderr, "sessionkit help: unknown command %q\n", rest[0])
			return exitUsage
		}
		name, rest = c.name, []string{"-h"}
	}
	c := lookupCommand(name)
	if c == nil {
		fmt.Fprintf(stderr, "sessionkit: unknown command %q\n\n", name)
		usage(stderr)
		return exitUsage
	}
	fs := flag.NewFlagSet("sessionkit "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	do := c.flags(fs)
	fs.Usage = func() { commandUsage(fs.Output(), c, fs) }
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(stdout, c, fs)
			return exitOK
		}
		return exitUsage // the flag package has said what is wrong
	}
	err := do(ctx, e, fs.Args())
	var ue *usageError
	var ce *configError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sessionkit %s: %v\n", c.name, err)
		fs.SetOutput(stderr)
		fs.Usage()
		return exitUsage
	case errors.As(err, &ce), errors.Is(err, session.ErrConfig):
		fmt.Fprintf(stderr, "sessionkit %s: %v\n", c.name, err)
		return exitConfig
	}
	fmt.Fprintf(stderr, "sessionkit %s: %v\n", c.name, err)
	return exitFailed
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sessionkit COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "  help COMMAND   the flags and arguments of a command")
	fmt.Fprintln(w)
	fmt.Fprint(w, exitStatuses)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The commands read the SESSION_* variables of the application (session.ConfigFromEnv, package sessionenv).")
}

const exitStatuses = `Exit status:
  0  success
  1  the command failed (a value does not verify or has expired, a store does not answer)
  2  bad usage
  3  bad configuration (a SESSION_* variable is missing or invalid)
`

func commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	synopsis := "sessionkit " + c.name
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		synopsis += " [flags]"
	}
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "usage: %s\n\n%s\n", synopsis, strings.TrimSpace(c.help))
	if hasFlags {
		fmt.Fprintln(w, "\nFlags:")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, exitStatuses)
}

// noArgs refuses arguments for a command that takes none.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}
