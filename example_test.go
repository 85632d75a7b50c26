package session_test

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/cookie"
	"github.com/sessionkit/session/serializer"
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

// Flash messages last until they are read: a handler adds one before a
// redirect, and the next page shows it, once.
func ExampleSession_AddFlash() {
	m, err := session.New(session.Config{SecretKey: exampleKey})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/save", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).AddFlash("Saved.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromRequest(r).Flashes())
	})
	h := m.Handler(mux)

	_, cookie := get(h, "/save", "")
	body, cookie := get(h, "/", cookie)
	fmt.Println(body)
	body, _ = get(h, "/", cookie)
	fmt.Println(body)
	// Output:
	// [Saved.]
	// []
}

// The auto engine keeps a session in the cookie while it fits, and moves
// it to the store when it grows past the cookie budget.
func Example_autoEngine() {
	store := memory.New()
	defer store.Close()
	m, err := session.New(session.Config{SecretKey: exampleKey, Engine: session.EngineAuto, Store: store})
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("notes"))
		notes := make([]string, n)
		for i := range notes {
			notes[i] = fmt.Sprintf("note %d: %x", i, sha256.Sum256([]byte{byte(i)})) // does not compress
		}
		session.FromRequest(r).Set("notes", notes)
	}))

	where := func(cookie string) string {
		if len(strings.TrimPrefix(cookie, "sessionid=")) == codec.RefLen {
			return "in the store; the cookie is a reference"
		}
		return "in the cookie"
	}
	_, cookie := get(h, "/?notes=3", "")
	fmt.Printf("3 notes: %s (%d sessions stored)\n", where(cookie), store.Len())
	_, cookie = get(h, "/?notes=100", cookie)
	fmt.Printf("100 notes: %s (%d session stored)\n", where(cookie), store.Len())
	// Output:
	// 3 notes: in the cookie (0 sessions stored)
	// 100 notes: in the store; the cookie is a reference (1 session stored)
}

// An ErrorHandler writes the response when the session cannot be saved:
// here a session too large for its cookie, under the cookie engine.
func ExampleConfig_errorHandler() {
	m, err := session.New(session.Config{
		SecretKey: exampleKey,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			switch {
			case errors.Is(err, session.ErrInterrupted):
				http.Error(w, "Your session ended in another window: sign in again.", http.StatusBadRequest)
			case errors.Is(err, cookie.ErrTooLarge):
				http.Error(w, "Your cart is too large to keep: remove something.", http.StatusRequestEntityTooLarge)
			default:
				http.Error(w, "Sessions are unavailable: try again shortly.", http.StatusServiceUnavailable)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		big := make([]byte, 6000)
		rand.Read(big) // random bytes do not compress
		session.FromRequest(r).Set("cart", big)
		fmt.Fprint(w, "saved") // replaced by the error response
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Print(rec.Code, " ", rec.Body)
	// Output:
	// 413 Your cart is too large to keep: remove something.
}

// SetExpiry sets the session's idle timeout: "remember me" for thirty
// days, or, with 0, until the browser closes.
func ExampleSession_SetExpiry() {
	m, err := session.New(session.Config{SecretKey: exampleKey})
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Set("user", "ada")
		if r.URL.Query().Has("remember") {
			s.SetExpiry(30 * 24 * time.Hour)
		} else {
			s.SetExpiry(0)
		}
	}))
	for _, path := range []string{"/login?remember", "/login"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		c := rec.Result().Cookies()[0]
		fmt.Printf("%s: Max-Age=%d\n", path, c.MaxAge)
	}
	// Output:
	// /login?remember: Max-Age=2592000
	// /login: Max-Age=0
}

// CartItem is a struct kept in a session: no registration, with any
// serializer. Its fields are named by their json tags.
type CartItem struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

// Structs go into a session as they are and come back with Get[T]; Get
// without a type shows how the serializer keeps them, as maps.
func ExampleGet_struct() {
	m, err := session.New(session.Config{SecretKey: exampleKey})
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if r.URL.Path == "/add" {
			s.Set("cart", []CartItem{{"MUG-1", 2, 12.5}, {"TEE-9", 1, 19}})
			return
		}
		cart, err := session.Get[[]CartItem](s, "cart")
		fmt.Fprintln(w, cart, err)
		fmt.Fprintln(w, s.Get("cart"))
	}))
	_, cookie := get(h, "/add", "")
	body, _ := get(h, "/cart", cookie)
	fmt.Print(body)
	// Output:
	// [{MUG-1 2 12.5} {TEE-9 1 19}] <nil>
	// [map[price:12.5 qty:2 sku:MUG-1] map[price:19 qty:1 sku:TEE-9]]
}

// SetE tells at once, naming the key and the field, that a value cannot
// be stored; Set would leave it to the save, which fails the response.
func ExampleSession_SetE() {
	m, err := session.New(session.Config{SecretKey: exampleKey})
	if err != nil {
		log.Fatal(err)
	}
	type order struct {
		Items []CartItem
		Done  chan struct{} // not something a session can hold
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if err := s.SetE("order", order{Items: []CartItem{{"MUG-1", 2, 12.5}}}); err != nil {
			fmt.Fprintln(w, err)
			fmt.Fprintln(w, errors.Is(err, serializer.ErrUnsupported), s.Has("order"))
		}
	}))
	body, _ := get(h, "/", "")
	fmt.Print(body)
	// Output:
	// serializer msgpack: key "order": field Done: cannot encode chan struct {}
	// true false
}

// Login binds a session to a user; the user index then lists the user's
// sessions, and revoking one ends it everywhere: here a cookie session,
// checked against a Registry at most once per RevalidateInterval.
func ExampleSession_Login() {
	registry := memory.New() // in production a shared store: Redis, MySQL
	defer registry.Close()
	m, err := session.New(session.Config{SecretKey: exampleKey, Registry: registry, RevalidateInterval: time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		// The password has been checked.
		if err := session.FromRequest(r).Login(r.Context(), "ada"); err != nil {
			http.Error(w, "cannot log in", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if s.UserID() == "" {
			fmt.Fprint(w, "anonymous")
			return
		}
		list, _ := m.UserSessions(r.Context(), s.UserID())
		fmt.Fprintf(w, "%s, %d sessions", s.UserID(), len(list))
	})
	mux.HandleFunc("/logout-others", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if err := m.RevokeUserSessions(r.Context(), s.UserID(), s.ID()); err != nil {
			http.Error(w, "cannot revoke", http.StatusServiceUnavailable)
		}
	})
	h := m.Handler(mux)

	_, laptop := get(h, "/login", "")
	_, phone := get(h, "/login", "")
	body, _ := get(h, "/me", laptop)
	fmt.Println(body)
	get(h, "/logout-others", laptop)
	time.Sleep(2 * time.Millisecond) // the phone's next check against the registry
	body, _ = get(h, "/me", phone)
	fmt.Println("phone:", body)
	body, _ = get(h, "/me", laptop)
	fmt.Println("laptop:", body)
	// Output:
	// ada, 2 sessions
	// phone: anonymous
	// laptop: ada, 1 sessions
}
