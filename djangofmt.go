package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
	"unsafe"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/django"
	"github.com/sessionkit/session/server"
)

// DjangoMode says what a Manager does with Django's session format.
type DjangoMode string

// The modes of DjangoConfig.
const (
	// DjangoMigrate reads Django's sessions and writes each in this
	// package's own format on its next response, as it does for its own
	// old formats: a team switches Django off and nobody is logged out.
	DjangoMigrate DjangoMode = "migrate"
	// DjangoShare reads and writes Django's format, so that a Django
	// application on the same domain reads what Go writes: one login for
	// both.
	DjangoShare DjangoMode = "share"
)

// DjangoEngine is a value of Django's SESSION_ENGINE setting.
type DjangoEngine string

// The Django session engines a Manager reads.
const (
	// DjangoSignedCookies is Django's signed_cookies backend: the whole
	// session in the cookie, signed by Django's signing.dumps.
	DjangoSignedCookies DjangoEngine = "django.contrib.sessions.backends.signed_cookies"
	// DjangoDB is Django's db backend: the cookie holds a raw session key
	// and the session lives in the django_session table (DjangoConfig.Store).
	DjangoDB DjangoEngine = "django.contrib.sessions.backends.db"
	// DjangoCachedDB is Django's cached_db backend: db's table, which
	// Django reads through a cache of its own. A Manager reads its table
	// in DjangoMigrate mode; it cannot share it, since Django would keep
	// reading its cached copy of a session that Go has changed.
	DjangoCachedDB DjangoEngine = "django.contrib.sessions.backends.cached_db"
)

// DjangoConfig lets a Manager read Django's sessions and, in DjangoShare
// mode, write them. See package django for the format.
type DjangoConfig struct {
	// SecretKey is Django's SECRET_KEY; Fallbacks its
	// SECRET_KEY_FALLBACKS, newest first.
	SecretKey []byte
	Fallbacks [][]byte
	// Mode is DjangoMigrate (the default when empty) or DjangoShare.
	Mode DjangoMode
	// Engine is Django's SESSION_ENGINE. Empty means DjangoDB when Store
	// is set and DjangoSignedCookies otherwise.
	//
	// In DjangoShare mode it is where sessions live: in the cookie,
	// Django-signed, with DjangoSignedCookies (Config.Engine must be
	// EngineCookie, the default); in Store with DjangoDB, the cookie
	// holding Django's raw session key (leave Config.Engine unset; a
	// Config.Store is still read, and its sessions move into Django's
	// table, as do Django's signed cookies). There Session.ID is derived
	// from Django's key: the same for the session's life, new with a new
	// key (CycleKey, Login, and a new session's first save).
	// DjangoCachedDB cannot be shared.
	//
	// In DjangoMigrate mode the Manager reads Django's signed cookies
	// whatever Engine is, and Django's db sessions (DjangoDB or
	// DjangoCachedDB) from Store.
	Engine DjangoEngine
	// Store is Django's django_session table (mysql.OpenDjango), required
	// by DjangoDB and DjangoCachedDB. A cookie of the form of Django's
	// keys (32 characters of a-z and 0-9) is looked up there. Its keys are
	// Django's raw keys whatever Config.StoreRawKeys says: that is how
	// Django stores them.
	Store django.Store
}

// djangoFormat is a Manager's view of Django's formats.
type djangoFormat struct {
	signer  *django.Signer // signed_cookies
	db      *django.Signer // session_data of the db engines; nil without Store
	store   django.Store
	share   bool
	shareDB bool // share, and sessions live in store
}

func newDjangoFormat(cfg *Config) (*djangoFormat, error) {
	d := cfg.Django
	if d == nil {
		return nil, nil
	}
	engine := d.Engine
	if engine == "" {
		engine = DjangoSignedCookies
		if d.Store != nil {
			engine = DjangoDB
		}
	}
	switch engine {
	case DjangoSignedCookies:
	case DjangoDB, DjangoCachedDB:
		if d.Store == nil {
			return nil, configErr("Django.Engine %s needs Django.Store, Django's django_session table (mysql.OpenDjango)", engine)
		}
	default:
		return nil, configErr("unknown Django.Engine %q (want %s, %s or %s)", engine, DjangoSignedCookies, DjangoDB, DjangoCachedDB)
	}
	switch d.Mode {
	case "", DjangoMigrate:
	case DjangoShare:
		switch engine {
		case DjangoSignedCookies:
			if cfg.Engine != EngineCookie {
				return nil, configErr("Django.Mode %q with Django's signed_cookies engine needs EngineCookie", d.Mode)
			}
			if d.Store != nil {
				return nil, configErr("Django.Mode %q with Django's signed_cookies engine does not use Django.Store; set Django.Engine to %s to share Django's db sessions", d.Mode, DjangoDB)
			}
		case DjangoDB:
			if cfg.Engine != EngineCookie {
				return nil, configErr("Django.Mode %q with Django's db engine keeps sessions in Django's table: leave Engine unset", d.Mode)
			}
		case DjangoCachedDB:
			return nil, configErr("Django.Mode %q cannot share Django's cached_db engine: Django reads a session from its cache first, so it would not see what Go writes to the table; share Django's db engine instead, or use %q, which reads cached_db's table", d.Mode, DjangoMigrate)
		}
		if cfg.MaxLifetime > 0 {
			return nil, configErr("Django.Mode %q cannot enforce MaxLifetime: Django's format does not record when a session was created", d.Mode)
		}
	default:
		return nil, configErr("unknown Django.Mode %q (want %q or %q)", d.Mode, DjangoMigrate, DjangoShare)
	}
	s, err := django.NewSigner(django.SaltSignedCookies, d.SecretKey, d.Fallbacks, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("%w: Django: %v", ErrConfig, err)
	}
	f := &djangoFormat{signer: s, share: d.Mode == DjangoShare}
	if d.Store != nil {
		if f.db, err = django.NewSigner(django.SaltSessionStore, d.SecretKey, d.Fallbacks, cfg.Now); err != nil {
			return nil, fmt.Errorf("%w: Django: %v", ErrConfig, err)
		}
		f.store = d.Store
		f.shareDB = f.share
	}
	return f, nil
}

