package session_test

import (
	"bytes"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/session"
)

// On a plain http.ServeMux with method patterns: wrap the mux, and every
// handler finds its session with FromRequest. chi, gorilla/mux and any
// router whose middleware is func(http.Handler) http.Handler take
// m.Handler as it is (chi: r.Use(m.Handler)).
func ExampleManager_Handler_serveMux() {
	m, err := session.New(session.Config{SecretKey: exampleKey})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart/{item}", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		cart, _ := session.Get[[]string](s, "cart")
		s.Set("cart", append(cart, r.PathValue("item")))
		s.AddFlash("added " + r.PathValue("item"))
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		cart, _ := session.Get[[]string](s, "cart")
		fmt.Fprintln(w, s.Flashes(), cart)
	})
	h := m.Handler(mux)

	cookie := ""
	do := func(method, path string) string {
		req := httptest.NewRequest(method, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			cookie = c.Name + "=" + c.Value
		}
		return rec.Body.String()
	}
	do("POST", "/cart/apple")
	do("POST", "/cart/pear")
	fmt.Print(do("GET", "/cart"))
	fmt.Print(do("GET", "/cart"))
	// Output:
	// [added apple added pear] [apple pear]
	// [] [apple pear]
}

// bufferedWriter stands for a framework's own response writer: it holds
// the status and body until the handler returns, as fasthttp-style
// frameworks do, so the integration commits the session just before it
// sends them.
type bufferedWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *bufferedWriter) WriteHeader(code int)        { w.status = code }
func (w *bufferedWriter) Write(b []byte) (int, error) { return w.body.Write(b) }

// A framework integration: Load before the handler, Commit with the
// status just before the response goes out. If Commit fails it has
// written the error response, and the handler's response is dropped.
func ExampleManager_Load() {
	m, err := session.New(session.Config{SecretKey: exampleKey})
	if err != nil {
		log.Fatal(err)
	}
	// serve is the framework's request loop, around one of its handlers.
	serve := func(handler func(w http.ResponseWriter, s *session.Session)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, s := m.Load(r)
			bw := &bufferedWriter{ResponseWriter: w, status: http.StatusOK}
			handler(bw, s)
			if err := m.Commit(w, r, bw.status); err != nil {
				return // w holds the error response
			}
			w.WriteHeader(bw.status)
			w.Write(bw.body.Bytes())
		})
	}
	ok := serve(func(w http.ResponseWriter, s *session.Session) {
		s.Set("user", "ada")
		fmt.Fprint(w, "saved")
	})
	broken := serve(func(w http.ResponseWriter, s *session.Session) {
		s.Set("user", "mallory")
		w.WriteHeader(http.StatusInternalServerError)
	})
	unsaveable := serve(func(w http.ResponseWriter, s *session.Session) {
		s.Set("chan", make(chan int))
		fmt.Fprint(w, "the handler's body")
	})
	for _, h := range []http.Handler{ok, broken, unsaveable} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		fmt.Printf("%d %q, %d Set-Cookie\n", rec.Code, rec.Body.String(), len(rec.Result().Cookies()))
	}
	// Output:
	// 200 "saved", 1 Set-Cookie
	// 500 "", 0 Set-Cookie
	// 500 "Internal Server Error\n", 0 Set-Cookie
}

// An API client sends its token in a header instead of a cookie, and
// keeps the new one from the response; the same Manager serves browsers
// with cookies.
func Example_token() {
	m, err := session.New(session.Config{SecretKey: exampleKey, TokenHeader: "Authorization"})
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		switch r.URL.Path {
		case "/login":
			s.CycleKey(r.Context())
			s.Set("user", "ada")
		case "/logout":
			s.Flush(r.Context())
		default:
			user, _ := s.Get("user").(string)
			fmt.Fprintf(w, "user %q", user)
		}
	}))
	token := ""
	do := func(path string) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+token) // empty at first: asks for a token
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if v, ok := rec.Header()["Session-Token"]; ok {
			token = v[0]
			fmt.Printf("%s: token %t, Set-Cookie %t\n", path, token != "", len(rec.Result().Cookies()) > 0)
		}
		if rec.Body.Len() > 0 {
			fmt.Printf("%s: %s\n", path, rec.Body)
		}
	}
	do("/login")
	do("/me")
	do("/logout")
	do("/me")
	// Output:
	// /login: token true, Set-Cookie false
	// /me: user "ada"
	// /logout: token false, Set-Cookie false
	// /me: user ""
}
