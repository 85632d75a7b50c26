// Package codec turns session values into tamper-proof strings and back.
//
// One Codec protects both cookies and server-store blobs:
//
//	values → serializer → compression (optional) → envelope header
//	       → gorilla/securecookie (AES-256-CTR + HMAC-SHA256, or HMAC only) → string
//
// Every encoded value starts, inside the MAC, with a small header: format
// version, kind (session data or store reference), serializer ID, compression
// ID, absolute expiry, creation time and the session's ID. Decode picks the serializer and decompressor from
// that header, never from the configuration, so changing either in
// configuration keeps old values readable; Decode reports such values as
// Stale so that the caller rewrites them in the current format.
//
// Every value is bound to a purpose (the cookie name, or the store key of a
// blob) through the MAC: a value moved to another purpose does not decode.
// Prepare does the work that does not depend on the purpose once, for a
// value that may be sealed for several (a cookie first, then a store key).
//
// Decode checks, in this order: the length cap, the MAC (trying the current
// secret, then each fallback), the header, the expiry, the decompressed size,
// and only then runs the serializer. Nothing is decompressed or deserialized
// before the MAC has verified.
//
// Keys are derived with HKDF-SHA256 from secrets of at least 32 bytes: one
// key for the HMAC and one for AES per secret, and different HMAC keys for
// encrypted and signed-only values.
//
// A cookie that points to a server-store session needs none of that: SealRef
// and OpenRef make and check a 64-character reference, the session key and
// a 128-bit tag over it and its purpose, so that a forged key is refused
// before any store is asked. (Encode still reads and writes the older
// encoded references.)
//
// Package codec knows nothing about HTTP.
package codec

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/sessionkit/session/serializer"
)

// Errors returned by New, Encode and Decode. Decode errors wrap exactly one
// of them, so callers test with errors.Is.
var (
	// ErrKey reports an invalid secret in the Config.
	ErrKey = errors.New("codec: invalid secret")
	// ErrMalformed reports a value that is not an encoded session at all:
	// bad base64, missing fields, or a header this version cannot parse.
	ErrMalformed = errors.New("codec: malformed value")
	// ErrInvalid reports a value whose MAC does not verify with any known
	// secret: it was tampered with, truncated, made for another purpose,
	// or signed with a secret that is no longer configured.
	ErrInvalid = errors.New("codec: invalid MAC (tampered, or signed with an unknown secret)")
	// ErrExpired reports a value whose absolute expiry has passed.
	ErrExpired = errors.New("codec: value expired")
	// ErrTooLarge reports a value over MaxLength, or one that would
	// decompress past MaxSize.
	ErrTooLarge = errors.New("codec: value too large")
	// ErrUnknownSerializer reports a value written with a serializer this
	// build does not know.
	ErrUnknownSerializer = errors.New("codec: unknown serializer")
	// ErrUnknownCompression reports a value written with a compression this
	// build does not know.
	ErrUnknownCompression = errors.New("codec: unknown compression")
	// ErrCorrupt reports a value whose MAC verified but whose body cannot
	// be decompressed or deserialized.
	ErrCorrupt = errors.New("codec: corrupt body")
)

// MinSecretLen is the minimum length of a secret, in bytes.
const MinSecretLen = 32

// Defaults for the zero values of Config.
const (
	DefaultMaxLength         = 1 << 20
	DefaultMaxSize           = 1 << 20
	DefaultCompressThreshold = 256
	// AutoZstdFrom is the body size from which the "auto" compression
	// uses zstd instead of s2.
	AutoZstdFrom       = 512
	DefaultCompression = "auto"
)

