package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session/internal/testenv"
)

// Bounds on the waits. A test that passes takes a small fraction of each.
const (
	browserLife = 90 * time.Second // everything one browser does
	stepTimeout = 20 * time.Second // one navigation, with its checks
	readTimeout = 10 * time.Second // reading the page
	eventWait   = 5 * time.Second  // the network events of a finished load
)

// browser is one headless Chromium with one tab, the network traffic of the
// tab's page loads, and what the browser must hold: the cookies the server
// set and did not delete since the last clear.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab; it ends with the browser
	dir string          // the browser's profile and home

	mu     sync.Mutex
	events []any // the network events of the tab, in the order Chromium sent them

	// jar is what the browser must hold and send: name to value.
	jar map[string]string
}

// startBrowser starts Chromium (testenv.Chromium finds it) headless, with
// no sandbox and a new, empty profile, and opens a tab. The browser, and
// every process it started, is killed when the test ends.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := testenv.Chromium(t)
	b := &browser{t: t, jar: map[string]string{}}
	// Everything the browser writes goes under dir: the profile, and
	// through HOME what Chromium keeps outside it (its crash handler's
	// database). t.TempDir is registered before the cleanup that kills
	// the browser, so it is removed after the browser is gone.
	b.dir = t.TempDir()
	profile, home := filepath.Join(b.dir, "profile"), filepath.Join(b.dir, "home")
	for _, d := range []string{profile, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	life, cancelLife := context.WithTimeout(context.Background(), browserLife)
	var output bytes.Buffer // the browser's own messages, for a failure
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests may run as root
		chromedp.UserDataDir(profile),
		chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache")),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.DisableGPU,
		chromedp.CombinedOutput(&syncWriter{w: &output}),
		// Nothing but the servers of the test, on loopback.
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	b.ctx = tab
	pid := 0 // the browser's main process, once started
	t.Cleanup(func() {
		cancelTab()   // kills the browser and waits for it to exit
		cancelAlloc() // waits for the allocator to let go of it
		cancelLife()
		// Chromium's crash handlers exit shortly after the browser; any
		// process still there is killed now.
		if killed, left := killUnder(b.dir); left > 0 {
			t.Errorf("%d processes of the browser are still there after SIGKILL", left)
		} else if killed > 0 {
			t.Logf("killed %d processes that outlived the browser", killed)
		}
		// The main process was waited for, so it is gone, not a zombie:
		// signal 0 must find nothing.
		if pid != 0 {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("the browser (pid %d) is still there after the test: kill -0 gave %v", pid, err)
			}
		}
		if t.Failed() && output.Len() > 0 {
			t.Logf("the browser's output:\n%s", browserOutput(output.String(), 30))
		}
	})

	// The first action starts the browser, on the tab's own context: a
	// shorter one would end the browser with it. browserLife bounds it.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting %s: %v\n%s", path, err, browserOutput(output.String(), 30))
	}
	if _, err := chromedp.Call(tab, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatalf("Network.setCacheDisabled: %v", err)
	}
	if p := chromedp.FromContext(tab).Browser.Process(); p != nil {
		pid = p.Pid
	}
	return b
}

// killUnder kills, with SIGKILL, every process with an argument that
// names a path under dir (Chromium passes --user-data-dir to its children,
// and its crash handler gets its database's path), until none is left or 5
// seconds have passed. It returns how many it killed, and how many were
// still there at the end.
func killUnder(dir string) (killed, left int) {
	under := []byte(dir + "/")
	found := map[int]bool{}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		alive := 0
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil || !bytes.Contains(cmdline, under) {
				continue
			}
			if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && zombie(stat) {
				continue
			}
			found[pid] = true
			alive++
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if alive == 0 || time.Now().After(deadline) {
			return len(found), alive
		}
	}
}

