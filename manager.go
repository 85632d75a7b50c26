package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/cookie"
	"github.com/sessionkit/session/django"
	"github.com/sessionkit/session/internal/value"
	"github.com/sessionkit/session/serializer"
	"github.com/sessionkit/session/server"
)

// Errors that the middleware reports to Config.ErrorHandler and
// Config.OnError. Store and codec errors are wrapped, so errors.Is also
// matches server.ErrNotFound, cookie.ErrTooLarge and the like.
var (
	// ErrInterrupted is Django's SessionInterrupted: the session was
	// deleted (a logout in a concurrent request, say) while this request
	// was changing it. The default ErrorHandler answers 400.
	ErrInterrupted = errors.New("session: the request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example")
	// ErrStore wraps a failure of the server store while loading or saving.
	ErrStore = errors.New("session: store failure")
	// ErrLateChange reports a session changed after the response had
	// started: the change cannot be saved.
	ErrLateChange = errors.New("session: session changed after the response started; the change is not saved")
)

// Manager loads and saves sessions for an http.Handler. Build one per
// configuration with New and share it; it is safe for concurrent use.
type Manager struct {
	cfg   Config
	codec *codec.Codec
	jar   *cookie.Jar
	store server.Store
	sec   *slog.Logger
	// users is the user index; nil without one.
	users *users
	// django reads (and may write) Django's format; nil without Config.Django.
	django *djangoFormat
	// profile is the serializer's view of the value model: what it
	// reads each value back as.
	profile value.Profile
	// warned limits the warnings about skipped rewrites.
	warned warnOnce
	// insecureTLS is set once a request over TLS has been seen while
	// CookieSecure is off, and the warning logged.
	insecureTLS atomic.Bool
	// The token transport, when Config.TokenHeader is set: the request
	// header (canonical), whether it is Authorization's Bearer scheme,
	// the response header, and the Vary value for the request header.
	tokenHeader, tokenResponse string
	bearer                     bool
	varyToken                  []string
}

