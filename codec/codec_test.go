package codec

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gorilla/securecookie"

	"github.com/sessionkit/session/serializer"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)

var (
	serializers  = []serializer.Serializer{serializer.MsgPack, serializer.JSON, serializer.Gob}
	compressions = []string{"none", "s2", "zstd"}
)

// testSecret returns a 32-byte secret; different seeds give different
// secrets.
func testSecret(seed byte) []byte {
	b := make([]byte, MinSecretLen)
	for i := range b {
		b[i] = seed + byte(i)*7
	}
	return b
}

// mustNew builds a Codec, filling in a test secret and a fixed clock when
// cfg leaves them out.
func mustNew(tb testing.TB, cfg Config) *Codec {
	tb.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret(1)
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0 }
	}
	c, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// smallValues is a session that every serializer returns unchanged (same
// Go types), so results compare with reflect.DeepEqual whatever wrote or
// read them. It serializes to well under DefaultCompressThreshold.
func smallValues() map[string]any {
	return map[string]any{
		"user_id":  int64(4217),
		"username": "alice.martin",
		"roles":    []any{"admin", "editor", "beta"},
		"ratio":    0.25,
		"prefs":    map[string]any{"theme": "dark"},
	}
}

// largeValues is smallValues plus a ten-item cart: about 2 KB serialized.
func largeValues() map[string]any { return withCart(smallValues()) }

// withCart adds to v a cart of ten items, each with a long product name,
// and returns v.
func withCart(v map[string]any) map[string]any {
	cart := make([]any, 10)
	for i := range cart {
		cart[i] = map[string]any{
			"sku":   fmt.Sprintf("SKU-%06d", 100+i),
			"name":  fmt.Sprintf("Organic cotton crew-neck t-shirt, heather grey, size %c, pack of %d, gift-wrapped, delivered to the front desk of building B before noon", "SMLX"[i%4], i+1),
			"qty":   int64(i + 1),
			"price": 19.99 + float64(i),
		}
	}
	v["cart"] = cart
	return v
}

func serializedLen(tb testing.TB, s serializer.Serializer, v map[string]any) int {
	tb.Helper()
	b, err := s.Append(nil, v)
	if err != nil {
		tb.Fatalf("%s.Append: %v", s.Name(), err)
	}
	return len(b)
}

func TestPayloadSizes(t *testing.T) {
	// The round-trip tests rely on these sizes: the small payload stays
	// below the compression threshold, the large one is well above it.
	for _, s := range serializers {
		t.Logf("%s: small %d bytes, large %d bytes", s.Name(), serializedLen(t, s, smallValues()), serializedLen(t, s, largeValues()))
		if n := serializedLen(t, s, smallValues()); n >= DefaultCompressThreshold {
			t.Errorf("%s: small payload is %d bytes, want < %d", s.Name(), n, DefaultCompressThreshold)
		}
		if n := serializedLen(t, s, largeValues()); n < 1800 || n > 3200 {
			t.Errorf("%s: large payload is %d bytes, want about 2 KB", s.Name(), n)
		}
	}
}

