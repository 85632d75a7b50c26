package session

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The outage tests run clients against a counter site while a server
// behind the session store is stopped and started again.

// counterSite returns a server whose every request increments the
// client's counter "n" in m's session and writes the new value.
func counterSite(t *testing.T, m *Manager) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, err := Get[int](s, "n")
		if err != nil && s.Err() != nil {
			return // the middleware answers with its error response
		}
		s.Set("n", n+1)
		fmt.Fprint(w, n+1)
	})))
	t.Cleanup(srv.Close)
	return srv
}

// outageClient plays one browser against a counter site.
type outageClient struct {
	cookie string
	n      int // the counter the server last confirmed
	ok     int // successful requests since the session began
	fail   int // error responses
	outage int // error responses while the server was down
	resets int // sessions that started again at 1 after the server came back empty
	// unknown counts the error responses since the last success. Such a
	// request may still have been saved: a server that stops can commit a
	// write and close the connection before its answer leaves. applied
	// counts those that were.
	unknown, applied int
}

// outageRun drives clients against a counter site at url.
type outageRun struct {
	t   *testing.T
	url string
	// down is set while the server is down.
	down atomic.Bool
	// mayReset is set once the server may have come back without its
	// data: from then on, a client's counter may start again at 1 (a new
	// session), once.
	mayReset atomic.Bool
}

func (r *outageRun) do(c *outageClient) (status int, body string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", r.url, nil)
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: c.cookie})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if resp.StatusCode == http.StatusOK {
			c.cookie = ck.Value
		} else {
			r.t.Errorf("a %d response set a cookie", resp.StatusCode)
		}
	}
	return resp.StatusCode, string(b), nil
}

// step makes one request for c and checks the answer.
func (r *outageRun) step(c *outageClient) {
	status, body, err := r.do(c)
	if err != nil {
		r.t.Errorf("request failed at the HTTP level (the server must answer): %v", err)
		return
	}
	switch status {
	case http.StatusOK:
		got, _ := strconv.Atoi(body)
		switch {
		case got >= c.n+1 && got <= c.n+1+c.unknown:
			c.applied += got - (c.n + 1)
		case got == 1 && c.resets == 0 && r.mayReset.Load():
			// The server came back empty: a new session.
			c.resets++
			c.ok, c.applied = 0, 0
		default:
			// 1 would mean an empty session served as new: the user
			// logged out by an outage. Anything else is a lost write, or
			// a write no request made.
			r.t.Errorf("counter went from %d to %q with %d requests of unknown outcome since", c.n, body, c.unknown)
		}
		c.n = got
		c.ok++
		c.unknown = 0
	case http.StatusInternalServerError:
		c.fail++
		c.unknown++
		if r.down.Load() {
			c.outage++
		}
	default:
		r.t.Errorf("unexpected status %d: %s", status, body)
	}
}

// runOutage runs eight clients against the counter site at url: three
// requests each first, which must succeed; then requests every few
// milliseconds from all of them while the shell command stop takes the
// server down for a second and start brings it back; then one more request
// each, which must succeed and increment the counter. lossy says that the
// server comes back without its data. It returns the clients for the
// caller's checks.
func runOutage(t *testing.T, url, stop, start string, lossy bool) []*outageClient {
	t.Helper()
	return runOutageFunc(t, url, func() string { return stop }, start, lossy)
}

// runOutageFunc is runOutage with a stop command that stop returns once
// the clients' sessions exist, just before it runs.
func runOutageFunc(t *testing.T, url string, stop func() string, start string, lossy bool) []*outageClient {
	t.Helper()
	r := &outageRun{t: t, url: url}
	clients := make([]*outageClient, 8)
	for i := range clients {
		clients[i] = &outageClient{}
		for range 3 {
			r.step(clients[i])
		}
		if clients[i].n != 3 || clients[i].fail != 0 {
			t.Fatalf("before the outage: client %d at %d with %d failures", i, clients[i].n, clients[i].fail)
		}
	}

	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000 && ctx.Err() == nil; i++ {
				r.step(c)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	run := func(cmd string) {
		out, err := exec.Command("bash", "-c", cmd).CombinedOutput()
		if err != nil {
			cancel()
			wg.Wait()
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	run(stop())
	r.down.Store(true)
	time.Sleep(time.Second)
	r.down.Store(false)
	if lossy {
		r.mayReset.Store(true)
	}
	run(start)
	time.Sleep(time.Second)
	cancel()
	wg.Wait()

	applied := 0
	for i, c := range clients {
		applied += c.applied
		before := c.n
		r.step(c) // the same Manager works again
		if c.n != before+1 {
			t.Errorf("client %d: after the restart the counter went from %d to %d", i, before, c.n)
		}
		// Nothing lost, nothing made up: the counter is the successful
		// increments plus the failed ones that were saved all the same.
		if c.ok+c.applied != c.n {
			t.Errorf("client %d: %d successful increments and %d failed but saved, but the counter is %d", i, c.ok, c.applied, c.n)
		}
	}
	if applied > 0 {
		t.Logf("%d requests answered with an error were saved all the same", applied)
	}
	return clients
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// privateServer starts a server for one test alone with `bash
// scripts/NAME.sh start-private`, removes it when the test ends, and
// returns the value of urlVar the script printed (the server's DSN or URL)
// and the commands that stop and start it. A fault test stops and starts
// its own server so that the tests sharing the main one are not
// disturbed. The test skips when the main server was not started by the
// scripts (a developer's own server), and fails when it was but
// NAME_STOP_CMD is missing.
func privateServer(t *testing.T, name, urlVar string, env ...string) (url, stop, start string) {
	t.Helper()
	script, prefix := name+".sh", strings.ToUpper(name)
	if os.Getenv(prefix+"_STOP_CMD") == "" {
		if os.Getenv(prefix+"_PID") != "" {
			t.Fatalf("%s_STOP_CMD is not set; run `make test`", prefix)
		}
		t.Skipf("the %s server is not ours (no %s_STOP_CMD): run `make test`, which starts one and can start more", name, prefix)
	}
	cmd := exec.Command("bash", "scripts/"+script, "start-private")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	vars := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	rundirVar := prefix + "_RUNDIR"
	if dir := vars[rundirVar]; dir != "" {
		t.Cleanup(func() {
			cmd := exec.Command("bash", "scripts/"+script, "remove")
			cmd.Env = append(os.Environ(), rundirVar+"="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("removing the private server: %v\n%s", err, out)
			}
		})
	}
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("scripts/%s start-private: %v\n%s", script, err, stderr)
	}
	for _, k := range []string{urlVar, prefix + "_STOP_CMD", prefix + "_START_CMD"} {
		if vars[k] == "" {
			t.Fatalf("scripts/%s start-private printed no %s:\n%s", script, k, out)
		}
	}
	return vars[urlVar], vars[prefix+"_STOP_CMD"], vars[prefix+"_START_CMD"]
}
