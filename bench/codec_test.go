package bench

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// The benchmarks are named Benchmark{Encode,Decode}/<payload>/<implementation>:
//
//	sessionkit-<serializer>-<enc|sign>-<none|s2|zstd>  this module's codec.Codec
//	gorilla-hmac, gorilla-hmac+aes                       securecookie.EncodeMulti and
//	                                                     DecodeMulti with the Codecs of
//	                                                     sessions.NewCookieStore(hashKey[, blockKey]),
//	                                                     exactly as CookieStore.Save and New call them
//	gorilla-hmac+aes-store.New                           CookieStore.New on a request carrying the cookie
//	scs-gobcodec                                         scs.GobCodec, what scs stores server-side
//
// A gorilla name ending in -maxlen0 means that the default store refuses the
// value (over securecookie's 4096 limit) and the length cap was lifted to
// measure it anyway. The "bytes" metric is the length of the encoded value:
// the cookie value for sessionkit and gorilla, the binary blob for scs.

// gorillaStoreFor returns the CookieStore for mode m and the cookie value it
// makes of p. When the default store refuses the value as too long, it
// returns a store whose codecs have no length cap, and suffix "-maxlen0".
func gorillaStoreFor(tb testing.TB, m gorillaMode, p payload) (store *sessions.CookieStore, value, suffix string) {
	tb.Helper()
	values := gorillaValues(p.values())
	store = newGorillaStore(m, false)
	value, err := securecookie.EncodeMulti(cookieName, values, store.Codecs...)
	if err != nil {
		store, suffix = newGorillaStore(m, true), "-maxlen0"
		if value, err = securecookie.EncodeMulti(cookieName, values, store.Codecs...); err != nil {
			tb.Fatal(err)
		}
	}
	return store, value, suffix
}

func BenchmarkEncode(b *testing.B) {
	for _, p := range payloads {
		b.Run(p.name, func(b *testing.B) {
			for _, c := range ourConfigs(p) {
				b.Run(c.String(), func(b *testing.B) {
					cd := newCodec(b, c)
					pl := ourPayload(p)
					s, err := cd.Encode(cookieName, pl)
					if err != nil {
						b.Fatal(err)
					}
					for b.Loop() {
						if s, err = cd.Encode(cookieName, pl); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(len(s)), "bytes")
				})
			}
			for _, m := range gorillaModes {
				store, _, suffix := gorillaStoreFor(b, m, p)
				b.Run(m.name+suffix, func(b *testing.B) {
					values := gorillaValues(p.values())
					var s string
					for b.Loop() {
						var err error
						if s, err = securecookie.EncodeMulti(cookieName, values, store.Codecs...); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(len(s)), "bytes")
				})
			}
			b.Run("scs-gobcodec", func(b *testing.B) {
				values := p.values()
				var blob []byte
				for b.Loop() {
					var err error
					if blob, err = scsCodec.Encode(expires, values); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(blob)), "bytes")
			})
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, p := range payloads {
		b.Run(p.name, func(b *testing.B) {
			want := p.values()
			for _, c := range ourConfigs(p) {
				b.Run(c.String(), func(b *testing.B) {
					cd := newCodec(b, c)
					s, err := cd.Encode(cookieName, ourPayload(p))
					if err != nil {
						b.Fatal(err)
					}
					d, err := cd.Decode(cookieName, s)
					if err != nil {
						b.Fatal(err)
					}
					checkValues(b, d.Values, want)
					for b.Loop() {
						if _, err := cd.Decode(cookieName, s); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(len(s)), "bytes")
				})
			}
			for _, m := range gorillaModes {
				store, value, suffix := gorillaStoreFor(b, m, p)
				b.Run(m.name+suffix, func(b *testing.B) {
					for b.Loop() {
						// CookieStore.New decodes into a fresh
						// session's Values map.
						dst := make(map[any]any)
						if err := securecookie.DecodeMulti(cookieName, value, &dst, store.Codecs...); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(len(value)), "bytes")
				})
				if len(m.keys) < 2 {
					continue
				}
				b.Run(m.name+suffix+"-store.New", func(b *testing.B) {
					r := httptest.NewRequest(http.MethodGet, "/", nil)
					r.AddCookie(&http.Cookie{Name: cookieName, Value: value})
					for b.Loop() {
						s, err := store.New(r, cookieName)
						if err != nil || s.IsNew {
							b.Fatalf("CookieStore.New: new=%v, %v", s.IsNew, err)
						}
					}
					b.ReportMetric(float64(len(value)), "bytes")
				})
			}
			b.Run("scs-gobcodec", func(b *testing.B) {
				blob, err := scsCodec.Encode(expires, p.values())
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, _, err := scsCodec.Decode(blob); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(blob)), "bytes")
			})
		})
	}
}

// checkValues fails unless got holds the keys of want and the values that
// every serializer restores exactly (strings, and the CSRF token's bytes,
// which JSON returns as base64 text).
func checkValues(tb testing.TB, got, want map[string]any) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("decoded %d values, want %d: %v", len(got), len(want), got)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			tb.Fatalf("decoded values lack %q", k)
		}
	}
	if got["username"] != want["username"] {
		tb.Fatalf("username = %v, want %v", got["username"], want["username"])
	}
	switch tok := got["csrf_token"].(type) {
	case []byte:
		if !bytes.Equal(tok, want["csrf_token"].([]byte)) {
			tb.Fatalf("csrf_token = %x, want %x", tok, want["csrf_token"])
		}
	case string: // JSON
		if w := base64.StdEncoding.EncodeToString(want["csrf_token"].([]byte)); tok != w {
			tb.Fatalf("csrf_token = %q, want %q", tok, w)
		}
	default:
		tb.Fatalf("csrf_token has type %T", tok)
	}
}
