package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/session/cookie"
)

// demoSecret is the demo's SESSION_SECRET_KEY in these tests.
const demoSecret = "the browser test's demo key, 32 bytes or more"

// buildDemo builds examples/demo, from the main module, into a temporary
// directory and returns the program's path. It builds with the race
// detector: the demo serves the browser's requests under it, and after the
// main module's go test -race (as in make test) the build only links.
func buildDemo(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-race", "-o", bin, "./examples/demo")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -race ./examples/demo: %v\n%s", err, out)
	}
	return bin
}

// startDemo runs the demo program bin on a free loopback port with env
// (and no other SESSION_ variable) and returns its base URL. It is stopped,
// SIGTERM and then SIGKILL, when the test ends.
func startDemo(t *testing.T, bin string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSION_") && !strings.HasPrefix(kv, "DEMO_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &syncWriter{w: &stderr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the demo: %v", err)
	}
	var rest bytes.Buffer
	var restMu sync.Mutex
	urls := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		serving := regexp.MustCompile(`^demo: serving on (http://127\.0\.0\.1:\d+)/ `)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := serving.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
			restMu.Lock()
			fmt.Fprintln(&rest, sc.Text())
			restMu.Unlock()
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		// SIGTERM makes the demo shut down and exit 0; Wait then reports
		// the canceled context. A demo that needed SIGKILL, or whose race
		// detector found a race (exit status 66), did not exit 0.
		if err := cmd.Wait(); cmd.ProcessState == nil || !cmd.ProcessState.Success() {
			t.Errorf("the demo did not exit cleanly on SIGTERM: %v (%v)", err, cmd.ProcessState)
		}
		if t.Failed() {
			restMu.Lock()
			t.Logf("the demo's output:\n%s%s", rest.String(), stderr.String())
			restMu.Unlock()
		}
	})
	select {
	case u := <-urls:
		return u
	case <-done:
		t.Fatalf("the demo exited before serving:\n%s", stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("the demo did not say where it serves within 10 s:\n%s", stderr.String())
	}
	return ""
}

var (
	cartRE   = regexp.MustCompile(`^(\d+) lines, total \d+\.\d\d · session cookie: (\d+) of (\d+) bytes$`)
	cookieRE = regexp.MustCompile(`^Session cookie sessionid: (\d+) bytes `)
)

// cart reads the cart page: its lines, and the size of the session cookie
// that the request for the page carried.
func (b *browser) cart() (lines, cookieSize int) {
	b.t.Helper()
	s := b.text("cart-summary")
	m := cartRE.FindStringSubmatch(s)
	if m == nil {
		b.t.Fatalf("the cart page says %q", s)
	}
	if m[3] != strconv.Itoa(cookie.DefaultMaxSize) {
		b.t.Fatalf("the cart page gives the cookie limit as %s bytes, want %d", m[3], cookie.DefaultMaxSize)
	}
	lines, _ = strconv.Atoi(m[1])
	cookieSize, _ = strconv.Atoi(m[2])
	return lines, cookieSize
}

// sessionPage opens the session page and returns where it says the data
// is ("store" or "cookie") and the cookie size it shows.
func (b *browser) sessionPage() (where string, cookieSize int) {
	b.t.Helper()
	b.step("the session page", click("nav-session"))
	s := b.text("session-cookie")
	m := cookieRE.FindStringSubmatch(s)
	if m == nil {
		b.t.Fatalf("the session page says %q", s)
	}
	cookieSize, _ = strconv.Atoi(m[1])
	switch {
	case strings.Contains(s, "The data is in the server store"):
		return "store", cookieSize
	case strings.Contains(s, "The data, if any, is in the cookie."):
		return "cookie", cookieSize
	}
	b.t.Fatalf("the session page does not say where the data is: %q", s)
	return "", 0
}

// sessionCookie returns the value of the sessionid cookie that the last
// exchange of ex set, and whether it set one.
func sessionCookie(ex []exchange) (header string, ok bool) {
	for i := len(ex) - 1; i >= 0; i-- {
		for _, line := range ex[i].SetCookie {
			if strings.HasPrefix(line, "sessionid=") {
				return line, true
			}
		}
	}
	return "", false
}

