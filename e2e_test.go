package session

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/server/memory"
)

// e2eApp is a small application: a counter, login and logout.
func e2eApp(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, err := Get[int](s, "n")
		if err != nil && s.Has("n") {
			t.Errorf("/count: %v", err)
		}
		s.Set("n", n+1)
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		if err := s.CycleKey(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.Set("user_id", int64(42))
		io.WriteString(w, "welcome")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := FromRequest(r).Flush(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		_, cookieErr := r.Cookie("sessionid")
		id, err := Get[int64](s, "user_id")
		if err != nil {
			fmt.Fprintf(w, "anonymous keys=%d cookie=%v", s.Len(), cookieErr == nil)
			return
		}
		fmt.Fprintf(w, "user %d keys=%d cookie=%v", id, s.Len(), cookieErr == nil)
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, FromRequest(r).Values())
	})
	mux.HandleFunc("/nothing", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "nothing") })
	return mux
}

// e2eGet sends GET path with the given Cookie header (none if empty).
func e2eGet(t *testing.T, c *http.Client, base, path, cookie string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestE2ELoginCounterLogout(t *testing.T) {
	for _, engine := range []Engine{EngineCookie, EngineServer, EngineAuto} {
		t.Run(string(engine), func(t *testing.T) {
			cfg := Config{Engine: engine}
			var store *memory.Store
			if engine != EngineCookie {
				store = memory.New()
				cfg.Store = store
			}
			m, logs := mwManager(t, cfg)
			srv := httptest.NewServer(m.Handler(e2eApp(t)))
			defer srv.Close()
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar}
			u, _ := url.Parse(srv.URL)
			sessionCookie := func() string {
				for _, ck := range jar.Cookies(u) {
					if ck.Name == "sessionid" {
						return ck.Value
					}
				}
				return ""
			}
			get := func(path, want string) *http.Response {
				t.Helper()
				resp, body := e2eGet(t, c, srv.URL, path, "")
				if resp.StatusCode != 200 || body != want {
					t.Fatalf("GET %s: %d %q, want %q", path, resp.StatusCode, body, want)
				}
				return resp
			}

			get("/whoami", "anonymous keys=0 cookie=false")
			if sessionCookie() != "" {
				t.Fatal("a read of an empty session set a cookie")
			}
			get("/count", "1")
			get("/count", "2")
			before := sessionCookie()
			get("/login", "welcome")
			after := sessionCookie()
			if before == "" || after == "" || before == after {
				t.Fatalf("login did not issue a new cookie: %q → %q", before, after)
			}
			get("/whoami", "user 42 keys=2 cookie=true")
			get("/count", "3")
			if store != nil {
				if engine == EngineServer && store.Len() != 1 {
					t.Errorf("after login the store holds %d sessions, want 1 (the old key deleted)", store.Len())
				}
				// The pre-login cookie no longer reaches the session.
				_, body := e2eGet(t, http.DefaultClient, srv.URL, "/whoami", "sessionid="+before)
				if engine == EngineServer && body != "anonymous keys=0 cookie=true" {
					t.Errorf("pre-login cookie after login: %q", body)
				}
			}
			resp := get("/logout", "bye")
			if sc := resp.Header.Values("Set-Cookie"); len(sc) != 1 || sc[0] != m.jar.DeleteHeader() {
				t.Errorf("logout: Set-Cookie %q", sc)
			}
			if sessionCookie() != "" {
				t.Errorf("the cookie is still in the jar after logout")
			}
			get("/whoami", "anonymous keys=0 cookie=false")
			get("/count", "1")
			if store != nil && engine == EngineServer && store.Len() != 1 {
				t.Errorf("store holds %d sessions, want 1", store.Len())
			}
			if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("unexpected log lines:\n%s", logs)
			}
		})
	}
}

