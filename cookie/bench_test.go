package cookie

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionkit/session/codec"
)

// benchHeaders are Cookie headers a server sees: the session cookie alone,
// among a handful of others, absent, and after a hundred others.
func benchHeaders(b *testing.B, j *Jar) []struct{ name, header string } {
	v, err := j.Encode(codec.Payload{Kind: codec.KindData, Values: map[string]any{"user_id": int64(42), "cart": []any{"a", "b"}}})
	if err != nil {
		b.Fatal(err)
	}
	others := "_ga=GA1.1.1234567890.1700000000; _gid=GA1.1.987654321.1700000000; csrftoken=0123456789abcdefghijklmnopqrstuv; theme=dark"
	var many strings.Builder
	for i := range 100 {
		many.WriteString("c" + strconv.Itoa(i) + "=value" + strconv.Itoa(i) + "; ")
	}
	return []struct{ name, header string }{
		{"alone", "sessionid=" + v},
		{"handful", others + "; sessionid=" + v + "; lang=en"},
		{"absent", others},
		{"after100", many.String() + "sessionid=" + v},
	}
}

func BenchmarkValue(b *testing.B) {
	j, err := New(newBenchCodec(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range benchHeaders(b, j) {
		b.Run(h.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", h.header)
			b.ReportAllocs()
			for b.Loop() {
				j.Value(r)
			}
		})
	}
}

func BenchmarkValues(b *testing.B) {
	j, err := New(newBenchCodec(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range benchHeaders(b, j) {
		b.Run(h.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", h.header)
			b.ReportAllocs()
			for b.Loop() {
				for range j.Values(r) {
				}
			}
		})
	}
}

// BenchmarkCookiesNamed is what net/http takes for the same headers.
func BenchmarkCookiesNamed(b *testing.B) {
	j, err := New(newBenchCodec(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range benchHeaders(b, j) {
		b.Run(h.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", h.header)
			b.ReportAllocs()
			for b.Loop() {
				r.CookiesNamed("sessionid")
			}
		})
	}
}

func newBenchCodec(b *testing.B) *codec.Codec {
	c, err := codec.New(codec.Config{Secret: []byte(strings.Repeat("k", codec.MinSecretLen))})
	if err != nil {
		b.Fatal(err)
	}
	return c
}
