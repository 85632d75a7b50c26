package session

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
)

type ctxKey struct{}

// requestState holds everything the middleware keeps per request, in one
// allocation.
type requestState struct {
	sess Session
	rw   responseWriter
	ctx  sessionContext
}

// sessionContext is the request's context with its session: what
// context.WithValue(parent, ctxKey{}, s) gives, without an allocation of
// its own.
type sessionContext struct {
	context.Context
	s *Session
}

// Value returns the session for ctxKey and asks the parent otherwise.
func (c *sessionContext) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return c.s
	}
	return c.Context.Value(key)
}

// Handler returns middleware that gives every request a lazy *Session
// (FromRequest, FromContext) and saves it, following Django's
// SessionMiddleware, just before the response's first byte: on the
// handler's first WriteHeader, Write, Flush or Hijack, or when it returns
// without writing.
//
// On that response it adds Vary: Cookie when the session was accessed;
// deletes the cookie when the request had one and the session is now
// empty; saves when the session was modified (or SaveEveryRequest, or it
// was read in an old format) and is not empty, unless the status is 500 or
// more. If the session cannot be loaded or saved, the response becomes
// Config.ErrorHandler's and the handler's own output is discarded.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{}
		s := &st.sess
		st.ctx = sessionContext{Context: r.Context(), s: s}
		r = r.WithContext(&st.ctx)
		m.newSession(r.Context(), r, s)
		st.rw = responseWriter{ResponseWriter: w, m: m, s: s, r: r}
		next.ServeHTTP(&st.rw, r)
		if !st.rw.committed {
			st.rw.commit(http.StatusOK)
		}
	})
}

// FromContext returns the session that Manager.Handler put in ctx.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok
}

// FromRequest returns the request's session. It panics if the request did
// not go through Manager.Handler, since that is a wiring mistake.
func FromRequest(r *http.Request) *Session {
	s, ok := FromContext(r.Context())
	if !ok {
		panic("session: no session in the request context: wrap the handler with Manager.Handler")
	}
	return s
}

// errResponseReplaced is returned by Write after the session failed and
// the response became the error response.
var errResponseReplaced = errors.New("session: response replaced by the session error response")

// responseWriter commits the session before the first byte goes out. It
// keeps Flush, Hijack, ReadFrom and http.ResponseController working.
type responseWriter struct {
	http.ResponseWriter
	m         *Manager
	s         *Session
	r         *http.Request
	committed bool
	failed    bool
}

// commit saves the session and reports whether the handler's response may
// go on.
func (w *responseWriter) commit(status int) bool {
	w.committed = true
	if err := w.m.commit(w.s, w.ResponseWriter.Header(), status); err != nil {
		w.failed = true
		w.m.fail(w.ResponseWriter, w.r, err)
	}
	return !w.failed
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.committed && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.commit(code)
	}
	if w.failed {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.committed {
		w.commit(http.StatusOK)
	}
	if w.failed {
		return 0, errResponseReplaced
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom lets io.Copy use the underlying writer's fast path.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.committed {
		w.commit(http.StatusOK)
	}
	if w.failed {
		return 0, errResponseReplaced
	}
	return io.Copy(w.ResponseWriter, src)
}

// Flush implements http.Flusher.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *responseWriter) FlushError() error {
	if !w.committed {
		w.commit(http.StatusOK)
	}
	if w.failed {
		return errResponseReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack saves the session, then hands over the connection. Headers set
// after that, including Set-Cookie, are the hijacker's business.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.committed {
		w.commit(http.StatusSwitchingProtocols)
	}
	if w.failed {
		return nil, nil, errResponseReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