// Config configures a Codec. Only Secret is required.
type Config struct {
	// Secret is the current secret, at least MinSecretLen bytes of
	// high-entropy data. It signs (and encrypts) every value Encode makes.
	Secret []byte
	// Fallbacks are previous secrets, tried in order when a value does not
	// verify with Secret. A value read with a fallback is Stale.
	Fallbacks [][]byte
	// Serializer writes new values. Nil means serializer.MsgPack. Values
	// written by any built-in serializer stay readable.
	Serializer serializer.Serializer
	// Compression is "auto" (the default when empty), "s2", "zstd" or
	// "none". "auto" uses s2 for bodies under AutoZstdFrom bytes, where it
	// is nearly as small as zstd at a fraction of the CPU, and zstd for
	// larger bodies, where cookie space is scarce and zstd is markedly
	// smaller.
	Compression string
	// CompressThreshold is the serialized size from which compression is
	// tried; the compressed form is kept only when it is smaller. Zero
	// means DefaultCompressThreshold.
	CompressThreshold int
	// SignOnly turns encryption off: values are authenticated but their
	// content is readable by the client. Values written in the other mode
	// stay readable.
	SignOnly bool
	// MaxLength caps the length of an encoded value, for Encode and
	// Decode. Zero means DefaultMaxLength.
	MaxLength int
	// MaxSize caps the serialized (uncompressed) size of a value, for
	// Encode and for decompression in Decode. Zero means DefaultMaxSize.
	MaxSize int
	// Now returns the current time, for expiry checks. Nil means time.Now.
	Now func() time.Time
}

// Kind says what an encoded value carries.
type Kind uint8

// Kinds of encoded values.
const (
	// KindData carries the session's values.
	KindData Kind = 1
	// KindReference carries the key under which a server store keeps the
	// session.
	KindReference Kind = 2
)

// String returns "data" or "reference".
func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindReference:
		return "reference"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Payload is what an encoded value carries.
type Payload struct {
	Kind Kind
	// Values are the session values, for KindData.
	Values map[string]any
	// Ref is the store key, for KindReference.
	Ref string
	// Expires is the absolute expiry; Decode rejects the value from then
	// on. The zero Time means no expiry.
	Expires time.Time
	// Created is when the session was first created, carried for
	// absolute-lifetime checks. The zero Time means unknown.
	Created time.Time
	// ID identifies the session, for KindData: random, stable for the
	// session's life, and not a secret. The zero ID means none (a value
	// written before IDs existed).
	ID ID
}

// ID is a session's identifier: 12 random bytes.
type ID [12]byte

// IsZero reports whether id is the zero ID, which no session has.
func (id ID) IsZero() bool { return id == ID{} }

// Stale is a set of reasons for rewriting a value in the current format.
type Stale uint8

// Reasons a decoded value is stale.
const (
	StaleKey         Stale = 1 << iota // verified with a fallback secret
	StaleMode                          // encrypted when SignOnly, or the other way round
	StaleSerializer                    // written by another serializer
	StaleCompression                   // compressed by another algorithm
)

// String lists the reasons, or returns "current" when there are none.
func (s Stale) String() string {
	if s == 0 {
		return "current"
	}
	var parts []string
	for _, r := range []struct {
		bit  Stale
		name string
	}{{StaleKey, "fallback secret"}, {StaleMode, "encryption mode"}, {StaleSerializer, "serializer"}, {StaleCompression, "compression"}} {
		if s&r.bit != 0 {
			parts = append(parts, r.name)
		}
	}
	return strings.Join(parts, ", ")
}

// Decoded is the result of Decode.
type Decoded struct {
	Payload
	// Stale is non-zero when the value should be rewritten in the current
	// format: it was read with a fallback secret, another encryption mode,
	// serializer or compression.
	Stale Stale
	// Serializer and Compression name what the value was written with.
	Serializer  string
	Compression string
}

// Codec encodes and decodes session values. It is safe for concurrent use;
// build one per configuration and reuse it.
type Codec struct {
	ser       serializer.Serializer
	comp      compressor // for bodies under AutoZstdFrom bytes
	compLarge compressor // for larger bodies
	compName  string
	threshold int
	maxLen    int
	maxSize   int
	now       func() time.Time
	// verifiers are tried in order on Decode; verifiers[0] encodes.
	verifiers []verifier
	// refs tag references, one per secret; refs[0] seals.
	refs []*refMAC
	bufs sync.Pool
}

type verifier struct {
	sc    *securecookie.SecureCookie
	stale Stale
}