// TestDemoWalk walks through the demo, built and run as its own program
// with the auto engine, as a person would in Chromium: fill the cart until
// the session no longer fits in the cookie and moves to the store, take
// ten lines out so that it moves back into the cookie, log in (which moves
// the session into the store, where a revocation deletes it at once),
// empty the cart, log out. Every page load checks that each session cookie
// the demo set was stored, not blocked, and sent back on the next request.
func TestDemoWalk(t *testing.T) {
	b := startBrowser(t)
	base := startDemo(t, buildDemo(t),
		"SESSION_ENGINE=auto", "SESSION_STORE=memory", "SESSION_SECRET_KEY="+demoSecret)
	start := time.Now()

	ex := b.step("the home page", open(base+"/"))
	if _, ok := sessionCookie(ex); !ok {
		t.Fatal("the home page set no session cookie (it counts visits)")
	}
	if got := b.text("user"); got != "Not logged in. Log in" {
		t.Fatalf("the home page says %q before login", got)
	}
	if got := b.text("visits"); got != "Visits to this page: 1" {
		t.Fatalf("the home page says %q on the first visit", got)
	}

	b.step("the cart", click("nav-cart"))
	if lines, _ := b.cart(); lines != 0 {
		t.Fatalf("a new session's cart has %d lines", lines)
	}
	// Add ten lines at a time until the cookie the cart page was requested
	// with shrinks to less than half: the session has moved to the store
	// and the cookie holds only a reference to it.
	lines, size, largest := 0, 0, 0
	spilled := false
	for i := 0; i < 60 && !spilled; i++ {
		ex := b.step(fmt.Sprintf("adding 10 to a cart of %d lines", lines), click("add10"))
		hdr, ok := sessionCookie(ex)
		if !ok {
			t.Fatalf("adding to the cart set no session cookie: %s", describe(ex))
		}
		if len(hdr) > cookie.DefaultMaxSize {
			t.Fatalf("a %d-byte Set-Cookie header, over the %d-byte budget", len(hdr), cookie.DefaultMaxSize)
		}
		n, s := b.cart()
		if n != lines+10 {
			t.Fatalf("the cart has %d lines after adding 10 to %d", n, lines)
		}
		spilled = s < size/2
		if !spilled {
			largest = len(hdr)
		}
		lines, size = n, s
	}
	if !spilled {
		t.Fatalf("a cart of %d lines still in the cookie (%d bytes)", lines, size)
	}
	if largest < cookie.DefaultMaxSize-600 {
		t.Fatalf("the session moved to the store with a %d-byte Set-Cookie header, far from the %d-byte budget", largest, cookie.DefaultMaxSize)
	}
	where, refSize := b.sessionPage()
	if where != "store" || refSize != size {
		t.Fatalf("at %d lines the session page says the data is in the %s with a %d-byte cookie; want the store, and the %d bytes the cart page showed", lines, where, refSize, size)
	}
	t.Logf("at %d lines the session moved to the store; the largest cookie's header was %d bytes, the reference's value is %d", lines, largest, refSize)

	// Ten lines fewer is the cart that last fitted: back into the cookie.
	b.step("the cart, spilled", click("nav-cart"))
	b.step(fmt.Sprintf("removing 10 of %d lines", lines), click("remove10"))
	n, s := b.cart()
	if n != lines-10 || s <= refSize {
		t.Fatalf("after removing 10 of %d lines the cart page shows %d lines and a %d-byte cookie; want %d lines, in a cookie larger than the %d-byte reference", lines, n, s, lines-10, refSize)
	}
	if where, _ := b.sessionPage(); where != "cookie" {
		t.Fatalf("at %d lines the session page says the data is in the %s, want the cookie", n, where)
	}

	b.step("the login page", click("nav-login"))
	b.typeInto("username", "alice")
	ex = b.step("logging in", click("login"))
	if len(ex) != 2 || ex[0].Method != "POST" || ex[0].Status != 303 {
		t.Fatalf("logging in: %s; want a POST answered 303 and the page it redirects to", describe(ex))
	}
	if len(ex[0].SetCookie) == 0 {
		t.Fatal("the login response set no cookie")
	}
	if got := b.text("user"); got != "Signed in as alice." {
		t.Fatalf("after login the home page says %q", got)
	}
	if got := b.text("visits"); got != "Visits to this page: 2" {
		t.Fatalf("after login the home page says %q: the login lost the session", got)
	}
	if where, _ := b.sessionPage(); where != "store" {
		t.Fatalf("after login the session page says the data is in the %s; want the store, where a user's session lives on the auto engine", where)
	}
	b.step("the cart, logged in", click("nav-cart"))
	if n2, _ := b.cart(); n2 != n {
		t.Fatalf("after login the cart has %d lines, want the %d from before", n2, n)
	}
	b.step("clearing the cart", click("clear"))
	if n, _ := b.cart(); n != 0 || b.text("cart-empty") != "The cart is empty." {
		t.Fatalf("after clearing, the cart has %d lines", n)
	}

	ex = b.step("logging out", click("logout"))
	if len(ex) != 2 || ex[0].Status != 303 {
		t.Fatalf("logging out: %s; want a POST answered 303 and the page it redirects to", describe(ex))
	}
	if hdr, ok := sessionCookie(ex[:1]); !ok || !strings.Contains(hdr, "Max-Age=0") {
		t.Fatalf("the logout response did not delete the session cookie: %q", hdr)
	}
	if got := b.text("user"); got != "Not logged in. Log in" {
		t.Fatalf("after logout the home page says %q", got)
	}
	if got := b.text("visits"); got != "Visits to this page: 1" {
		t.Fatalf("after logout the home page says %q; want a new session", got)
	}
	// The new session's cookie comes back.
	b.step("the home page again", open(base+"/"))
	if got := b.text("visits"); got != "Visits to this page: 2" {
		t.Fatalf("the second visit after logout says %q", got)
	}
	t.Logf("the walk took %v in the browser", time.Since(start).Round(time.Millisecond))
}