// checkDecoded compares a decoded value with the payload it was made from.
// Times travel with second precision, rounded down.
func checkDecoded(t *testing.T, d Decoded, p Payload) {
	t.Helper()
	if d.Kind != p.Kind {
		t.Errorf("Kind = %v, want %v", d.Kind, p.Kind)
	}
	switch p.Kind {
	case KindData:
		want := p.Values
		if want == nil {
			want = map[string]any{}
		}
		if !reflect.DeepEqual(d.Values, want) {
			t.Errorf("Values = %#v\nwant %#v", d.Values, want)
		}
		if d.Ref != "" {
			t.Errorf("Ref = %q on a data value", d.Ref)
		}
	case KindReference:
		if d.Ref != p.Ref {
			t.Errorf("Ref = %q, want %q", d.Ref, p.Ref)
		}
		if d.Values != nil {
			t.Errorf("Values = %v on a reference", d.Values)
		}
	}
	for _, tt := range []struct {
		what      string
		got, want time.Time
	}{{"Expires", d.Expires, p.Expires}, {"Created", d.Created, p.Created}} {
		if tt.want.IsZero() {
			if !tt.got.IsZero() {
				t.Errorf("%s = %v, want the zero Time", tt.what, tt.got)
			}
		} else if !tt.got.Equal(tt.want.Truncate(time.Second)) {
			t.Errorf("%s = %v, want %v", tt.what, tt.got, tt.want.Truncate(time.Second))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	created := t0.Add(-time.Hour + 123*time.Millisecond)
	expires := t0.Add(time.Hour + 900*time.Millisecond)
	payloads := []struct {
		name  string
		p     Payload
		large bool
	}{
		{"data-small", Payload{Kind: KindData, Values: smallValues(), Expires: expires, Created: created}, false},
		{"data-2KB", Payload{Kind: KindData, Values: largeValues(), Expires: expires, Created: created}, true},
		{"ref-small", Payload{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4p0w5", Expires: expires, Created: created}, false},
		{"ref-2KB", Payload{Kind: KindReference, Ref: strings.Repeat("store-key-0123456789/", 100), Expires: expires, Created: created}, true},
		{"data-no-times", Payload{Kind: KindData, Values: smallValues()}, false},
		{"data-empty", Payload{Kind: KindData, Values: map[string]any{}}, false},
		{"data-nil-values", Payload{Kind: KindData}, false},
		{"ref-no-times", Payload{Kind: KindReference, Ref: "x"}, false},
	}
	for _, ser := range serializers {
		for _, signOnly := range []bool{false, true} {
			mode := "encrypted"
			if signOnly {
				mode = "signonly"
			}
			for _, pl := range payloads {
				lengths := map[string]int{}
				for _, comp := range compressions {
					t.Run(strings.Join([]string{ser.Name(), comp, mode, pl.name}, "/"), func(t *testing.T) {
						c := mustNew(t, Config{Serializer: ser, Compression: comp, SignOnly: signOnly})
						s, err := c.Encode("sessionid", pl.p)
						if err != nil {
							t.Fatalf("Encode: %v", err)
						}
						lengths[comp] = len(s)
						d, err := c.Decode("sessionid", s)
						if err != nil {
							t.Fatalf("Decode: %v", err)
						}
						checkDecoded(t, d, pl.p)
						if d.Stale != 0 {
							t.Errorf("Stale = %v, want current", d.Stale)
						}
						wantSer := ser.Name()
						if pl.p.Kind == KindReference {
							wantSer = ""
						}
						if d.Serializer != wantSer {
							t.Errorf("Serializer = %q, want %q", d.Serializer, wantSer)
						}
						wantComp := "none"
						if pl.large {
							wantComp = comp
						}
						if d.Compression != wantComp {
							t.Errorf("Compression = %q, want %q", d.Compression, wantComp)
						}
					})
				}
				if pl.large && lengths["none"] > 0 {
					for _, comp := range []string{"s2", "zstd"} {
						if lengths[comp] >= lengths["none"] {
							t.Errorf("%s/%s/%s: %s value is %d chars, uncompressed %d", ser.Name(), mode, pl.name, comp, lengths[comp], lengths["none"])
						}
					}
				}
			}
		}
	}
}

func TestWrongPurpose(t *testing.T) {
	c := mustNew(t, Config{})
	for _, p := range []Payload{
		{Kind: KindData, Values: smallValues()},
		{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4"},
	} {
		s, err := c.Encode("sessionid", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []string{"sessionid2", "Sessionid", "sessionid ", "csrftoken", "s"} {
			if _, err := c.Decode(other, s); !errors.Is(err, ErrInvalid) {
				t.Errorf("%v for %q decoded as %q: err = %v, want ErrInvalid", p.Kind, "sessionid", other, err)
			}
		}
		if _, err := c.Decode("sessionid", s); err != nil {
			t.Errorf("right purpose: %v", err)
		}
	}
}

func TestExpiry(t *testing.T) {
	now := t0
	c := mustNew(t, Config{Now: func() time.Time { return now }})
	expires := t0.Add(time.Hour)
	s, err := c.Encode("sessionid", Payload{Kind: KindData, Values: smallValues(), Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := c.Encode("sessionid", Payload{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4", Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		now     time.Time
		expired bool
	}{
		{t0, false},
		{expires.Add(-time.Second), false},
		{expires.Add(-time.Nanosecond), false},
		{expires, true},
		{expires.Add(time.Nanosecond), true},
		{expires.Add(24 * time.Hour), true},
	} {
		now = tt.now
		for _, v := range []string{s, ref} {
			d, err := c.Decode("sessionid", v)
			switch {
			case tt.expired && !errors.Is(err, ErrExpired):
				t.Errorf("now = expiry%+v: err = %v, want ErrExpired", tt.now.Sub(expires), err)
			case !tt.expired && err != nil:
				t.Errorf("now = expiry%+v: err = %v, want success", tt.now.Sub(expires), err)
			case !tt.expired && !d.Expires.Equal(expires):
				t.Errorf("Expires = %v, want %v", d.Expires, expires)
			}
		}
	}

	// Sub-second expiries round down: a value never lives longer than
	// asked.
	now = t0
	s, err = c.Encode("sessionid", Payload{Kind: KindData, Values: smallValues(), Expires: t0.Add(999 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decode("sessionid", s); !errors.Is(err, ErrExpired) {
		t.Errorf("expiry 999ms ahead, second precision: err = %v, want ErrExpired", err)
	}

	// Past expiries, including ones before 1970, stay expired: they must
	// never turn into "no expiry".
	for _, past := range []time.Time{
		t0.Add(-time.Second),
		time.Unix(1, 0),
		time.Unix(0, 0),
		time.Unix(-1, 0),
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), // not the zero Time
	} {
		s, err := c.Encode("sessionid", Payload{Kind: KindData, Values: smallValues(), Expires: past})
		if err != nil {
			t.Errorf("Encode with Expires %v: %v", past, err)
			continue
		}
		if _, err := c.Decode("sessionid", s); !errors.Is(err, ErrExpired) {
			t.Errorf("Expires %v: err = %v, want ErrExpired", past, err)
		}
	}
}

func TestTimesOutOfRange(t *testing.T) {
	c := mustNew(t, Config{})
	y9999 := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, p := range []Payload{
		{Kind: KindData, Values: smallValues(), Expires: y9999},
		{Kind: KindData, Values: smallValues(), Created: y9999},
	} {
		s, err := c.Encode("sessionid", p)
		if err != nil {
			t.Fatalf("Encode at the last second of 9999: %v", err)
		}
		d, err := c.Decode("sessionid", s)
		if err != nil {
			t.Fatalf("Decode at the last second of 9999: %v", err)
		}
		checkDecoded(t, d, p)
	}
	y10000 := y9999.Add(time.Second)
	for _, p := range []Payload{
		{Kind: KindData, Values: smallValues(), Expires: y10000},
		{Kind: KindData, Values: smallValues(), Created: y10000},
		{Kind: KindReference, Ref: "k", Expires: y10000.AddDate(5000, 0, 0)},
	} {
		if s, err := c.Encode("sessionid", p); err == nil || !strings.Contains(err.Error(), "9999") {
			t.Errorf("Encode with a time in the year 10000 = %q, %v; want an error naming the year 9999", s, err)
		}
	}
	// A creation time before 1970 is carried as "unknown".
	s, err := c.Encode("sessionid", Payload{Kind: KindData, Values: smallValues(), Created: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.Decode("sessionid", s); err != nil || !d.Created.IsZero() {
		t.Errorf("Created before 1970: Created = %v, err = %v; want the zero Time", d.Created, err)
	}
}

func TestFallbackSecrets(t *testing.T) {
	a, b, x := testSecret(10), testSecret(20), testSecret(30)
	old := mustNew(t, Config{Secret: a})
	s, err := old.Encode("sessionid", Payload{Kind: KindData, Values: smallValues()})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := old.Encode("sessionid", Payload{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4"})
	if err != nil {
		t.Fatal(err)
	}

	for _, fallbacks := range [][][]byte{{a}, {x, a}} {
		rotated := mustNew(t, Config{Secret: b, Fallbacks: fallbacks})
		for _, v := range []string{s, ref} {
			d, err := rotated.Decode("sessionid", v)
			if err != nil {
				t.Fatalf("%d fallbacks: %v", len(fallbacks), err)
			}
			if d.Stale != StaleKey {
				t.Errorf("Stale = %v, want %v", d.Stale, StaleKey)
			}
		}
		// What the rotated codec writes is current for it, and unreadable
		// by the old one.
		fresh, err := rotated.Encode("sessionid", Payload{Kind: KindData, Values: smallValues()})
		if err != nil {
			t.Fatal(err)
		}
		if d, err := rotated.Decode("sessionid", fresh); err != nil || d.Stale != 0 {
			t.Errorf("value under the current secret: Stale = %v, err = %v; want current", d.Stale, err)
		}
		if _, err := old.Decode("sessionid", fresh); !errors.Is(err, ErrInvalid) {
			t.Errorf("old codec read a value of the new secret: err = %v", err)
		}
	}

	// The current secret, even with fallbacks configured, is never stale.
	withFallback := mustNew(t, Config{Secret: a, Fallbacks: [][]byte{b}})
	if d, err := withFallback.Decode("sessionid", s); err != nil || d.Stale != 0 {
		t.Errorf("current secret with fallbacks: Stale = %v, err = %v", d.Stale, err)
	}

	dropped := mustNew(t, Config{Secret: b, Fallbacks: [][]byte{x}})
	for _, v := range []string{s, ref} {
		if _, err := dropped.Decode("sessionid", v); !errors.Is(err, ErrInvalid) {
			t.Errorf("secret dropped from the fallbacks: err = %v, want ErrInvalid", err)
		}
	}
}

func TestSignOnlyToggle(t *testing.T) {
	enc := mustNew(t, Config{})
	sig := mustNew(t, Config{SignOnly: true})
	for _, tt := range []struct {
		name   string
		writer *Codec
		reader *Codec
	}{{"encrypted→signonly", enc, sig}, {"signonly→encrypted", sig, enc}} {
		for _, p := range []Payload{
			{Kind: KindData, Values: largeValues()},
			{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4"},
		} {
			s, err := tt.writer.Encode("sessionid", p)
			if err != nil {
				t.Fatal(err)
			}
			d, err := tt.reader.Decode("sessionid", s)
			if err != nil {
				t.Fatalf("%s %v: %v", tt.name, p.Kind, err)
			}
			checkDecoded(t, d, p)
			if d.Stale != StaleMode {
				t.Errorf("%s %v: Stale = %v, want %v", tt.name, p.Kind, d.Stale, StaleMode)
			}
		}
	}

	// Mode and key staleness combine.
	rotated := mustNew(t, Config{Secret: testSecret(2), Fallbacks: [][]byte{testSecret(1)}, SignOnly: true})
	s, err := enc.Encode("sessionid", Payload{Kind: KindData, Values: smallValues()})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := rotated.Decode("sessionid", s); err != nil || d.Stale != StaleKey|StaleMode {
		t.Errorf("fallback secret and other mode: Stale = %v, err = %v", d.Stale, err)
	}
}

// innerBytes undoes securecookie's two base64 layers and returns what was
// given to it: the header and body, or the IV and ciphertext.
func innerBytes(t *testing.T, s string) []byte {
	t.Helper()
	outer, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("outer base64: %v", err)
	}
	parts := bytes.SplitN(outer, []byte("|"), 3)
	if len(parts) != 3 {
		t.Fatalf("want date|value|mac, got %d parts", len(parts))
	}
	inner, err := base64.URLEncoding.DecodeString(string(parts[1]))
	if err != nil {
		t.Fatalf("inner base64: %v", err)
	}
	return inner
}

func TestSignOnlyIsReadableEncryptedIsNot(t *testing.T) {
	const secret = "alice.secret-username"
	values := map[string]any{"username": secret, "user_id": int64(7)}
	for _, ser := range serializers {
		sig := mustNew(t, Config{Serializer: ser, SignOnly: true, Compression: "none"})
		enc := mustNew(t, Config{Serializer: ser, Compression: "none"})
		s, err := sig.Encode("sessionid", Payload{Kind: KindData, Values: values})
		if err != nil {
			t.Fatal(err)
		}
		inner := innerBytes(t, s)
		if !bytes.Contains(inner, []byte(secret)) {
			t.Errorf("%s signonly: %q not visible in %q", ser.Name(), secret, inner)
		}
		body, err := ser.Append(nil, map[string]any{"username": secret})
		if err != nil {
			t.Fatal(err)
		}
		if ser == serializer.JSON && !bytes.Contains(inner, body[1:len(body)-1]) {
			t.Errorf("json signonly: serialized body %q not visible in %q", body, inner)
		}

		e, err := enc.Encode("sessionid", Payload{Kind: KindData, Values: values})
		if err != nil {
			t.Fatal(err)
		}
		inner = innerBytes(t, e)
		if bytes.Contains(inner, []byte(secret)) || bytes.Contains(inner, []byte("username")) {
			t.Errorf("%s encrypted: plaintext visible in %q", ser.Name(), inner)
		}
		if d, err := enc.Decode("sessionid", e); err != nil || d.Values["username"] != secret {
			t.Errorf("%s encrypted: %v, %v", ser.Name(), d.Values, err)
		}
	}
	// The same payload encrypted twice gives two different values (random
	// IV); signed only, the body part is the same.
	enc := mustNew(t, Config{})
	e1, _ := enc.Encode("sessionid", Payload{Kind: KindData, Values: values})
	e2, _ := enc.Encode("sessionid", Payload{Kind: KindData, Values: values})
	if bytes.Equal(innerBytes(t, e1), innerBytes(t, e2)) {
		t.Error("two encryptions of the same payload are identical")
	}
}

func TestCrossSerializer(t *testing.T) {
	for _, w := range serializers {
		writer := mustNew(t, Config{Serializer: w})
		p := Payload{Kind: KindData, Values: largeValues(), Expires: t0.Add(time.Hour)}
		s, err := writer.Encode("sessionid", p)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := writer.Encode("sessionid", Payload{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range serializers {
			reader := mustNew(t, Config{Serializer: r})
			d, err := reader.Decode("sessionid", s)
			if err != nil {
				t.Fatalf("%s → %s: %v", w.Name(), r.Name(), err)
			}
			checkDecoded(t, d, p)
			if d.Serializer != w.Name() {
				t.Errorf("%s → %s: Serializer = %q", w.Name(), r.Name(), d.Serializer)
			}
			var want Stale
			if w != r {
				want = StaleSerializer
			}
			if d.Stale != want {
				t.Errorf("%s → %s: Stale = %v, want %v", w.Name(), r.Name(), d.Stale, want)
			}
			// References carry no serialized body: never stale for it.
			if d, err := reader.Decode("sessionid", ref); err != nil || d.Stale != 0 || d.Ref != "k7q2x9mzv3b8n1c4" {
				t.Errorf("%s → %s reference: %+v, %v", w.Name(), r.Name(), d, err)
			}
		}
	}
}

func TestCrossCompression(t *testing.T) {
	for _, w := range compressions {
		writer := mustNew(t, Config{Compression: w})
		p := Payload{Kind: KindData, Values: largeValues()}
		s, err := writer.Encode("sessionid", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range compressions {
			reader := mustNew(t, Config{Compression: r})
			d, err := reader.Decode("sessionid", s)
			if err != nil {
				t.Fatalf("%s → %s: %v", w, r, err)
			}
			checkDecoded(t, d, p)
			if d.Compression != w {
				t.Errorf("%s → %s: Compression = %q", w, r, d.Compression)
			}
			var want Stale
			if w != "none" && w != r {
				want = StaleCompression
			}
			if d.Stale != want {
				t.Errorf("%s → %s: Stale = %v, want %v", w, r, d.Stale, want)
			}
		}
	}
	// Everything at once: old secret, other mode, serializer and
	// compression.
	writer := mustNew(t, Config{Secret: testSecret(1), Serializer: serializer.Gob, Compression: "zstd", SignOnly: true})
	s, err := writer.Encode("sessionid", Payload{Kind: KindData, Values: largeValues()})
	if err != nil {
		t.Fatal(err)
	}
	reader := mustNew(t, Config{Secret: testSecret(2), Fallbacks: [][]byte{testSecret(1)}, Serializer: serializer.JSON, Compression: "s2"})
	d, err := reader.Decode("sessionid", s)
	if err != nil {
		t.Fatal(err)
	}
	if want := StaleKey | StaleMode | StaleSerializer | StaleCompression; d.Stale != want {
		t.Errorf("Stale = %v, want %v", d.Stale, want)
	}
	if got := d.Stale.String(); got != "fallback secret, encryption mode, serializer, compression" {
		t.Errorf("Stale.String() = %q", got)
	}
}

func TestConfigValidation(t *testing.T) {
	good := testSecret(1)
	for _, tt := range []struct {
		name  string
		cfg   Config
		isKey bool     // the error wraps ErrKey
		says  []string // the error message contains each
	}{
		{"no secret", Config{}, true, []string{"Secret", "0 bytes", "32"}},
		{"short secret", Config{Secret: good[:31]}, true, []string{"Secret", "31 bytes", "32"}},
		{"short fallback", Config{Secret: good, Fallbacks: [][]byte{testSecret(2), []byte("sixteen-byte-key")}}, true, []string{"Fallbacks[1]", "16 bytes", "32"}},
		{"empty fallback", Config{Secret: good, Fallbacks: [][]byte{nil}}, true, []string{"Fallbacks[0]", "32"}},
		{"fallback repeats secret", Config{Secret: good, Fallbacks: [][]byte{testSecret(2), testSecret(1)}}, true, []string{"Fallbacks[1]", "repeats"}},
		{"fallbacks repeat", Config{Secret: good, Fallbacks: [][]byte{testSecret(2), testSecret(2)}}, true, []string{"Fallbacks[1]", "repeats"}},
		{"unknown compression", Config{Secret: good, Compression: "lz4"}, false, []string{`"lz4"`, "auto, s2, zstd, none"}},
		{"negative threshold", Config{Secret: good, CompressThreshold: -1}, false, []string{"CompressThreshold", "negative"}},
		{"negative max length", Config{Secret: good, MaxLength: -1}, false, []string{"MaxLength", "negative"}},
		{"negative max size", Config{Secret: good, MaxSize: -5}, false, []string{"MaxSize", "negative"}},
		{"serializer ID 0", Config{Secret: good, Serializer: customSerializer{id: 0}}, false, []string{"ID 0"}},
		{"serializer takes a built-in ID", Config{Secret: good, Serializer: customSerializer{id: serializer.JSONID}}, false, []string{"custom", "json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("New = %v, want an error", c)
			}
			if errors.Is(err, ErrKey) != tt.isKey {
				t.Errorf("errors.Is(%v, ErrKey) = %v, want %v", err, !tt.isKey, tt.isKey)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}

	c, err := New(Config{Secret: good})
	if err != nil {
		t.Fatal(err)
	}
	if c.Compression() != DefaultCompression || c.Serializer() != serializer.MsgPack || c.MaxLength() != DefaultMaxLength {
		t.Errorf("defaults: compression %q, serializer %q, max length %d", c.Compression(), c.Serializer().Name(), c.MaxLength())
	}
	c, err = New(Config{Secret: good, Compression: "ZStd", Serializer: serializer.Gob, MaxLength: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if c.Compression() != "zstd" || c.Serializer() != serializer.Gob || c.MaxLength() != 4096 {
		t.Errorf("compression %q, serializer %q, max length %d", c.Compression(), c.Serializer().Name(), c.MaxLength())
	}
}

// customSerializer is an application serializer wrapping JSON under its
// own ID.
type customSerializer struct{ id byte }

func (s customSerializer) ID() byte     { return s.id }
func (s customSerializer) Name() string { return "custom" }
func (s customSerializer) Append(dst []byte, v map[string]any) ([]byte, error) {
	return serializer.JSON.Append(dst, v)
}
func (s customSerializer) Decode(b []byte) (map[string]any, error) { return serializer.JSON.Decode(b) }

func TestCustomSerializer(t *testing.T) {
	custom := mustNew(t, Config{Serializer: customSerializer{id: 200}})
	s, err := custom.Encode("sessionid", Payload{Kind: KindData, Values: smallValues()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := custom.Decode("sessionid", s)
	if err != nil || d.Serializer != "custom" || d.Stale != 0 {
		t.Fatalf("custom serializer: %+v, %v", d, err)
	}
	checkDecoded(t, d, Payload{Kind: KindData, Values: smallValues()})
	// A codec without it cannot read the value, and says why.
	_, err = mustNew(t, Config{}).Decode("sessionid", s)
	if !errors.Is(err, ErrUnknownSerializer) || !strings.Contains(err.Error(), "200") {
		t.Errorf("err = %v, want ErrUnknownSerializer naming ID 200", err)
	}
}

func TestMaxLength(t *testing.T) {
	big := Payload{Kind: KindData, Values: largeValues()}
	c := mustNew(t, Config{Compression: "none"})
	s, err := c.Encode("sessionid", big)
	if err != nil {
		t.Fatal(err)
	}
	n := len(s)

	// Encode: a cap below the value's length refuses it.
	small := mustNew(t, Config{Compression: "none", MaxLength: n - 100})
	if _, err := small.Encode("sessionid", big); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MaxLength") {
		t.Errorf("Encode over MaxLength: err = %v, want ErrTooLarge", err)
	}
	// Decode: exactly at the cap is fine, one byte over is not.
	if _, err := mustNew(t, Config{MaxLength: n}).Decode("sessionid", s); err != nil {
		t.Errorf("Decode at MaxLength: %v", err)
	}
	if _, err := mustNew(t, Config{MaxLength: n - 1}).Decode("sessionid", s); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode one byte over MaxLength: err = %v, want ErrTooLarge", err)
	}
	// The default cap applies to arbitrary input, before any decoding.
	if _, err := c.Decode("sessionid", strings.Repeat("A", DefaultMaxLength+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode of %d bytes: err = %v, want ErrTooLarge", DefaultMaxLength+1, err)
	}
}

func TestMaxSize(t *testing.T) {
	for _, ser := range serializers {
		// gob's size for a map of several keys varies by a byte or so with
		// the map's order; one key gives every serializer a fixed size.
		big := Payload{Kind: KindData, Values: map[string]any{"blob": strings.Repeat("session data ", 160)}}
		n := serializedLen(t, ser, big.Values)
		for _, comp := range compressions {
			if _, err := mustNew(t, Config{Serializer: ser, Compression: comp, MaxSize: n}).Encode("sessionid", big); err != nil {
				t.Errorf("%s/%s: Encode at MaxSize: %v", ser.Name(), comp, err)
			}
			_, err := mustNew(t, Config{Serializer: ser, Compression: comp, MaxSize: n - 1}).Encode("sessionid", big)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MaxSize") {
				t.Errorf("%s/%s: Encode over MaxSize: err = %v, want ErrTooLarge", ser.Name(), comp, err)
			}
		}
		// Decompression is capped by the reader's MaxSize.
		for _, comp := range []string{"s2", "zstd"} {
			s, err := mustNew(t, Config{Serializer: ser, Compression: comp}).Encode("sessionid", big)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mustNew(t, Config{Serializer: ser, MaxSize: n}).Decode("sessionid", s); err != nil {
				t.Errorf("%s/%s: Decode at MaxSize: %v", ser.Name(), comp, err)
			}
			if _, err := mustNew(t, Config{Serializer: ser, MaxSize: n - 1}).Decode("sessionid", s); !errors.Is(err, ErrTooLarge) {
				t.Errorf("%s/%s: Decode inflating past MaxSize: err = %v, want ErrTooLarge", ser.Name(), comp, err)
			}
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	c := mustNew(t, Config{})
	for _, tt := range []struct {
		name    string
		purpose string
		p       Payload
		says    string
	}{
		{"empty purpose", "", Payload{Kind: KindData, Values: smallValues()}, "purpose"},
		{"empty reference", "sessionid", Payload{Kind: KindReference}, "reference"},
		{"zero kind", "sessionid", Payload{Values: smallValues()}, "Kind(0)"},
		{"unknown kind", "sessionid", Payload{Kind: 3, Ref: "k"}, "Kind(3)"},
	} {
		s, err := c.Encode(tt.purpose, tt.p)
		if err == nil || s != "" || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: Encode = %q, %v; want an error mentioning %q", tt.name, s, err, tt.says)
		}
	}
	if _, err := c.Decode("sessionid", ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("Decode of the empty string: err = %v, want ErrMalformed", err)
	}
}

// point has an unexported field: no serializer stores it.
type point struct{ X, y int }

func TestUnsupportedValue(t *testing.T) {
	for _, tt := range []struct {
		ser serializer.Serializer
		bad any
	}{
		{serializer.MsgPack, point{1, 2}},
		{serializer.MsgPack, map[string]any{"nested": complex(1, 2)}},
		{serializer.JSON, make(chan int)},
		{serializer.JSON, []any{"ok", point{}}},
		{serializer.Gob, make(chan int)},
		{serializer.Gob, point{1, 2}},
	} {
		c := mustNew(t, Config{Serializer: tt.ser})
		values := map[string]any{"user_id": int64(1), "username": "bob", "the_bad_key": tt.bad}
		s, err := c.Encode("sessionid", Payload{Kind: KindData, Values: values})
		var ue *serializer.UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("%s %T: Encode = %q, %v; want *serializer.UnsupportedError", tt.ser.Name(), tt.bad, s, err)
			continue
		}
		if ue.Key != "the_bad_key" || ue.Serializer != tt.ser.Name() || !strings.Contains(err.Error(), "the_bad_key") {
			t.Errorf("%s %T: %+v does not name the key", tt.ser.Name(), tt.bad, ue)
		}
		if !errors.Is(err, serializer.ErrUnsupported) {
			t.Errorf("%s: errors.Is(err, ErrUnsupported) is false", tt.ser.Name())
		}
	}
}

// callerValues builds the same session every time it is called, so one
// copy can be handed to Encode and compared with a fresh one afterwards.
func callerValues() map[string]any {
	v := largeValues()
	v["csrf_token"] = []byte("0123456789abcdef0123456789abcdef")
	v["tags"] = []string{"a", "b"}
	v["blobs"] = [][]byte{{1, 2, 3}, {4, 5}}
	return v
}

func TestEncodeLeavesCallerDataAlone(t *testing.T) {
	for _, ser := range serializers {
		for _, comp := range compressions {
			for _, signOnly := range []bool{false, true} {
				c := mustNew(t, Config{Serializer: ser, Compression: comp, SignOnly: signOnly, CompressThreshold: 1})
				values := callerValues()
				token := values["csrf_token"].([]byte)
				// The Ref shares memory with a byte slice the test watches: a
				// codec that handed the string's bytes to securecookie, which
				// encrypts in place, would change them.
				ref := []byte("k7q2x9mzv3b8n1c4k7q2x9mzv3b8n1c4")
				refStr := unsafe.String(&ref[0], len(ref))
				for range 3 { // pooled buffers are reused from the second call on
					if _, err := c.Encode("sessionid", Payload{Kind: KindData, Values: values}); err != nil {
						t.Fatal(err)
					}
					if _, err := c.Encode("sessionid", Payload{Kind: KindReference, Ref: refStr}); err != nil {
						t.Fatal(err)
					}
				}
				if !reflect.DeepEqual(values, callerValues()) {
					t.Errorf("%s/%s/signonly=%v: Encode changed the caller's values", ser.Name(), comp, signOnly)
				}
				if string(token) != "0123456789abcdef0123456789abcdef" {
					t.Errorf("%s/%s/signonly=%v: the caller's []byte now holds %q", ser.Name(), comp, signOnly, token)
				}
				if string(ref) != "k7q2x9mzv3b8n1c4k7q2x9mzv3b8n1c4" {
					t.Errorf("%s/%s/signonly=%v: the caller's Ref now holds %q", ser.Name(), comp, signOnly, ref)
				}
			}
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{SignOnly: true, Compression: "zstd", Serializer: serializer.JSON},
		{Serializer: serializer.Gob, Compression: "none"},
	} {
		c := mustNew(t, cfg)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					v := smallValues()
					if i%3 == 0 {
						v = largeValues()
					}
					v["user_id"] = int64(g*1000 + i)
					p := Payload{Kind: KindData, Values: v, Expires: t0.Add(time.Duration(i) * time.Hour)}
					if i%5 == 0 {
						p = Payload{Kind: KindReference, Ref: fmt.Sprintf("key-%d-%d", g, i)}
					}
					s, err := c.Encode("sessionid", p)
					if err != nil {
						t.Errorf("Encode: %v", err)
						return
					}
					d, err := c.Decode("sessionid", s)
					if err != nil {
						t.Errorf("Decode: %v", err)
						return
					}
					if d.Kind != p.Kind || d.Ref != p.Ref || (p.Kind == KindData && !reflect.DeepEqual(d.Values, p.Values)) {
						t.Errorf("goroutine %d, %d: got %+v, want %+v", g, i, d.Payload, p)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

func TestStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{KindData.String(), "data"},
		{KindReference.String(), "reference"},
		{Kind(7).String(), "Kind(7)"},
		{Stale(0).String(), "current"},
		{StaleKey.String(), "fallback secret"},
		{(StaleSerializer | StaleMode).String(), "encryption mode, serializer"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if got := strings.Join(CompressionNames(), ","); got != "auto,s2,zstd,none" {
		t.Errorf("CompressionNames() = %q", got)
	}
}

func TestLowThresholdSmallBodies(t *testing.T) {
	// With CompressThreshold 1 every body goes through the compressor,
	// whatever its size; each must come back, compressed or not.
	for _, comp := range compressions {
		c := mustNew(t, Config{Compression: comp, CompressThreshold: 1})
		for n := 0; n <= 600; n += 7 {
			for _, v := range []string{strings.Repeat("a", n), strings.Repeat("session ", n/8)} {
				p := Payload{Kind: KindData, Values: map[string]any{"v": v}}
				s, err := c.Encode("sessionid", p)
				if err != nil {
					t.Fatalf("%s, %d bytes: Encode: %v", comp, n, err)
				}
				d, err := c.Decode("sessionid", s)
				if err != nil {
					t.Fatalf("%s, %d bytes: Decode: %v", comp, n, err)
				}
				checkDecoded(t, d, p)
				if d.Compression != "none" && d.Compression != comp {
					t.Fatalf("%s: Compression = %q", comp, d.Compression)
				}
			}
		}
		// A highly compressible body over zstd's minimum is compressed.
		s, err := c.Encode("sessionid", Payload{Kind: KindData, Values: map[string]any{"v": strings.Repeat("a", 300)}})
		if err != nil {
			t.Fatal(err)
		}
		if d, err := c.Decode("sessionid", s); err != nil || d.Compression != comp {
			t.Errorf("%s: 300 repeated bytes: Compression = %q, %v", comp, d.Compression, err)
		}
	}
}

func TestDecodedValuesOutliveTheNextDecode(t *testing.T) {
	// Decode reuses its buffers from call to call: what it returned must
	// not share memory with them.
	for _, ser := range serializers {
		for _, comp := range compressions {
			c := mustNew(t, Config{Serializer: ser, Compression: comp})
			a := callerValues()
			b := callerValues()
			b["csrf_token"] = []byte("ffffffffffffffffffffffffffffffff")
			b["username"] = "mallory.other"
			sa, err := c.Encode("sessionid", Payload{Kind: KindData, Values: a})
			if err != nil {
				t.Fatal(err)
			}
			sb, err := c.Encode("sessionid", Payload{Kind: KindData, Values: b})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := c.Encode("sessionid", Payload{Kind: KindReference, Ref: strings.Repeat("reference/", 40)})
			if err != nil {
				t.Fatal(err)
			}
			first, err := c.Decode("sessionid", sa)
			if err != nil {
				t.Fatal(err)
			}
			firstRef, err := c.Decode("sessionid", ref)
			if err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if _, err := c.Decode("sessionid", sb); err != nil {
					t.Fatal(err)
				}
			}
			again, err := c.Decode("sessionid", sa)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(first.Values, again.Values) {
				t.Errorf("%s/%s: values decoded earlier changed after later decodes:\n%v\n%v", ser.Name(), comp, first.Values, again.Values)
			}
			if firstRef.Ref != strings.Repeat("reference/", 40) {
				t.Errorf("%s/%s: reference changed to %q", ser.Name(), comp, firstRef.Ref)
			}
		}
	}
}

// TestSecurecookieTimestampIgnored: securecookie stamps every value with
// the time it was sealed and, by default, refuses values stamped over 30
// days ago; the codec turns that off, so a session whose own expiry is
// later than that still decodes. The value here is restamped 60 days
// back, its MAC computed again.
func TestSecurecookieTimestampIgnored(t *testing.T) {
	now := time.Now()
	c := mustNew(t, Config{Now: func() time.Time { return now }})
	v, err := c.Encode("sessionid", Payload{Kind: KindData, Values: smallValues(), Expires: now.Add(90 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	outer, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	parts := bytes.SplitN(outer, []byte("|"), 3) // timestamp, value, MAC
	if len(parts) != 3 {
		t.Fatalf("securecookie's layout: %d parts", len(parts))
	}
	key, err := deriveKey(testSecret(1), infoEncHMAC)
	if err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(now.Add(-60*24*time.Hour).Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("sessionid|" + stamp + "|" + string(parts[1])))
	old := base64.URLEncoding.EncodeToString([]byte(stamp + "|" + string(parts[1]) + "|" + string(mac.Sum(nil))))

	d, err := c.Decode("sessionid", old)
	if err != nil {
		t.Fatalf("a value sealed 60 days ago that expires in 30: %v", err)
	}
	if !reflect.DeepEqual(d.Values, smallValues()) {
		t.Errorf("decoded %v, want %v", d.Values, smallValues())
	}
	// securecookie's default would refuse it.
	block, _ := deriveKey(testSecret(1), "aes-256-ctr")
	strict := securecookie.New(key, block).SetSerializer(securecookie.NopEncoder{})
	var plain []byte
	if err := strict.Decode("sessionid", old, &plain); err == nil {
		t.Error("securecookie's default 30-day check accepts the restamped value: the test proves nothing")
	}
}