func TestE2EBrowserCloseCookie(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		handler http.HandlerFunc
	}{
		{"ExpireAtBrowserClose", Config{ExpireAtBrowserClose: true}, setHandler("k", "v")},
		{"SetExpiry(0)", Config{}, func(w http.ResponseWriter, r *http.Request) {
			s := FromRequest(r)
			s.Set("k", "v")
			s.SetExpiry(0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newMwClock()
			tt.cfg.Now = clock.Now
			tt.cfg.CookieAge = time.Hour
			m, _ := mwManager(t, tt.cfg)
			mux := http.NewServeMux()
			mux.Handle("/set", tt.handler)
			mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, FromRequest(r).Get("k"))
			})
			srv := httptest.NewServer(m.Handler(mux))
			defer srv.Close()
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar}
			resp, _ := e2eGet(t, c, srv.URL, "/set", "")
			sc := resp.Header.Values("Set-Cookie")
			if len(sc) != 1 || strings.Contains(sc[0], "Max-Age") || strings.Contains(sc[0], "Expires") {
				t.Fatalf("Set-Cookie %q, want a browser-session cookie", sc)
			}
			if _, body := e2eGet(t, c, srv.URL, "/get", ""); body != "v" {
				t.Errorf("the browser-session cookie did not come back: %q", body)
			}
			// The server still ends the session after CookieAge, whatever
			// the browser does.
			value := strings.TrimPrefix(strings.SplitN(sc[0], ";", 2)[0], "sessionid=")
			clock.Advance(time.Hour - time.Second)
			if _, body := e2eGet(t, http.DefaultClient, srv.URL, "/get", "sessionid="+value); body != "v" {
				t.Errorf("just before CookieAge: %q", body)
			}
			clock.Advance(time.Second)
			if _, body := e2eGet(t, http.DefaultClient, srv.URL, "/get", "sessionid="+value); body != "<nil>" {
				t.Errorf("after CookieAge: %q, want an empty session", body)
			}
		})
	}
	// By default the cookie is persistent.
	m, _ := mwManager(t, Config{})
	rec := mwDo(m, setHandler("k", "v"), "")
	if c, ok := mwCookie(m, rec.Result().Header); !ok || c.MaxAge != int(DefaultCookieAge/time.Second) {
		t.Errorf("default cookie: %+v", c)
	}
}

// TestE2EExpiry checks that expiry is enforced by the server, for a client
// that keeps sending an expired cookie.
func TestE2EExpiry(t *testing.T) {
	clock := newMwClock()
	m, logs := mwManager(t, Config{Now: clock.Now, CookieAge: time.Hour})
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		s.Set("user_id", 42)
		switch r.URL.Query().Get("expiry") {
		case "idle":
			s.SetExpiry(10 * time.Minute)
		case "at":
			s.SetExpiryAt(clock.Now().Add(30 * time.Minute))
		}
	})
	mux.HandleFunc("/touch", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, _ := Get[int](s, "n")
		s.Set("n", n+1)
		fmt.Fprint(w, s.Get("user_id"))
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, FromRequest(r).Get("user_id"))
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()
	c := srv.Client()
	set := func(q string) string {
		t.Helper()
		resp, _ := e2eGet(t, c, srv.URL, "/set?expiry="+q, "")
		ck, ok := mwCookie(m, resp.Header)
		if !ok {
			t.Fatalf("/set: no cookie")
		}
		return "sessionid=" + ck.Value
	}
	want := func(path, cookie, want string) *http.Response {
		t.Helper()
		resp, body := e2eGet(t, c, srv.URL, path, cookie)
		if body != want {
			t.Errorf("%s at +%v: %q, want %q", path, clock.Now().Sub(newMwClock().Now()), body, want)
		}
		return resp
	}

	// CookieAge.
	ck := set("")
	clock.Advance(59 * time.Minute)
	want("/get", ck, "42")
	clock.Advance(time.Minute)
	resp := want("/get", ck, "<nil>")
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 1 || sc[0] != m.jar.DeleteHeader() {
		t.Errorf("expired cookie: Set-Cookie %q, want the deletion", sc)
	}
	if l := logs.String(); !strings.Contains(l, "level=DEBUG") || !strings.Contains(l, "expired session") || strings.Contains(l, "level=WARN") {
		t.Errorf("an expired cookie is not a security event; log:\n%s", l)
	}

	// SetExpiry: idle time, pushed further by each save.
	clock.Reset()
	ck = set("idle")
	clock.Advance(8 * time.Minute)
	resp = want("/touch", ck, "42")
	fresh, ok := mwCookie(m, resp.Header)
	if !ok || fresh.MaxAge != 600 {
		t.Fatalf("touched idle session: %+v", fresh)
	}
	clock.Advance(8 * time.Minute) // +16m: the first cookie is over, the fresh one is not
	want("/get", ck, "<nil>")
	want("/get", "sessionid="+fresh.Value, "42")

	// SetExpiryAt: an absolute end that saves do not move.
	clock.Reset()
	ck = set("at")
	clock.Advance(20 * time.Minute)
	resp = want("/touch", ck, "42")
	fresh, ok = mwCookie(m, resp.Header)
	if !ok || fresh.MaxAge != 600 {
		t.Fatalf("touched session with an absolute expiry: %+v", fresh)
	}
	clock.Advance(10*time.Minute - time.Second)
	want("/get", "sessionid="+fresh.Value, "42")
	clock.Advance(time.Second)
	want("/get", "sessionid="+fresh.Value, "<nil>")
}