// New validates cfg and returns a Codec.
func New(cfg Config) (*Codec, error) {
	c := &Codec{
		ser:       cfg.Serializer,
		threshold: cfg.CompressThreshold,
		maxLen:    cfg.MaxLength,
		maxSize:   cfg.MaxSize,
		now:       cfg.Now,
	}
	if c.ser == nil {
		c.ser = serializer.MsgPack
	}
	if c.ser.ID() == 0 {
		return nil, errors.New("codec: serializer ID 0 is reserved")
	}
	if known, ok := serializer.ByID(c.ser.ID()); ok && known != c.ser {
		return nil, fmt.Errorf("codec: serializer %q uses ID %d, which belongs to the built-in %q", c.ser.Name(), c.ser.ID(), known.Name())
	}
	name := cfg.Compression
	if name == "" {
		name = DefaultCompression
	}
	if strings.EqualFold(name, "auto") {
		c.comp, c.compLarge, c.compName = s2Comp{}, zstdComp{}, "auto"
	} else {
		comp, err := compressorByName(name)
		if err != nil {
			return nil, err
		}
		c.comp, c.compLarge, c.compName = comp, comp, comp.name()
	}
	if c.threshold < 0 || c.maxLen < 0 || c.maxSize < 0 {
		return nil, errors.New("codec: CompressThreshold, MaxLength and MaxSize must not be negative")
	}
	if c.threshold == 0 {
		c.threshold = DefaultCompressThreshold
	}
	if c.maxLen == 0 {
		c.maxLen = DefaultMaxLength
	}
	if c.maxSize == 0 {
		c.maxSize = DefaultMaxSize
	}
	if c.now == nil {
		c.now = time.Now
	}
	secrets := append([][]byte{cfg.Secret}, cfg.Fallbacks...)
	for i, s := range secrets {
		what := "Secret"
		if i > 0 {
			what = fmt.Sprintf("Fallbacks[%d]", i-1)
		}
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("%w: %s is %d bytes; it must be at least %d bytes of random data", ErrKey, what, len(s), MinSecretLen)
		}
		for j := range i {
			if string(secrets[j]) == string(s) {
				return nil, fmt.Errorf("%w: %s repeats an earlier secret", ErrKey, what)
			}
		}
		var stale Stale
		if i > 0 {
			stale = StaleKey
		}
		enc, sig, refKey, err := newVerifiers(s)
		if err != nil {
			return nil, err
		}
		c.refs = append(c.refs, newRefMAC(refKey, stale))
		cur, other := enc, sig
		if cfg.SignOnly {
			cur, other = sig, enc
		}
		c.verifiers = append(c.verifiers, verifier{cur, stale}, verifier{other, stale | StaleMode})
	}
	return c, nil
}

// newVerifiers derives the keys for one secret and builds its encrypting
// and its signing-only securecookie instances; it also returns the
// secret's key for reference tags.
// The HKDF info of the HMAC key of encrypted values.
const infoEncHMAC = "hmac-sha256 for aes-256-ctr values"

// deriveKey derives the 32-byte key for info from secret.
func deriveKey(secret []byte, info string) ([]byte, error) {
	const salt = "github.com/sessionkit/session/codec"
	return hkdf.Key(sha256.New, secret, []byte(salt), info, 32)
}

func newVerifiers(secret []byte) (enc, sig *securecookie.SecureCookie, refKey []byte, err error) {
	derive := func(info string) []byte {
		k, e := deriveKey(secret, info)
		if e != nil && err == nil {
			err = fmt.Errorf("%w: key derivation: %v", ErrKey, e)
		}
		return k
	}
	encHash, block, sigHash := derive(infoEncHMAC), derive("aes-256-ctr"), derive("hmac-sha256 for signed values")
	refKey = derive("hmac-sha256 for store references")
	if err != nil {
		return nil, nil, nil, err
	}
	setup := func(sc *securecookie.SecureCookie) *securecookie.SecureCookie {
		// Expiry and length are checked by the Codec itself, with typed
		// errors; securecookie's own checks are turned off.
		return sc.MaxAge(0).MaxLength(0).SetSerializer(securecookie.NopEncoder{})
	}
	return setup(securecookie.New(encHash, block)), setup(securecookie.New(sigHash, nil)), refKey, nil
}

// Serializer returns the serializer that Encode uses.
func (c *Codec) Serializer() serializer.Serializer { return c.ser }

// Compression returns the name of the compression that Encode uses.
func (c *Codec) Compression() string { return c.compName }

// MaxLength returns the cap on encoded values.
func (c *Codec) MaxLength() int { return c.maxLen }

func (c *Codec) getBuf() *[]byte {
	if b, ok := c.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 1024)
	return &b
}

func (c *Codec) putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		c.bufs.Put(b)
	}
}

