package session

import (
	"fmt"
	"strings"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/django"
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
	// both. It needs EngineCookie (Django's signed_cookies backend).
	DjangoShare DjangoMode = "share"
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
}

// djangoFormat is a Manager's view of Django's signed_cookies format.
type djangoFormat struct {
	signer *django.Signer
	share  bool
}

func newDjangoFormat(cfg *Config) (*djangoFormat, error) {
	d := cfg.Django
	if d == nil {
		return nil, nil
	}
	switch d.Mode {
	case "", DjangoMigrate:
	case DjangoShare:
		if cfg.Engine != EngineCookie {
			return nil, configErr("Django.Mode %q needs EngineCookie (Django's signed_cookies backend); Django's db backend is not supported", d.Mode)
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
	return &djangoFormat{signer: s, share: d.Mode == DjangoShare}, nil
}

// isDjangoValue reports whether a cookie value has the form of Django's
// signed format: our encoded values and references are base64url, with
// no ':'.
func isDjangoValue(v string) bool { return strings.IndexByte(v, ':') >= 0 }

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
	if !m.django.share {
		d.Stale |= codec.StaleSerializer
	}
	if l.Key > 0 || l.Legacy {
		d.Stale |= codec.StaleKey
	}
	return d, nil
}
