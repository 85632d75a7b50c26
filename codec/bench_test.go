package codec

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"
)

// benchValues is the session of reference/measurements.md: user_id,
// username, a 32-byte CSRF token, three roles and last_seen.
func benchValues() map[string]any {
	token := make([]byte, 32)
	rand.Read(token)
	return map[string]any{
		"user_id":    4217,
		"username":   "alice.martin",
		"csrf_token": token,
		"roles":      []string{"admin", "editor", "beta"},
		"last_seen":  time.Date(2026, 11, 22, 10, 30, 0, 123456789, time.UTC),
	}
}

// benchValues2KB adds a cart of ten items to benchValues: about 2 KB.
func benchValues2KB() map[string]any { return withCart(benchValues()) }

type benchCase struct {
	name   string
	cfg    Config
	values map[string]any
}

func benchCases() []benchCase {
	var cases []benchCase
	for _, ser := range serializers {
		for _, signOnly := range []bool{false, true} {
			mode := "encrypted"
			if signOnly {
				mode = "signonly"
			}
			cases = append(cases, benchCase{
				name:   fmt.Sprintf("small/%s/%s", ser.Name(), mode),
				cfg:    Config{Serializer: ser, SignOnly: signOnly},
				values: benchValues(),
			})
		}
	}
	for _, ser := range serializers {
		for _, comp := range compressions {
			cases = append(cases, benchCase{
				name:   fmt.Sprintf("2KB/%s/%s", ser.Name(), comp),
				cfg:    Config{Serializer: ser, Compression: comp},
				values: benchValues2KB(),
			})
		}
	}
	return cases
}

func benchPayload(v map[string]any) Payload {
	return Payload{Kind: KindData, Values: v, Expires: t0.Add(14 * 24 * time.Hour), Created: t0}
}

func BenchmarkEncode(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			c := mustNew(b, bc.cfg)
			p := benchPayload(bc.values)
			var s string
			var err error
			b.ReportAllocs()
			for b.Loop() {
				if s, err = c.Encode("sessionid", p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(s)), "bytes")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			c := mustNew(b, bc.cfg)
			s, err := c.Encode("sessionid", benchPayload(bc.values))
			if err != nil {
				b.Fatal(err)
			}
			if d, err := c.Decode("sessionid", s); err != nil || len(d.Values) != len(bc.values) {
				b.Fatalf("Decode: %d values, %v", len(d.Values), err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decode("sessionid", s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(s)), "bytes")
		})
	}
}

// BenchmarkDecodeReference is the server engine's cookie: a reference to a
// store key.
func BenchmarkDecodeReference(b *testing.B) {
	c := mustNew(b, Config{})
	s, err := c.Encode("sessionid", Payload{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4p0w5e6r7t8y9u0i1"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode("sessionid", s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(s)), "bytes")
}
