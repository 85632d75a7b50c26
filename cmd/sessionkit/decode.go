package main

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/sessionenv"
)

var decodeCmd = &command{
	name:    "decode",
	args:    "[VALUE | -]",
	summary: "verify and decode a session cookie, or a blob from the store",
	help: `Verifies VALUE, a session cookie's value (read from standard input when
VALUE is absent or "-"; NAME=VALUE as copied from a Cookie header is
accepted), with SESSION_SECRET_KEY (or SESSION_SECRET_KEY_FILE) and the keys
of SESSION_SECRET_KEY_FALLBACKS, for the cookie SESSION_COOKIE_NAME names;
decrypts it; and prints it as JSON: its kind, the key that verified it,
whether it was encrypted, its serializer and compression, when it was created
and expires, its session ID, and its values with the Go type of each.

The server engine's cookie is a 64-character compact reference to a store
key: decode says so and prints the store key (the SHA-256 of the session key,
as the Manager computes it unless Config.StoreRawKeys is set). -load also
loads that session from the store SESSION_STORE names and decodes it.
-store-key decodes a blob from the store instead of a cookie: VALUE is the
blob and KEY the store key it is kept under.

A session past its expiry is printed with "expired": true, and the exit
status is 1.`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		storeKey := fs.String("store-key", "", "decode a blob from the store, kept under this store `key`, instead of a cookie")
		load := fs.Bool("load", false, "for a reference, also load the session from the store SESSION_STORE names and decode it")
		return func(ctx context.Context, e *env, args []string) error {
			return decode(ctx, e, args, *storeKey, *load)
		}
	},
}

// decoded is what decode prints.
type decoded struct {
	// Kind is "data" (the session itself) or "reference" (a pointer to
	// the store).
	Kind string `json:"kind"`
	// Format is, for a reference, "compact" (the server engine's
	// 64-character cookie) or "encoded" (the older, sealed form).
	Format string `json:"format,omitempty"`
	// VerifiedWith names the key that verified the value.
	VerifiedWith string `json:"verified_with"`
	// Encryption is "encrypted", "signed only", or "none" for a compact
	// reference (its key is a random secret; a tag binds it to the
	// cookie).
	Encryption  string     `json:"encryption"`
	Serializer  string     `json:"serializer,omitempty"`
	Compression string     `json:"compression,omitempty"`
	Created     *time.Time `json:"created"`
	Expires     *time.Time `json:"expires"`
	Expired     bool       `json:"expired"`
	ID          string     `json:"id,omitempty"`
	// StoreKey is, for a reference, the key the store keeps the session
	// under.
	StoreKey string            `json:"store_key,omitempty"`
	Values   map[string]any    `json:"values,omitempty"`
	Types    map[string]string `json:"types,omitempty"`
	// Session is, with -load, the stored session a reference points to.
	Session *decoded `json:"session,omitempty"`
}

// verifier is one configured key, as a codec of its own, so that decode
// can tell which key verified a value.
type verifier struct {
	name   string
	secret []byte
	codec  *codec.Codec
}

func decode(ctx context.Context, e *env, args []string, storeKey string, load bool) error {
	if len(args) > 1 {
		return usagef("unexpected argument %q: give one value", args[1])
	}
	if storeKey != "" {
		if err := server.ValidateKey(storeKey); err != nil {
			return usagef("-store-key %q: %v", storeKey, err)
		}
		if load {
			return usagef("-load and -store-key: -load follows a cookie's reference; give one or the other")
		}
	}
	value := "-"
	if len(args) == 1 {
		value = args[0]
	}
	if value == "-" {
		b, err := io.ReadAll(io.LimitReader(e.stdin, codec.DefaultMaxLength+1))
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
		value = string(b)
	}
	value = strings.TrimSpace(value)

	cfg, err := session.ConfigFromEnv()
	if err != nil {
		return err
	}
	if len(cfg.SecretKey) == 0 {
		return configf("SESSION_SECRET_KEY (or SESSION_SECRET_KEY_FILE) is not set: decode needs the key the value was sealed with")
	}
	verifiers, err := newVerifiers(cfg)
	if err != nil {
		return err
	}
	name := cfg.CookieName
	if name == "" {
		name = "sessionid"
	}
	value = strings.TrimPrefix(value, name+"=")
	if value == "" {
		return usagef("no value to decode")
	}

	var out *decoded
	switch {
	case storeKey != "":
		out, err = decodeValue(verifiers, storeKey, value)
	case codec.IsRef(value):
		out, err = decodeRef(verifiers, name, value)
	default:
		out, err = decodeValue(verifiers, name, value)
	}
	if err != nil {
		return err
	}
	if load && out.Kind == "reference" {
		if out.Session, err = loadStored(ctx, verifiers, out.StoreKey); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.stdout, "%s\n", b); err != nil {
		return err
	}
	for d := out; d != nil; d = d.Session {
		if d.Expired {
			return fmt.Errorf("the session expired at %s", d.Expires.Format(time.RFC3339))
		}
	}
	return nil
}

