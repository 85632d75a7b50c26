package main

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"log"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/cookie"
)

// site holds the demo's handlers.
type site struct {
	cfg session.Config // as configured, with the defaults filled in for display
}

// newSite returns the demo's pages wrapped in the session middleware.
func newSite(cfg session.Config) (http.Handler, error) {
	d := &site{cfg: cfg}
	cfg.ErrorHandler = d.sessionError
	m, err := session.New(cfg)
	if err != nil {
		return nil, err
	}
	// The defaults session.New applied, for the pages to show.
	if d.cfg.Engine == "" {
		d.cfg.Engine = session.EngineCookie
	}
	if d.cfg.Serializer == "" {
		d.cfg.Serializer = "msgpack"
	}
	if d.cfg.Compression == "" {
		d.cfg.Compression = codec.DefaultCompression
	}
	if d.cfg.CookieName == "" {
		d.cfg.CookieName = "sessionid"
	}
	if d.cfg.CookieMaxSize == 0 {
		d.cfg.CookieMaxSize = cookie.DefaultMaxSize
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.home)
	mux.HandleFunc("GET /login", d.loginForm)
	mux.HandleFunc("POST /login", d.login)
	mux.HandleFunc("POST /logout", d.logout)
	mux.HandleFunc("GET /cart", d.cart)
	mux.HandleFunc("POST /cart", d.changeCart)
	mux.HandleFunc("GET /session", d.session)
	return m.Handler(mux), nil
}

// page is what the templates show.
type page struct {
	Cfg        session.Config
	Store      string
	User       string
	Flashes    []string
	Visits     int
	Cart       []item
	Total      int64
	CookieSize int
	Values     []value
	Expires    string
	Stored     bool
	Error      string
	TooLarge   bool
}

// item is one line of the cart. The session keeps the cart as the
// []item it is, with no registration: every serializer writes it as a
// list of maps keyed by the json tags, and session.Get gives it back.
type item struct {
	SKU   string `json:"sku"`
	Name  string `json:"name"`
	Qty   int64  `json:"qty"`
	Price int64  `json:"price"` // in cents
}

// value is one session value, for the session page.
type value struct{ Key, Type, Value string }

func (d *site) page() page {
	p := page{Cfg: d.cfg, Store: "none"}
	if d.cfg.Store != nil {
		p.Store = fmt.Sprintf("%T", d.cfg.Store)
	}
	return p
}

