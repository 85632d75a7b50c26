package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server/cached"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/postgres"
	"github.com/sessionkit/session/server/redis"
	"github.com/sessionkit/session/server/sqlite"
)

// setEnv sets the demo's environment for one test: the given variables,
// and every other SESSION_ variable unset (except the SESSION_TEST_ ones,
// which the demo does not read).
func setEnv(t *testing.T, env map[string]string) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SESSION_") && !strings.HasPrefix(k, "SESSION_TEST_") {
			t.Setenv(k, "") // restored when the test ends
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// client drives the demo like a browser: it keeps cookies and follows
// redirects.
type client struct {
	t    *testing.T
	srv  *httptest.Server
	http *http.Client
}

// startDemo configures the demo from env, serves it, and returns a client
// and the configuration (whose Store the test may inspect).
func startDemo(t *testing.T, env map[string]string) (*client, session.Config, string) {
	t.Helper()
	setEnv(t, env)
	var out bytes.Buffer
	cfg, closeStore, err := configure(context.Background(), &out)
	if err != nil {
		t.Fatalf("configure: %v", err)
	}
	t.Cleanup(func() { closeStore() })
	h, err := newSite(cfg)
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, srv: srv, http: &http.Client{Jar: jar}}, cfg, out.String()
}

func (c *client) do(method, path string, form url.Values) (int, string) {
	c.t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.http.PostForm(c.srv.URL+path, form)
	} else {
		resp, err = c.http.Get(c.srv.URL + path)
	}
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

// page fetches path (GET, or POST with a form) and fails the test unless the
// final response is 200 and contains every one of want.
func (c *client) page(method, path string, form url.Values, want ...string) string {
	c.t.Helper()
	status, body := c.do(method, path, form)
	if status != http.StatusOK {
		c.t.Fatalf("%s %s: status %d\n%s", method, path, status, body)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			c.t.Fatalf("%s %s: the page lacks %q:\n%s", method, path, w, body)
		}
	}
	return body
}

// cookie returns the session cookie's value in the client's jar.
func (c *client) cookie() string {
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "sessionid" {
			return ck.Value
		}
	}
	return ""
}

var (
	linesRE      = regexp.MustCompile(`<strong>(\d+)</strong> lines`)
	cookieSizeRE = regexp.MustCompile(`<code>sessionid</code>: <strong>(\d+)</strong> bytes`)
)

