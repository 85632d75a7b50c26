package session

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
)

// deployConfig is one deployment's session configuration.
type deployConfig struct {
	engine      Engine
	serializer  string
	compression string
}

func (d deployConfig) String() string {
	return fmt.Sprintf("%s-%s-%s", d.engine, d.serializer, d.compression)
}

func allDeployConfigs() []deployConfig {
	var out []deployConfig
	for _, e := range []Engine{EngineCookie, EngineServer, EngineAuto} {
		for _, s := range []string{"msgpack", "json", "gob"} {
			for _, c := range []string{"auto", "none", "s2", "zstd"} {
				out = append(out, deployConfig{e, s, c})
			}
		}
	}
	return out
}

var rotatedSecret = []byte("a newer secret key, 32 bytes or more, for rotation")

// TestConfigSwapLogsNobodyOut simulates deploys: sessions written under
// config A are read under config B (whose secret is new, with A's as a
// fallback), for every pair of engine, serializer and compression. One
// request under B moves each session to B's format; after that, B without
// the fallback still reads it.
func TestConfigSwapLogsNobodyOut(t *testing.T) {
	store := newGraceStore(t)
	when := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	values := map[string]any{
		"user_id": int64(42),
		"roles":   []any{"admin", "beta"},
		"seen":    when,
		"note":    strings.Repeat("a compressible note about the cart. ", 20), // above the compression threshold
	}
	manager := func(d deployConfig, secret []byte, fallbacks ...[]byte) *Manager {
		m, err := New(Config{
			Engine: d.engine, Store: store, Serializer: d.serializer, Compression: d.compression,
			SecretKey: secret, SecretKeyFallbacks: fallbacks,
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	request := func(m *Manager, cookie string, write bool) (setCookie string, got map[string]any) {
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			if write {
				s.Update(values)
				return
			}
			got = map[string]any{}
			for k := range values {
				got[k] = s.Get(k)
			}
			got["seen"], _ = Get[time.Time](s, "seen")
			got["user_id"], _ = Get[int64](s, "user_id")
		}))
		req := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			setCookie = c.Value
		}
		return setCookie, got
	}

	for _, a := range allDeployConfigs() {
		for _, b := range allDeployConfigs() {
			mA := manager(a, testSecret)
			mB := manager(b, rotatedSecret, testSecret)
			mBOnly := manager(b, rotatedSecret)

			cookieA, _ := request(mA, "", true)
			dA, err := mA.openCookie(cookieA)
			if err != nil {
				t.Fatalf("%v: %v", a, err)
			}
			var rowA string
			if dA.Kind == codec.KindReference {
				rowA = mA.rowKey(dA.Ref)
			}

			cookieB, got := request(mB, cookieA, false)
			if !reflect.DeepEqual(got, values) {
				t.Fatalf("%v → %v: read %v", a, b, got)
			}
			if cookieB == "" {
				t.Fatalf("%v → %v: session not rewritten on read", a, b)
			}
			// The rewritten cookie is in B's format, under B's key.
			dB, err := mBOnly.openCookie(cookieB)
			if err != nil {
				t.Fatalf("%v → %v: rewritten cookie does not decode without the fallback: %v", a, b, err)
			}
			wantKind := codec.KindData
			if b.engine == EngineServer {
				wantKind = codec.KindReference
			}
			if dB.Kind != wantKind || dB.Stale != 0 {
				t.Fatalf("%v → %v: kind %v stale %v", a, b, dB.Kind, dB.Stale)
			}
			check := dB
			if dB.Kind == codec.KindReference {
				blob, err := store.Load(t.Context(), mBOnly.rowKey(dB.Ref))
				if err != nil {
					t.Fatalf("%v → %v: no row: %v", a, b, err)
				}
				if check, err = mBOnly.codec.Decode(mBOnly.rowKey(dB.Ref), string(blob)); err != nil {
					t.Fatalf("%v → %v: row does not decode without the fallback: %v", a, b, err)
				}
			}
			wantComp := map[string]bool{b.compression: true}
			if b.compression == "auto" {
				wantComp = map[string]bool{"s2": true, "zstd": true}
			}
			if check.Stale != 0 || check.Serializer != b.serializer || !wantComp[check.Compression] {
				t.Fatalf("%v → %v: data written as %s/%s, stale %v", a, b, check.Serializer, check.Compression, check.Stale)
			}
			// A row left behind by a move into the cookie is kept only
			// for the requests still in flight with the old reference.
			if rowA != "" && wantKind == codec.KindData && !store.Retired(rowA) {
				t.Fatalf("%v → %v: the old row outlives the move into the cookie", a, b)
			}
			if _, got := request(mBOnly, cookieB, false); !reflect.DeepEqual(got, values) {
				t.Fatalf("%v → %v: after dropping the fallback: %v", a, b, got)
			}
		}
	}
}

// TestRewriteIsLogged checks that operators can watch old formats drain.
func TestRewriteIsLogged(t *testing.T) {
	old := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) { c.Serializer = "json" })
	s := old.session()
	s.Set("a", 1)
	old.commit(s)

	h := newHarness(t, engineCase{name: "cookie", engine: EngineCookie}, func(c *Config) {
		c.SecretKey, c.SecretKeyFallbacks = rotatedSecret, [][]byte{testSecret}
	})
	h.cookie = old.cookie
	h.session().Get("a")
	for _, want := range []string{"rewriting a session cookie in the current format", "fallback secret", "serializer=json"} {
		if !strings.Contains(h.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, h.logs.String())
		}
	}
}
