package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"

	"github.com/sessionkit/session/codec"
)

var keygenCmd = &command{
	name:    "keygen",
	summary: "print a new secret key for SESSION_SECRET_KEY",
	help: `Prints a new secret key on one line: the standard base64 of random bytes
from crypto/rand. The configuration uses a secret as its exact bytes, and
this text is one: set SESSION_SECRET_KEY to it, or write it to the file of
SESSION_SECRET_KEY_FILE (its final newline is not part of the key).

  SESSION_SECRET_KEY=$(sessionkit keygen)
  sessionkit keygen > /run/secrets/session_key`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		n := fs.Int("bytes", 32, fmt.Sprintf("how many random bytes (at least %d)", codec.MinSecretLen))
		return func(_ context.Context, e *env, args []string) error {
			if err := noArgs(args); err != nil {
				return err
			}
			if *n < codec.MinSecretLen || *n > 1024 {
				return usagef("-bytes %d: want %d to 1024", *n, codec.MinSecretLen)
			}
			b := make([]byte, *n)
			rand.Read(b) // never fails (crypto/rand)
			_, err := fmt.Fprintln(e.stdout, base64.StdEncoding.EncodeToString(b))
			return err
		}
	},
}
