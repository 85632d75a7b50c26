package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/serializer"
)

// fuzzPurpose is the purpose of the values in testdata/values.txt.
const fuzzPurpose = "sessionid"

func FuzzDecode(f *testing.F) {
	// The seeds come from a file: the fuzzing workers are separate
	// processes, and values encoded afresh differ in each (random IV,
	// securecookie's timestamp).
	c := fixtureReader(f)
	var seeds []string
	valid := map[string]bool{}
	for _, fx := range readFixtures(f) {
		if _, err := c.Decode(fuzzPurpose, fx.value); err != nil {
			f.Fatalf("seed does not decode: %v", err)
		}
		seeds = append(seeds, fx.value)
		valid[fx.value] = true
		f.Add(fx.value)
	}
	for _, g := range []string{
		"", "a", "====", "AAAA", "AA==", "AB==", "MTIzfGFiY3xkZWY=", "MTIzfHx8",
		"\n", "MTIz\nfGFiY3xkZWY=", strings.Repeat("A", 4096), strings.Repeat("=", 8),
		seeds[0][:len(seeds[0])/2], seeds[1] + "=", strings.ToUpper(seeds[2]), "\xff\xfe\x00",
	} {
		f.Add(g)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := c.Decode(fuzzPurpose, s)
		if err == nil {
			if !valid[s] {
				t.Fatalf("Decode accepted %q, which is not one of the values made by Encode: %+v", s, d.Payload)
			}
			return
		}
		matched := 0
		for _, e := range sentinels {
			if errors.Is(err, e) {
				matched++
			}
		}
		if matched != 1 {
			t.Fatalf("Decode error %q wraps %d sentinel errors, want 1", err, matched)
		}
		if valid[s] {
			t.Fatalf("a seed failed: %v", err)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	body := []byte("\x81\xa1a\x01")
	for _, h := range []header{
		{kind: KindData, ser: serializer.MsgPackID},
		{kind: KindData, ser: serializer.JSONID, comp: compS2, expires: t0},
		{kind: KindData, ser: serializer.GobID, comp: compZstd, expires: t0, created: t0.Add(-time.Hour)},
		{kind: KindReference, comp: compNone, created: time.Unix(1, 0)},
		{kind: KindReference, expires: time.Unix(maxUnix, 0), created: time.Unix(maxUnix, 0)},
		{kind: KindData, ser: 200, comp: 200, expires: time.Unix(127, 0)},
	} {
		f.Add(appendHeader(nil, h))
		f.Add(append(appendHeader(nil, h), body...))
	}
	for _, g := range [][]byte{
		nil, {1}, {1, 1, 1, 0}, {1, 1, 1, 0, 0x80}, {1, 1, 1, 0, 0x80, 0},
		{1, 0x11, 1, 0, 0}, {1, 0x11, 1, 0, 0, 0}, {2, 1, 1, 0, 0}, {1, 2, 1, 0, 0},
		append([]byte{1, 1, 1, 0}, bytes.Repeat([]byte{0xff}, 11)...),
	} {
		f.Add(g)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, rest, err := parseHeader(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseHeader error %v is not ErrMalformed", err)
			}
			return
		}
		if h.kind != KindData && h.kind != KindReference {
			t.Fatalf("parsed kind %v", h.kind)
		}
		if len(rest) > len(b) || !bytes.Equal(b[len(b)-len(rest):], rest) {
			t.Fatalf("rest %x is not a suffix of %x", rest, b)
		}
		prefix := b[:len(b)-len(rest)]
		if re := appendHeader(nil, h); !bytes.Equal(re, prefix) {
			t.Fatalf("header %x parses to %+v, which appendHeader writes as %x", prefix, h, re)
		}
	})
}