// isDjangoValue reports whether a cookie value has the form of Django's
// signed format: our encoded values and references are base64url, with
// no ':'.
func isDjangoValue(v string) bool { return strings.IndexByte(v, ':') >= 0 }

// isDjangoKey reports whether a cookie value names a session of Django's
// table: our references and values are never 32 characters long.
func (m *Manager) isDjangoKey(v string) bool {
	return m.django != nil && m.django.store != nil && django.IsKey(v)
}

// openDjango reads a signed_cookies value with Django's rule for its age:
// refused when its signature is more than CookieAge old. A value read in
// migrate mode, or with a fallback key, is stale.
func (m *Manager) openDjango(value string) (codec.Decoded, error) {
	if max := m.jar.Options().MaxSize; len(value) > max {
		// The cookie budget caps what is verified, as for our own values.
		return codec.Decoded{}, fmt.Errorf("%w: cookie value is %d bytes, over the %d-byte budget", codec.ErrTooLarge, len(value), max)
	}
	l, err := m.django.signer.Loads(value, m.cfg.CookieAge)
	if err != nil {
		return codec.Decoded{}, err
	}
	d := codec.Decoded{Payload: codec.Payload{Kind: codec.KindData, Values: l.Values}, Serializer: "django"}
	if !m.django.share || m.django.shareDB {
		d.Stale |= codec.StaleSerializer // into our format, or into Django's table
	}
	if l.Key > 0 || l.Legacy {
		d.Stale |= codec.StaleKey
	}
	return d, nil
}

// djangoID is the ID of the session under a key of Django's table, whose
// format has no place for one: derived from the key, so that it stays the
// same for the session's life, and reveals nothing of the key.
func djangoID(key string) codec.ID {
	sum := sha256.Sum256([]byte("sessionkit: the ID of a Django session\x00" + key))
	var id codec.ID
	copy(id[:], sum[:])
	return id
}

// loadDjango loads the session of s.key from Django's table, dropping the
// key if the table does not have it. It runs with s.mu held.
func (m *Manager) loadDjango(s *Session) {
	key := s.key
	s.key, s.djangoKey = "", false // until the table confirms it
	data, expires, err := m.django.store.Load(s.ctx, key)
	if m.loadFailed(s, "django_session", err) {
		return
	}
	// Django's db backend ignores the signature's age: expire_date rules.
	l, err := m.django.db.Loads(unsafe.String(unsafe.SliceData(data), len(data)), 0)
	if err != nil {
		// Django would keep the key and load {}; a new key is safer.
		m.badValue(s, "django_session", err)
		return
	}
	s.key, s.djangoKey, s.values, s.expires, s.fromDjango = key, true, l.Values, expires, true
	s.takeMoved()
	s.id = djangoID(key)
	switch {
	case !m.django.shareDB:
		s.rewrite = true
		m.cfg.Logger.Info("session: moving a session of Django's table into the current format")
	case l.Key > 0 || l.Legacy:
		s.rewrite = true
		m.cfg.Logger.Info("session: rewriting a session of Django's table under the current key and format", "fallback_key", l.Key > 0, "legacy", l.Legacy)
	}
}

// deleteDjango deletes a row of Django's table.
func (m *Manager) deleteDjango(ctx context.Context, key string) error {
	if err := m.django.store.Delete(ctx, key); err != nil {
		return fmt.Errorf("%w: deleting from django_session: %w", ErrStore, err)
	}
	return nil
}