// newVerifiers returns a codec for each configured key, current first.
func newVerifiers(cfg session.Config) ([]verifier, error) {
	vs := []verifier{{name: "SESSION_SECRET_KEY", secret: cfg.SecretKey}}
	for i, k := range cfg.SecretKeyFallbacks {
		vs = append(vs, verifier{name: fmt.Sprintf("SESSION_SECRET_KEY_FALLBACKS[%d]", i+1), secret: k})
	}
	for i := range vs {
		c, err := codec.New(codec.Config{Secret: vs[i].secret})
		if err != nil {
			return nil, configf("%s: %v", vs[i].name, err)
		}
		vs[i].codec = c
	}
	return vs, nil
}

// errNoKey is a value that no configured key verifies.
var errNoKey = errors.New("the value does not verify with SESSION_SECRET_KEY or any key of SESSION_SECRET_KEY_FALLBACKS: it was altered, made for another cookie name or store key, or sealed with a key that is not configured")

// decodeValue verifies and decodes an encoded value (a cookie's data or
// reference, or a store blob) sealed for purpose.
func decodeValue(vs []verifier, purpose, value string) (*decoded, error) {
	for _, v := range vs {
		d, err := v.codec.Decode(purpose, value)
		expired := errors.Is(err, codec.ErrExpired)
		if expired {
			// Decode again as of just before the expiry, to show it.
			at := d.Expires.Add(-time.Second)
			c, cerr := codec.New(codec.Config{Secret: v.secret, Now: func() time.Time { return at }})
			if cerr != nil {
				return nil, cerr
			}
			d, err = c.Decode(purpose, value)
		}
		switch {
		case errors.Is(err, codec.ErrInvalid):
			continue // perhaps another key
		case err != nil:
			return nil, err
		}
		out := &decoded{
			Kind:         d.Kind.String(),
			VerifiedWith: v.name,
			Encryption:   "encrypted",
			Serializer:   d.Serializer,
			Compression:  d.Compression,
			Created:      timeOrNil(d.Created),
			Expires:      timeOrNil(d.Expires),
			Expired:      expired,
		}
		if d.Stale&codec.StaleMode != 0 {
			out.Encryption = "signed only"
		}
		if !d.ID.IsZero() {
			out.ID = base64.RawURLEncoding.EncodeToString(d.ID[:])
		}
		switch d.Kind {
		case codec.KindData:
			out.Values, out.Types = printable(d.Values)
			if out.Values == nil {
				out.Values = map[string]any{}
			}
		case codec.KindReference:
			out.Format = "encoded"
			out.StoreKey = storeKeyOf(d.Ref)
		}
		return out, nil
	}
	return nil, errNoKey
}

// decodeRef verifies a compact reference made for the cookie name.
func decodeRef(vs []verifier, name, value string) (*decoded, error) {
	for _, v := range vs {
		raw, _, err := v.codec.OpenRef(name, value)
		switch {
		case errors.Is(err, codec.ErrInvalid):
			continue
		case err != nil:
			return nil, err
		}
		return &decoded{
			Kind:         codec.KindReference.String(),
			Format:       "compact",
			VerifiedWith: v.name,
			Encryption:   "none",
			StoreKey:     storeKeyOf(sessionKey(raw)),
		}, nil
	}
	return nil, errNoKey
}

// loadStored loads the blob under storeKey from the store the environment
// names, and decodes it.
func loadStored(ctx context.Context, vs []verifier, storeKey string) (*decoded, error) {
	cfg, closeStore, err := sessionenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	if cfg.Store == nil {
		return nil, configf("-load needs the store: set SESSION_STORE (and its variables)")
	}
	blob, err := cfg.Store.Load(ctx, storeKey)
	if errors.Is(err, server.ErrNotFound) {
		return nil, fmt.Errorf("the store has no session under %s: it expired, was deleted, or lives in another store", storeKey)
	}
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", storeKey, err)
	}
	return decodeValue(vs, storeKey, string(blob))
}

// keyEncoding spells session keys, as the Manager does.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// sessionKey spells the 32 bytes of a compact reference as the session key
// they are.
func sessionKey(raw [codec.RefKeyLen]byte) string { return keyEncoding.EncodeToString(raw[:]) }

// storeKeyOf returns the store key of a session key: the hex SHA-256 of
// it, as the Manager computes it unless Config.StoreRawKeys is set.
func storeKeyOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// printable returns values as JSON can print them (NaN and infinities as
// text) and the Go type of each.
func printable(values map[string]any) (map[string]any, map[string]string) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(values))
	types := make(map[string]string, len(values))
	for k, v := range values {
		out[k] = printableValue(v)
		types[k] = fmt.Sprintf("%T", v)
	}
	return out, types
}

func printableValue(v any) any {
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprint(v)
		}
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Sprint(v)
		}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = printableValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = printableValue(e)
		}
		return out
	}
	return v
}