// Encode encodes p for purpose (a cookie name or a store key) and returns
// the tamper-proof string. Unsupported values give a
// *serializer.UnsupportedError that names the session key.
func (c *Codec) Encode(purpose string, p Payload) (string, error) {
	if purpose == "" {
		return "", errors.New("codec: empty purpose")
	}
	outBuf := c.getBuf()
	defer c.putBuf(outBuf)
	out, err := c.frame((*outBuf)[:0], p)
	*outBuf = out
	if err != nil {
		return "", err
	}
	return c.seal(purpose, out)
}

// Prepared is a payload that Prepare has serialized, compressed and framed,
// ready to be sealed for one purpose or several. It is immutable and safe
// for concurrent use.
type Prepared struct {
	c     *Codec
	plain []byte // header and body: what securecookie seals
}

// Prepare does the part of Encode that does not depend on the purpose
// (serialization, compression, the header), so that one payload can be
// sealed for several purposes, a cookie name and then a store key say,
// without doing it twice. Encode(purpose, p) gives what
// Prepare(p) and then Seal(purpose) give.
func (c *Codec) Prepare(p Payload) (*Prepared, error) {
	plain, err := c.frame(nil, p)
	if err != nil {
		return nil, err
	}
	return &Prepared{c: c, plain: plain}, nil
}

// Seal returns the tamper-proof string of the prepared payload for
// purpose, as Encode does.
func (pr *Prepared) Seal(purpose string) (string, error) {
	if purpose == "" {
		return "", errors.New("codec: empty purpose")
	}
	buf := pr.c.getBuf()
	defer pr.c.putBuf(buf)
	*buf = append((*buf)[:0], pr.plain...)
	return pr.c.seal(purpose, *buf)
}

// MinSealedLen returns a length that no string Seal returns is shorter
// than, for any purpose: the sealed value carries the prepared bytes
// base64-encoded twice. A caller with a length budget can skip Seal when
// even this is over it.
func (pr *Prepared) MinSealedLen() int { return len(pr.plain) * 16 / 9 }

// frame appends to dst the header and the (compressed) serialized body of
// p: the plaintext that seal turns into a string.
func (c *Codec) frame(dst []byte, p Payload) ([]byte, error) {
	if err := checkTime("Expires", p.Expires); err != nil {
		return dst, err
	}
	if err := checkTime("Created", p.Created); err != nil {
		return dst, err
	}
	bodyBuf := c.getBuf()
	defer c.putBuf(bodyBuf)
	body := *bodyBuf
	var err error
	switch p.Kind {
	case KindData:
		values := p.Values
		if values == nil {
			// A nil map is an empty session. Serializers differ on it:
			// JSON would write null, which reads back as no map at all.
			values = map[string]any{}
		}
		body, err = c.ser.Append(body, values)
		if err != nil {
			return dst, err
		}
	case KindReference:
		if p.Ref == "" {
			return dst, errors.New("codec: empty store reference")
		}
		body = append(body, p.Ref...)
	default:
		return dst, fmt.Errorf("codec: cannot encode %v", p.Kind)
	}
	*bodyBuf = body
	if len(body) > c.maxSize {
		return dst, fmt.Errorf("%w: serialized session is %d bytes, over MaxSize %d", ErrTooLarge, len(body), c.maxSize)
	}

	if dst == nil {
		// Prepare's own buffer: room for the header and the body, which
		// compression only makes smaller.
		dst = make([]byte, 0, 40+len(body))
	}
	out := appendHeader(dst, header{kind: p.Kind, ser: c.ser.ID(), comp: compNone, expires: p.Expires, created: p.Created, id: p.ID})
	hdrLen := len(out)
	comp := c.comp
	if len(body) >= AutoZstdFrom {
		comp = c.compLarge
	}
	if comp.id() != compNone && len(body) >= c.threshold {
		out = comp.compress(out, body)
		if len(out)-hdrLen < len(body) {
			out[len(dst)+compOffset] = comp.id()
		} else {
			out = out[:hdrLen]
		}
	}
	if len(out) == hdrLen {
		out = append(out, body...)
	}
	return out, nil
}

// seal turns plain, which it encrypts in place, into the string for
// purpose.
func (c *Codec) seal(purpose string, plain []byte) (string, error) {
	s, err := c.verifiers[0].sc.Encode(purpose, plain)
	if err != nil {
		return "", fmt.Errorf("codec: %w", err)
	}
	if len(s) > c.maxLen {
		return "", fmt.Errorf("%w: encoded value is %d bytes, over MaxLength %d", ErrTooLarge, len(s), c.maxLen)
	}
	return s, nil
}

