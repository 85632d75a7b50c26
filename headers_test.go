package session

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestErrorResponseHeaders checks that the headers a handler set for the
// response it meant to send do not ride on the error response, for the
// default response and for Config.ErrorHandler alike, and that the
// security policies an outer middleware set survive.
func TestErrorResponseHeaders(t *testing.T) {
	dropped := map[string]string{
		"Set-Cookie":                       "csrftoken=abc; Path=/",
		"Location":                         "/next",
		"Access-Control-Allow-Origin":      "https://evil.example",
		"Access-Control-Allow-Credentials": "true",
		"Authorization":                    "Bearer secret-token",
		"X-Api-Token":                      "secret",
		"Content-Disposition":              "attachment",
		"Etag":                             `"v1"`,
		"Cache-Control":                    "public, max-age=3600",
	}
	kept := map[string]string{
		"Strict-Transport-Security":           "max-age=63072000",
		"Content-Security-Policy":             "default-src 'self'",
		"Content-Security-Policy-Report-Only": "default-src 'none'",
		"X-Frame-Options":                     "DENY",
		"X-Content-Type-Options":              "nosniff",
		"Referrer-Policy":                     "no-referrer",
		"Permissions-Policy":                  "camera=()",
		"Cross-Origin-Embedder-Policy":        "require-corp",
		"Cross-Origin-Opener-Policy":          "same-origin",
		"Cross-Origin-Resource-Policy":        "same-origin",
		"X-Request-Id":                        "req-1",
	}
	var seen http.Header
	for _, custom := range []bool{false, true} {
		cfg := Config{}
		if custom {
			cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
				seen = w.Header().Clone()
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}
		m, _ := mwManager(t, cfg)
		outer := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range kept {
					w.Header().Set(k, v)
				}
				w.Header().Set("Vary", "Accept-Encoding")
				next.ServeHTTP(w, r)
			})
		}
		h := outer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range dropped {
				w.Header().Set(k, v)
			}
			FromRequest(r).Set("bad", make(chan int))
			w.WriteHeader(http.StatusFound)
		})))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		want := http.StatusInternalServerError
		if custom {
			want = http.StatusServiceUnavailable
			if seen.Get("Location") != "" || seen.Get("Set-Cookie") != "" {
				t.Errorf("ErrorHandler saw the handler's headers: %v", seen)
			}
		}
		if rec.Code != want {
			t.Errorf("custom=%v: status %d, want %d", custom, rec.Code, want)
		}
		for k := range dropped {
			if k == "Cache-Control" {
				continue
			}
			if v := rec.Header().Values(k); len(v) != 0 {
				t.Errorf("custom=%v: %s %q on the error response", custom, k, v)
			}
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("custom=%v: Cache-Control %q, want no-store", custom, got)
		}
		for k, v := range kept {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("custom=%v: %s = %q, want %q kept", custom, k, got, v)
			}
		}
		if vary := rec.Header().Values("Vary"); !slices.Contains(vary, "Accept-Encoding") {
			t.Errorf("custom=%v: Vary %q, want the outer middleware's Accept-Encoding kept", custom, vary)
		}
	}
}

// TestSetCookieCacheHeaders checks that every response that sets or
// deletes the session cookie carries Vary: Cookie and, unless the handler
// chose one, Cache-Control: private, including SaveEveryRequest saves of
// pages that never touched the session.
func TestSetCookieCacheHeaders(t *testing.T) {
	untouched := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "static") }
	m, _ := mwManager(t, Config{SaveEveryRequest: true, RefreshThreshold: -1})
	value := mwSave(t, m, map[string]any{"n": 1})
	for _, tc := range []struct {
		name   string
		m      *Manager
		h      http.HandlerFunc
		cookie string
		cc     string
	}{
		{"save on a page that never touched the session", m, untouched, value, "private"},
		{"save by the handler", m, setHandler("n", 2), value, "private"},
		{"the handler's own Cache-Control", m, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			FromRequest(r).Set("n", 3)
		}, value, "no-cache"},
		{"deletion", m, func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Flush(r.Context()) }, value, "private"},
		{"deletion of a bad cookie", m, untouched, "garbage", "private"},
	} {
		rec := mwDo(tc.m, tc.h, tc.cookie)
		if len(rec.Header().Values("Set-Cookie")) == 0 {
			t.Errorf("%s: no Set-Cookie", tc.name)
			continue
		}
		if !mwVary(rec.Header()) {
			t.Errorf("%s: no Vary: Cookie with Set-Cookie", tc.name)
		}
		if got := rec.Header().Get("Cache-Control"); got != tc.cc {
			t.Errorf("%s: Cache-Control %q, want %q", tc.name, got, tc.cc)
		}
	}
}