func atoi(t *testing.T, re *regexp.Regexp, body string) int {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no match for %s in\n%s", re, body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// walk runs the tour every engine must pass: counter, login, cart, session
// page, logout. storeLen, if not nil, reports how many sessions the server
// store holds. It returns the cart lines at which saving failed (0 if it
// never did) after adding up to maxAdds batches of ten.
func walk(t *testing.T, c *client, storeLen func() int, maxAdds int) (failedAt int) {
	checkStore := func(when string, want int) {
		t.Helper()
		if storeLen != nil {
			if n := storeLen(); n != want {
				t.Fatalf("%s: the store holds %d sessions, want %d", when, n, want)
			}
		}
	}

	c.page("GET", "/", nil, "Not logged in", "Visits to this page: <strong>1</strong>")
	c.page("GET", "/", nil, "Visits to this page: <strong>2</strong>")
	checkStore("before login", 1)

	before := c.cookie()
	body := c.page("POST", "/login", url.Values{"username": {"alice <admin>"}},
		`<p class="flash">Logged in as alice &lt;admin&gt;</p>`,
		"Signed in as <strong>alice &lt;admin&gt;</strong>",
		"Visits to this page: <strong>3</strong>")
	if strings.Contains(body, "<admin>") {
		t.Fatal("the user name was not escaped")
	}
	if c.cookie() == before {
		t.Fatal("the session cookie did not change at login")
	}
	checkStore("after login (the old key deleted when the login was saved)", 1)
	body = c.page("GET", "/", nil, "Signed in as", "Visits to this page: <strong>4</strong>")
	if strings.Contains(body, `class="flash"`) {
		t.Fatal("the flash message was shown twice")
	}
	if status, body := c.do("POST", "/login", url.Values{"username": {"  "}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter a user name") {
		t.Fatalf("login with a blank name: status %d, want 422 and the form again\n%s", status, body)
	}
	c.page("GET", "/", nil, "Signed in as <strong>alice &lt;admin&gt;</strong>") // still logged in

	// Fill the cart ten lines at a time.
	lines := 0
	for range maxAdds {
		status, body := c.do("POST", "/cart", url.Values{"action": {"add10"}})
		if status != http.StatusOK {
			if status != http.StatusInternalServerError || !strings.Contains(body, "SESSION_ENGINE=server") ||
				!strings.Contains(body, "4096") || !strings.Contains(body, "over the 4096-byte budget") {
				t.Fatalf("adding to a cart of %d lines: status %d\n%s", lines, status, body)
			}
			failedAt = lines
			break
		}
		if got := atoi(t, linesRE, body); got != lines+10 {
			t.Fatalf("the cart has %d lines after adding 10 to %d", got, lines)
		}
		lines += 10
	}
	// The session page shows the values with their Go types (int64 from
	// MessagePack and JSON, int from gob; the cart as []interface {}) and
	// the cookie as the client holds it.
	body = c.page("GET", "/session", nil,
		"<code>visits</code></td><td><code>int",
		"<code>_session_user</code></td><td><code>string</code>",
		"<code>cart</code></td><td><code>[]")
	if got, want := atoi(t, cookieSizeRE, body), len(c.cookie()); got != want {
		t.Fatalf("the session page says the cookie has %d bytes; the client holds %d", got, want)
	}
	if failedAt > 0 {
		// Nothing of the failed change was saved.
		body = c.page("GET", "/cart", nil)
		if got := atoi(t, linesRE, body); got != failedAt {
			t.Fatalf("after the failed save the cart has %d lines, want %d", got, failedAt)
		}
		if n := len(c.cookie()); n < 3000 {
			t.Fatalf("the cookie was only %d bytes when the save failed", n)
		}
	}
	c.page("POST", "/cart", url.Values{"action": {"clear"}}, "The cart is empty.")
	checkStore("before logout", 1)

	// Logout flushes the session; the home page then starts a new one.
	c.page("POST", "/logout", nil, "Not logged in", "Visits to this page: <strong>1</strong>")
	checkStore("after logout (the old session deleted, a new one for the counter)", 1)
	return failedAt
}

func TestCookieEngine(t *testing.T) {
	c, cfg, out := startDemo(t, nil)
	if !strings.Contains(out, "sessions will not survive a restart") {
		t.Errorf("no warning about the random key; output:\n%s", out)
	}
	if cfg.Store != nil {
		t.Fatalf("a store without SESSION_STORE: %T", cfg.Store)
	}
	c.page("GET", "/session", nil, "engine <b>cookie</b>", "serializer <b>msgpack</b>", "compression <b>auto</b>", "The session is empty.")
	failedAt := walk(t, c, nil, 100)
	if failedAt == 0 {
		t.Fatal("a cart of 1000 lines fitted in a cookie")
	}
	t.Logf("cookie engine: saving failed at %d cart lines", failedAt)
}

func TestServerEngineMemory(t *testing.T) {
	key := "a demo test key that is at least 32 bytes long"
	c, cfg, out := startDemo(t, map[string]string{
		"SESSION_ENGINE": "server", "SESSION_STORE": "memory", "SESSION_SECRET_KEY": key, "SESSION_SERIALIZER": "json",
	})
	if strings.Contains(out, "random key") {
		t.Errorf("warned about a random key although SESSION_SECRET_KEY is set:\n%s", out)
	}
	store, ok := cfg.Store.(*memory.Store)
	if !ok {
		t.Fatalf("store %T, want *memory.Store", cfg.Store)
	}
	c.page("GET", "/session", nil, "engine <b>server</b>", "serializer <b>json</b>", "store <b>*memory.Store</b>")
	if failedAt := walk(t, c, store.Len, 30); failedAt != 0 {
		t.Fatalf("the server engine failed to save a cart of %d lines", failedAt)
	}
	// The cookie holds only a reference.
	body := c.page("GET", "/session", nil, "The data is in the server store")
	if n := atoi(t, cookieSizeRE, body); n == 0 || n > 400 {
		t.Errorf("a server-engine cookie of %d bytes", n)
	}
}

func TestServerEngineFile(t *testing.T) {
	dir := t.TempDir()
	c, cfg, _ := startDemo(t, map[string]string{
		"SESSION_ENGINE": "server", "SESSION_STORE": "file", "SESSION_FILE_PATH": dir,
		"SESSION_COMPRESSION": "zstd", "SESSION_SERIALIZER": "gob",
	})
	if _, ok := cfg.Store.(*file.Store); !ok {
		t.Fatalf("store %T, want *file.Store", cfg.Store)
	}
	c.page("GET", "/session", nil, "engine <b>server</b>", "serializer <b>gob</b>", "compression <b>zstd</b>", "store <b>*file.Store</b>")
	if failedAt := walk(t, c, func() int { return sessionFiles(t, dir) }, 20); failedAt != 0 {
		t.Fatalf("the server engine failed to save a cart of %d lines", failedAt)
	}
}

// TestServerEngineSQLStores walks the site on the sqlite store, and on
// the postgres store when the tests have a server, each table created by
// the demo.
func TestServerEngineSQLStores(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		c, cfg, _ := startDemo(t, map[string]string{
			"SESSION_ENGINE": "server", "SESSION_STORE": "sqlite", "SESSION_SQLITE_PATH": t.TempDir() + "/sessions.db",
		})
		st, ok := cfg.Store.(*sqlite.Store)
		if !ok {
			t.Fatalf("store %T, want *sqlite.Store", cfg.Store)
		}
		rows := func() int {
			var n int
			if err := st.DB().QueryRow(`SELECT count(*) FROM "` + st.Table() + `"`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		c.page("GET", "/session", nil, "engine <b>server</b>", "store <b>*sqlite.Store</b>")
		if failedAt := walk(t, c, rows, 20); failedAt != 0 {
			t.Fatalf("the server engine failed to save a cart of %d lines", failedAt)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		table := testenv.Unique("demo_")
		c, cfg, _ := startDemo(t, map[string]string{
			"SESSION_ENGINE": "server", "SESSION_STORE": "postgres",
			"SESSION_POSTGRES_DSN": testenv.PostgresDSN(t), "SESSION_POSTGRES_TABLE": table,
		})
		st, ok := cfg.Store.(*postgres.Store)
		if !ok {
			t.Fatalf("store %T, want *postgres.Store", cfg.Store)
		}
		t.Cleanup(func() {
			st.Pool().Exec(context.Background(), `DROP TABLE IF EXISTS "`+table+`", "`+table+postgres.UsersSuffix+`"`)
		})
		rows := func() int {
			var n int
			if err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM "`+table+`"`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		c.page("GET", "/session", nil, "engine <b>server</b>", "store <b>*postgres.Store</b>")
		if failedAt := walk(t, c, rows, 20); failedAt != 0 {
			t.Fatalf("the server engine failed to save a cart of %d lines", failedAt)
		}
	})
}

func TestAutoEngine(t *testing.T) {
	c, cfg, _ := startDemo(t, map[string]string{"SESSION_ENGINE": "auto", "SESSION_STORE": "memory"})
	store := cfg.Store.(*memory.Store)
	c.page("GET", "/", nil, "Visits to this page: <strong>1</strong>")
	c.page("GET", "/session", nil, "engine <b>auto</b>", "The data, if any, is in the cookie.")
	if store.Len() != 0 {
		t.Fatalf("a small session went to the store under the auto engine")
	}
	// Grow the cart until the session no longer fits a cookie.
	for i := 0; i < 100 && store.Len() == 0; i++ {
		c.page("POST", "/cart", url.Values{"action": {"add10"}})
	}
	c.page("GET", "/session", nil, "The data is in the server store")
	if store.Len() != 1 {
		t.Fatalf("the store holds %d sessions after the cart outgrew the cookie, want 1", store.Len())
	}
	lines := atoi(t, linesRE, c.page("GET", "/cart", nil))
	// Ten lines fewer is the cart that fitted in the cookie before the
	// last ten were added: the session moves back into the cookie.
	body := c.page("POST", "/cart", url.Values{"action": {"remove10"}})
	if got := atoi(t, linesRE, body); got != lines-10 {
		t.Fatalf("the cart has %d lines after removing 10 of %d", got, lines)
	}
	// The session is read from the cookie again; its store entry stays a
	// minute for requests still in flight with the reference.
	body = c.page("GET", "/session", nil, "The data, if any, is in the cookie.")
	if n := atoi(t, cookieSizeRE, body); n < 3000 || n != len(c.cookie()) {
		t.Fatalf("the session page says the cookie has %d bytes, the client holds %d; want the same, of a cart near the cookie limit", n, len(c.cookie()))
	}
	// Removing ten lines at a time empties the cart.
	for range lines/10 - 1 {
		c.page("POST", "/cart", url.Values{"action": {"remove10"}})
	}
	c.page("GET", "/cart", nil, "<strong>0</strong> lines", "The cart is empty.")
}

func TestServerEngineNeedsStore(t *testing.T) {
	setEnv(t, map[string]string{"SESSION_ENGINE": "server"})
	_, _, err := configure(context.Background(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SESSION_STORE") {
		t.Fatalf("configure without a store: %v; want an error naming SESSION_STORE", err)
	}
}

func TestBadStore(t *testing.T) {
	setEnv(t, map[string]string{"SESSION_STORE": "memcached"})
	_, _, err := configure(context.Background(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SESSION_STORE") || !strings.Contains(err.Error(), "redis, cached") {
		t.Fatalf("configure with SESSION_STORE=memcached: %v; want an error naming SESSION_STORE and the stores", err)
	}
}

// TestServerEngineCached runs the demo on a memory cache in front of the
// file store.
func TestServerEngineCached(t *testing.T) {
	dir := t.TempDir()
	c, cfg, _ := startDemo(t, map[string]string{
		"SESSION_ENGINE": "server", "SESSION_STORE": "cached",
		"SESSION_CACHE_STORE": "memory", "SESSION_BACKING_STORE": "file", "SESSION_FILE_PATH": dir,
	})
	st, ok := cfg.Store.(*cached.Store)
	if !ok {
		t.Fatalf("store %T, want *cached.Store", cfg.Store)
	}
	c.page("GET", "/session", nil, "engine <b>server</b>", "store <b>*cached.Store</b>")
	if failedAt := walk(t, c, func() int { return sessionFiles(t, dir) }, 20); failedAt != 0 {
		t.Fatalf("the server engine failed to save a cart of %d lines", failedAt)
	}
	if s := st.Stats(); s.Hits == 0 || s.CacheErrors != 0 {
		t.Errorf("cache stats %+v: want hits and no errors", s)
	}
}

// TestServerEngineRedis runs the demo on the Redis store.
func TestServerEngineRedis(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.Unique("sessionkit-test:demo:") + ":"
	c, cfg, _ := startDemo(t, map[string]string{
		"SESSION_ENGINE": "server", "SESSION_STORE": "redis", "SESSION_REDIS_URL": url, "SESSION_REDIS_PREFIX": prefix,
	})
	st, ok := cfg.Store.(*redis.Store)
	if !ok {
		t.Fatalf("store %T, want *redis.Store", cfg.Store)
	}
	keys := func() []string {
		k, err := st.Client().Keys(context.Background(), prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	t.Cleanup(func() {
		for _, k := range keys() {
			st.Client().Del(context.Background(), k)
		}
	})
	c.page("GET", "/session", nil, "engine <b>server</b>", "store <b>*redis.Store</b>")
	// Deleted sessions go at once (DEL), so the count is of live ones; the
	// user index's hashes (prefix "u:{") are not sessions.
	sessions := func() int {
		n := 0
		for _, k := range keys() {
			if !strings.HasPrefix(k, prefix+"u:{") {
				n++
			}
		}
		return n
	}
	if failedAt := walk(t, c, sessions, 20); failedAt != 0 {
		t.Fatalf("the server engine failed to save a cart of %d lines", failedAt)
	}
}

// sessionFiles counts the session files the file store keeps in dir.
func sessionFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), file.Prefix) && !strings.HasPrefix(e.Name(), file.Prefix+".tmp") {
			n++
		}
	}
	return n
}

// agentTransport sends every request with its User-Agent.
type agentTransport struct{ agent string }

func (a agentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", a.agent)
	return http.DefaultTransport.RoundTrip(r)
}

// browser returns another client of the same demo, with a cookie jar of
// its own and the given User-Agent.
func (c *client) browser(agent string) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return &client{t: c.t, srv: c.srv, http: &http.Client{Jar: jar, Transport: agentTransport{agent}}}
}

var (
	sessionRowRE = regexp.MustCompile(`<tr id="session-(\d+)" class="session( current)?" data-id="([^"]+)">\s*<td><span class="device">([^<]*)</span>`)
	csrfRE       = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// sessionRow is a line of the sessions page.
type sessionRow struct {
	id, device string
	current    bool
}

// yourSessions opens the sessions page and returns its lines and the
// forms' CSRF token.
func (c *client) yourSessions(want ...string) ([]sessionRow, string) {
	c.t.Helper()
	body := c.page("GET", "/sessions", nil, want...)
	var rows []sessionRow
	for _, m := range sessionRowRE.FindAllStringSubmatch(body, -1) {
		rows = append(rows, sessionRow{id: m[3], device: m[4], current: m[2] != ""})
	}
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("the sessions page has no CSRF token:\n%s", body)
	}
	return rows, m[1]
}

// current returns the ID of the line marked current, failing unless there
// is exactly one.
func current(t *testing.T, rows []sessionRow) string {
	t.Helper()
	var id string
	for _, r := range rows {
		if r.current {
			if id != "" {
				t.Fatalf("two sessions marked current: %+v", rows)
			}
			id = r.id
		}
	}
	if id == "" {
		t.Fatalf("no session marked current: %+v", rows)
	}
	return id
}

// loggedOutWithin reloads the home page until it says the client is not
// logged in, and returns how long that took; it fails the test after
// limit.
func (c *client) loggedOutWithin(limit time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		body := c.page("GET", "/", nil)
		if strings.Contains(body, "Not logged in") {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			c.t.Fatalf("still logged in %v after the revocation", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestYourSessions logs in as one user from two clients, lists the
// user's sessions from each, revokes one from the other, and ends every
// other session at once, on each engine.
func TestYourSessions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		atOnce bool // a revoked session is logged out on its next request
	}{
		{"server", map[string]string{"SESSION_ENGINE": "server", "SESSION_STORE": "memory"}, true},
		{"auto", map[string]string{"SESSION_ENGINE": "auto", "SESSION_STORE": "memory"}, true},
		{"cookie", map[string]string{"SESSION_REVALIDATE_INTERVAL": "1"}, false},
		{"cookie-store", map[string]string{"SESSION_STORE": "memory", "SESSION_REVALIDATE_INTERVAL": "1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cfg, out := startDemo(t, tc.env)
			switch tc.name {
			case "cookie":
				if _, ok := cfg.Registry.(*memory.Store); !ok || !strings.Contains(out, "user index in memory") {
					t.Fatalf("the cookie engine without a store has Registry %T and said:\n%s", cfg.Registry, out)
				}
			default:
				if cfg.Registry != nil || strings.Contains(out, "user index in memory") {
					t.Fatalf("with a store the demo set Registry %T and said:\n%s", cfg.Registry, out)
				}
			}
			// Without a login the page sends the browser to the login form.
			c.page("GET", "/sessions", nil, `<h1>Log in</h1>`)

			a := c.browser("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/140.0")
			b := c.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0.0.0 Safari/537.36")
			a.page("POST", "/login", url.Values{"username": {"bob"}}, "Signed in as <strong>bob</strong>")
			b.page("POST", "/login", url.Values{"username": {"bob"}}, "Signed in as <strong>bob</strong>")

			rowsB, _ := b.yourSessions("with 2 sessions")
			idB := current(t, rowsB)
			rows, token := a.yourSessions("with 2 sessions", "user index <b>")
			idA := current(t, rows)
			if idA == idB || len(rows) != 2 {
				t.Fatalf("the sessions page lists %+v; want A's (%s) and B's (%s)", rows, idA, idB)
			}
			for _, r := range rows {
				want := map[bool]string{true: "Firefox on Windows", false: "Chrome on Linux"}[r.current]
				if r.device != want {
					t.Errorf("session %s is from %q, want %q", r.id, r.device, want)
				}
			}

			// A revocation without the token, or with another session's,
			// is refused.
			if status, _ := a.do("POST", "/sessions/revoke", url.Values{"id": {idB}}); status != http.StatusForbidden {
				t.Fatalf("a revocation without the CSRF token: status %d, want 403", status)
			}
			_, tokenB := b.yourSessions()
			if status, _ := a.do("POST", "/sessions/revoke", url.Values{"id": {idB}, "csrf": {tokenB}}); status != http.StatusForbidden {
				t.Fatalf("a revocation with another session's CSRF token: status %d, want 403", status)
			}
			b.page("GET", "/", nil, "Signed in as <strong>bob</strong>")

			a.page("POST", "/sessions/revoke", url.Values{"id": {idB}, "csrf": {token}}, "The session was ended.", "with 1 session.")
			var took time.Duration
			if tc.atOnce {
				b.page("GET", "/", nil, "Not logged in")
			} else {
				took = b.loggedOutWithin(4 * time.Second)
			}
			t.Logf("%s: B was logged out %v after the revocation", tc.name, took.Round(time.Millisecond))
			a.page("POST", "/sessions/revoke", url.Values{"id": {idB}, "csrf": {token}}, "That session had already ended.")

			// Log out everywhere else.
			others := []*client{c.browser("curl/8.0"), c.browser("curl/8.1")}
			for _, o := range others {
				o.page("POST", "/login", url.Values{"username": {"bob"}}, "Signed in as <strong>bob</strong>")
			}
			a.yourSessions("with 3 sessions")
			a.page("POST", "/sessions/revoke-others", url.Values{"csrf": {token}}, "You were logged out everywhere else.", "with 1 session.")
			for _, o := range others {
				if tc.atOnce {
					o.page("GET", "/", nil, "Not logged in")
				} else {
					o.loggedOutWithin(4 * time.Second)
				}
			}
			if rows, _ := a.yourSessions("with 1 session."); current(t, rows) != idA {
				t.Fatalf("after logging out everywhere else: %+v", rows)
			}

			// Logging out removes the session from the user's sessions.
			a.page("POST", "/logout", nil, "Not logged in")
			b.page("POST", "/login", url.Values{"username": {"bob"}})
			b.yourSessions("with 1 session.")
		})
	}
}
