package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/sessionkit/session/serializer"
)

// sentinels are the errors Decode wraps; each error wraps exactly one.
var sentinels = []error{ErrMalformed, ErrInvalid, ErrExpired, ErrTooLarge, ErrUnknownSerializer, ErrUnknownCompression, ErrCorrupt}

// checkSentinel fails unless err wraps want and no other sentinel.
func checkSentinel(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
		return
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("%s: err = %v wraps both %v and %v", what, err, want, s)
		}
	}
}

// seal MACs (and, unless c is SignOnly, encrypts) raw as c's current
// secret would, whatever raw holds: the way to reach the checks that run
// after the MAC.
func seal(t testing.TB, c *Codec, purpose string, raw []byte) string {
	t.Helper()
	// securecookie encrypts in place: give it a copy.
	s, err := c.verifiers[0].sc.Encode(purpose, bytes.Clone(raw))
	if err != nil {
		t.Fatalf("securecookie: %v", err)
	}
	return s
}

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

func uvarint(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func TestHandMadeHeaders(t *testing.T) {
	body, err := serializer.MsgPack.Append(nil, smallValues())
	if err != nil {
		t.Fatal(err)
	}
	jsonBody, err := serializer.JSON.Append(nil, smallValues())
	if err != nil {
		t.Fatal(err)
	}
	const v, data, ref, mp, none = formatVersion, byte(KindData), byte(KindReference), serializer.MsgPackID, compNone
	overflow := bytes.Repeat([]byte{0xff}, 10)
	overflow = append(overflow, 0x01)
	// The encoder writes no content size for frames under 256 bytes.
	noFCS := zstdEncoder().EncodeAll(bytes.Repeat([]byte("session "), 12), nil)
	var zh zstd.Header
	if err := zh.Decode(noFCS); err != nil || zh.HasFCS {
		t.Fatalf("small zstd frame: HasFCS = %v, %v; the test needs a frame without content size", zh.HasFCS, err)
	}

	for _, tt := range []struct {
		name string
		raw  []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"4 bytes", []byte{v, data, mp, none}, ErrMalformed},
		{"version 0", cat([]byte{0, data, mp, none, 0}, body), ErrMalformed},
		{"version 2", cat([]byte{2, data, mp, none, 0}, body), ErrMalformed},
		{"version 255", cat([]byte{255, data, mp, none, 0}, body), ErrMalformed},
		{"kind 0", cat([]byte{v, 0, mp, none, 0}, body), ErrMalformed},
		{"kind 3", cat([]byte{v, 3, mp, none, 0}, body), ErrMalformed},
		{"kind 15", cat([]byte{v, 15, mp, none, 0}, body), ErrMalformed},
		{"unknown flag 0x40", cat([]byte{v, data | 0x40, mp, none, 0}, body), ErrMalformed},
		{"ID flag, truncated ID", []byte{v, data | flagID, mp, none, 0, 1, 2, 3}, ErrMalformed},
		{"ID flag, zero ID", cat([]byte{v, data | flagID, mp, none, 0}, make([]byte, 12), body), ErrMalformed},
		{"ID flag on a reference", cat([]byte{v, 2 | flagID, 0, none, 0}, bytes.Repeat([]byte{1}, 12), []byte("key")), ErrMalformed},
		{"unknown flag 0x80", cat([]byte{v, ref | 0x80, 0, none, 0}, []byte("key")), ErrMalformed},
		{"reference with a serializer", cat([]byte{v, ref, mp, none, 0}, []byte("key")), ErrMalformed},
		{"serializer ID 0", cat([]byte{v, data, 0, none, 0}, body), ErrUnknownSerializer},
		{"serializer ID 9", cat([]byte{v, data, 9, none, 0}, body), ErrUnknownSerializer},
		{"serializer ID 255", cat([]byte{v, data, 255, none, 0}, body), ErrUnknownSerializer},
		{"compression ID 3", cat([]byte{v, data, mp, 3, 0}, body), ErrUnknownCompression},
		{"compression ID 255", cat([]byte{v, data, mp, 255, 0}, body), ErrUnknownCompression},
		{"compression ID 3 on a reference", cat([]byte{v, ref, 0, 3, 0}, []byte("key")), ErrUnknownCompression},
		{"expiry varint overflow", cat([]byte{v, data, mp, none}, overflow, body), ErrMalformed},
		{"expiry varint 10 bytes of 0xff", cat([]byte{v, data, mp, none}, bytes.Repeat([]byte{0xff}, 10)), ErrMalformed},
		{"expiry varint truncated", []byte{v, data, mp, none, 0x80}, ErrMalformed},
		{"expiry varint not minimal", cat([]byte{v, data, mp, none, 0x80, 0x00}, body), ErrMalformed},
		{"expiry varint not minimal 2", cat([]byte{v, data, mp, none}, []byte{0xff, 0x80, 0x00}, body), ErrMalformed},
		{"expiry in the year 10000", cat([]byte{v, data, mp, none}, uvarint(maxUnix+1), body), ErrMalformed},
		{"expiry max uint64", cat([]byte{v, data, mp, none}, uvarint(1<<64-1), body), ErrMalformed},
		{"created in the year 10000", cat([]byte{v, data | flagCreated, mp, none, 0}, uvarint(maxUnix+1), body), ErrMalformed},
		{"created flag, no time", []byte{v, data | flagCreated, mp, none, 0}, ErrMalformed},
		{"created flag, zero time", cat([]byte{v, data | flagCreated, mp, none, 0, 0}, body), ErrMalformed},
		{"created varint overflow", cat([]byte{v, data | flagCreated, mp, none, 0}, overflow, body), ErrMalformed},
		{"expired long ago", cat([]byte{v, data, mp, none}, uvarint(1), body), ErrExpired},
		{"expired and unknown compression", cat([]byte{v, data, mp, 9}, uvarint(1), body), ErrExpired},
		{"empty body", []byte{v, data, mp, none, 0}, ErrCorrupt},
		{"msgpack garbage", cat([]byte{v, data, mp, none, 0}, []byte{0xc1, 1, 2}), ErrCorrupt},
		{"json body under the msgpack ID", cat([]byte{v, data, mp, none, 0}, jsonBody), ErrCorrupt},
		{"msgpack body under the json ID", cat([]byte{v, data, serializer.JSONID, none, 0}, body), ErrCorrupt},
		{"msgpack body under the gob ID", cat([]byte{v, data, serializer.GobID, none, 0}, body), ErrCorrupt},
		{"trailing bytes after the map", cat([]byte{v, data, mp, none, 0}, body, []byte{0}), ErrCorrupt},
		{"s2 garbage", cat([]byte{v, data, mp, compS2, 0}, []byte{0x05, 0xff, 0xff}), ErrCorrupt},
		{"s2 bad length", cat([]byte{v, data, mp, compS2, 0}, bytes.Repeat([]byte{0xff}, 6)), ErrCorrupt},
		{"s2 empty", []byte{v, data, mp, compS2, 0}, ErrCorrupt},
		{"zstd garbage", cat([]byte{v, data, mp, compZstd, 0}, []byte("not a zstd frame")), ErrCorrupt},
		{"zstd empty", []byte{v, data, mp, compZstd, 0}, ErrCorrupt},
		{"zstd without content size", cat([]byte{v, data, mp, compZstd, 0}, noFCS), ErrCorrupt},
		{"zstd truncated", cat([]byte{v, data, mp, compZstd, 0}, zstdEncoder().EncodeAll(bytes.Repeat(body, 4), nil)[:20]), ErrCorrupt},
		{"zstd of garbage msgpack", cat([]byte{v, data, mp, compZstd, 0}, zstdEncoder().EncodeAll(bytes.Repeat([]byte{0xc1}, 300), nil)), ErrCorrupt},
		{"s2 of garbage msgpack", cat([]byte{v, data, mp, compS2, 0}, s2.Encode(nil, bytes.Repeat([]byte{0xc1}, 300))), ErrCorrupt},
	} {
		for _, signOnly := range []bool{false, true} {
			c := mustNew(t, Config{SignOnly: signOnly})
			_, err := c.Decode("sessionid", seal(t, c, "sessionid", tt.raw))
			checkSentinel(t, tt.name, err, tt.want)
		}
	}

	// The last second of the year 9999 is a valid expiry, and hand-made
	// headers that follow the format decode.
	c := mustNew(t, Config{})
	last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, tt := range []struct {
		name string
		raw  []byte
		p    Payload
	}{
		{"expiry in 9999", cat([]byte{v, data, mp, none}, uvarint(maxUnix), body), Payload{Kind: KindData, Values: smallValues(), Expires: last}},
		{"created in 9999", cat([]byte{v, data | flagCreated, mp, none, 0}, uvarint(maxUnix), body), Payload{Kind: KindData, Values: smallValues(), Created: last}},
		{"reference, empty", []byte{v, ref, 0, none, 0}, Payload{Kind: KindReference}},
		{"reference, s2", cat([]byte{v, ref, 0, compS2, 0}, s2.Encode(nil, []byte("store-key"))), Payload{Kind: KindReference, Ref: "store-key"}},
	} {
		d, err := c.Decode("sessionid", seal(t, c, "sessionid", tt.raw))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		checkDecoded(t, d, tt.p)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []header{
		{kind: KindData, ser: serializer.MsgPackID, comp: compNone},
		{kind: KindData, ser: serializer.GobID, comp: compZstd, expires: t0, created: t0.Add(-time.Hour)},
		{kind: KindData, ser: 200, comp: compS2, expires: time.Unix(1, 0)},
		{kind: KindData, ser: serializer.JSONID, comp: 77, created: time.Unix(maxUnix, 0)},
		{kind: KindReference, comp: compS2, expires: time.Unix(maxUnix, 0), created: time.Unix(1, 0)},
		{kind: KindReference, expires: time.Unix(127, 0), created: time.Unix(128, 0)},
	} {
		body := []byte("the body")
		b := appendHeader([]byte("prefix"), h)
		if string(b[:6]) != "prefix" {
			t.Fatalf("appendHeader overwrote its dst: %q", b)
		}
		got, rest, err := parseHeader(append(b[6:], body...))
		if err != nil {
			t.Errorf("%+v: %v", h, err)
			continue
		}
		if got.kind != h.kind || got.ser != h.ser || got.comp != h.comp || !got.expires.Equal(h.expires) || !got.created.Equal(h.created) {
			t.Errorf("parseHeader(appendHeader(%+v)) = %+v", h, got)
		}
		if string(rest) != "the body" {
			t.Errorf("rest = %q", rest)
		}
	}

	// What appendHeader normalizes.
	for _, tt := range []struct {
		name string
		in   header
		want header
	}{
		{"reference drops the serializer", header{kind: KindReference, ser: 3}, header{kind: KindReference}},
		{"sub-second times round down", header{kind: KindData, ser: 1, expires: t0.Add(999 * time.Millisecond), created: t0.Add(time.Nanosecond)}, header{kind: KindData, ser: 1, expires: t0, created: t0}},
		{"created before 1970 is unknown", header{kind: KindData, ser: 1, created: time.Unix(-10, 0)}, header{kind: KindData, ser: 1}},
		{"expiry at 1970 stays past", header{kind: KindData, ser: 1, expires: time.Unix(0, 0)}, header{kind: KindData, ser: 1, expires: time.Unix(1, 0)}},
		{"expiry before 1970 stays past", header{kind: KindData, ser: 1, expires: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)}, header{kind: KindData, ser: 1, expires: time.Unix(1, 0)}},
	} {
		got, _, err := parseHeader(appendHeader(nil, tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.kind != tt.want.kind || got.ser != tt.want.ser || !got.expires.Equal(tt.want.expires) || !got.created.Equal(tt.want.created) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
