package session

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/cookie"
	"github.com/sessionkit/session/serializer"
	"github.com/sessionkit/session/server"
)

// Engine names where sessions live.
type Engine string

// The engines.
const (
	// EngineCookie keeps the whole session in the cookie (the default).
	EngineCookie Engine = "cookie"
	// EngineServer keeps the session in Config.Store; the cookie carries
	// a reference to it: the random session key and a MAC over it.
	EngineServer Engine = "server"
	// EngineAuto keeps the session in the cookie while it fits and moves
	// it to Config.Store when it does not.
	EngineAuto Engine = "auto"
)

// DefaultCookieAge is Django's SESSION_COOKIE_AGE: two weeks.
const DefaultCookieAge = 14 * 24 * time.Hour

// Config configures a Manager. The zero value of every field is a safe
// default (Django's, where Django has one); only SecretKey is required.
type Config struct {
	// Engine is where sessions live; empty means EngineCookie. Whatever
	// the engine, the Manager reads every kind of session cookie it can,
	// so changing the engine logs nobody out.
	Engine Engine
	// Store keeps server-side sessions. It is required by EngineServer
	// and EngineAuto.
	Store server.Store
	// StoreRawKeys stores sessions under their raw session keys. By
	// default a store only sees the SHA-256 of each key, so a leaked table
	// yields no usable session.
	StoreRawKeys bool

	// SecretKey signs and encrypts every session: at least 32 bytes of
	// random data (SESSION_SECRET_KEY).
	SecretKey []byte
	// SecretKeyFallbacks are earlier secret keys, still accepted on read
	// and replaced by SecretKey on the next response
	// (SESSION_SECRET_KEY_FALLBACKS).
	SecretKeyFallbacks [][]byte
	// Serializer writes sessions: "msgpack" (default), "json" or "gob".
	// Sessions written by any of them stay readable.
	Serializer string
	// Compression for sessions above a few hundred bytes: "auto" (the
	// default: s2 for mid-sized sessions, zstd from half a kilobyte, where
	// it is markedly smaller), "s2", "zstd" or "none".
	Compression string
	// SignOnly turns encryption off: cookies are authenticated but their
	// content is readable by the client.
	SignOnly bool

	// CookieName is the session cookie's name; empty means "sessionid".
	CookieName string
	// CookieAge is the lifetime of a session that does not set its own
	// expiry; zero means DefaultCookieAge.
	CookieAge time.Duration
	// CookieDomain, CookiePath ("/" when empty), CookieSecure and
	// CookieSameSite (Lax when zero; http.SameSiteDefaultMode omits it) are
	// the cookie's attributes.
	CookieDomain   string
	CookiePath     string
	CookieSecure   bool
	CookieSameSite http.SameSite
	// CookieScriptAccess drops HttpOnly from the cookie. Off by default.
	CookieScriptAccess bool
	// CookiePartitioned sets the CHIPS Partitioned attribute.
	CookiePartitioned bool
	// CookieMaxSize is the budget of the Set-Cookie header value,
	// attributes included; zero means 4096, which is also the most New
	// accepts: browsers drop a cookie whose name and value pass 4096
	// bytes.
	CookieMaxSize int

	// TokenHeader turns on the token transport, for API and mobile clients
	// that keep no cookies: it names the request header that carries the
	// session token (SESSION_TOKEN_HEADER), "Session-Token" for example;
	// "Authorization" reads the Bearer scheme (Authorization: Bearer
	// <token>) and nothing else. A token is exactly the value the session
	// cookie would hold, made and read by the same codec within the same
	// budget (CookieMaxSize), so every engine works with it.
	//
	// A request that carries the header uses the token and only the token:
	// its cookies are neither read nor written, and the response carries
	// the session's new token in TokenResponseHeader whenever it is not the
	// one the request sent (a new session, CycleKey, a move between
	// engines, a rewrite in the current format; with EngineCookie every
	// save), or that header empty when the session ended (Flush) or the
	// token named none. A client without a token asks for one by sending
	// the header empty ("Authorization: Bearer" with no token). Every
	// other request uses the cookie, unless TokenOnly is set.
	TokenHeader string
	// TokenResponseHeader is the response header that carries a new token
	// (SESSION_TOKEN_RESPONSE_HEADER). Empty means TokenHeader, or
	// "Session-Token" when TokenHeader is "Authorization".
	TokenResponseHeader string
	// TokenOnly turns the session cookie off (SESSION_TOKEN_ONLY): every
	// request uses the token transport, so a request without TokenHeader
	// starts a new session, whose token the response carries if it is
	// saved. It needs TokenHeader.
	TokenOnly bool

	// SaveEveryRequest saves a non-empty session on every response, not
	// only when it was modified.
	SaveEveryRequest bool
	// ExpireAtBrowserClose makes session cookies last until the browser
	// closes, for sessions that do not set their own expiry.
	ExpireAtBrowserClose bool
	// MaxLifetime caps a session's life from its creation, however active
	// it is (scs' Lifetime, fiber's AbsoluteTimeout). CycleKey keeps the
	// creation time; Flush ends the session. Zero means no cap
	// (SESSION_MAX_LIFETIME, in seconds).
	MaxLifetime time.Duration
	// RefreshThreshold limits the rewrites of SaveEveryRequest: a session
	// that was not modified is saved again only when that pushes its
	// expiry later by at least this fraction of its age. Zero means 0.1
	// (a two-week session is refreshed at most about daily); a negative
	// value rewrites on every request, as Django does.
	RefreshThreshold float64

	// ErrorHandler writes the response when the session cannot be loaded
	// or saved before the response has started. The headers the handler
	// set are reset before it runs: only security policies
	// (Strict-Transport-Security, Content-Security-Policy, X-Frame-Options
	// and the like), Vary and X-Request-Id are kept, and Cache-Control is
	// no-store. Nil means a plain-text response: 400 for ErrInterrupted,
	// 500 otherwise.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// OnError, if set, is called with every session error, including
	// those that come after the response has started and so cannot
	// change it (a session modified after the first byte was written).
	OnError func(r *http.Request, err error)
	// Logger receives security and operational log lines. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Registry keeps the user index: which sessions each user has (for
	// Manager.UserSessions and the Revoke methods), and what lets a
	// session bound to a user (Session.Login) be revoked on every engine.
	// Nil means Store, if it implements server.Index (every store of this
	// module does); EngineCookie has no Store, so with it a Registry is
	// what makes a cookie session revocable. A session bound to a user is
	// checked against it at most once per RevalidateInterval, so a
	// revocation reaches a cookie session within that interval, while
	// other requests of the session read nothing from it.
	Registry server.Index
	// RevalidateInterval is how often, at most, a session bound to a user
	// is checked against the Registry, its "last seen" moved, and the
	// global not-before (Manager.RevokeAll) read again; zero means
	// DefaultRevalidateInterval, a minute (SESSION_REVALIDATE_INTERVAL,
	// in seconds).
	RevalidateInterval time.Duration
	// MaxUserSessions caps how many sessions a user may have at once; zero
	// means no cap (SESSION_MAX_USER_SESSIONS). At the cap, Login is
	// refused with ErrTooManySessions, unless EndOldestSession is set
	// (SESSION_END_OLDEST_SESSION): then the session that logged in
	// longest ago is ended to make room. A session abandoned without a
	// logout counts until it expires. It needs a Registry.
	MaxUserSessions  int
	EndOldestSession bool
	// RecordClientAddr keeps the client address (the host of
	// http.Request.RemoteAddr) of a user's session in the index, for
	// UserSessions; off by default, as it is personal data
	// (SESSION_RECORD_CLIENT_ADDR). Behind a proxy, set RemoteAddr from the
	// forwarded address in a middleware of your own before this one.
	RecordClientAddr bool
	// NotBefore refuses, on every engine, every session created before it
	// and every session whose user logged in before it: set it when moving
	// from the cookie engine to the server engine, or after a breach, so
	// that no cookie copied before that moment is accepted
	// (SESSION_NOT_BEFORE, RFC 3339). Manager.RevokeAll sets the same kind
	// of instant at run time, in the Registry.
	NotBefore time.Time

	// Django, if not nil, makes the Manager read Django's sessions (its
	// signed_cookies and, with DjangoConfig.Store, its db engine) and, in
	// DjangoShare mode, write them.
	Django *DjangoConfig

	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

func (c *Config) withDefaults() {
	if c.Engine == "" {
		c.Engine = EngineCookie
	}
	if c.Serializer == "" {
		c.Serializer = "msgpack"
	}
	if c.Compression == "" {
		c.Compression = codec.DefaultCompression
	}
	if c.CookieName == "" {
		c.CookieName = "sessionid"
	}
	if c.CookieAge == 0 {
		c.CookieAge = DefaultCookieAge
	}
	if c.CookiePath == "" {
		c.CookiePath = "/"
	}
	if c.CookieSameSite == 0 {
		c.CookieSameSite = http.SameSiteLaxMode
	}
	if c.CookieMaxSize == 0 {
		c.CookieMaxSize = cookie.DefaultMaxSize
	}
	if c.RefreshThreshold == 0 {
		c.RefreshThreshold = 0.1
	}
	if c.RevalidateInterval == 0 {
		c.RevalidateInterval = DefaultRevalidateInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// ErrConfig is matched by errors.Is for every configuration error.
var ErrConfig = errors.New("session: invalid configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// ConfigFromEnv reads a Config from environment variables named after
// Django's settings. Unset variables keep their defaults; a bad value is an
// error that names the variable and the accepted values.
//
//	SESSION_ENGINE                   cookie | server | auto
//	SESSION_SECRET_KEY               at least 32 bytes
//	SESSION_SECRET_KEY_FILE          or a file that holds it
//	SESSION_SECRET_KEY_FALLBACKS     earlier keys, comma-separated, newest first
//	SESSION_SECRET_KEY_FALLBACKS_FILE  or a file of them, one per line
//	SESSION_SERIALIZER               msgpack | json | gob
//	SESSION_COMPRESSION              auto | s2 | zstd | none
//	SESSION_SIGN_ONLY                true | false
//	SESSION_COOKIE_NAME              default sessionid
//	SESSION_COOKIE_AGE               seconds, default 1209600
//	SESSION_COOKIE_DOMAIN
//	SESSION_COOKIE_PATH              default /
//	SESSION_COOKIE_SECURE            true | false
//	SESSION_COOKIE_HTTPONLY          true | false (default true)
//	SESSION_COOKIE_SAMESITE          Lax | Strict | None
//	SESSION_COOKIE_PARTITIONED       true | false
//	SESSION_SAVE_EVERY_REQUEST       true | false
//	SESSION_EXPIRE_AT_BROWSER_CLOSE  true | false
//	SESSION_MAX_LIFETIME             seconds from creation, default none
//	SESSION_TOKEN_HEADER             the token's request header, default none
//	SESSION_TOKEN_RESPONSE_HEADER    the new token's response header
//	SESSION_TOKEN_ONLY               true | false
//	SESSION_REVALIDATE_INTERVAL      seconds, default 60
//	SESSION_MAX_USER_SESSIONS        sessions per user, default no limit
//	SESSION_END_OLDEST_SESSION       true | false
//	SESSION_RECORD_CLIENT_ADDR       true | false
//	SESSION_NOT_BEFORE               RFC 3339 time, default none
//	SESSION_DJANGO                   share | migrate: Config.Django's Mode; unset: no Django
//	SESSION_DJANGO_ENGINE            Django's SESSION_ENGINE, as in its settings:
//	                                 django.contrib.sessions.backends.db (Django's default),
//	                                 .signed_cookies or .cached_db
//	SESSION_DJANGO_SECRET_KEY        Django's SECRET_KEY (required with SESSION_DJANGO)
//	SESSION_DJANGO_SECRET_KEY_FILE   or a file that holds it
//	SESSION_DJANGO_SECRET_KEY_FALLBACKS       Django's SECRET_KEY_FALLBACKS, comma-separated
//	SESSION_DJANGO_SECRET_KEY_FALLBACKS_FILE  or a file of them, one per line
//
// SESSION_DJANGO is the switch between sharing sessions with a running
// Django (share) and moving them into this package's format (migrate):
// the other SESSION_DJANGO_* variables stay as they are, and are an
// error without it. Django's db and cached_db engines need Django's table
// as Config.Django.Store, which package sessionenv opens.
//
// A secret is its bytes exactly as given, in the variable and in the
// fallbacks alike; a secret with leading or trailing whitespace is an
// error rather than silently trimmed, so that a key reads the same as the
// current secret and as a fallback. A *_FILE variable names a file (a
// Docker or Kubernetes secret): its content is the value, except that one
// final newline ("\n" or "\r\n") is not part of the last key. Setting a
// variable and its *_FILE both is an error. A key written "base64:" and
// standard base64 is the bytes the base64 spells, whatever they are (a key
// that held whitespace when it was used as it was, say).
//
// The store of the server and auto engines is not built from the
// environment here, since each store lives in its own package.
func ConfigFromEnv() (Config, error) { return configFromLookup(os.LookupEnv) }

func configFromLookup(lookup func(string) (string, bool)) (Config, error) {
	var c Config
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	boolean := func(name string, dst *bool) {
		v, ok := lookup(name)
		if !ok {
			return
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, configErr("%s=%q: want true or false", name, v))
			return
		}
		*dst = b
	}
	oneOf := func(name string, dst *string, accepted ...string) {
		v, ok := lookup(name)
		if !ok {
			return
		}
		for _, a := range accepted {
			if strings.EqualFold(strings.TrimSpace(v), a) {
				*dst = a
				return
			}
		}
		errs = append(errs, configErr("%s=%q: want one of %s", name, v, strings.Join(accepted, ", ")))
	}

	var engine string
	oneOf("SESSION_ENGINE", &engine, string(EngineCookie), string(EngineServer), string(EngineAuto))
	c.Engine = Engine(engine)
	if keys, err := secretsFromEnv(lookup, "SESSION_SECRET_KEY", false); err != nil {
		errs = append(errs, err)
	} else if len(keys) > 0 {
		c.SecretKey = keys[0]
	}
	if keys, err := secretsFromEnv(lookup, "SESSION_SECRET_KEY_FALLBACKS", true); err != nil {
		errs = append(errs, err)
	} else {
		c.SecretKeyFallbacks = keys
	}
	oneOf("SESSION_SERIALIZER", &c.Serializer, serializer.Names()...)
	oneOf("SESSION_COMPRESSION", &c.Compression, codec.CompressionNames()...)
	boolean("SESSION_SIGN_ONLY", &c.SignOnly)
	str("SESSION_COOKIE_NAME", &c.CookieName)
	if v, ok := lookup("SESSION_COOKIE_AGE"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 {
			errs = append(errs, configErr("SESSION_COOKIE_AGE=%q: want a positive number of seconds", v))
		} else {
			c.CookieAge = time.Duration(n) * time.Second
		}
	}
	if v, ok := lookup("SESSION_MAX_LIFETIME"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, configErr("SESSION_MAX_LIFETIME=%q: want a number of seconds (0: no limit)", v))
		} else {
			c.MaxLifetime = time.Duration(n) * time.Second
		}
	}
	str("SESSION_COOKIE_DOMAIN", &c.CookieDomain)
	str("SESSION_COOKIE_PATH", &c.CookiePath)
	boolean("SESSION_COOKIE_SECURE", &c.CookieSecure)
	httpOnly := true
	boolean("SESSION_COOKIE_HTTPONLY", &httpOnly)
	c.CookieScriptAccess = !httpOnly
	var sameSite string
	oneOf("SESSION_COOKIE_SAMESITE", &sameSite, "Lax", "Strict", "None")
	c.CookieSameSite = map[string]http.SameSite{"": 0, "Lax": http.SameSiteLaxMode, "Strict": http.SameSiteStrictMode, "None": http.SameSiteNoneMode}[sameSite]
	boolean("SESSION_COOKIE_PARTITIONED", &c.CookiePartitioned)
	boolean("SESSION_SAVE_EVERY_REQUEST", &c.SaveEveryRequest)
	boolean("SESSION_EXPIRE_AT_BROWSER_CLOSE", &c.ExpireAtBrowserClose)
	str("SESSION_TOKEN_HEADER", &c.TokenHeader)
	str("SESSION_TOKEN_RESPONSE_HEADER", &c.TokenResponseHeader)
	boolean("SESSION_TOKEN_ONLY", &c.TokenOnly)
	if v, ok := lookup("SESSION_REVALIDATE_INTERVAL"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 {
			errs = append(errs, configErr("SESSION_REVALIDATE_INTERVAL=%q: want a positive number of seconds", v))
		} else {
			c.RevalidateInterval = time.Duration(n) * time.Second
		}
	}
	if v, ok := lookup("SESSION_MAX_USER_SESSIONS"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			errs = append(errs, configErr("SESSION_MAX_USER_SESSIONS=%q: want a number of sessions (0: no limit)", v))
		} else {
			c.MaxUserSessions = n
		}
	}
	boolean("SESSION_END_OLDEST_SESSION", &c.EndOldestSession)
	boolean("SESSION_RECORD_CLIENT_ADDR", &c.RecordClientAddr)
	if v, ok := lookup("SESSION_NOT_BEFORE"); ok && strings.TrimSpace(v) != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, configErr("SESSION_NOT_BEFORE=%q: want an RFC 3339 time, such as 2026-12-01T09:00:00Z", v))
		} else {
			c.NotBefore = t
		}
	}
	if d, err := djangoFromLookup(lookup); err != nil {
		errs = append(errs, err)
	} else {
		c.Django = d
	}
	return c, errors.Join(errs...)
}

