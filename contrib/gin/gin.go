// Package sessiongin gives gin handlers sessionkit sessions, with exactly
// the rules of session.Manager.Handler.
//
//	r := gin.New()
//	r.Use(gin.Recovery(), sessiongin.Middleware(m))
//	r.GET("/", func(c *gin.Context) {
//		s := sessiongin.From(c)
//		n, _ := session.Get[int](s, "visits")
//		s.Set("visits", n+1)
//		c.String(http.StatusOK, "visit %d", n+1)
//	})
//
// The middleware loads the session lazily (nothing is decoded until the
// handler uses it) and commits it just before the response's first byte,
// however the handler writes it: c.JSON, c.String, c.Data, c.File,
// c.Redirect, c.Stream and c.SSEvent, c.Writer directly, c.Status alone,
// or nothing at all. It commits with the status gin is about to send, so
// c.AbortWithStatus(500), c.AbortWithError(500, err), c.JSON(500, …) and a
// panic that gin.Recovery turns into a 500 save nothing and send no
// Set-Cookie. A change made to the session after the first byte is not
// saved, and is reported to session.Config.OnError.
//
// If the session cannot be loaded or saved, the response becomes the
// Manager's error response (session.Config.ErrorHandler) and whatever the
// handler writes afterwards is discarded: its Write returns an error.
package sessiongin

import (
	"bufio"
	"errors"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessionkit/session"
)

// Middleware returns gin middleware that gives each request its session
// (From) and commits it before the response's first byte. Put it after
// gin.Recovery, so that a panic's 500 goes through it.
func Middleware(m *session.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, _ := m.Load(c.Request)
		c.Request = r
		w := &writer{ResponseWriter: c.Writer, m: m, r: r}
		c.Writer = w
		c.Next()
		// Nothing written yet (a handler that set only a status, or none):
		// gin writes the header after the handlers return, through its
		// own writer, so commit now.
		w.commit()
	}
}

// From returns the request's session. It panics if the request did not go
// through Middleware, which is a wiring mistake.
func From(c *gin.Context) *session.Session { return session.FromRequest(c.Request) }

// errReplaced is what the handler's writes return once the response has
// become the session's error response.
var errReplaced = errors.New("sessiongin: the response was replaced by the session error response")

// writer is the gin.ResponseWriter the handlers write through: it commits
// the session on whatever sends the header first.
type writer struct {
	gin.ResponseWriter
	m         *session.Manager
	r         *http.Request
	committed bool
	failed    bool
}

// commit commits the session with the status gin holds, once, and reports
// whether the handler's response may go on.
func (w *writer) commit() bool {
	if !w.committed {
		status := w.ResponseWriter.Status()
		if status < 200 && status != http.StatusSwitchingProtocols {
			return true // an interim status: the final one commits
		}
		w.committed = true
		// The error response, if any, goes to gin's writer, so that gin
		// knows its status and size.
		w.failed = w.m.Commit(w.ResponseWriter, w.r, status) != nil
	}
	return !w.failed
}

// WriteHeader records the status, as gin does; nothing is sent yet.
func (w *writer) WriteHeader(code int) {
	if !w.failed {
		w.ResponseWriter.WriteHeader(code)
	}
}

// WriteHeaderNow commits the session, then sends the header.
func (w *writer) WriteHeaderNow() {
	if w.commit() {
		w.ResponseWriter.WriteHeaderNow()
	}
}

// Write commits the session, then writes b.
func (w *writer) Write(b []byte) (int, error) {
	if !w.commit() {
		return 0, errReplaced
	}
	return w.ResponseWriter.Write(b)
}

// WriteString commits the session, then writes s.
func (w *writer) WriteString(s string) (int, error) {
	if !w.commit() {
		return 0, errReplaced
	}
	return w.ResponseWriter.WriteString(s)
}

// Flush commits the session, then flushes.
func (w *writer) Flush() {
	if w.commit() {
		w.ResponseWriter.Flush()
	}
}

// Hijack commits the session as for a 101, then hands over the
// connection.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.committed {
		w.committed = true
		w.failed = w.m.Commit(w.ResponseWriter, w.r, http.StatusSwitchingProtocols) != nil
	}
	if w.failed {
		return nil, nil, errReplaced
	}
	return w.ResponseWriter.Hijack()
}

// Unwrap lets http.ResponseController reach gin's writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