// New validates cfg and returns a Manager.
func New(cfg Config) (*Manager, error) {
	cfg.withDefaults()
	switch cfg.Engine {
	case EngineCookie:
	case EngineServer, EngineAuto:
		if cfg.Store == nil {
			return nil, configErr("engine %q needs a Store", cfg.Engine)
		}
	default:
		return nil, configErr("unknown engine %q (want cookie, server or auto)", cfg.Engine)
	}
	if len(cfg.SecretKey) == 0 {
		return nil, configErr("SecretKey is required: at least %d bytes of random data (for example the output of: head -c 32 /dev/urandom | base64)", codec.MinSecretLen)
	}
	if cfg.CookieAge < 0 {
		return nil, configErr("CookieAge must be positive")
	}
	ser, err := serializer.ByName(cfg.Serializer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c, err := codec.New(codec.Config{
		Secret:      cfg.SecretKey,
		Fallbacks:   cfg.SecretKeyFallbacks,
		Serializer:  ser,
		Compression: cfg.Compression,
		SignOnly:    cfg.SignOnly,
		Now:         cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	dj, err := newDjangoFormat(&cfg)
	if err != nil {
		return nil, err
	}
	jar, err := cookie.New(c, cookie.Options{
		Name:         cfg.CookieName,
		Domain:       cfg.CookieDomain,
		Path:         cfg.CookiePath,
		Secure:       cfg.CookieSecure,
		ScriptAccess: cfg.CookieScriptAccess,
		SameSite:     cfg.CookieSameSite,
		Partitioned:  cfg.CookiePartitioned,
		MaxSize:      cfg.CookieMaxSize,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	m := &Manager{
		cfg:     cfg,
		codec:   c,
		jar:     jar,
		store:   cfg.Store,
		django:  dj,
		sec:     cfg.Logger.With(slog.String("logger", "session.security")),
		profile: profiles[ser.ID()],
	}
	if err := m.setTokenTransport(); err != nil {
		return nil, err
	}
	if err := m.setUsers(); err != nil {
		return nil, err
	}
	return m, nil
}

// setTokenTransport checks and sets up the token transport of m.cfg.
func (m *Manager) setTokenTransport() error {
	cfg := m.cfg
	if cfg.TokenHeader == "" {
		if cfg.TokenOnly || cfg.TokenResponseHeader != "" {
			return configErr("TokenOnly and TokenResponseHeader need TokenHeader, the request header of the token")
		}
		return nil
	}
	resp := cfg.TokenResponseHeader
	req := http.CanonicalHeaderKey(cfg.TokenHeader)
	if resp == "" {
		resp = req
		if req == "Authorization" {
			resp = "Session-Token"
		}
	}
	resp = http.CanonicalHeaderKey(resp)
	for _, h := range [][2]string{{"TokenHeader", req}, {"TokenResponseHeader", resp}} {
		if !validHeaderName(h[1]) {
			return configErr("%s %q is not a valid header name", h[0], h[1])
		}
		switch h[1] {
		case "Cookie", "Set-Cookie":
			return configErr("%s cannot be %s", h[0], h[1])
		}
	}
	if resp == "Authorization" {
		return configErr("TokenResponseHeader cannot be Authorization, a request header")
	}
	m.tokenHeader, m.tokenResponse, m.bearer = req, resp, req == "Authorization"
	m.varyToken = []string{req}[:1:1]
	return nil
}

// validHeaderName reports whether name is an HTTP field name: one or more
// of RFC 9110's token characters.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// requestToken returns the session token that r carries in the token
// header, and whether r carries that header at all: an empty token asks
// for one. For Authorization, only the Bearer scheme counts.
func (m *Manager) requestToken(r *http.Request) (string, bool) {
	vs := r.Header[m.tokenHeader]
	if len(vs) == 0 {
		return "", false
	}
	v := strings.Trim(vs[0], " \t")
	if m.bearer {
		scheme, token, _ := strings.Cut(v, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		v = strings.TrimLeft(token, " ")
	}
	return v, true
}

// profiles are the built-in serializers' views of the value model.
var profiles = map[byte]value.Profile{
	serializer.MsgPackID: value.MsgPack,
	serializer.JSONID:    value.JSON,
	serializer.GobID:     value.Gob,
}

// check returns the error that saving v under key would meet, if any.
func (m *Manager) check(key string, v any) error {
	if err := value.Check(m.profile, v); err != nil {
		return &serializer.UnsupportedError{Serializer: m.codec.Serializer().Name(), Key: key, Path: err.Path, Type: err.Type, Err: err.Err}
	}
	return nil
}

// newSession returns the lazy session for an incoming cookie value.
func (m *Manager) newSession(ctx context.Context, r *http.Request, s *Session) {
	s.m, s.ctx, s.req = m, ctx, r
	if r != nil && m.tokenHeader != "" {
		if v, ok := m.requestToken(r); ok || m.cfg.TokenOnly {
			s.token = true
			s.cookieValue, s.hadCookie = v, v != ""
			return
		}
	}
	if r != nil {
		s.cookieValue, s.hadCookie = m.jar.Value(r)
		if r.TLS != nil && !m.cfg.CookieSecure && !m.insecureTLS.Load() && m.insecureTLS.CompareAndSwap(false, true) {
			m.sec.Warn("session: a request arrived over TLS but CookieSecure is off: the session cookie can also travel over plain HTTP; set CookieSecure (SESSION_COOKIE_SECURE=true)", "host", r.Host)
		}
	}
}

// openCookie verifies and decodes a session cookie value: a compact
// reference (its key in Ref) or an encoded value.
func (m *Manager) openCookie(value string) (codec.Decoded, error) {
	if m.django != nil && isDjangoValue(value) {
		return m.openDjango(value)
	}
	if !codec.IsRef(value) {
		return m.jar.Decode(value)
	}
	raw, stale, err := m.codec.OpenRef(m.jar.Name(), value)
	if err != nil {
		return codec.Decoded{}, err
	}
	var key [64]byte
	n := keyEncoding.EncodedLen(len(raw))
	keyEncoding.Encode(key[:n], raw[:])
	return codec.Decoded{Payload: codec.Payload{Kind: codec.KindReference, Ref: string(key[:n])}, Stale: stale}, nil
}

// resolve decodes the session cookie: a data cookie gives the values, a
// store reference the key. It runs with s.mu held.
func (m *Manager) resolve(s *Session) {
	first := s.cookieValue
	err := m.adopt(s, first)
	if err == nil || m.fallback(s, first) {
		return
	}
	s.cookieValue = first
	m.badValue(s, "cookie", err)
}

// fallback looks, among the request's other cookies of the session's name
// (another path or domain, or one tossed in by a sibling subdomain), for
// the first that verifies and, for a reference, whose stored session
// exists, and makes it the session. It is called only when the cookie
// tried does not verify or refers to a session that is gone, so a request
// with one good cookie pays nothing for it. It reports whether it found
// one; if not, the session is left empty, so that a bad cookie next to a
// good one costs nothing and only a request with no good one is treated
// as having a bad cookie. A token request reads no cookie.
func (m *Manager) fallback(s *Session, tried string) bool {
	if s.req != nil && !s.token {
		for v := range m.jar.Values(s.req) {
			if v == tried {
				continue
			}
			s.reset()
			if m.adopt(s, v) != nil {
				continue
			}
			if s.key == "" {
				return true // a data cookie
			}
			s.loaded = true
			m.loadStored(s)
			if s.key != "" || s.err != nil {
				return true // a live reference, or a store failure to report
			}
		}
	}
	s.reset()
	s.cookieValue = tried
	return false
}

// adopt makes value the session's cookie: it decodes it and takes its
// values (a data cookie) or its key (a reference). It returns the decode
// error of a value that does not verify.
func (m *Manager) adopt(s *Session, value string) error {
	if m.isDjangoKey(value) {
		s.cookieValue = value
		s.key, s.djangoKey = value, true
		return nil
	}
	d, err := m.openCookie(value)
	if err != nil {
		return err
	}
	s.cookieValue = value
	if m.lifetimeOver(d.Created) {
		m.cfg.Logger.Debug("session: session past its MaxLifetime", "where", "cookie")
		return nil
	}
	s.created, s.expires = d.Created, d.Expires
	if d.Stale != 0 {
		s.rewrite = true
		m.cfg.Logger.Info("session: rewriting a session cookie in the current format", "cookie", m.jar.Name(), "stale", d.Stale.String(), "serializer", d.Serializer, "compression", d.Compression)
	}
	switch d.Kind {
	case codec.KindData:
		s.values, s.loaded = d.Values, true
		if d.Serializer != "django" { // Django's format carries no ID
			s.adoptID(d.ID)
		} else {
			s.fromDjango = true
			// The moved mark is this package's, written only in its own
			// store entries: from a Django app, it is just dropped.
			delete(s.values, movedKey)
		}
		if m.cfg.Engine == EngineServer || m.django != nil && m.django.shareDB {
			s.rewrite = true // move it into the store, or into Django's table
		}
	case codec.KindReference:
		if m.store == nil {
			return errNoStore
		}
		s.key = d.Ref
		switch {
		case !codec.IsRef(value):
			if _, ok := compactKey(d.Ref); ok {
				s.rewrite = true // an encoded reference: send the compact one
			}
		case d.Stale == 0:
			s.ref, s.refFor = value, s.key // still good: not sealed again
		}
	}
	return nil
}

var errNoStore = errors.New("the cookie refers to a server store, but no Store is configured")

// compactKey returns the 32 bytes a session key spells, if it is one that
// newKey makes and so fits in a compact reference.
func compactKey(key string) (raw [codec.RefKeyLen]byte, ok bool) {
	if len(key) != keyEncoding.EncodedLen(len(raw)) {
		return raw, false
	}
	var buf [64]byte
	n, err := keyEncoding.Decode(buf[:], []byte(key))
	if err != nil || n != len(raw) {
		return raw, false
	}
	copy(raw[:], buf[:n])
	// One spelling only: the unused low bits of the last character are 0.
	var again [64]byte
	keyEncoding.Encode(again[:], raw[:])
	return raw, string(again[:len(key)]) == key
}

// reference returns the cookie value that points to the stored session
// s.key: the one the request carried when it is still good, else a new
// compact reference (or, for a key that does not fit in one, an encoded
// reference).
func (m *Manager) reference(s *Session, expires time.Time) (string, error) {
	if s.ref != "" && s.refFor == s.key {
		return s.ref, nil
	}
	if raw, ok := compactKey(s.key); ok {
		return m.codec.SealRef(m.jar.Name(), &raw), nil
	}
	return m.jar.Encode(codec.Payload{Kind: codec.KindReference, Ref: s.key, Expires: expires, Created: s.created})
}

// loadStored loads the session stored under s.key, dropping the key if the
// store does not have it. It runs with s.mu held.
func (m *Manager) loadStored(s *Session) {
	if s.djangoKey {
		m.loadDjango(s)
		return
	}
	key, rk := s.key, m.storeKey(s)
	s.key = "" // until the store confirms it: a client's key is never adopted
	blob, err := m.store.Load(s.ctx, rk)
	if m.loadFailed(s, "store", err) {
		return
	}
	// The store hands over a blob of its own, which nothing changes while
	// Decode reads it and Decode does not keep: no copy.
	d, err := m.codec.Decode(rk, unsafe.String(unsafe.SliceData(blob), len(blob)))
	if err != nil {
		m.badValue(s, "store", err)
		return
	}
	if m.lifetimeOver(d.Created) {
		m.cfg.Logger.Debug("session: session past its MaxLifetime", "where", "store")
		return
	}
	s.key, s.values, s.created, s.expires = key, d.Values, d.Created, d.Expires
	s.takeMoved()
	s.adoptID(d.ID)
	if d.Stale != 0 {
		s.rewrite = true
		m.cfg.Logger.Info("session: rewriting a stored session in the current format", "stale", d.Stale.String(), "serializer", d.Serializer, "compression", d.Compression)
	}
	if m.cfg.Engine == EngineCookie {
		s.rewrite = true // move it back into the cookie
	}
}

// loadFailed handles what loading s from a store (where names it for the
// logs) returned, and reports whether the load is over: a key the store
// does not have (expired, deleted, or not one it could hold) gives a new
// session, never under the old key; a blob larger than anything the codec
// writes, planted behind the store's back, is a bad value, not an outage;
// any other error is the request's store failure.
func (m *Manager) loadFailed(s *Session, where string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, server.ErrNotFound), errors.Is(err, server.ErrInvalidKey):
	case errors.Is(err, server.ErrTooLarge):
		m.badValue(s, where, err)
	default:
		s.err = fmt.Errorf("%w: loading: %w", ErrStore, err)
	}
	return true
}

// lifetimeOver reports whether a session created at created has outlived
// Config.MaxLifetime.
func (m *Manager) lifetimeOver(created time.Time) bool {
	return m.cfg.MaxLifetime > 0 && !created.IsZero() && !m.cfg.Now().Before(created.Add(m.cfg.MaxLifetime))
}

// refreshDue reports whether saving an unmodified session under
// SaveEveryRequest would move its expiry enough to be worth a write.
func (m *Manager) refreshDue(s *Session) bool {
	if s.expires.IsZero() || m.cfg.RefreshThreshold < 0 {
		return true
	}
	now := m.cfg.Now()
	moved := s.expiryDate(now).Sub(s.expires)
	return float64(moved) >= m.cfg.RefreshThreshold*float64(s.expiryAge(now))
}

// badValue handles a cookie or blob that does not decode: the client gets
// a new, empty session, and anything but plain expiry is logged as a
// security event.
func (m *Manager) badValue(s *Session, where string, err error) {
	if errors.Is(err, codec.ErrExpired) || errors.Is(err, django.ErrExpired) {
		m.cfg.Logger.Debug("session: expired session", "where", where, "err", err)
		return
	}
	attrs := []any{"where", where, "err", err}
	if s.req != nil {
		attrs = append(attrs, "remote_addr", s.req.RemoteAddr, "path", s.req.URL.Path)
	}
	m.sec.Warn("session data corrupted", attrs...)
}

func (m *Manager) rowKey(key string) string {
	if m.cfg.StoreRawKeys {
		return key
	}
	var sum [sha256.Size]byte
	if len(key) <= 64 {
		var b [64]byte
		sum = sha256.Sum256(b[:copy(b[:], key)])
	} else {
		sum = sha256.Sum256([]byte(key))
	}
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// storeKey returns the store key of s.key, computed once for each key.
func (m *Manager) storeKey(s *Session) string {
	if s.rk == "" || s.rkFor != s.key {
		s.rk, s.rkFor = m.rowKey(s.key), s.key
	}
	return s.rk
}

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newKey returns a new random session key: 256 bits from crypto/rand, 52
// characters of [a-z2-7].
func newKey() string {
	var b [32]byte
	rand.Read(b[:])
	return keyEncoding.EncodeToString(b[:])
}

func (m *Manager) deleteKey(ctx context.Context, key string) error {
	if m.store == nil {
		return nil
	}
	if err := m.store.Delete(ctx, m.rowKey(key)); err != nil {
		return fmt.Errorf("%w: deleting: %w", ErrStore, err)
	}
	return nil
}

func (m *Manager) lateChange(s *Session, key string) {
	err := fmt.Errorf("%w (key %q)", ErrLateChange, key)
	m.cfg.Logger.Error(err.Error())
	if m.cfg.OnError != nil {
		m.cfg.OnError(s.req, err)
	}
}

// commit runs Django's response algorithm for s, once, and adds the
// headers it calls for to h. status is the response's status code. An
// error means the response must become the error response; nothing was
// saved. first reports whether this call did the commit; later calls
// return the first one's error.
func (m *Manager) commit(s *Session, h http.Header, status int) (first bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		return false, s.commitErr
	}
	s.committed = true
	s.commitErr = m.commitLocked(s, h, status)
	return true, s.commitErr
}

// commitLocked is commit's algorithm; it runs with s.mu held.
func (m *Manager) commitLocked(s *Session, h http.Header, status int) error {
	if m.cfg.SaveEveryRequest && s.hadCookie {
		s.load() // every non-empty session is saved, so read it first
	}
	if s.err != nil {
		return s.err
	}
	empty := s.isEmpty()
	if empty && s.prior != nil && status < 500 {
		// Emptied after a key change: nothing is saved, and the identity
		// the session had ends now, as with Flush.
		if err := s.fail(m.endPrior(s.ctx, s)); err != nil {
			return err
		}
	}
	if s.hadCookie && empty && (!s.moved || s.modified) {
		// (A request that only read what a move or a key change left of
		// an old identity leaves the cookie alone: the browser may hold
		// the new one already.)
		if s.token {
			m.send(h, s, "", "")
		} else {
			m.send(h, s, m.jar.DeleteHeader(), "")
		}
		return nil
	}
	if s.accessed {
		m.vary(h)
	}
	if empty || status >= 500 {
		return nil
	}
	if !s.modified && !s.rewrite && !(m.cfg.SaveEveryRequest && m.refreshDue(s)) {
		return nil
	}
	hdr, value, err := m.save(s)
	if err != nil {
		if !s.modified {
			// A rewrite the handler did not ask for (an old format, key
			// or engine, a SaveEveryRequest refresh) must never fail the
			// request: the client keeps the cookie it has, which still
			// reads as this session.
			m.rewriteFailed(s, err)
			return nil
		}
		return err
	}
	m.send(h, s, hdr, value)
	return nil
}

// rewriteFailed logs, at WARN and once per cookie and cause, a rewrite
// that failed and was skipped.
func (m *Manager) rewriteFailed(s *Session, err error) {
	cause := "other"
	switch {
	case errors.Is(err, cookie.ErrTooLarge), errors.Is(err, codec.ErrTooLarge):
		cause = "too large"
	case errors.Is(err, serializer.ErrUnsupported), errors.Is(err, django.ErrUnsupported):
		cause = "unsupported value"
	case errors.Is(err, ErrInterrupted):
		cause = "deleted"
	case errors.Is(err, ErrStore):
		cause = "store"
	}
	if !m.warned.first(s.cookieValue, cause) {
		return
	}
	m.cfg.Logger.Warn("session: could not rewrite the session in the current format; it is served as read and the client keeps its cookie", "cause", cause, "err", err)
}

// warnOnce remembers which (cookie, cause) pairs have been warned about,
// so that a client that sends the same cookie on every request causes one
// log line, not one per request. It forgets everything when it is full.
type warnOnce struct {
	mu   sync.Mutex
	seed maphash.Seed
	seen map[uint64]struct{}
}

const warnOnceMax = 4096

// first reports whether value and cause have not been seen yet, and
// records them.
func (w *warnOnce) first(value, cause string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil || len(w.seen) >= warnOnceMax {
		w.seed = maphash.MakeSeed()
		w.seen = make(map[uint64]struct{})
	}
	var h maphash.Hash
	h.SetSeed(w.seed)
	h.WriteString(cause)
	h.WriteByte(0)
	h.WriteString(value)
	k := h.Sum64()
	if _, ok := w.seen[k]; ok {
		return false
	}
	w.seen[k] = struct{}{}
	return true
}

// send adds to h what carries the saved session s back to the client,
// with what keeps a shared cache from serving it to anyone else: Vary and,
// unless the handler chose a Cache-Control of its own, Cache-Control:
// private. On the cookie transport that is the Set-Cookie header hdr; on
// the token transport, the token value in the response header, unless it
// is the one the request carried ("" ends the client's token).
func (m *Manager) send(h http.Header, s *Session, hdr, value string) {
	if !s.token {
		h.Add("Set-Cookie", hdr)
	} else if value != s.cookieValue {
		h[m.tokenResponse] = []string{value}
	} else {
		return
	}
	m.vary(h)
	if _, ok := h["Cache-Control"]; !ok {
		h["Cache-Control"] = cachePrivate
	}
}

// vary adds to h the Vary of a response that depends on the session: the
// Cookie header, and the token header when tokens are on, since either
// can name the session.
func (m *Manager) vary(h http.Header) {
	if !m.cfg.TokenOnly {
		addVary(h, "Cookie", varyCookie)
	}
	if m.tokenHeader != "" {
		addVary(h, m.tokenHeader, m.varyToken)
	}
}

// Header values shared by every response that needs them: len == cap, so
// that an Add to the same header copies rather than writes into them.
var (
	cachePrivate = []string{"private"}[:1:1]
	varyCookie   = []string{"Cookie"}[:1:1]
)

// save writes s where the engine says and returns its Set-Cookie header
// and the cookie's value ("" when the save deletes the cookie).
func (m *Manager) save(s *Session) (hdr, value string, err error) {
	s.load()
	if s.moved {
		// Read from the entry a move into the cookie left: the session
		// lives in a newer cookie, which this save must not replace.
		return "", "", ErrInterrupted
	}
	switch {
	case m.django != nil && m.django.shareDB:
		hdr, value, err = m.saveDjango(s)
	case s.djangoKey:
		hdr, value, err = m.moveFromDjango(s)
	default:
		hdr, value, err = m.saveOwn(s)
	}
	if err != nil || s.prior == nil {
		return hdr, value, err
	}
	if value == "" {
		// The session expired: its old identity ends with it.
		return hdr, value, m.endPrior(s.ctx, s)
	}
	if err := m.retirePrior(s); err != nil {
		m.undoNew(s)
		return "", "", err
	}
	return hdr, value, nil
}

// retirePrior ends the identity that CycleKey or Login replaced, now that
// the new one is stored: its stored copy is deleted and its index entry
// removed. Unless a login replaced it (a fresh authentication), the old
// identity must still be there, which an Update of the stored copy (or,
// for a session kept in the cookie, a Touch of its entry) checks first:
// if a logout or a revocation ended the session while this request ran,
// that is ErrInterrupted, and the caller removes the new identity
// (undoNew), so that nothing brings the session back.
func (m *Manager) retirePrior(s *Session) error {
	p := s.prior
	s.prior = nil
	ctx, now := s.ctx, m.cfg.Now()
	var err error
	switch {
	case p.key != "" && p.djangoKey:
		if p.login {
			if err := m.deleteDjango(ctx, p.key); err != nil {
				return err
			}
			break
		}
		if p.bound {
			// A revocation does not delete Django's rows (an entry names
			// no store key for them): the entry tells. Checked first, so
			// that a failure leaves the row as it was.
			if err := m.checkPriorEntry(s, p, now); err != nil {
				return err
			}
		}
		if err := m.retireDjango(s, p.key, false); err != nil {
			return err
		}
		err = m.deleteDjango(ctx, p.key)
	case p.key != "":
		if p.login {
			// Nothing checked, so nothing left behind: the old copy
			// goes, or the login fails.
			if err := m.deleteKey(ctx, p.key); err != nil {
				return err
			}
			break
		}
		// Rewritten first (an update: ErrInterrupted if it is gone) as a
		// moved copy, which a request reading it cannot save: with no
		// values, so that it learns nothing of the session, unless the
		// session moves, when the requests in flight read its data, under
		// its own ID, so that a Logout through it ends the entry that
		// replaced it (endSuccessors).
		moved := codec.Payload{Kind: codec.KindData, Created: now}
		if p.move {
			moved.Values, moved.ID, moved.Created = s.values, p.id, s.created
		}
		if err := m.writeMoved(ctx, m.rowKey(p.key), moved, now); err != nil {
			return err
		}
		if !p.move {
			err = m.deleteKey(ctx, p.key)
		}
	case p.bound && !p.login:
		// Kept in the cookie: the index entry is all the server knows of
		// the session, and a logout or a revocation removed it.
		if err := m.checkPriorEntry(s, p, now); err != nil {
			return err
		}
	}
	if err != nil {
		// The new identity is saved and the old copy is an empty moved
		// copy, which expires by itself.
		m.cfg.Logger.Warn("session: could not delete a replaced session", "err", err)
	}
	if p.bound {
		if err := m.users.unbind(ctx, p.user, p.id); err != nil {
			// Its entry names a deleted copy, or an ID the cookie no
			// longer carries, and expires by itself.
			m.cfg.Logger.Warn("session: could not remove a replaced session from its user's sessions", "err", err)
		}
	}
	return nil
}

// checkPriorEntry touches the index entry of p, the identity that
// CycleKey replaced, to learn that it is still there: ErrInterrupted if a
// logout or a revocation removed it. The entry keeps the session's
// authentication time until retirePrior removes it.
func (m *Manager) checkPriorEntry(s *Session, p *priorIdentity, now time.Time) error {
	uk, id := indexUserKey(p.user), indexID(p.id)
	rec := record{created: s.created, auth: s.unixValue(authKey), seen: now}
	until := time.Unix(p.until, 0) // unchanged, should the save fail after
	blob, err := m.encodeRecord(uk, id, p.id, rec, until)
	if err != nil {
		return err
	}
	err = m.users.ix.Touch(s.ctx, uk, id, blobBytes(blob), until)
	if errors.Is(err, server.ErrNotFound) {
		return ErrInterrupted
	}
	if err != nil {
		return fmt.Errorf("%w: retiring the old index entry: %w", ErrStore, err)
	}
	return nil
}

// undoNew removes the identity a save has just stored for s, whose old
// identity could not be retired.
func (m *Manager) undoNew(s *Session) {
	if user, ok := s.boundUser(); ok && m.users != nil && !s.id.IsZero() {
		if err := m.users.ix.Unbind(s.ctx, indexUserKey(user), indexID(s.id)); err != nil {
			m.cfg.Logger.Warn("session: could not remove a new session from its user's sessions", "err", err)
		}
	}
	if err := m.dropStored(s.ctx, s); err != nil {
		m.cfg.Logger.Warn("session: could not delete a new session whose old identity ended meanwhile", "err", err)
	}
}

// endPrior ends, at once, the identity that CycleKey or Login replaced
// in this request, for Flush or an expired save: its stored copy is
// deleted and its index entry removed.
func (m *Manager) endPrior(ctx context.Context, s *Session) error {
	p := s.prior
	if p == nil {
		return nil
	}
	s.prior = nil
	if p.bound {
		if err := m.users.unbind(ctx, p.user, p.id); err != nil {
			return err
		}
	}
	var err error
	switch {
	case p.key != "" && p.djangoKey:
		err = m.deleteDjango(ctx, p.key)
	case p.key != "":
		err = m.deleteKey(ctx, p.key)
	}
	if err == nil && p.bound {
		// As Flush: a CycleKey in another request may have moved the
		// session to a new identity meanwhile.
		err = m.endSuccessors(ctx, p.user, indexID(p.id))
	}
	return err
}

// saveTimes returns the time of a save of s, the session's expiry, and
// the cookie's Max-Age (0 for a cookie that ends with the browser
// session); expired says that the session has expired already, so that
// the save deletes it instead (dropExpired).
func (m *Manager) saveTimes(s *Session) (now, expires time.Time, maxAge time.Duration, expired bool) {
	now = m.cfg.Now()
	expires, maxAge = s.expiryDate(now), s.expiryAge(now)
	if s.expireAtBrowserClose() {
		return now, expires, 0, false
	}
	return now, expires, maxAge, maxAge <= 0
}

// dropExpired deletes the stored copy of an expired session s and returns
// the header that deletes its cookie.
func (m *Manager) dropExpired(s *Session) (hdr, value string, err error) {
	if err := m.dropStored(s.ctx, s); err != nil {
		return "", "", err
	}
	return m.jar.DeleteHeader(), "", nil
}

// saveOwn is save in this package's format, where Config.Engine says.
func (m *Manager) saveOwn(s *Session) (hdr, value string, err error) {
	if s.created.IsZero() {
		s.created = m.cfg.Now()
	}
	now, expires, maxAge, expired := m.saveTimes(s)
	if expired {
		return m.dropExpired(s)
	}
	ixOp := m.indexOp(s, now, expires)
	data := codec.Payload{Kind: codec.KindData, Values: s.values, Expires: expires, Created: s.created, ID: s.sessionID()}
	var prepared *codec.Prepared
	if m.cfg.Engine != EngineServer && s.key != "" {
		// A session that lives in the store is likely to stay there, and
		// if it moves to the cookie its store entry is rewritten too:
		// serialize and compress it once for the cookie attempt and the
		// store. (A session in the cookie takes Encode's cheaper path,
		// and is encoded again in the rare save that spills it.)
		if prepared, err = m.codec.Prepare(data); err != nil {
			return "", "", err
		}
	}

	// A session in the store that cannot fit in the cookie whatever its
	// sealing stays in the store, without building the error that says so.
	stays := prepared != nil && prepared.MinSealedLen() > m.jar.Options().MaxSize
	// A session bound to a user lives in the store on the auto engine, so
	// that revoking it deletes it at once.
	if _, bound := s.boundUser(); bound && m.users != nil && m.cfg.Engine == EngineAuto {
		stays = true
	}
	if m.cfg.Engine != EngineServer && !stays {
		hdr, value, err := m.cookieHeader(data, prepared, maxAge)
		switch {
		case err == nil:
			if ixOp != indexNone {
				key := s.key
				s.key = "" // the index entry names no store key: the session moves to the cookie
				err := m.writeIndex(s, ixOp, now)
				s.key = key
				if err != nil {
					return "", "", err
				}
			}
			// If it lived in the store, it now lives in the cookie alone.
			if err := m.retireStored(s, data, now); err != nil {
				return "", "", err
			}
			return hdr, value, nil
		case !errors.Is(err, cookie.ErrTooLarge) && !errors.Is(err, codec.ErrTooLarge):
			return "", "", err
		case m.cfg.Engine == EngineCookie && s.key == "":
			return "", "", err
		}
		// Too large for a cookie: the auto engine spills it to the
		// store, and a session that already lives there (the cookie
		// engine reading a server session) stays there.
	}

	creating := s.key == ""
	if _, bound := s.boundUser(); creating && bound && ixOp == indexNone && m.users != nil {
		// A listed session moving into the store (written by another
		// engine before): its entry must name its store key, so that a
		// revocation deletes it at once.
		s.put(seenKey, now.Unix())
		ixOp = indexTouch
	}
	if ixOp != indexNone && !creating {
		if err := m.writeIndex(s, ixOp, now); err != nil {
			return "", "", err
		}
	}
	if err := m.saveStored(s, data, prepared); err != nil {
		return "", "", err
	}
	if ixOp != indexNone && creating {
		// The entry names the new store key, known only now; if it cannot
		// be written, the new session is deleted again and never sent.
		if err := m.writeIndex(s, ixOp, now); err != nil {
			if derr := m.dropStored(s.ctx, s); derr != nil {
				m.cfg.Logger.Warn("session: could not delete a new session whose index entry failed", "err", derr)
			}
			return "", "", err
		}
	}
	if value, err = m.reference(s, expires); err != nil {
		return "", "", err
	}
	hdr, err = m.jar.Header(value, maxAge)
	return hdr, value, err
}

// cookieHeader returns the Set-Cookie header that carries data and the
// cookie's value, sealed from prepared when the caller has prepared it. A
// prepared value that cannot fit in the cookie is refused without being
// sealed.
func (m *Manager) cookieHeader(data codec.Payload, prepared *codec.Prepared, maxAge time.Duration) (hdr, value string, err error) {
	switch {
	case m.django != nil && m.django.share:
		value, err = m.django.signer.Dumps(data.Values)
	case prepared == nil:
		value, err = m.jar.Encode(data)
	case prepared.MinSealedLen() > m.jar.Options().MaxSize:
		return "", "", fmt.Errorf("%w: the session cookie would take at least %d bytes, over the %d of MaxSize", cookie.ErrTooLarge, prepared.MinSealedLen(), m.jar.Options().MaxSize)
	default:
		value, err = prepared.Seal(m.jar.Name())
	}
	if err != nil {
		return "", "", err
	}
	hdr, err = m.jar.Header(value, maxAge)
	return hdr, value, err
}

// blobBytes returns the bytes of a sealed blob for a store's Create or
// Update without copying them: the Store contract says a store does not
// modify the blob, and nothing reads the string afterwards.
func blobBytes(blob string) []byte { return unsafe.Slice(unsafe.StringData(blob), len(blob)) }

// movedGrace is how long the store keeps a session that has moved into
// the cookie, for the requests still in flight with the old reference
// cookie (another tab, say): they read the session instead of an empty
// one. The entry is marked moved (movedKey): a request that read it cannot
// save (ErrInterrupted), so it neither replaces the new cookie nor brings
// back, nor keeps alive, a session that a later logout ended.
const movedGrace = time.Minute

// movedKey marks, among the values of a store entry, a session that moved
// into the cookie. It never reaches the handler.
const movedKey = "_session_moved"

// retireStored ends the store entry of a session that now lives in the
// cookie: the entry keeps the session's current data, marked moved, for
// movedGrace and then expires. It forgets the key. An entry that is gone
// already was deleted by a concurrent logout, which the new cookie must
// not undo: that is ErrInterrupted.
func (m *Manager) retireStored(s *Session, p codec.Payload, now time.Time) error {
	if s.key == "" {
		return nil
	}
	rk := m.storeKey(s)
	s.key = ""
	return m.writeMoved(s.ctx, rk, p, now)
}

// writeMoved rewrites the store entry rk as p marked moved, until
// movedGrace from now: requests in flight read it and cannot save it. A
// missing entry is ErrInterrupted (an update, never a new entry).
func (m *Manager) writeMoved(ctx context.Context, rk string, p codec.Payload, now time.Time) error {
	p.Values = maps.Clone(p.Values)
	if p.Values == nil {
		p.Values = map[string]any{}
	}
	p.Values[movedKey] = true
	p.Expires = now.Add(movedGrace)
	blob, err := m.codec.Encode(rk, p)
	if err != nil {
		return err
	}
	return m.update(ctx, rk, blob, p.Expires)
}

// update replaces the store entry rk with blob: a missing entry (a
// concurrent logout) is ErrInterrupted, never a new one.
func (m *Manager) update(ctx context.Context, rk, blob string, expires time.Time) error {
	err := m.store.Update(ctx, rk, blobBytes(blob), expires)
	if errors.Is(err, server.ErrNotFound) {
		return ErrInterrupted
	}
	if err != nil {
		return fmt.Errorf("%w: saving: %w", ErrStore, err)
	}
	return nil
}

// dropStored deletes the store entry of s, if it has one, and forgets its
// key.
func (m *Manager) dropStored(ctx context.Context, s *Session) error {
	if s.key == "" {
		return nil
	}
	old := s.key
	s.key = ""
	if s.djangoKey {
		s.djangoKey = false
		return m.deleteDjango(ctx, old)
	}
	return m.deleteKey(ctx, old)
}

// saveStored creates or updates the store entry of s, with p sealed from
// prepared when the caller has prepared it.
func (m *Manager) saveStored(s *Session, p codec.Payload, prepared *codec.Prepared) error {
	seal := func(rk string) (string, error) {
		if prepared != nil {
			return prepared.Seal(rk)
		}
		return m.codec.Encode(rk, p)
	}
	if s.key != "" {
		rk := m.storeKey(s)
		blob, err := seal(rk)
		if err != nil {
			return err
		}
		return m.update(s.ctx, rk, blob, p.Expires)
	}
	for range 10 {
		key := newKey()
		rk := m.rowKey(key)
		blob, err := seal(rk)
		if err != nil {
			return err
		}
		err = m.store.Create(s.ctx, rk, blobBytes(blob), p.Expires)
		if errors.Is(err, server.ErrExists) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: saving: %w", ErrStore, err)
		}
		s.key = key
		return nil
	}
	return fmt.Errorf("%w: no free session key after 10 tries", ErrStore)
}

// addVary adds name to h's Vary unless it is there; shared is []string{name}
// with len == cap, used when h has no Vary yet.
func addVary(h http.Header, name string, shared []string) {
	for _, v := range h.Values("Vary") {
		if v == name || v == "*" {
			return
		}
	}
	if _, ok := h["Vary"]; !ok {
		h["Vary"] = shared
		return
	}
	h.Add("Vary", name)
}

// errorHeaders are the response headers that survive onto an error
// response: security policies that an outer middleware set for every
// response, the Vary that keeps caches honest, and a request ID. Anything
// else the handler set for the response it meant to send (other cookies,
// a redirect's Location, CORS grants, tokens) is dropped.
var errorHeaders = map[string]bool{
	"Content-Security-Policy":             true,
	"Content-Security-Policy-Report-Only": true,
	"Cross-Origin-Embedder-Policy":        true,
	"Cross-Origin-Opener-Policy":          true,
	"Cross-Origin-Resource-Policy":        true,
	"Permissions-Policy":                  true,
	"Referrer-Policy":                     true,
	"Strict-Transport-Security":           true,
	"Vary":                                true,
	"X-Content-Type-Options":              true,
	"X-Frame-Options":                     true,
	"X-Request-Id":                        true,
}

// fail writes the error response for err. The headers the handler set are
// reset to errorHeaders first, for Config.ErrorHandler as for the default
// response, and the response is marked Cache-Control: no-store.
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	m.cfg.Logger.Error("session: request failed", "err", err, "path", r.URL.Path)
	if m.cfg.OnError != nil {
		m.cfg.OnError(r, err)
	}
	h := w.Header()
	for k := range h {
		if !errorHeaders[http.CanonicalHeaderKey(k)] {
			delete(h, k)
		}
	}
	h.Set("Cache-Control", "no-store")
	if m.cfg.ErrorHandler != nil {
		m.cfg.ErrorHandler(w, r, err)
		return
	}
	if errors.Is(err, ErrInterrupted) {
		http.Error(w, ErrInterrupted.Error()+".", http.StatusBadRequest)
		return
	}
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