// djangoFromLookup reads the SESSION_DJANGO* variables: nil when
// SESSION_DJANGO is unset.
func djangoFromLookup(lookup func(string) (string, bool)) (*DjangoConfig, error) {
	names := []string{"SESSION_DJANGO_ENGINE", "SESSION_DJANGO_SECRET_KEY", "SESSION_DJANGO_SECRET_KEY_FILE", "SESSION_DJANGO_SECRET_KEY_FALLBACKS", "SESSION_DJANGO_SECRET_KEY_FALLBACKS_FILE"}
	mode, ok := lookup("SESSION_DJANGO")
	if !ok {
		for _, n := range names {
			if _, set := lookup(n); set {
				return nil, configErr("%s is set but SESSION_DJANGO is not: set SESSION_DJANGO to share or migrate", n)
			}
		}
		return nil, nil
	}
	d := &DjangoConfig{Engine: DjangoDB}
	switch m := DjangoMode(strings.ToLower(strings.TrimSpace(mode))); m {
	case DjangoShare, DjangoMigrate:
		d.Mode = m
	default:
		return nil, configErr("SESSION_DJANGO=%q: want share or migrate", mode)
	}
	var errs []error
	if v, ok := lookup("SESSION_DJANGO_ENGINE"); ok {
		switch e := DjangoEngine(strings.TrimSpace(v)); e {
		case DjangoDB, DjangoCachedDB, DjangoSignedCookies:
			d.Engine = e
		default:
			errs = append(errs, configErr("SESSION_DJANGO_ENGINE=%q: want Django's SESSION_ENGINE, one of %s, %s, %s", v, DjangoDB, DjangoSignedCookies, DjangoCachedDB))
		}
	}
	if keys, err := secretsFromEnv(lookup, "SESSION_DJANGO_SECRET_KEY", false); err != nil {
		errs = append(errs, err)
	} else if len(keys) == 0 {
		errs = append(errs, configErr("SESSION_DJANGO=%s needs SESSION_DJANGO_SECRET_KEY (or SESSION_DJANGO_SECRET_KEY_FILE): Django's SECRET_KEY", d.Mode))
	} else {
		d.SecretKey = keys[0]
	}
	if keys, err := secretsFromEnv(lookup, "SESSION_DJANGO_SECRET_KEY_FALLBACKS", true); err != nil {
		errs = append(errs, err)
	} else {
		d.Fallbacks = keys
	}
	return d, errors.Join(errs...)
}

