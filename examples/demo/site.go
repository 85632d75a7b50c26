package main

import (
	"bytes"
	crand "crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/cookie"
	"github.com/sessionkit/session/server"
)

// site holds the demo's handlers.
type site struct {
	cfg session.Config // as configured, with the defaults filled in for display
	m   *session.Manager
}

// newSite returns the demo's pages wrapped in the session middleware.
func newSite(cfg session.Config) (http.Handler, error) {
	d := &site{cfg: cfg}
	cfg.ErrorHandler = d.sessionError
	m, err := session.New(cfg)
	if err != nil {
		return nil, err
	}
	d.m = m
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
	if d.cfg.RevalidateInterval == 0 {
		d.cfg.RevalidateInterval = session.DefaultRevalidateInterval
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.home)
	mux.HandleFunc("GET /login", d.loginForm)
	mux.HandleFunc("POST /login", d.login)
	mux.HandleFunc("POST /logout", d.logout)
	mux.HandleFunc("GET /sessions", d.sessions)
	mux.HandleFunc("POST /sessions/revoke", d.revoke)
	mux.HandleFunc("POST /sessions/revoke-others", d.revokeOthers)
	mux.HandleFunc("GET /cart", d.cart)
	mux.HandleFunc("POST /cart", d.changeCart)
	mux.HandleFunc("GET /session", d.session)
	return m.Handler(mux), nil
}

