package session_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/server/memory"
)

// exampleKey stands for a real secret: 32 bytes or more from crypto/rand,
// kept outside the code (SESSION_SECRET_KEY).
var exampleKey = []byte("an example secret key of at least 32 bytes")

// get sends a request with the given cookie header and returns the body
// and the session cookie the response set.
func get(h http.Handler, path, cookie string) (body, setCookie string) {
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sessionid" {
			setCookie = c.Name + "=" + c.Value
		}
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b), setCookie
}

// The middleware gives every request a session; the handler reads and
// writes it, and the middleware saves it in the cookie.
func Example() {
	m, err := session.New(session.Config{SecretKey: exampleKey})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		n, _ := session.Get[int](s, "visits") // 0 when absent
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	})
	h := m.Handler(mux)

	body, cookie := get(h, "/visit", "")
	fmt.Println(body)
	body, _ = get(h, "/visit", cookie)
	fmt.Println(body)
	// Output:
	// visit 1
	// visit 2
}

// Log in with CycleKey, so that a session planted before login is useless
// after it; log out with Flush.
func ExampleSession_CycleKey() {
	store := memory.New()
	defer store.Close()
	m, err := session.New(session.Config{SecretKey: exampleKey, Engine: session.EngineServer, Store: store})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if err := s.CycleKey(r.Context()); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		s.Set("user_id", int64(42))
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromRequest(r).Flush(r.Context()); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		id, err := session.Get[int64](session.FromRequest(r), "user_id")
		if err != nil {
			fmt.Fprint(w, "anonymous")
			return
		}
		fmt.Fprintf(w, "user %d", id)
	})
	h := m.Handler(mux)

	_, cookie := get(h, "/login", "")
	body, _ := get(h, "/me", cookie)
	fmt.Println(body)
	get(h, "/logout", cookie)
	body, _ = get(h, "/me", cookie) // the old cookie no longer works
	fmt.Println(body)
	// Output:
	// user 42
	// anonymous
}

// Get returns a value as the type it was stored as, whatever serializer
// wrote it.
func ExampleGet() {
	m, err := session.New(session.Config{SecretKey: exampleKey, Serializer: "json"})
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if r.URL.Path == "/set" {
			s.Set("roles", []string{"admin", "editor"})
			s.Set("user_id", 7)
			return
		}
		roles, _ := session.Get[[]string](s, "roles") // JSON gave []any
		id, _ := session.Get[int](s, "user_id")       // JSON gave int64
		_, err := session.Get[string](s, "user_id")
		fmt.Fprintln(w, roles, id)
		fmt.Fprintln(w, err)
	}))
	_, cookie := get(h, "/set", "")
	body, _ := get(h, "/get", cookie)
	fmt.Print(body)
	// Output:
	// [admin editor] 7
	// session: key "user_id" holds a int64, not a string
}

// Rotate the secret key without logging anyone out: the old key becomes a
// fallback, and each session is re-sealed with the new key the next time
// it is read.
func ExampleConfig_keyRotation() {
	oldKey := exampleKey
	newKey := []byte("the new secret key, also at least 32 bytes")

	before, _ := session.New(session.Config{SecretKey: oldKey})
	after, _ := session.New(session.Config{SecretKey: newKey, SecretKeyFallbacks: [][]byte{oldKey}})
	only, _ := session.New(session.Config{SecretKey: newKey})

	handler := func(m *session.Manager) http.Handler {
		return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := session.FromRequest(r)
			if r.URL.Path == "/login" {
				s.Set("user", "alice")
			}
			fmt.Fprint(w, s.Get("user"))
		}))
	}
	_, cookie := get(handler(before), "/login", "")
	body, rotated := get(handler(after), "/", cookie) // read with the fallback, re-sealed
	fmt.Println(body, rotated != "")
	body, _ = get(handler(only), "/", rotated) // the old key can now be dropped
	fmt.Println(body)
	// Output:
	// alice true
	// alice
}

// ConfigFromEnv reads Django-named variables; a bad value is an error
// that names the variable and what it accepts.
func ExampleConfigFromEnv() {
	os.Setenv("SESSION_SERIALIZER", "json")
	os.Setenv("SESSION_COOKIE_AGE", "3600")
	cfg, err := session.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Serializer, cfg.CookieAge)

	os.Setenv("SESSION_COOKIE_SAMESITE", "sometimes")
	_, err = session.ConfigFromEnv()
	fmt.Println(err)
	for _, v := range []string{"SESSION_SERIALIZER", "SESSION_COOKIE_AGE", "SESSION_COOKIE_SAMESITE"} {
		os.Unsetenv(v)
	}
	// Output:
	// json 1h0m0s
	// session: invalid configuration: SESSION_COOKIE_SAMESITE="sometimes": want one of Lax, Strict, None
}
