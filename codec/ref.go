package codec

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"sync"
)

// A reference is the compact form of a cookie that points to a server-store
// session: the 32-byte session key and a 16-byte tag, HMAC-SHA256 over the
// purpose (the cookie name) and the key truncated to 128 bits, in unpadded
// base64url:
//
//	base64url(key[32] | tag[16])   64 characters
//
// The key is already a random secret, so it is not encrypted; the tag lets
// the holder of the secret refuse a forged or altered key without asking
// the store. Nothing else travels in the reference: the store keeps the
// session's expiry and data. An encoded value (Encode) is never RefLen
// characters long, so the length tells the two apart.
const (
	// RefLen is the length of every reference SealRef returns.
	RefLen = 64
	// RefKeyLen is the length of the key a reference carries.
	RefKeyLen = 32
	refTagLen = 16
)

// refMAC computes reference tags under one secret.
type refMAC struct {
	stale Stale
	pool  sync.Pool // of *refState
}

// refState is one HMAC with its scratch space, pooled so that computing a
// tag allocates nothing.
type refState struct {
	h   hash.Hash
	msg []byte
	sum []byte
}

func newRefMAC(key []byte, stale Stale) *refMAC {
	r := &refMAC{stale: stale}
	r.pool.New = func() any {
		return &refState{h: hmac.New(sha256.New, key), msg: make([]byte, 0, 128), sum: make([]byte, 0, sha256.Size)}
	}
	return r
}

// tag writes the tag of key for purpose into dst.
func (r *refMAC) tag(dst *[refTagLen]byte, purpose string, key *[RefKeyLen]byte) {
	st := r.pool.Get().(*refState)
	st.h.Reset()
	st.msg = append(append(append(st.msg[:0], purpose...), 0), key[:]...)
	st.h.Write(st.msg)
	st.sum = st.h.Sum(st.sum[:0])
	copy(dst[:], st.sum)
	r.pool.Put(st)
}

// SealRef returns the reference to key for purpose, tagged with the
// current secret.
func (c *Codec) SealRef(purpose string, key *[RefKeyLen]byte) string {
	var raw [RefKeyLen + refTagLen]byte
	copy(raw[:], key[:])
	c.refs[0].tag((*[refTagLen]byte)(raw[RefKeyLen:]), purpose, key)
	var out [RefLen]byte
	base64.RawURLEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

// OpenRef verifies a reference made by SealRef for the same purpose and
// returns its key. The tag is checked against the current secret, then
// each fallback; a reference that verifies only with a fallback is
// StaleKey. It returns an error wrapping ErrMalformed for a value that is
// not a reference, and ErrInvalid for one whose tag does not verify.
func (c *Codec) OpenRef(purpose, value string) (key [RefKeyLen]byte, stale Stale, err error) {
	var raw [RefKeyLen + refTagLen]byte
	if len(value) != RefLen {
		return key, 0, fmt.Errorf("%w: a reference is %d characters, not %d", ErrMalformed, RefLen, len(value))
	}
	// 64 characters are 16 groups of 4, each 3 bytes, with no bits left
	// over: every reference has exactly one spelling.
	for i := 0; i < RefLen; i += 4 {
		var v uint32
		for j := range 4 {
			d := base64URLValue(value[i+j])
			if d < 0 {
				return key, 0, fmt.Errorf("%w: reference is not base64url", ErrMalformed)
			}
			v = v<<6 | uint32(d)
		}
		o := i / 4 * 3
		raw[o], raw[o+1], raw[o+2] = byte(v>>16), byte(v>>8), byte(v)
	}
	copy(key[:], raw[:])
	got := raw[RefKeyLen:]
	var want [refTagLen]byte
	for _, r := range c.refs {
		r.tag(&want, purpose, &key)
		if subtle.ConstantTimeCompare(got, want[:]) == 1 {
			return key, r.stale, nil
		}
	}
	return [RefKeyLen]byte{}, 0, ErrInvalid
}

// IsRef reports whether value has the form of a reference (its length),
// not whether it verifies.
func IsRef(value string) bool { return len(value) == RefLen }
