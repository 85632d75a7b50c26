// Package sessionecho gives Echo v5 handlers sessionkit sessions, with
// exactly the rules of session.Manager.Handler.
//
//	e := echo.New()
//	e.Use(middleware.Recover(), sessionecho.Middleware(m))
//	e.GET("/", func(c *echo.Context) error {
//		s := sessionecho.From(c)
//		n, _ := session.Get[int](s, "visits")
//		s.Set("visits", n+1)
//		return c.String(http.StatusOK, fmt.Sprintf("visit %d", n+1))
//	})
//
// The middleware loads the session lazily (nothing is decoded until the
// handler uses it) and commits it just before the response's first byte,
// however the handler writes it: c.JSON, c.String, c.Blob, c.Stream,
// c.File, c.Redirect, c.NoContent, c.Response() directly (Write, Flush,
// Hijack), or nothing at all. When the handler returns an error, the
// session is committed with the status of the response that Echo's
// HTTPErrorHandler then writes: an echo.HTTPError of 500, any other error
// (500 by default), and a panic that middleware.Recover turns into an
// error save nothing and send no Set-Cookie, while an HTTPError below 500 (a
// 401, say) saves the session as any response below 500 does. A change
// made to the session after the first byte is not saved, and is reported
// to session.Config.OnError.
//
// echo.WrapMiddleware(m.Handler) is not the same: it commits when the
// handler returns, before Echo renders a returned error, so a 500 from an
// HTTPError goes out with the session saved and its Set-Cookie.
//
// If the session cannot be loaded or saved, the response becomes the
// Manager's error response (session.Config.ErrorHandler) and whatever the
// handler writes afterwards is discarded: its Write returns an error.
package sessionecho

import (
	"bufio"
	"errors"
	"net"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/sessionkit/session"
)

// Middleware returns Echo middleware that gives each request its session
// (From) and commits it before the response's first byte. Put it after
// middleware.Recover, so that a panic's 500 goes through it.
func Middleware(m *session.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r, _ := m.Load(c.Request())
			c.SetRequest(r)
			res, err := echo.UnwrapResponse(c.Response())
			if err != nil {
				// A writer that hides echo's Response: wrap it instead.
				res = echo.NewResponse(c.Response(), c.Logger())
				c.SetResponse(res)
			}
			w := &writer{ResponseWriter: res.ResponseWriter, res: res, m: m, r: r}
			res.ResponseWriter = w
			err = next(c)
			if err == nil {
				// Nothing written yet (or it was, and this does nothing):
				// commit with the status Echo holds.
				w.commit(res.Status)
			}
			// An error is rendered by Echo's HTTPErrorHandler after this
			// returns, through w, which commits with its status.
			return err
		}
	}
}

// From returns the request's session. It panics if the request did not go
// through Middleware, which is a wiring mistake.
func From(c *echo.Context) *session.Session { return session.FromRequest(c.Request()) }

// errReplaced is what the handler's writes return once the response has
// become the session's error response.
var errReplaced = errors.New("sessionecho: the response was replaced by the session error response")

// writer is the http.ResponseWriter beneath echo.Response: it commits the
// session on whatever sends the header first.
type writer struct {
	http.ResponseWriter
	res       *echo.Response
	m         *session.Manager
	r         *http.Request
	committed bool
	failed    bool
	// status is the status that went out, once the header has.
	status int
}

// commit commits the session for a response with status, once, and
// reports whether the handler's response may go on.
func (w *writer) commit(status int) bool {
	if w.committed {
		return !w.failed
	}
	if status == 0 {
		status = http.StatusOK
	}
	if status < 200 && status != http.StatusSwitchingProtocols {
		return true // an interim status: the final one commits
	}
	w.committed = true
	// The error response, if any, goes through w (committed and not
	// failed: straight to the writer beneath), which records its status.
	if w.m.Commit(w, w.r, status) != nil {
		w.failed = true
		if w.status == 0 {
			w.status = http.StatusOK
		}
		// What Echo reports of the response (to its logger, say) is the
		// error response.
		w.res.Status, w.res.Committed = w.status, true
	}
	return !w.failed
}

// WriteHeader commits the session, then sends the header.
func (w *writer) WriteHeader(code int) {
	if w.commit(code) {
		if code >= 200 || code == http.StatusSwitchingProtocols {
			w.status = code
		}
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write commits the session, then writes b.
func (w *writer) Write(b []byte) (int, error) {
	if !w.commit(http.StatusOK) {
		return 0, errReplaced
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (w *writer) Flush() { _ = w.FlushError() }

// FlushError commits the session, then flushes; it is what
// http.ResponseController.Flush, and so echo.Response.Flush, calls.
func (w *writer) FlushError() error {
	if !w.commit(w.res.Status) {
		return errReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack commits the session as for a 101, then hands over the
// connection.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.commit(http.StatusSwitchingProtocols) {
		return nil, nil, errReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the writer beneath.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