// TestInsecureCookieOverTLSWarnsOnce checks that a Manager whose cookie is
// not Secure says so, once, when a request arrives over TLS.
func TestInsecureCookieOverTLSWarnsOnce(t *testing.T) {
	const msg = "a request arrived over TLS but CookieSecure is off"
	for _, secure := range []bool{false, true} {
		m, logs := mwManager(t, Config{CookieSecure: secure})
		for range 3 {
			req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
			m.Handler(setHandler("n", 1)).ServeHTTP(httptest.NewRecorder(), req)
		}
		mwDo(m, setHandler("n", 1), "") // plain HTTP says nothing
		want := 1
		if secure {
			want = 0
		}
		if got := strings.Count(logs.String(), msg); got != want {
			t.Errorf("CookieSecure=%v: the warning was logged %d times, want %d:\n%s", secure, got, want, logs)
		}
		if want == 1 && !strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("the warning is not at WARN:\n%s", logs)
		}
	}
}

// TestBadCookieNextToAGoodOne checks that of several cookies with the
// session's name the first that verifies is the session, in any order,
// and that the bad ones cost nothing: no deletion, no logout.
func TestBadCookieNextToAGoodOne(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := newHarness(t, ec)
		h.saved(map[string]any{"user": "eve"})
		other := h.cookie
		h.cookie = ""
		h.saved(map[string]any{"user": "ada"})
		value := h.cookie
		for _, header := range []string{
			"sessionid=GARBAGE; sessionid=" + value,
			"sessionid=" + value + "; sessionid=GARBAGE",
			`sessionid="GARBAGE"; other=1; sessionid=` + value,
			"sessionid=; sessionid=" + value,
		} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Cookie", header)
			var got any
			rec := httptest.NewRecorder()
			h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = FromRequest(r).Get("user")
			})).ServeHTTP(rec, req)
			if got != "ada" {
				t.Errorf("Cookie: %.60s…: the session reads %v, want ada", header, got)
			}
			if sc := rec.Header().Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("Cookie: %.60s…: Set-Cookie %q: a bad cookie next to the good one must cost nothing", header, sc)
			}
		}
		// Two cookies that both verify: the first is the session.
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", "sessionid="+other+"; sessionid="+value)
		var got any
		h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = FromRequest(r).Get("user")
		})).ServeHTTP(httptest.NewRecorder(), req)
		if got != "eve" {
			t.Errorf("two valid cookies: the session reads %v, want the first (eve)", got)
		}
	})
}

// TestDeadReferenceNextToALiveCookie checks that a reference whose session
// is gone (a logged-out one, say, planted by a sibling subdomain) does not
// beat a live cookie of the same name that comes after it: the live
// session loads, and nothing is deleted.
func TestDeadReferenceNextToALiveCookie(t *testing.T) {
	for _, ec := range engineCases() {
		if ec.engine != EngineServer {
			continue
		}
		t.Run(ec.name, func(t *testing.T) {
			h := newHarness(t, ec)
			h.saved(map[string]any{"user": "eve"})
			dead := h.cookie
			s := h.session()
			if err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.commit(s)
			h.cookie = ""
			h.saved(map[string]any{"user": "ada"})
			live := h.cookie
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Cookie", "sessionid="+dead+"; sessionid="+live)
			var got any
			rec := httptest.NewRecorder()
			h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = FromRequest(r).Get("user")
			})).ServeHTTP(rec, req)
			if got != "ada" || len(rec.Header().Values("Set-Cookie")) != 0 {
				t.Fatalf("a dead reference before the live cookie: user %v, Set-Cookie %q; want ada and nothing", got, rec.Header().Values("Set-Cookie"))
			}
		})
	}
}
