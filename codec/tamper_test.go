package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionkit/session/serializer"
)

// rejected reports whether err is what a damaged or foreign value must
// give: a MAC failure or a malformed value.
func rejected(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrMalformed)
}

// tamperCases are small values, one per path through Decode: each mode,
// each serializer, each compression, each kind.
func tamperCases() []struct {
	name string
	cfg  Config
	p    Payload
	comp string // what Decoded.Compression must report for the intact value
} {
	// Over 256 bytes serialized (zstd's minimum) but a short value once
	// compressed.
	repetitive := map[string]any{"username": strings.Repeat("alice", 60), "user_id": int64(7)}
	return []struct {
		name string
		cfg  Config
		p    Payload
		comp string
	}{
		{"msgpack/encrypted", Config{}, Payload{Kind: KindData, Values: smallValues(), Expires: t0.Add(1e12)}, "none"},
		{"json/signonly", Config{Serializer: serializer.JSON, SignOnly: true}, Payload{Kind: KindData, Values: smallValues(), Created: t0}, "none"},
		{"gob/s2/encrypted", Config{Serializer: serializer.Gob, CompressThreshold: 16}, Payload{Kind: KindData, Values: repetitive}, "s2"},
		{"msgpack/zstd/signonly", Config{Compression: "zstd", CompressThreshold: 16, SignOnly: true}, Payload{Kind: KindData, Values: repetitive}, "zstd"},
		{"reference/signonly", Config{SignOnly: true}, Payload{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4"}, "none"},
		{"reference/encrypted", Config{}, Payload{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4"}, "none"},
	}
}

func TestEveryBitFlipRejected(t *testing.T) {
	for _, tc := range tamperCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, tc.cfg)
			// Try a few values: the outer base64 padding, and so the
			// slack bits of its last character, depend on the length.
			for extra := range 3 {
				p := tc.p
				if p.Kind == KindReference {
					p.Ref += strings.Repeat("x", extra)
				} else {
					p.Values = map[string]any{"pad": strings.Repeat("y", extra)}
					for k, v := range tc.p.Values {
						p.Values[k] = v
					}
				}
				s, err := c.Encode("sessionid", p)
				if err != nil {
					t.Fatal(err)
				}
				d, err := c.Decode("sessionid", s)
				if err != nil {
					t.Fatalf("intact value: %v", err)
				}
				if d.Compression != tc.comp {
					t.Fatalf("intact value: Compression = %q, want %q", d.Compression, tc.comp)
				}
				b := []byte(s)
				for i := range b {
					for bit := range 8 {
						b[i] ^= 1 << bit
						if d, err := c.Decode("sessionid", string(b)); !rejected(err) {
							t.Fatalf("bit %d of byte %d (%q→%q) flipped, len %d: Decode = %+v, %v; want ErrInvalid or ErrMalformed",
								bit, i, s[i], b[i], len(s), d.Payload, err)
						}
						b[i] ^= 1 << bit
					}
				}
			}
		})
	}
}

func TestEveryTruncationRejected(t *testing.T) {
	for _, tc := range tamperCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, tc.cfg)
			s, err := c.Encode("sessionid", tc.p)
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(s) {
				if _, err := c.Decode("sessionid", s[:i]); !rejected(err) {
					t.Fatalf("prefix of %d of %d bytes: err = %v", i, len(s), err)
				}
				if _, err := c.Decode("sessionid", s[i+1:]); !rejected(err) {
					t.Fatalf("suffix from byte %d of %d: err = %v", i+1, len(s), err)
				}
			}
		})
	}
}

// The cases below follow Django's tests/signing/tests.py.

func TestPurposesIsolate(t *testing.T) {
	c := mustNew(t, Config{})
	purposes := []string{"one", "two", "sessionid", "session|id", "session:id", "sessionid|", "|sessionid", "séssion", "k7q2x9mzv3b8n1c4"}
	values := map[string]string{}
	for _, p := range purposes {
		s, err := c.Encode(p, Payload{Kind: KindData, Values: smallValues()})
		if err != nil {
			t.Fatalf("Encode for %q: %v", p, err)
		}
		values[p] = s
	}
	for _, made := range purposes {
		for _, read := range purposes {
			_, err := c.Decode(read, values[made])
			if made == read && err != nil {
				t.Errorf("made and read for %q: %v", made, err)
			}
			if made != read && !errors.Is(err, ErrInvalid) {
				t.Errorf("made for %q, read for %q: err = %v, want ErrInvalid", made, read, err)
			}
		}
	}
}