// secretsFromEnv reads the secret keys in the variable name or in the file
// that name+"_FILE" points to. A list (the fallbacks) is comma-separated in
// the variable and one key per line in the file; empty entries are
// skipped. Whitespace around a key is an error: keys are raw bytes.
func secretsFromEnv(lookup func(string) (string, bool), name string, list bool) ([][]byte, error) {
	v, inVar := lookup(name)
	path, inFile := lookup(name + "_FILE")
	source := name
	switch {
	case inVar && inFile:
		return nil, configErr("both %s and %s_FILE are set: set one", name, name)
	case inFile:
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, configErr("%s_FILE: %v", name, err)
		}
		v, source = string(b), name+"_FILE "+path
		v = strings.TrimSuffix(v, "\n")
		v = strings.TrimSuffix(v, "\r")
	case !inVar:
		return nil, nil
	}
	parts := []string{v}
	if list {
		sep := ","
		if inFile {
			sep = "\n"
		}
		parts = strings.Split(v, sep)
	}
	var keys [][]byte
	for i, k := range parts {
		if inFile && list {
			k = strings.TrimSuffix(k, "\r")
		}
		if list && strings.TrimSpace(k) == "" {
			continue
		}
		if strings.TrimSpace(k) != k {
			what := source
			if list {
				what = fmt.Sprintf("%s, key %d,", source, i+1)
			}
			return nil, configErr("%s has leading or trailing whitespace: a secret is used as its exact bytes, so remove the whitespace (a file may end in one newline)", what)
		}
		if b64, ok := strings.CutPrefix(k, "base64:"); ok {
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, configErr("%s: the key after \"base64:\" is not standard base64", source)
			}
			keys = append(keys, raw)
			continue
		}
		keys = append(keys, []byte(k))
	}
	return keys, nil
}
