package codec

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The envelope header, inside the MAC:
//
//	byte 0   format version (1)
//	byte 1   kind (low 4 bits) | flags (high 4 bits)
//	byte 2   serializer ID (0 for references)
//	byte 3   compression ID
//	uvarint  absolute expiry, Unix seconds (0: none)
//	uvarint  creation time, Unix seconds (only when flagCreated is set)
//	12 bytes the session ID (only when flagID is set)
//	...      body
const (
	formatVersion = 1
	compOffset    = 3
	flagCreated   = 0x10
	flagID        = 0x20
	kindMask      = 0x0f
)

type header struct {
	kind    Kind
	ser     byte
	comp    byte
	expires time.Time
	created time.Time
	id      ID
}

func appendHeader(b []byte, h header) []byte {
	created := unixOrZero(h.created)
	kindFlags := byte(h.kind)
	if created != 0 {
		kindFlags |= flagCreated
	}
	hasID := !h.id.IsZero() && h.kind == KindData
	if hasID {
		kindFlags |= flagID
	}
	ser := h.ser
	if h.kind == KindReference {
		ser = 0
	}
	b = append(b, formatVersion, kindFlags, ser, h.comp)
	b = binary.AppendUvarint(b, expiryUnix(h.expires))
	if created != 0 {
		b = binary.AppendUvarint(b, created)
	}
	if hasID {
		b = append(b, h.id[:]...)
	}
	return b
}

func unixOrZero(t time.Time) uint64 {
	if t.IsZero() || t.Unix() <= 0 {
		return 0
	}
	return uint64(t.Unix())
}

// expiryUnix is the expiry to write: 0 for none, and 1, long past, for an
// expiry at or before the Unix epoch, which must stay expired rather than
// read back as "no expiry".
func expiryUnix(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	if t.Unix() <= 0 {
		return 1
	}
	return uint64(t.Unix())
}

// maxUnix bounds the times a header may carry (the year 9999), so that
// time.Unix never overflows.
const maxUnix = 253402300799

// checkTime reports a time that a header cannot carry.
func checkTime(name string, t time.Time) error {
	if !t.IsZero() && t.Unix() > maxUnix {
		return fmt.Errorf("codec: %s %s is after the year 9999", name, t.UTC().Format(time.RFC3339))
	}
	return nil
}

func parseHeader(b []byte) (header, []byte, error) {
	var h header
	if len(b) < 5 {
		return h, nil, fmt.Errorf("%w: header is %d bytes", ErrMalformed, len(b))
	}
	if b[0] != formatVersion {
		return h, nil, fmt.Errorf("%w: format version %d is not supported", ErrMalformed, b[0])
	}
	h.kind = Kind(b[1] & kindMask)
	flags := b[1] &^ kindMask
	if h.kind != KindData && h.kind != KindReference || flags&^(flagCreated|flagID) != 0 || h.kind == KindReference && flags&flagID != 0 {
		return h, nil, fmt.Errorf("%w: bad kind byte %#x", ErrMalformed, b[1])
	}
	h.ser, h.comp = b[2], b[3]
	if h.kind == KindReference && h.ser != 0 {
		return h, nil, fmt.Errorf("%w: reference with serializer ID %d", ErrMalformed, h.ser)
	}
	rest := b[4:]
	readTime := func() (time.Time, bool) {
		v, n := binary.Uvarint(rest)
		// A varint longer than one byte that ends in 0 is not minimal:
		// each header has exactly one encoding.
		if n <= 0 || v > maxUnix || n > 1 && rest[n-1] == 0 {
			return time.Time{}, false
		}
		rest = rest[n:]
		if v == 0 {
			return time.Time{}, true
		}
		return time.Unix(int64(v), 0), true
	}
	var ok bool
	if h.expires, ok = readTime(); !ok {
		return h, nil, fmt.Errorf("%w: bad expiry", ErrMalformed)
	}
	if flags&flagCreated != 0 {
		if h.created, ok = readTime(); !ok || h.created.IsZero() {
			return h, nil, fmt.Errorf("%w: bad creation time", ErrMalformed)
		}
	}
	if flags&flagID != 0 {
		if len(rest) < len(h.id) {
			return h, nil, fmt.Errorf("%w: truncated session ID", ErrMalformed)
		}
		copy(h.id[:], rest)
		if h.id.IsZero() {
			return h, nil, fmt.Errorf("%w: zero session ID", ErrMalformed)
		}
		rest = rest[len(h.id):]
	}
	return h, rest, nil
}