// saveDjango saves s in Django's table, in DjangoShare mode with Django's
// db engine: an update of its row, or a new row under a new key for a new
// session or one read in another format, and returns the Set-Cookie
// header that carries the key.
func (m *Manager) saveDjango(s *Session) (hdr, value string, err error) {
	now, expires, maxAge, expired := m.saveTimes(s)
	if expired {
		return m.dropExpired(s)
	}
	if _, listed := s.values[untilKey]; !s.djangoKey && listed && s.prior == nil && m.users != nil {
		// A new row gives the session a new ID, its key's: as after
		// CycleKey, its index entry moves to that ID, and its copy in
		// Config.Store, if any, is retired once the row is written and
		// listed, and only if it is still there (retirePrior). Until
		// then the old identity stays as it was, should the save fail.
		if user, ok := s.boundUser(); ok && !s.id.IsZero() {
			s.prior = &priorIdentity{key: s.key, id: s.id, user: user, bound: true, until: s.unixValue(untilKey).Unix(), move: true}
			s.key = ""
			delete(s.values, untilKey)
		}
	}
	ixOp := m.indexOp(s, now, expires)
	data, err := m.django.db.Dumps(s.values)
	if err != nil {
		return "", "", err
	}
	blob := unsafe.Slice(unsafe.StringData(data), len(data))
	if s.djangoKey {
		if ixOp != indexNone {
			if err := m.writeIndex(s, ixOp, now); err != nil {
				return "", "", err
			}
		}
		err := m.django.store.Update(s.ctx, s.key, blob, expires)
		if errors.Is(err, server.ErrNotFound) {
			return "", "", ErrInterrupted
		}
		if err != nil {
			return "", "", fmt.Errorf("%w: saving to django_session: %w", ErrStore, err)
		}
	} else {
		key, err := m.createDjango(s.ctx, blob, expires)
		if err != nil {
			return "", "", err
		}
		if s.key != "" {
			// It lived in Config.Store: it now lives in Django's table.
			p := codec.Payload{Kind: codec.KindData, Values: s.values, Expires: expires, Created: s.created, ID: s.sessionID()}
			if err := m.retireStored(s, p, now); err != nil {
				_ = m.deleteDjango(s.ctx, key)
				return "", "", err
			}
		}
		s.key, s.djangoKey, s.id = key, true, djangoID(key)
		if ixOp != indexNone {
			// The entry names the new ID, known only now; if it cannot be
			// written, the new row is deleted again and never sent.
			if err := m.writeIndex(s, ixOp, now); err != nil {
				if derr := m.dropStored(s.ctx, s); derr != nil {
					m.cfg.Logger.Warn("session: could not delete a new Django session whose index entry failed", "err", derr)
				}
				return "", "", err
			}
		}
	}
	hdr, err = m.jar.Header(s.key, maxAge)
	return hdr, s.key, err
}

// createDjango inserts a row under a new key and returns the key.
func (m *Manager) createDjango(ctx context.Context, blob []byte, expires time.Time) (string, error) {
	for range 10 {
		key := django.NewKey()
		err := m.django.store.Create(ctx, key, blob, expires)
		if errors.Is(err, server.ErrExists) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("%w: saving to django_session: %w", ErrStore, err)
		}
		return key, nil
	}
	return "", fmt.Errorf("%w: no free Django session key after 10 tries", ErrStore)
}

// moveFromDjango saves s, read from Django's table in DjangoMigrate mode,
// in this package's format and engine, then retires its row. If the row
// is gone by then (a logout, in Django or in another request), the move
// is undone and it is ErrInterrupted, so that the session is not brought
// back; if the move fails, the row is left as it was and the client keeps
// its cookie.
func (m *Manager) moveFromDjango(s *Session) (hdr, value string, err error) {
	old := s.key
	s.key, s.djangoKey = "", false
	hdr, value, err = m.saveOwn(s)
	if err != nil {
		return "", "", err
	}
	if value == "" { // it expired: the cookie is deleted
		return hdr, value, m.deleteDjango(s.ctx, old)
	}
	if err := m.retireDjango(s, old, true); err != nil {
		if s.key != "" {
			_ = m.dropStored(s.ctx, s)
		}
		return "", "", err
	}
	return hdr, value, nil
}

// retireDjango ends the row of Django's table under key for a session that
// has moved: it keeps the session's data if keepData (else nothing), marked
// moved (movedKey), for movedGrace, for the requests still in flight with
// the old cookie (they read the session but cannot save it), and then
// expires. A row that is gone was deleted by a concurrent logout:
// ErrInterrupted.
func (m *Manager) retireDjango(s *Session, key string, keepData bool) error {
	var (
		data string
		err  error
	)
	if keepData {
		v := maps.Clone(s.values)
		v[movedKey] = true
		data, err = m.django.db.Dumps(v)
	}
	if !keepData || err != nil {
		// Only the mark: for a key that CycleKey replaced, or a value
		// Django's JSON cannot hold.
		data, _ = m.django.db.Dumps(map[string]any{movedKey: true})
	}
	err = m.django.store.Update(s.ctx, key, []byte(data), m.cfg.Now().Add(movedGrace))
	if errors.Is(err, server.ErrNotFound) {
		return ErrInterrupted
	}
	if err != nil {
		return fmt.Errorf("%w: retiring a django_session row: %w", ErrStore, err)
	}
	return nil
}
