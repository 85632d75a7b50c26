package django

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zlib"
)

// The salts of Django's session backends.
const (
	// SaltSignedCookies is the salt of the signed_cookies backend.
	SaltSignedCookies = "django.contrib.sessions.backends.signed_cookies"
	// SaltSessionStore is the salt of the db, file and cached_db
	// backends: "django.contrib.sessions." and the backend's class name,
	// SessionStore for all of Django's own. A subclass of another name
	// has another salt.
	SaltSessionStore = "django.contrib.sessions.SessionStore"
)

// Errors of Loads. Each error Loads returns matches exactly one of them
// with errors.Is; ErrExpired also matches ErrBadSignature, as Django's
// SignatureExpired is a BadSignature.
var (
	// ErrBadSignature reports a value that is not signed with any of the
	// secrets (tampered, truncated, another salt or an unknown key).
	ErrBadSignature = errors.New("django: bad signature")
	// ErrExpired reports a signed value older than the max_age asked for.
	ErrExpired error = expiredError{}
	// ErrMalformed reports a value whose signature verified but whose
	// payload is not a session: bad base64, zlib or JSON, or not an object.
	ErrMalformed = errors.New("django: malformed session data")
	// ErrUnsupported reports a value Dumps cannot write as JSON.
	ErrUnsupported = errors.New("django: value not supported by JSON")
)

type expiredError struct{}

func (expiredError) Error() string        { return "django: signature expired" }
func (expiredError) Is(target error) bool { return target == ErrBadSignature }

// MaxSize caps the decompressed size of a value Loads reads (Django has no
// cap; a value is decompressed only after its signature has verified).
const MaxSize = 1 << 20

// Signer reads and writes django.core.signing's dumps format for one salt,
// with Django's key derivation: the HMAC-SHA256 key is
// SHA-256(salt + "signer" + SECRET_KEY). It signs with the first secret
// and verifies with each in turn, as Django 4.1+ does with
// SECRET_KEY_FALLBACKS. It is safe for concurrent use.
type Signer struct {
	salt   string
	keys   [][]byte // SHA-256 keys, one per secret
	legacy [][]byte // SHA-1 keys, one per secret, for Django 3.2's sha1 signatures
	// pre31 are the keys of the format Django wrote before 3.1, for the
	// SessionStore salt only.
	pre31 [][]byte
	now   func() time.Time
}

// NewSigner returns a Signer for salt with the secret (Django's SECRET_KEY)
// and its fallbacks (SECRET_KEY_FALLBACKS), newest first. now, if not nil,
// replaces time.Now.
func NewSigner(salt string, secret []byte, fallbacks [][]byte, now func() time.Time) (*Signer, error) {
	if len(secret) == 0 {
		return nil, errors.New("django: empty SECRET_KEY")
	}
	if salt == "" {
		return nil, errors.New("django: empty salt")
	}
	if now == nil {
		now = time.Now
	}
	s := &Signer{salt: salt, now: now}
	for _, k := range append([][]byte{secret}, fallbacks...) {
		if len(k) == 0 {
			return nil, errors.New("django: empty fallback key")
		}
		s.keys = append(s.keys, derive(sha256.New, salt+"signer", k))
		s.legacy = append(s.legacy, derive(sha1.New, salt+"signer", k))
		if salt == SaltSessionStore {
			s.pre31 = append(s.pre31, derive(sha1.New, "django.contrib.sessionsSessionStore", k))
		}
	}
	return s, nil
}

// derive is Django's salted_hmac key: H(salt + secret).
func derive(h func() hash.Hash, salt string, secret []byte) []byte {
	d := h()
	io.WriteString(d, salt)
	d.Write(secret)
	return d.Sum(nil)
}

// Dumps returns signing.dumps(values, salt, compress=True): JSON as
// Python writes it, zlib-compressed when that saves more than one byte,
// base64url without padding (with a leading "." when compressed), a base62
// timestamp and the HMAC-SHA256 signature.
func (s *Signer) Dumps(values map[string]any) (string, error) {
	if values == nil {
		values = map[string]any{}
	}
	data, err := appendJSON(nil, values, "session", 0)
	if err != nil {
		return "", err
	}
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, 6)
	w.Write(data)
	w.Close()
	var payload string
	if z.Len() < len(data)-1 {
		payload = "." + base64.RawURLEncoding.EncodeToString(z.Bytes())
	} else {
		payload = base64.RawURLEncoding.EncodeToString(data)
	}
	value := payload + ":" + base62(s.now().Unix())
	return value + ":" + sign(sha256.New, s.keys[0], value), nil
}