// Decode verifies and decodes a value made by Encode for the same purpose.
func (c *Codec) Decode(purpose, value string) (Decoded, error) {
	var d Decoded
	if len(value) > c.maxLen {
		return d, fmt.Errorf("%w: value is %d bytes, over MaxLength %d", ErrTooLarge, len(value), c.maxLen)
	}
	if value == "" {
		return d, fmt.Errorf("%w: empty value", ErrMalformed)
	}
	if !canonicalBase64(value) {
		return d, fmt.Errorf("%w: not canonical padded base64url", ErrMalformed)
	}
	// One pooled buffer serves twice: its pointer receives securecookie's
	// result (a local slice would escape through securecookie's interface
	// argument, an allocation per call), and its array receives the
	// decompressed body, which nothing keeps: serializers copy what they
	// return.
	bufp := c.getBuf()
	scratch := *bufp
	defer func() {
		*bufp = scratch
		c.putBuf(bufp)
	}()
	verified := false
	for _, v := range c.verifiers {
		err := v.sc.Decode(purpose, value, bufp)
		if err == nil {
			d.Stale = v.stale
			verified = true
			break
		}
		if err != securecookie.ErrMacInvalid {
			// Base64, layout and timestamp checks come before the MAC
			// and do not depend on the key: no other key can help.
			return d, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	if !verified {
		return d, ErrInvalid
	}
	h, body, err := parseHeader(*bufp)
	if err != nil {
		return d, err
	}
	d.Kind, d.Expires, d.Created, d.ID = h.kind, h.expires, h.created, h.id
	if !h.expires.IsZero() && !c.now().Before(h.expires) {
		return d, fmt.Errorf("%w: expired at %s", ErrExpired, h.expires.UTC().Format(time.RFC3339))
	}
	comp, ok := compressorByID(h.comp)
	if !ok {
		return d, fmt.Errorf("%w: ID %d", ErrUnknownCompression, h.comp)
	}
	d.Compression = comp.name()
	if h.comp != compNone && h.comp != c.comp.id() && h.comp != c.compLarge.id() {
		d.Stale |= StaleCompression
	}
	if h.comp != compNone {
		body, err = comp.decompress(scratch[:0], body, c.maxSize)
		if err != nil {
			return d, err
		}
		if cap(body) > cap(scratch) {
			scratch = body[:0] // decompress needed a larger array: keep it
		}
	}
	if h.kind == KindReference {
		d.Ref = string(body)
		d.Serializer = ""
		return d, nil
	}
	ser := c.ser
	if h.ser != ser.ID() {
		if ser, ok = serializer.ByID(h.ser); !ok {
			return d, fmt.Errorf("%w: ID %d", ErrUnknownSerializer, h.ser)
		}
		d.Stale |= StaleSerializer
	}
	d.Serializer = ser.Name()
	if d.Values, err = ser.Decode(body); err != nil {
		return d, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return d, nil
}

// canonicalBase64 reports whether s is padded base64url exactly as
// securecookie writes it. securecookie's decoder is lenient: it skips line
// breaks and ignores the unused low bits of the last character before the
// padding, so without this check one value would have several accepted
// spellings (a flipped bit or an added newline would still decode).
func canonicalBase64(s string) bool {
	if len(s) == 0 || len(s)%4 != 0 {
		return false
	}
	n, pad := len(s), 0
	for pad < 2 && s[n-1] == '=' {
		n--
		pad++
	}
	var bad int8
	for i := range n {
		bad |= base64URLTable[s[i]] // -1 sets the sign bit
	}
	if bad < 0 {
		return false
	}
	last := int(base64URLTable[s[n-1]])
	switch pad {
	case 1: // three characters carry two bytes: the low 2 bits are unused
		return last&0x03 == 0
	case 2: // two characters carry one byte: the low 4 bits are unused
		return last&0x0f == 0
	}
	return true
}

// base64URLValue returns the value of a base64url character, or -1.
func base64URLValue(c byte) int { return int(base64URLTable[c]) }

// base64URLTable maps each byte to its base64url value, or -1.
var base64URLTable = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(alphabet) {
		t[alphabet[i]] = int8(i)
	}
	return t
}()