func (d *site) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, p); err != nil {
		log.Printf("demo: template %s: %v", name, err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// home counts visits and shows the flash messages.
func (d *site) home(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	p := d.page()
	for _, f := range s.Flashes() {
		p.Flashes = append(p.Flashes, fmt.Sprint(f))
	}
	p.Visits, _ = session.Get[int](s, "visits") // 0 when absent
	p.Visits++
	s.Set("visits", p.Visits)
	p.User, _ = session.Get[string](s, "user")
	d.render(w, http.StatusOK, "home", p)
}

func (d *site) loginForm(w http.ResponseWriter, r *http.Request) {
	d.render(w, http.StatusOK, "login", d.page())
}

// login keeps the user name in the session, under a new session key so that
// a session planted before login is worthless after it.
func (d *site) login(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("username"))
	if name == "" || len(name) > 64 {
		p := d.page()
		p.Error = "Enter a user name of 1 to 64 characters."
		d.render(w, http.StatusUnprocessableEntity, "login", p)
		return
	}
	s := session.FromRequest(r)
	if err := s.CycleKey(r.Context()); err != nil {
		http.Error(w, "The session store is unavailable.", http.StatusServiceUnavailable)
		return
	}
	s.Set("user", name)
	s.AddFlash("Logged in as " + name)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session. A flash message added now would start a new
// session, so there is none.
func (d *site) logout(w http.ResponseWriter, r *http.Request) {
	if err := session.FromRequest(r).Flush(r.Context()); err != nil {
		http.Error(w, "The session store is unavailable.", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

var products = []struct {
	code, name string
	price      int64
}{
	{"TEE", "T-shirt", 1900}, {"MUG", "Mug", 1250}, {"CAP", "Cap", 1500},
	{"SOX", "Socks", 700}, {"BAG", "Tote bag", 2200}, {"PEN", "Pen", 350},
	{"NBK", "Notebook", 900}, {"STK", "Sticker sheet", 400},
}

func loadCart(s *session.Session) []item {
	cart, _ := session.Get[[]item](s, "cart") // none when absent
	return cart
}

func saveCart(s *session.Session, cart []item) { s.Set("cart", cart) }

func (d *site) cart(w http.ResponseWriter, r *http.Request) {
	p := d.page()
	p.Cart = loadCart(session.FromRequest(r))
	for _, it := range p.Cart {
		p.Total += it.Qty * it.Price
	}
	p.CookieSize = d.cookieSize(r)
	d.render(w, http.StatusOK, "cart", p)
}

// changeCart adds one random product or ten, removes the last ten lines,
// or empties the cart. Under the cookie engine the cart can grow past what a cookie holds: the save then
// fails, and the response becomes sessionError's.
func (d *site) changeCart(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	switch r.PostFormValue("action") {
	case "add", "add10":
		n := 1
		if r.PostFormValue("action") == "add10" {
			n = 10
		}
		cart := loadCart(s)
		for range n {
			p := products[rand.IntN(len(products))]
			sku := fmt.Sprintf("%s-%06d", p.code, rand.IntN(1000000))
			cart = append(cart, item{sku, p.name, 1 + rand.Int64N(3), p.price})
		}
		saveCart(s, cart)
	case "remove10":
		cart := loadCart(s)
		if len(cart) <= 10 {
			s.Delete("cart")
			break
		}
		saveCart(s, cart[:len(cart)-10])
	case "clear":
		s.Delete("cart")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

// session shows the session as decoded, and what the cookie weighs.
func (d *site) session(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	p := d.page()
	vals := s.Values()
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		v := fmt.Sprintf("%v", vals[k])
		if len(v) > 300 {
			v = fmt.Sprintf("%s… (%d more bytes)", v[:300], len(v)-300)
		}
		p.Values = append(p.Values, value{k, fmt.Sprintf("%T", vals[k]), v})
	}
	p.CookieSize = d.cookieSize(r)
	p.Stored = s.Key() != ""
	if len(vals) > 0 {
		p.Expires = s.ExpiryDate().Format("2006-01-02 15:04:05 MST")
	}
	d.render(w, http.StatusOK, "session", p)
}

// cookieSize returns the length of the session cookie the request carried.
func (d *site) cookieSize(r *http.Request) int {
	c, err := r.Cookie(d.cfg.CookieName)
	if err != nil {
		return 0
	}
	return len(c.Value)
}

// sessionError is the Config.ErrorHandler: the page shown when the session
// cannot be loaded or saved.
func (d *site) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	// The handler may have set headers for the response it meant to send
	// (a redirect's Location): they do not belong to this one.
	w.Header().Del("Location")
	w.Header().Del("Set-Cookie")
	p := d.page()
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, cookie.ErrTooLarge) || errors.Is(err, codec.ErrTooLarge):
		p.TooLarge = true
		p.Error = err.Error()
	case errors.Is(err, session.ErrInterrupted):
		status = http.StatusBadRequest
		p.Error = "Your session was ended (by a logout in another tab, say) while this request was changing it. Nothing was saved."
	default:
		p.Error = "The session could not be loaded or saved; the server's log has the details."
	}
	d.render(w, status, "error", p)
}

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"money": func(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) },
}).Parse(`
{{define "top"}}<!doctype html>
<html><head><meta charset="utf-8"><title>session demo</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222 }
nav a { margin-right: 1rem } nav form { display: inline }
.flash { background: #e6f4ea; border-left: 4px solid #2e7d32; padding: .5rem 1rem }
.error { background: #fdecea; border-left: 4px solid #c62828; padding: .5rem 1rem }
table { border-collapse: collapse; width: 100% } td, th { border-bottom: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top }
code, td.v { font-family: ui-monospace, monospace; font-size: 90%; word-break: break-all }
small { color: #666 }
</style></head><body>
<nav><a id="nav-home" href="/">Home</a><a id="nav-login" href="/login">Log in</a><a id="nav-cart" href="/cart">Cart</a><a id="nav-session" href="/session">Session</a>
<form method="post" action="/logout"><button id="logout">Log out</button></form></nav>
<small>engine <b>{{.Cfg.Engine}}</b> · serializer <b>{{.Cfg.Serializer}}</b> · compression <b>{{.Cfg.Compression}}</b> · store <b>{{.Store}}</b></small>
{{end}}

{{define "bottom"}}</body></html>{{end}}

{{define "home"}}{{template "top" .}}
<h1>Home</h1>
{{range .Flashes}}<p class="flash">{{.}}</p>{{end}}
<p id="user">{{if .User}}Signed in as <strong>{{.User}}</strong>.{{else}}Not logged in. <a href="/login">Log in</a>{{end}}</p>
<p id="visits">Visits to this page: <strong>{{.Visits}}</strong></p>
<p>Fill the <a href="/cart">cart</a> until the session no longer fits in a cookie, and watch it on the <a href="/session">session</a> page.</p>
{{template "bottom"}}{{end}}

{{define "login"}}{{template "top" .}}
<h1>Log in</h1>
{{with .Error}}<p class="error">{{.}}</p>{{end}}
<form method="post" action="/login">
<label>User name <input id="username" name="username" required maxlength="64" autofocus></label>
<button id="login">Log in</button></form>
<p><small>No password: this only shows how a login changes the session key.</small></p>
{{template "bottom"}}{{end}}

{{define "cart"}}{{template "top" .}}
<h1>Cart</h1>
<form method="post" action="/cart">
<button id="add" name="action" value="add">Add an item</button>
<button id="add10" name="action" value="add10">Add 10</button>
<button id="remove10" name="action" value="remove10">Remove the last 10</button>
<button id="clear" name="action" value="clear">Clear the cart</button></form>
<p id="cart-summary"><strong>{{len .Cart}}</strong> lines, total {{money .Total}} · session cookie: {{.CookieSize}} of {{.Cfg.CookieMaxSize}} bytes</p>
{{if .Cart}}<table><tr><th>SKU</th><th>Product</th><th>Qty</th><th>Price</th></tr>
{{range .Cart}}<tr><td><code>{{.SKU}}</code></td><td>{{.Name}}</td><td>{{.Qty}}</td><td>{{money .Price}}</td></tr>
{{end}}</table>{{else}}<p id="cart-empty">The cart is empty.</p>{{end}}
{{template "bottom"}}{{end}}

{{define "session"}}{{template "top" .}}
<h1>Session</h1>
<p id="session-cookie">Session cookie <code>{{.Cfg.CookieName}}</code>: <strong>{{.CookieSize}}</strong> bytes
(the limit is {{.Cfg.CookieMaxSize}}). {{if .Stored}}The data is in the server store; the cookie holds a reference to it (a random key and its MAC).{{else}}The data, if any, is in the cookie.{{end}}
{{with .Expires}}It expires at {{.}}.{{end}}</p>
{{if .Values}}<table><tr><th>Key</th><th>Go type</th><th>Value</th></tr>
{{range .Values}}<tr><td><code>{{.Key}}</code></td><td><code>{{.Type}}</code></td><td class="v">{{.Value}}</td></tr>
{{end}}</table>{{else}}<p>The session is empty.</p>{{end}}
{{template "bottom"}}{{end}}

{{define "error"}}{{template "top" .}}
<h1>The session was not saved</h1>
<p class="error">{{.Error}}</p>
{{if .TooLarge}}
<p>Browsers keep at most about 4 KB per cookie, and the cookie engine keeps the
whole session in its cookie: this change would have taken it over {{.Cfg.CookieMaxSize}} bytes,
so it was not saved. Your session is as it was before this request.</p>
<p>To keep large sessions, store them on the server. Restart the demo with</p>
<pre>SESSION_ENGINE=server SESSION_STORE=memory go run ./examples/demo</pre>
<p>or <code>SESSION_ENGINE=auto</code>, which keeps small sessions in the cookie and
moves them to the store when they outgrow it. The stores are
<code>SESSION_STORE=memory</code> (this process only),
<code>SESSION_STORE=file SESSION_FILE_PATH=/some/dir</code> and
<code>SESSION_STORE=mysql SESSION_MYSQL_DSN='user:password@tcp(host:3306)/db'</code>.</p>
<form method="post" action="/cart"><button name="action" value="clear">Clear the cart</button></form>
{{end}}
<p><a href="/">Back home</a></p>
{{template "bottom"}}{{end}}
`))