// zombie reports whether a /proc/PID/stat line is that of a zombie.
func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// syncWriter serializes the writes of the browser's output.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// browserOutput returns the last n lines of the browser's output, without
// the complaints about the missing D-Bus, which a test machine never has.
func browserOutput(s string, n int) string {
	var lines []string
	for line := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
		if !strings.Contains(line, ":ERROR:dbus/") {
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// record keeps the network events of the tab. Chromium's loop calls it, in
// the order of arrival.
func (b *browser) record(ev any) {
	switch ev.(type) {
	case *network.EventRequestWillBeSent, *network.EventRequestWillBeSentExtraInfo,
		*network.EventResponseReceivedExtraInfo, *network.EventLoadingFinished, *network.EventLoadingFailed:
		b.mu.Lock()
		b.events = append(b.events, ev)
		b.mu.Unlock()
	}
}

// exchange is one HTTP request of a page load and its response, as
// Chromium sent and received them: one hop of a redirect chain.
type exchange struct {
	Method, URL string
	// Cookie is the Cookie header sent; HasCookie says whether there was
	// one.
	Cookie    string
	HasCookie bool
	Status    int64
	// SetCookie are the Set-Cookie headers received, one a line.
	SetCookie []string
	// Blocked are the cookies of SetCookie that Chromium did not store.
	Blocked []*network.BlockedSetCookieWithReason
}

func (e exchange) String() string { return e.Method + " " + e.URL }

// exchanges returns the page loads' exchanges among events, in order, and
// whether they are complete: each hop's request and response seen with
// their raw headers, and each load finished.
func exchanges(events []any) ([]exchange, bool) {
	type load struct {
		hops               []exchange
		reqExtra, resExtra []any
		done               bool
	}
	loads := map[network.RequestID]*load{}
	var order []network.RequestID
	get := func(id network.RequestID) *load {
		l := loads[id]
		if l == nil {
			l = &load{}
			loads[id] = l
		}
		return l
	}
	for _, ev := range events {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if ev.Type != network.ResourceTypeDocument {
				continue
			}
			l := get(ev.RequestID)
			if len(l.hops) == 0 {
				order = append(order, ev.RequestID)
			}
			l.hops = append(l.hops, exchange{Method: ev.Request.Method, URL: ev.Request.URL})
		case *network.EventRequestWillBeSentExtraInfo:
			l := get(ev.RequestID)
			l.reqExtra = append(l.reqExtra, ev)
		case *network.EventResponseReceivedExtraInfo:
			l := get(ev.RequestID)
			l.resExtra = append(l.resExtra, ev)
		case *network.EventLoadingFinished:
			get(ev.RequestID).done = true
		case *network.EventLoadingFailed:
			get(ev.RequestID).done = true
		}
	}
	complete := true
	var out []exchange
	for _, id := range order {
		l := loads[id]
		if !l.done || len(l.reqExtra) < len(l.hops) || len(l.resExtra) < len(l.hops) {
			complete = false
		}
		for i, h := range l.hops {
			if i < len(l.reqExtra) {
				req := l.reqExtra[i].(*network.EventRequestWillBeSentExtraInfo)
				h.Cookie, h.HasCookie = header(req.Headers, "Cookie")
			}
			if i < len(l.resExtra) {
				res := l.resExtra[i].(*network.EventResponseReceivedExtraInfo)
				h.Status = res.StatusCode
				if v, ok := header(res.Headers, "Set-Cookie"); ok {
					h.SetCookie = strings.Split(v, "\n")
				}
				h.Blocked = res.BlockedCookies
			}
			out = append(out, h)
		}
	}
	return out, complete
}

// header returns the header name of h, whatever its case. Chromium joins
// repeated headers with newlines.
func header(h network.Headers, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, ok := v.(string)
			return s, ok
		}
	}
	return "", false
}

// load runs action, which makes the tab load a page, and waits for the
// page and its network events. It returns the exchanges of the load and
// what is wrong with the cookies: a cookie the server set that Chromium
// blocked, did not send back on the next request, or does not hold now, a
// cookie sent that the server never set or had deleted, or a final status
// other than 200. It fails the test only when the page does not load.
func (b *browser) load(what string, action func(ctx context.Context) error) ([]exchange, []string) {
	b.t.Helper()
	b.mu.Lock()
	mark := len(b.events)
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := action(ctx); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	var ex []exchange
	for deadline := time.Now().Add(eventWait); ; {
		b.mu.Lock()
		events := slices.Clone(b.events[mark:])
		b.mu.Unlock()
		var complete bool
		ex, complete = exchanges(events)
		if complete && len(ex) > 0 {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: the network events of the page load are incomplete after %v: %d exchanges", what, eventWait, len(ex))
		}
		time.Sleep(10 * time.Millisecond)
	}

	var problems []string
	for _, e := range ex {
		problems = append(problems, b.checkSent(e)...)
		problems = append(problems, b.checkSet(e)...)
	}
	if last := ex[len(ex)-1]; last.Status != http.StatusOK {
		problems = append(problems, fmt.Sprintf("%s: status %d, want 200", last, last.Status))
	}
	problems = append(problems, b.checkHeld(ex[len(ex)-1].URL)...)
	return ex, problems
}