func TestE2ETamperedCookie(t *testing.T) {
	m, logs := mwManager(t, Config{})
	value := mwSave(t, m, map[string]any{"user_id": 42, "is_admin": false})
	other, _ := mwManager(t, Config{SecretKey: []byte(strings.Repeat("o", 32))})
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tampered := map[string]string{
		"flipped start":     flip(value, 0),
		"flipped middle":    flip(value, len(value)/2),
		"flipped near end":  flip(value, len(value)-4),
		"truncated":         value[:len(value)-4],
		"extended":          value + "AAAA",
		"other secret":      mwSave(t, other, map[string]any{"user_id": 42, "is_admin": true}),
		"not base64":        "%%%%",
		"reference forgery": "c2Vzc2lvbg==",
		"oversized":         value + strings.Repeat("A", 4096),
	}
	srv := httptest.NewServer(m.Handler(e2eApp(t)))
	defer srv.Close()
	if _, body := e2eGet(t, srv.Client(), srv.URL, "/whoami", "sessionid="+value); body != "user 42 keys=2 cookie=true" {
		t.Fatalf("untampered cookie: %q", body)
	}
	for name, v := range tampered {
		before := strings.Count(logs.String(), "session data corrupted")
		resp, body := e2eGet(t, srv.Client(), srv.URL, "/whoami", "sessionid="+v)
		if body != "anonymous keys=0 cookie=true" {
			t.Errorf("%s: %q, want a fresh empty session", name, body)
		}
		if sc := resp.Header.Values("Set-Cookie"); len(sc) != 1 || sc[0] != m.jar.DeleteHeader() {
			t.Errorf("%s: Set-Cookie %q, want the deletion", name, sc)
		}
		l := logs.String()
		if strings.Count(l, "session data corrupted") != before+1 {
			t.Errorf("%s: no security warning; log:\n%s", name, l)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "logger=session.security") || !strings.Contains(line, "remote_addr=") || !strings.Contains(line, "path=/whoami") {
			t.Errorf("log line %q: want a WARN of logger session.security with the remote address and the path", line)
		}
	}
	// A tampered cookie followed by a write gives a new session.
	resp, body := e2eGet(t, srv.Client(), srv.URL, "/count", "sessionid="+tampered["flipped middle"])
	c, ok := mwCookie(m, resp.Header)
	if body != "1" || !ok || c.Value == "" {
		t.Errorf("write after a tampered cookie: %q, %v", body, resp.Header.Values("Set-Cookie"))
	}
}