// page is what the templates show.
type page struct {
	Cfg        session.Config
	Store      string
	Index      string // where the user index is
	IndexNote  string // what revoking a session does, on this engine
	Sessions   []userSession
	CSRF       string
	Title      string
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

// userSession is one line of the "Your sessions" page.
type userSession struct {
	session.UserSession
	Device string
}

func (d *site) page() page {
	p := page{Cfg: d.cfg, Store: "none", Index: "none"}
	if d.cfg.Store != nil {
		p.Store = fmt.Sprintf("%T", d.cfg.Store)
	}
	_, storeIndex := d.cfg.Store.(server.Index)
	switch {
	case d.cfg.Registry != nil && d.cfg.Store == nil:
		p.Index = fmt.Sprintf("%T in this process", d.cfg.Registry)
	case d.cfg.Registry != nil:
		p.Index = fmt.Sprintf("%T", d.cfg.Registry)
	case storeIndex:
		p.Index = "the store"
	}
	interval := d.cfg.RevalidateInterval
	switch {
	case p.Index == "none":
		p.IndexNote = "There is no user index: sessions cannot be listed or revoked."
	case d.cfg.Engine == session.EngineServer:
		p.IndexNote = fmt.Sprintf("Sessions are kept in the server store (%s), which also keeps each user's list of sessions: a session you revoke is deleted from the store at once, and its browser is logged out on its next request.", p.Store)
	case d.cfg.Engine == session.EngineAuto:
		p.IndexNote = fmt.Sprintf("Small sessions live in their cookie, but a session bound to a user is moved into the server store (%s), which also keeps each user's list of sessions: a session you revoke is deleted from the store at once, and its browser is logged out on its next request.", p.Store)
	case d.cfg.Store == nil:
		p.IndexNote = fmt.Sprintf("Cookie sessions: each session lives in its browser's cookie. SESSION_STORE is not set, so the demo keeps each user's list of sessions in a memory store of its own (Config.Registry), lost when the demo restarts. A session is checked against that list at most every %v (SESSION_REVALIDATE_INTERVAL): a session you revoke is logged out within %v.", interval, interval)
	default:
		p.IndexNote = fmt.Sprintf("Cookie sessions: each session lives in its browser's cookie; the store that SESSION_STORE names (%s) keeps only each user's list of sessions. A session is checked against that list at most every %v (SESSION_REVALIDATE_INTERVAL): a session you revoke is logged out within %v.", p.Store, interval, interval)
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
	p.User = s.UserID()
	d.render(w, http.StatusOK, "home", p)
}

func (d *site) loginForm(w http.ResponseWriter, r *http.Request) {
	d.render(w, http.StatusOK, "login", d.page())
}

// login binds the session to the user name (there is no password: this
// is a demo), under a new session key so that a session planted before
// login is worthless after it. With a user index the session joins the
// user's sessions, which the sessions page lists.
func (d *site) login(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("username"))
	if name == "" || len(name) > 64 {
		p := d.page()
		p.Error = "Enter a user name of 1 to 64 characters."
		d.render(w, http.StatusUnprocessableEntity, "login", p)
		return
	}
	s := session.FromRequest(r)
	err := s.Login(r.Context(), name)
	if errors.Is(err, session.ErrTooManySessions) {
		p := d.page()
		p.Error = fmt.Sprintf("%s already has %d sessions (SESSION_MAX_USER_SESSIONS): log out of one first.", name, d.cfg.MaxUserSessions)
		d.render(w, http.StatusConflict, "login", p)
		return
	}
	if err != nil {
		http.Error(w, "The session store is unavailable.", http.StatusServiceUnavailable)
		return
	}
	s.Delete(csrfKey) // a token seen before login is no good after it
	s.AddFlash("Logged in as " + name)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session and removes it from the user's sessions. A flash
// message added now would start a new session, so there is none.
func (d *site) logout(w http.ResponseWriter, r *http.Request) {
	if err := session.FromRequest(r).Logout(r.Context()); err != nil {
		http.Error(w, "The session store is unavailable.", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// csrfKey is the session value that holds the token of the sessions page's
// forms. The revocations are POSTs that must carry it: the session cookie
// is SameSite=Lax, which already keeps other sites' POSTs from sending it
// in current browsers, and the token protects the revocations in the
// others too. It is made when the sessions page is first shown, and
// dropped at login.
const csrfKey = "csrf"

// csrfToken returns the session's token, making one if it has none.
func csrfToken(s *session.Session) string {
	if t, _ := session.Get[string](s, csrfKey); t != "" {
		return t
	}
	b := make([]byte, 18)
	crand.Read(b) // never fails (crypto/rand)
	t := base64.RawURLEncoding.EncodeToString(b)
	s.Set(csrfKey, t)
	return t
}

// validCSRF reports whether the form posted carries the session's token.
func validCSRF(s *session.Session, r *http.Request) bool {
	want, _ := session.Get[string](s, csrfKey)
	got := r.PostFormValue("csrf")
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// userOf returns the user the request's session is bound to. Without one
// it sends the browser to the login page and returns "".
func (d *site) userOf(w http.ResponseWriter, r *http.Request) (*session.Session, string) {
	s := session.FromRequest(r)
	user := s.UserID()
	if user == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
	return s, user
}

// sessions lists the sessions of the user logged in, most recently seen
// first, this one marked.
func (d *site) sessions(w http.ResponseWriter, r *http.Request) {
	s, user := d.userOf(w, r)
	if user == "" {
		return
	}
	list, err := d.m.UserSessions(r.Context(), user)
	if errors.Is(err, session.ErrNoIndex) {
		p := d.page()
		p.Title, p.Error = "No user index", p.IndexNote
		d.render(w, http.StatusNotImplemented, "message", p)
		return
	}
	if err != nil {
		d.failure(w, "listing the sessions", err)
		return
	}
	p := d.page()
	p.User = user
	for _, f := range s.Flashes() {
		p.Flashes = append(p.Flashes, fmt.Sprint(f))
	}
	p.CSRF = csrfToken(s)
	for _, us := range list {
		p.Sessions = append(p.Sessions, userSession{us, device(us.UserAgent)})
	}
	d.render(w, http.StatusOK, "sessions", p)
}

// revoke ends one of the user's sessions.
func (d *site) revoke(w http.ResponseWriter, r *http.Request) {
	s, user := d.userOf(w, r)
	if user == "" {
		return
	}
	if !validCSRF(s, r) {
		d.forbidden(w)
		return
	}
	id := r.PostFormValue("id")
	if id == s.ID() {
		d.logout(w, r) // revoking this session is logging out
		return
	}
	switch err := d.m.RevokeSession(r.Context(), user, id); {
	case errors.Is(err, server.ErrNotFound):
		s.AddFlash("That session had already ended.")
	case errors.Is(err, session.ErrStore):
		d.failure(w, "revoking a session", err)
		return
	case err != nil:
		http.Error(w, "No such session.", http.StatusBadRequest)
		return
	default:
		s.AddFlash("The session was ended.")
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// revokeOthers ends every session of the user but this one.
func (d *site) revokeOthers(w http.ResponseWriter, r *http.Request) {
	s, user := d.userOf(w, r)
	if user == "" {
		return
	}
	if !validCSRF(s, r) {
		d.forbidden(w)
		return
	}
	if err := d.m.RevokeUserSessions(r.Context(), user, s.ID()); err != nil {
		d.failure(w, "revoking the other sessions", err)
		return
	}
	s.AddFlash("You were logged out everywhere else.")
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// forbidden answers a form posted without the session's CSRF token.
func (d *site) forbidden(w http.ResponseWriter) {
	p := d.page()
	p.Title = "Forbidden"
	p.Error = "The form did not carry this session's token (it may come from another site, or from before you logged in). Open the sessions page again and retry."
	d.render(w, http.StatusForbidden, "message", p)
}

// failure answers a request whose user index operation failed.
func (d *site) failure(w http.ResponseWriter, what string, err error) {
	log.Printf("demo: %s: %v", what, err)
	p := d.page()
	p.Title = "The session store is unavailable"
	p.Error = "The user's sessions could not be read or changed; the server's log has the details."
	d.render(w, http.StatusServiceUnavailable, "message", p)
}

// device names the browser and system of a User-Agent, roughly: enough to
// tell one's sessions apart.
func device(agent string) string {
	if agent == "" {
		return "Unknown device"
	}
	browser := "A browser"
	for _, b := range [][2]string{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"},
		{"HeadlessChrome/", "Headless Chrome"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(agent, b[0]) {
			browser = b[1]
			break
		}
	}
	for _, o := range [][2]string{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(agent, o[0]) {
			return browser + " on " + o[1]
		}
	}
	return browser
}

// ago says how long ago t was, to the second.
func ago(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", d/time.Minute)
	}
	return t.Format("2006-01-02 15:04")
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
	"when":  func(t time.Time) string { return t.Format("2006-01-02 15:04:05") },
	"ago":   ago,
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
tr.current { background: #f3f8ff }
</style></head><body>
<nav><a id="nav-home" href="/">Home</a><a id="nav-login" href="/login">Log in</a><a id="nav-sessions" href="/sessions">Your sessions</a><a id="nav-cart" href="/cart">Cart</a><a id="nav-session" href="/session">Session</a>
<form method="post" action="/logout"><button id="logout">Log out</button></form></nav>
<small>engine <b>{{.Cfg.Engine}}</b> · serializer <b>{{.Cfg.Serializer}}</b> · compression <b>{{.Cfg.Compression}}</b> · store <b>{{.Store}}</b> · user index <b>{{.Index}}</b></small>
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
<p><small>No password: this is a demo. Logging in binds the session to the user name, under a new session key.
Log in as the same name in another browser, and both sessions show on <a href="/sessions">Your sessions</a>.</small></p>
{{template "bottom"}}{{end}}

{{define "sessions"}}{{template "top" .}}
<h1>Your sessions</h1>
{{range .Flashes}}<p class="flash">{{.}}</p>{{end}}
<p id="sessions-summary">Signed in as <strong>{{.User}}</strong>, with {{len .Sessions}} {{if eq (len .Sessions) 1}}session{{else}}sessions{{end}}.</p>
<table id="sessions"><tr><th>Device</th><th>Created</th><th>Logged in</th><th>Last seen</th><th></th></tr>
{{range $i, $s := .Sessions}}<tr id="session-{{$i}}" class="session{{if .Current}} current{{end}}" data-id="{{.ID}}">
<td><span class="device">{{.Device}}</span>{{if .Current}} <strong class="current-marker">(this browser)</strong>{{end}}
<br><small class="agent">{{.UserAgent}}</small>{{with .ClientAddr}}<br><small>from {{.}}</small>{{end}}</td>
<td>{{when .Created}}</td><td>{{when .AuthenticatedAt}}</td><td>{{ago .LastSeen}}</td>
<td>{{if not .Current}}<form method="post" action="/sessions/revoke"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="id" value="{{.ID}}"><button id="revoke-{{$i}}">Revoke</button></form>{{end}}</td></tr>
{{end}}</table>
<form method="post" action="/sessions/revoke-others"><input type="hidden" name="csrf" value="{{.CSRF}}">
<p><button id="revoke-others">Log out everywhere else</button></p></form>
<p id="sessions-note"><small>{{.IndexNote}} "Last seen" is updated at most every {{.Cfg.RevalidateInterval}}.</small></p>
{{template "bottom"}}{{end}}

{{define "message"}}{{template "top" .}}
<h1>{{.Title}}</h1>
<p class="error">{{.Error}}</p>
<p><a href="/sessions">Your sessions</a> · <a href="/">Back home</a></p>
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