func TestAwkwardValues(t *testing.T) {
	values := map[string]any{
		"a:b":           "c:d:e",
		"x|y":           "|pipes|everywhere||",
		"k:|":           "::||::",
		"ключ":          "значение",
		"名前":            "値 ✓ 😀",
		"":              "empty key",
		"nul\x00inside": "a\x00b",
		"quote\"s":      `"quoted" \ backslash`,
		"list":          []any{"a:b", "c|d", "é"},
	}
	for _, ser := range serializers {
		for _, comp := range compressions {
			c := mustNew(t, Config{Serializer: ser, Compression: comp, CompressThreshold: 1})
			for _, purpose := range []string{"sessionid", "a:b|c", "ключ"} {
				s, err := c.Encode(purpose, Payload{Kind: KindData, Values: values})
				if err != nil {
					t.Fatalf("%s/%s: %v", ser.Name(), comp, err)
				}
				d, err := c.Decode(purpose, s)
				if err != nil {
					t.Fatalf("%s/%s: %v", ser.Name(), comp, err)
				}
				if !reflect.DeepEqual(d.Values, values) {
					t.Errorf("%s/%s: got %#v", ser.Name(), comp, d.Values)
				}
			}
			ref := "key:with|separators/é"
			s, err := c.Encode("sessionid", Payload{Kind: KindReference, Ref: ref})
			if err != nil {
				t.Fatal(err)
			}
			if d, err := c.Decode("sessionid", s); err != nil || d.Ref != ref {
				t.Errorf("reference %q: got %q, %v", ref, d.Ref, err)
			}
		}
	}
}

func TestTamperTransforms(t *testing.T) {
	for _, signOnly := range []bool{false, true} {
		c := mustNew(t, Config{SignOnly: signOnly})
		s, err := c.Encode("sessionid", Payload{Kind: KindData, Values: smallValues()})
		if err != nil {
			t.Fatal(err)
		}
		other, err := c.Encode("sessionid", Payload{Kind: KindData, Values: map[string]any{"user_id": int64(1), "role": "admin"}})
		if err != nil {
			t.Fatal(err)
		}
		transforms := map[string]string{
			"uppercase":          strings.ToUpper(s),
			"lowercase":          strings.ToLower(s),
			"reversed":           reverse(s),
			"doubled":            s + s,
			"with whitespace":    " " + s,
			"newline in middle":  s[:len(s)/2] + "\n" + s[len(s)/2:],
			"CRLF in middle":     s[:len(s)/2] + "\r\n" + s[len(s)/2:],
			"trailing newline":   s + "\n",
			"padding removed":    strings.TrimRight(s, "="),
			"other value's MAC":  spliceMAC(t, s, other),
			"other value's body": spliceMAC(t, other, s),
		}
		if std := strings.NewReplacer("-", "+", "_", "/").Replace(s); std != s {
			transforms["std base64"] = std
		}
		for _, ch := range []string{"a", "A", "0", "-", "_", "=", ".", "|", ":"} {
			transforms["append "+ch] = s + ch
		}
		for _, ch := range []byte("AaZz09-_") {
			if s[0] != ch {
				transforms["first char "+string(ch)] = string(ch) + s[1:]
			}
		}
		// Remove securecookie's separators (Django's ':') after the base64
		// decoding, one at a time and all together.
		outer, err := base64.URLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		seps := 0
		for i, b := range outer {
			if b == '|' {
				seps++
				cut := append(append([]byte(nil), outer[:i]...), outer[i+1:]...)
				transforms["separator "+string(rune('0'+seps))+" removed"] = base64.URLEncoding.EncodeToString(cut)
				swapped := bytes.Clone(outer)
				swapped[i] = ':'
				transforms["separator "+string(rune('0'+seps))+" as colon"] = base64.URLEncoding.EncodeToString(swapped)
			}
		}
		if seps < 2 {
			t.Fatalf("expected securecookie's date|value|mac layout, found %d separators", seps)
		}
		transforms["all separators removed"] = base64.URLEncoding.EncodeToString(bytes.ReplaceAll(outer, []byte("|"), nil))
		transforms["extra separator"] = base64.URLEncoding.EncodeToString(append([]byte("|"), outer...))

		for name, v := range transforms {
			if v == s {
				t.Fatalf("%s: transform left the value unchanged", name)
			}
			if d, err := c.Decode("sessionid", v); !rejected(err) {
				t.Errorf("signonly=%v %s: Decode = %+v, %v; want ErrInvalid or ErrMalformed", signOnly, name, d.Payload, err)
			}
		}
		if _, err := c.Decode("sessionid", s); err != nil {
			t.Errorf("the untouched value: %v", err)
		}
	}
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// spliceMAC returns the date and body of a followed by the MAC of b.
func spliceMAC(t *testing.T, a, b string) string {
	t.Helper()
	pa, err := base64.URLEncoding.DecodeString(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := base64.URLEncoding.DecodeString(b)
	if err != nil {
		t.Fatal(err)
	}
	// The MAC is raw bytes after the second separator; it may itself
	// contain '|'.
	macStart := func(p []byte) int {
		parts := bytes.SplitN(p, []byte("|"), 3)
		if len(parts) != 3 {
			t.Fatalf("want date|value|mac, got %d parts", len(parts))
		}
		return len(p) - len(parts[2])
	}
	ia, ib := macStart(pa), macStart(pb)
	return base64.URLEncoding.EncodeToString(append(pa[:ia:ia], pb[ib:]...))
}
