package browsertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// profile names the browser in its User-Agent, so that the sessions page
// tells the two apart as a person would, by device.
func (b *browser) profile(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, readTimeout)
	defer cancel()
	agent, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`))
	if err != nil {
		b.t.Fatalf("reading navigator.userAgent: %v", err)
	}
	agent += " profile/" + name
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: agent}); err != nil {
		b.t.Fatalf("Emulation.setUserAgentOverride: %v", err)
	}
	return agent
}

// sessionRow is one line of the "Your sessions" page, as the browser shows
// it.
type sessionRow struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
	Device  string `json:"device"`
	Agent   string `json:"agent"`
	Marker  string `json:"marker"` // the current session's "(this browser)"
	Button  string `json:"button"` // the id of the line's revoke button
}

// yourSessions opens the sessions page from the navigation bar and returns
// its lines, and its summary line.
func (b *browser) yourSessions() ([]sessionRow, string) {
	b.t.Helper()
	b.step("the sessions page", click("nav-sessions"))
	ctx, cancel := context.WithTimeout(b.ctx, readTimeout)
	defer cancel()
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]sessionRow](`[...document.querySelectorAll("#sessions tr.session")].map(tr => ({
		id: tr.dataset.id,
		current: tr.classList.contains("current"),
		device: tr.querySelector(".device").textContent,
		agent: tr.querySelector(".agent").textContent,
		marker: tr.querySelector(".current-marker")?.textContent ?? "",
		button: tr.querySelector("button")?.id ?? "",
	}))`))
	if err != nil {
		b.t.Fatalf("reading the sessions page: %v", err)
	}
	return rows, b.text("sessions-summary")
}

// current returns the line marked as the browser's own, failing unless
// there is exactly one, with the marker and without a revoke button.
func current(t *testing.T, who string, rows []sessionRow) sessionRow {
	t.Helper()
	var cur []sessionRow
	for _, r := range rows {
		if r.Current {
			cur = append(cur, r)
		}
	}
	if len(cur) != 1 {
		t.Fatalf("%s's sessions page marks %d sessions current: %+v", who, len(cur), rows)
	}
	if cur[0].Marker != "(this browser)" || cur[0].Button != "" {
		t.Fatalf("%s's own session on the sessions page: %+v; want the marker \"(this browser)\" and no revoke button", who, cur[0])
	}
	return cur[0]
}

// logIn logs the browser in as user from the login page.
func (b *browser) logIn(base, user string) {
	b.t.Helper()
	b.step("the login page", open(base+"/login"))
	b.typeInto("username", user)
	b.step("logging in", click("login"))
	if got := b.text("user"); got != "Signed in as "+user+"." {
		b.t.Fatalf("after login the home page says %q", got)
	}
}

// untilLoggedOut reloads the home page until it says the browser is not
// logged in, at most until deadline, and returns when it first did and
// after how many reloads; it fails the test at the deadline.
func (b *browser) untilLoggedOut(base string, deadline time.Time) (time.Time, int) {
	b.t.Helper()
	for n := 1; ; n++ {
		b.step(fmt.Sprintf("reload %d of the home page", n), open(base+"/"))
		switch got := b.text("user"); {
		case got == "Not logged in. Log in":
			return time.Now(), n
		case !strings.HasPrefix(got, "Signed in as "):
			b.t.Fatalf("the home page says %q", got)
		case time.Now().After(deadline):
			b.t.Fatalf("still logged in after %d reloads, at the deadline: the home page says %q", n, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRevokeAcrossBrowsers logs two independent browsers (two Chromium
// processes, each with a profile of its own, so two cookie jars) in as
// the same user. Browser A opens "Your sessions", finds both sessions
// with its own marked, and revokes B's; B must then be logged out: on its
// next request on the server and auto engines, whose store drops the
// session at once, and on the cookie engine within the revalidate
// interval (1 s here), after which B's cookie is checked against the
// registry (a memory store the demo keeps, since SESSION_STORE is not
// set): B reloads until it is logged out, and fails at three intervals.
// Then B logs in again and A logs out everywhere else. The test logs the
// time from each revocation to B's logout.
func TestRevokeAcrossBrowsers(t *testing.T) {
	bin := buildDemo(t)
	for _, tc := range []struct {
		engine   string
		env      []string
		interval time.Duration // zero: B is logged out at once
	}{
		{"server", []string{"SESSION_ENGINE=server", "SESSION_STORE=memory"}, 0},
		{"auto", []string{"SESSION_ENGINE=auto", "SESSION_STORE=memory"}, 0},
		{"cookie", []string{"SESSION_ENGINE=cookie", "SESSION_REVALIDATE_INTERVAL=1"}, time.Second},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			start := time.Now()
			base := startDemo(t, bin, append(tc.env, "SESSION_SECRET_KEY="+demoSecret)...)
			a, b := startBrowser(t), startBrowser(t)
			agentA, agentB := a.profile("A"), b.profile("B")

			a.logIn(base, "carol")
			b.logIn(base, "carol")
			rowsB, _ := b.yourSessions()
			idB := current(t, "B", rowsB).ID
			rows, summary := a.yourSessions()
			if summary != "Signed in as carol, with 2 sessions." || len(rows) != 2 {
				t.Fatalf("A's sessions page says %q and lists %+v; want two sessions", summary, rows)
			}
			own := current(t, "A", rows)
			if own.ID == idB || own.Agent != agentA {
				t.Fatalf("A's sessions page marks %+v as A's; B's session is %s, A's User-Agent %q", own, idB, agentA)
			}
			var other sessionRow
			for _, r := range rows {
				if !r.Current {
					other = r
				}
			}
			if other.ID != idB || other.Agent != agentB || other.Device != "Headless Chrome on Linux" || other.Button == "" {
				t.Fatalf("A's sessions page shows the other session as %+v; want B's (%s, %q) with a revoke button", other, idB, agentB)
			}
			if note := a.text("sessions-note"); tc.interval == 0 && !strings.Contains(note, "deleted from the store at once") ||
				tc.interval > 0 && !strings.Contains(note, "memory store of its own") {
				t.Fatalf("the sessions page's note on the %s engine: %q", tc.engine, note)
			}

			// A revokes B's session. On the cookie engine, B's request just
			// before comes an interval after its login, so that it is checked
			// against the registry: B's next check, the one that finds the
			// revocation, is due an interval later, and the time measured is
			// near the longest a revocation can take.
			time.Sleep(tc.interval)
			b.step("B's home page before the revocation", open(base+"/"))
			a.step("revoking B's session", click(other.Button))
			revoked := time.Now()
			if got := a.text("sessions-summary"); got != "Signed in as carol, with 1 session." {
				t.Fatalf("after the revocation A's sessions page says %q", got)
			}
			deadline := revoked.Add(3 * tc.interval)
			loggedOut, reloads := b.untilLoggedOut(base, deadline)
			took := loggedOut.Sub(revoked)
			if tc.interval == 0 && reloads != 1 {
				t.Fatalf("on the %s engine B was still logged in on its first request after the revocation (logged out at reload %d, %v later)", tc.engine, reloads, took)
			}
			t.Logf("%s engine: B logged out %v after the revocation, at reload %d (revalidate interval %v)", tc.engine, took.Round(time.Millisecond), reloads, tc.interval)
			if rows, _ := a.yourSessions(); len(rows) != 1 || current(t, "A", rows).ID != own.ID {
				t.Fatalf("after the revocation A's sessions page lists %+v", rows)
			}
			ex := b.step("B's sessions link", click("nav-sessions"))
			if last := ex[len(ex)-1]; last.URL != base+"/login" {
				t.Fatalf("B's sessions link after the revocation: %s; want a redirect to the login form", describe(ex))
			}

			// B logs in again; A logs out everywhere else.
			b.logIn(base, "carol")
			if rows, _ := a.yourSessions(); len(rows) != 2 {
				t.Fatalf("after B's new login A's sessions page lists %+v", rows)
			}
			a.step("logging out everywhere else", click("revoke-others"))
			revoked = time.Now()
			if got := a.text("sessions-summary"); got != "Signed in as carol, with 1 session." {
				t.Fatalf("after logging out everywhere else A's sessions page says %q", got)
			}
			loggedOut, reloads = b.untilLoggedOut(base, revoked.Add(3*tc.interval))
			if tc.interval == 0 && reloads != 1 {
				t.Fatalf("on the %s engine B was still logged in on its first request after \"log out everywhere else\" (logged out at reload %d)", tc.engine, reloads)
			}
			t.Logf("%s engine: \"log out everywhere else\": B logged out %v after it, at reload %d", tc.engine, loggedOut.Sub(revoked).Round(time.Millisecond), reloads)
			a.step("A's home page", open(base+"/"))
			if got := a.text("user"); got != "Signed in as carol." {
				t.Fatalf("A, the session kept, is logged out: %q", got)
			}
			t.Logf("%s engine: %v in all", tc.engine, time.Since(start).Round(time.Millisecond))
		})
	}
}
