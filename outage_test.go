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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/server/mysql"
)

// TestMySQLOutage stops MariaDB while requests are in flight and starts it
// again. During the outage requests get the error response: never a panic,
// never an empty session served as if the user were logged out, nothing
// half-written. Afterwards the same Manager works again and every session
// saved before the outage is still there.
func TestMySQLOutage(t *testing.T) {
	mysqlDSN(t)
	stop, start := os.Getenv("MARIADB_STOP_CMD"), os.Getenv("MARIADB_START_CMD")
	if stop == "" || start == "" {
		if os.Getenv("SESSION_TEST_REQUIRE_MYSQL") == "1" && os.Getenv("MARIADB_PID") != "" {
			t.Fatal("MARIADB_STOP_CMD and MARIADB_START_CMD are not set; run `make test`")
		}
		t.Skip("the server is not ours to stop (no MARIADB_STOP_CMD/MARIADB_START_CMD): run `make test`")
	}
	store := newMySQLStore(t).(*mysql.Store)
	m, err := New(Config{SecretKey: testSecret, Engine: EngineServer, Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	// Each request increments the client's counter.
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, err := Get[int](s, "n")
		if err != nil && s.Err() != nil {
			return // the middleware answers with its error response
		}
		s.Set("n", n+1)
		fmt.Fprint(w, n+1)
	})))
	defer srv.Close()

	type client struct {
		cookie   string
		n        int // the counter the server last confirmed
		ok, fail int
		outage   int // errors seen while the server was down
	}
	do := func(c *client) (status int, body string, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
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
				t.Errorf("a %d response set a cookie", resp.StatusCode)
			}
		}
		return resp.StatusCode, string(b), nil
	}
	step := func(c *client, down bool) {
		status, body, err := do(c)
		if err != nil {
			t.Errorf("request failed at the HTTP level (the server must answer): %v", err)
			return
		}
		switch status {
		case http.StatusOK:
			got, _ := strconv.Atoi(body)
			if got != c.n+1 {
				// 1 would mean an empty session served as new: the
				// user logged out by an outage.
				t.Errorf("counter went from %d to %q", c.n, body)
			}
			c.n = got
			c.ok++
		case http.StatusInternalServerError:
			c.fail++
			if down {
				c.outage++
			}
		default:
			t.Errorf("unexpected status %d: %s", status, body)
		}
	}

	clients := make([]*client, 8)
	for i := range clients {
		clients[i] = &client{}
		for range 3 {
			step(clients[i], false)
		}
		if clients[i].n != 3 || clients[i].fail != 0 {
			t.Fatalf("before the outage: client %d at %d with %d failures", i, clients[i].n, clients[i].fail)
		}
	}

	var down atomic.Bool
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000 && ctx.Err() == nil; i++ {
				step(c, down.Load())
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	run := func(cmd string) {
		out, err := exec.Command("bash", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	run(stop)
	down.Store(true)
	time.Sleep(time.Second)
	down.Store(false)
	run(start)
	time.Sleep(time.Second)
	cancel()
	wg.Wait()

	outage := 0
	for i, c := range clients {
		outage += c.outage
		before := c.n
		step(c, false) // the same Manager works again
		if c.n != before+1 {
			t.Errorf("client %d: after the restart the counter went from %d to %d", i, before, c.n)
		}
		// Nothing half-written: what the store holds is what the last
		// successful response said.
		if c.ok != c.n {
			t.Errorf("client %d: %d successful increments but the counter is %d", i, c.ok, c.n)
		}
	}
	if outage == 0 {
		t.Fatal("no request failed while the server was down: the outage was not observed")
	}
	t.Logf("%d error responses during the outage", outage)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