func sign(h func() hash.Hash, key []byte, value string) string {
	m := hmac.New(h, key)
	io.WriteString(m, value)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Loaded is what Loads read.
type Loaded struct {
	// Values is the session.
	Values map[string]any
	// Signed is the signature's timestamp (zero for the pre-3.1 format).
	Signed time.Time
	// Key is the index of the secret that verified it: 0 for the
	// current secret, 1 for the first fallback, and so on.
	Key int
	// Legacy reports a value in a format Django no longer writes by
	// default: a SHA-1 signature or the pre-3.1 format.
	Legacy bool
}

// Loads verifies and reads a value made by Dumps (or by Django) for the
// Signer's salt. A positive maxAge refuses, with ErrExpired, a value whose
// timestamp is more than maxAge old, as Django's max_age does (exactly
// maxAge old is still good; a timestamp in the future is always good).
// Besides Django's current format it reads Django 3.2's SHA-1 signatures
// and, for SaltSessionStore, the format Django wrote before 3.1.
func (s *Signer) Loads(value string, maxAge time.Duration) (Loaded, error) {
	var l Loaded
	i := strings.LastIndexByte(value, ':')
	if i < 0 {
		if s.pre31 != nil {
			return s.loadPre31(value)
		}
		return l, fmt.Errorf("%w: no ':' in the value", ErrBadSignature)
	}
	signed, sig := value[:i], value[i+1:]
	l.Key = -1
	for k := range s.keys {
		switch {
		case constantEqual(sig, sign(sha256.New, s.keys[k], signed)):
			l.Key = k
		case len(sig) == 27 && constantEqual(sig, sign(sha1.New, s.legacy[k], signed)):
			l.Key, l.Legacy = k, true
		}
		if l.Key >= 0 {
			break
		}
	}
	if l.Key < 0 {
		if s.pre31 != nil {
			if pl, err := s.loadPre31(value); err == nil {
				return pl, nil
			}
		}
		return l, ErrBadSignature
	}
	j := strings.LastIndexByte(signed, ':')
	if j < 0 {
		return l, fmt.Errorf("%w: no timestamp", ErrMalformed)
	}
	payload := signed[:j]
	ts, ok := unbase62(signed[j+1:])
	if !ok {
		return l, fmt.Errorf("%w: bad timestamp", ErrMalformed)
	}
	l.Signed = time.Unix(ts, 0)
	if maxAge > 0 && s.now().Sub(l.Signed) > maxAge {
		return l, fmt.Errorf("%w: signed %s ago, max age %s", ErrExpired, s.now().Sub(l.Signed).Round(time.Second), maxAge)
	}
	compressed := strings.HasPrefix(payload, ".")
	if compressed {
		payload = payload[1:]
	}
	data, err := lenientBase64(payload)
	if err != nil {
		return l, err
	}
	if compressed {
		if data, err = inflate(data); err != nil {
			return l, err
		}
	}
	l.Values, err = sessionJSON(data)
	return l, err
}

// loadPre31 reads base64(hexdigest + ":" + json), the format of Django
// before 3.1, signed with HMAC-SHA1 under the salt
// "django.contrib.sessionsSessionStore".
func (s *Signer) loadPre31(value string) (Loaded, error) {
	var l Loaded
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return l, fmt.Errorf("%w: not a signed value", ErrBadSignature)
	}
	digest, data, ok := bytes.Cut(raw, []byte(":"))
	if !ok {
		return l, fmt.Errorf("%w: not a signed value", ErrBadSignature)
	}
	for k, key := range s.pre31 {
		m := hmac.New(sha1.New, key)
		m.Write(data)
		if subtle.ConstantTimeCompare(digest, []byte(hex.EncodeToString(m.Sum(nil)))) == 1 {
			l.Key, l.Legacy = k, true
			l.Values, err = sessionJSON(data)
			return l, err
		}
	}
	return l, ErrBadSignature
}

func constantEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func sessionJSON(data []byte) (map[string]any, error) {
	v, err := parseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the session is a JSON %T, not an object", ErrMalformed, v)
	}
	return m, nil
}

// lenientBase64 decodes as Python's urlsafe_b64decode after Django
// re-pads: both alphabets, padding optional, other characters skipped.
func lenientBase64(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := range len(s) {
		c := s[i]
		switch {
		case c == '-':
			c = '+'
		case c == '_':
			c = '/'
		}
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			clean = append(clean, c)
		}
	}
	out, err := base64.RawStdEncoding.DecodeString(string(clean))
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	return out, nil
}

func inflate(z []byte) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("%w: bad zlib data", ErrMalformed)
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: bad zlib data", ErrMalformed)
	}
	if len(out) > MaxSize {
		return nil, fmt.Errorf("%w: decompresses past %d bytes", ErrMalformed, MaxSize)
	}
	return out, nil
}

const base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62 is Django's b62_encode.
func base62(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [16]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = base62Digits[n%62]
		n /= 62
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// unbase62 is Django's b62_decode.
func unbase62(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if s == "" || len(s) > 10 {
		return 0, false
	}
	var n int64
	for i := range len(s) {
		d := strings.IndexByte(base62Digits, s[i])
		if d < 0 {
			return 0, false
		}
		n = n*62 + int64(d)
	}
	if neg {
		n = -n
	}
	return n, true
}