// checkSent compares the cookies e sent with b.jar.
func (b *browser) checkSent(e exchange) []string {
	var problems []string
	sent := map[string]string{}
	if e.HasCookie {
		cookies, err := http.ParseCookie(e.Cookie)
		if err != nil {
			return []string{fmt.Sprintf("%s: unparsable Cookie header %q: %v", e, e.Cookie, err)}
		}
		for _, c := range cookies {
			if _, dup := sent[c.Name]; dup {
				problems = append(problems, fmt.Sprintf("%s: cookie %s sent twice", e, c.Name))
			}
			sent[c.Name] = c.Value
		}
	}
	for name, want := range b.jar {
		got, ok := sent[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: cookie %s (%d bytes of value) was not sent back", e, name, len(want)))
		case got != want:
			problems = append(problems, fmt.Sprintf("%s: cookie %s sent back as %d bytes %.40q…, not the %d bytes %.40q… the server set", e, name, len(got), got, len(want), want))
		}
	}
	for name := range sent {
		if _, ok := b.jar[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s: cookie %s sent, which the server never set or had deleted", e, name))
		}
	}
	return problems
}

// checkSet reports the cookies of e that Chromium blocked, and takes every
// cookie the server set into b.jar, blocked or not: the next request must
// send it.
func (b *browser) checkSet(e exchange) []string {
	var problems []string
	for _, bc := range e.Blocked {
		problems = append(problems, fmt.Sprintf("%s: Chromium blocked the cookie of the %d-byte Set-Cookie header %.60q…: %v", e, len(bc.CookieLine), bc.CookieLine, bc.BlockedReasons))
	}
	for _, line := range e.SetCookie {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: unparsable Set-Cookie header %.60q…: %v", e, line, err))
			continue
		}
		if c.MaxAge < 0 || !c.Expires.IsZero() && c.Expires.Before(time.Now()) {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c.Value
		}
	}
	return problems
}

// checkHeld compares the cookies Chromium holds for pageURL with b.jar.
func (b *browser) checkHeld(pageURL string) []string {
	ctx, cancel := context.WithTimeout(b.ctx, readTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{pageURL}})
	if err != nil {
		return []string{fmt.Sprintf("Network.getCookies: %v", err)}
	}
	held := map[string]string{}
	for _, c := range res.Cookies {
		held[c.Name] = c.Value
	}
	var problems []string
	for name, want := range b.jar {
		if got, ok := held[name]; !ok {
			problems = append(problems, fmt.Sprintf("the browser holds no cookie %s; the server set one of %d bytes of value", name, len(want)))
		} else if got != want {
			problems = append(problems, fmt.Sprintf("the browser holds cookie %s with %d bytes of value, not the %d the server set", name, len(got), len(want)))
		}
	}
	for name := range held {
		if _, ok := b.jar[name]; !ok {
			problems = append(problems, fmt.Sprintf("the browser holds cookie %s, which the server never set or had deleted", name))
		}
	}
	return problems
}

// step is load for a page load whose cookies must all be right: it fails
// the test on any problem.
func (b *browser) step(what string, action func(ctx context.Context) error) []exchange {
	b.t.Helper()
	ex, problems := b.load(what, action)
	if len(problems) > 0 {
		b.t.Fatalf("%s (%s):\n\t%s", what, describe(ex), strings.Join(problems, "\n\t"))
	}
	return ex
}

// describe lists exchanges briefly, for a failure message.
func describe(ex []exchange) string {
	var parts []string
	for _, e := range ex {
		parts = append(parts, fmt.Sprintf("%s → %d, %d Set-Cookie", e, e.Status, len(e.SetCookie)))
	}
	return strings.Join(parts, "; ")
}

// open is an action for load and step: go to u.
func open(u string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
		return err
	}
}

// click is an action for load and step: click the element of that id,
// which loads a page (a link, or a form's button).
func click(id string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID(id)))
		return err
	}
}

// text returns the text of the element of that id in the page.
func (b *browser) text(id string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, readTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		b.t.Fatalf("reading #%s: %v", id, err)
	}
	return s
}

// typeInto types s into the input of that id.
func (b *browser) typeInto(id, s string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, readTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID(id), s)); err != nil {
		b.t.Fatalf("typing into #%s: %v", id, err)
	}
}

// clearCookies removes every cookie of the browser, and empties b.jar.
func (b *browser) clearCookies() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, readTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		b.t.Fatalf("Network.clearBrowserCookies: %v", err)
	}
	clear(b.jar)
}