// TestE2EKeyRotation: a cookie signed with the old secret is read with the
// new secret's fallbacks and rewritten with the new secret as soon as the
// session is used.
func TestE2EKeyRotation(t *testing.T) {
	keyA := []byte(strings.Repeat("A", 32))
	keyB := []byte(strings.Repeat("B", 32))
	mA, _ := mwManager(t, Config{SecretKey: keyA})
	mAB, logs := mwManager(t, Config{SecretKey: keyB, SecretKeyFallbacks: [][]byte{keyA}})
	mB, _ := mwManager(t, Config{SecretKey: keyB})
	oldValue := mwSave(t, mA, map[string]any{"user_id": int64(42)})

	// The new key alone does not read it.
	mwDo(mB, func(w http.ResponseWriter, r *http.Request) {
		if n := FromRequest(r).Len(); n != 0 {
			t.Errorf("key B without fallbacks read %d values of a key A cookie", n)
		}
	}, oldValue)

	// Untouched: nothing is rewritten.
	rec := mwDo(mAB, func(w http.ResponseWriter, r *http.Request) {}, oldValue)
	if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("untouched session rewritten: %q", sc)
	}
	// Read only: rewritten with key B.
	rec = mwDo(mAB, func(w http.ResponseWriter, r *http.Request) {
		if id, err := Get[int64](FromRequest(r), "user_id"); err != nil || id != 42 {
			t.Errorf("key B with fallback A: Get = %v, %v", id, err)
		}
	}, oldValue)
	c, ok := mwCookie(mAB, rec.Result().Header)
	if !ok || c.Value == oldValue || c.MaxAge <= 0 || !mwVary(rec.Result().Header) {
		t.Fatalf("read with a fallback key: headers %v, want a rewritten cookie", rec.Result().Header)
	}
	if !strings.Contains(logs.String(), "fallback secret") {
		t.Errorf("the rewrite is not logged:\n%s", logs)
	}
	mwDo(mB, func(w http.ResponseWriter, r *http.Request) {
		if id, err := Get[int64](FromRequest(r), "user_id"); err != nil || id != 42 {
			t.Errorf("key B reading the rewritten cookie: Get = %v, %v", id, err)
		}
	}, c.Value)
	// The rewritten cookie is current: reading it again rewrites nothing.
	rec = mwDo(mAB, func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Get("user_id") }, c.Value)
	if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("current cookie rewritten: %q", sc)
	}
}

// TestE2ESerializerSwitch: a cookie written by the JSON serializer is read
// by a Manager configured for MessagePack, and rewritten in MessagePack.
func TestE2ESerializerSwitch(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC)
	mJSON, _ := mwManager(t, Config{Serializer: "json"})
	mMsgp, _ := mwManager(t, Config{Serializer: "msgpack"})
	old := mwSave(t, mJSON, map[string]any{
		"id": int64(42), "ratio": 0.5, "when": when, "raw": []byte{0, 255}, "tags": []string{"a", "b"}, "prefs": map[string]any{"dark": true},
	})
	if d, err := mJSON.openCookie(old); err != nil || d.Serializer != "json" {
		t.Fatalf("JSON cookie: %+v, %v", d, err)
	}
	check := func(s *Session) {
		t.Helper()
		wantGet(t, s, "id", int64(42))
		wantGet(t, s, "ratio", 0.5)
		wantGet(t, s, "when", when)
		wantGet(t, s, "raw", []byte{0, 255})
		wantGet(t, s, "tags", []string{"a", "b"})
		wantGet(t, s, "prefs", map[string]bool{"dark": true})
	}
	rec := mwDo(mMsgp, func(w http.ResponseWriter, r *http.Request) { check(FromRequest(r)) }, old)
	c, ok := mwCookie(mMsgp, rec.Result().Header)
	if !ok {
		t.Fatalf("JSON cookie read by the msgpack Manager was not rewritten: %v", rec.Result().Header)
	}
	d, err := mMsgp.openCookie(c.Value)
	if err != nil || d.Serializer != "msgpack" || d.Stale != 0 {
		t.Fatalf("rewritten cookie: serializer %q, stale %v, err %v", d.Serializer, d.Stale, err)
	}
	mwDo(mMsgp, func(w http.ResponseWriter, r *http.Request) { check(FromRequest(r)) }, c.Value)
	// The values keep the representation JSON gave them (a time as
	// text): only Get[T] restores the types.
	if _, ok := d.Values["when"].(string); !ok {
		t.Errorf("rewritten when is a %T", d.Values["when"])
	}
}
