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

// loadState is what Load allocates: the session and the context that
// carries it, in one allocation.
type loadState struct {
	sess Session
	ctx  sessionContext
}

// requestState holds everything Handler keeps per request, in one
// allocation.
type requestState struct {
	loadState
	rw responseWriter
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
// On that response it adds Vary: Cookie (and Vary on the token header,
// with Config.TokenHeader) when the session was accessed; deletes the
// cookie (or the token) when the request had one and the session is now
// empty; saves when the session was modified (or SaveEveryRequest, or it
// was read in an old format) and is not empty, unless the status is 500 or
// more. If the session cannot be loaded or saved, the response becomes
// Config.ErrorHandler's and the handler's own output is discarded.
//
// Handler is Load before the handler and Commit at its first byte; a
// framework whose handlers write through a writer of their own calls
// those two itself (see the package documentation).
//
// A request that already has a session of m, because Handler (or Load)
// was applied twice, around the whole site and again around a route say,
// goes on with that session: the outer Handler commits it, once.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := FromContext(r.Context()); ok && s.m == m {
			next.ServeHTTP(w, r)
			return
		}
		st := &requestState{}
		r = m.load(r, &st.loadState)
		st.rw = responseWriter{ResponseWriter: w, m: m, s: &st.sess, r: r}
		next.ServeHTTP(&st.rw, r)
		if !st.rw.committed {
			st.rw.commit(http.StatusOK)
		}
	})
}

// Load returns r with a lazy session in its context, and that session:
// nothing is decoded or loaded until the session is first used. It is the
// first half of Handler, for a framework integration, which then calls
// Commit for the same request when its response starts. The session is
// the one the request's cookie or token names, or a new, empty one.
//
// Pass the returned request on (a framework's context usually holds it):
// FromRequest and FromContext find the session in it and in every request
// derived from it. If r already has a session of m (Load or Handler
// applied twice), Load returns r and that session, which the first
// Commit commits.
func (m *Manager) Load(r *http.Request) (*http.Request, *Session) {
	if s, ok := FromContext(r.Context()); ok && s.m == m {
		return r, s
	}
	st := &loadState{}
	return m.load(r, st), &st.sess
}

// load puts the session st.sess for r in st.ctx and returns r with that
// context.
func (m *Manager) load(r *http.Request, st *loadState) *http.Request {
	st.ctx = sessionContext{Context: r.Context(), s: &st.sess}
	r = r.WithContext(&st.ctx)
	m.newSession(&st.ctx, r, &st.sess)
	return r
}

// Commit commits the session of r (which went through Load or Handler)
// onto w, the response about to start with status: call it just before
// the status line is written, while w.Header() can still change. It is
// the second half of Handler, and applies exactly its rules: it saves the
// session if it was modified (or must be rewritten) and is not empty and
// status is below 500, deletes the cookie (or the token) when the session
// became empty, and adds Set-Cookie (or the token header), Vary and
// Cache-Control: private to w.Header() as called for. Status 0 means 200;
// an informational status other than 101 commits nothing, as the final
// status is still to come.
//
// Commit commits once. Later calls change nothing and return what the
// first one returned, so an integration may call it on the first write
// and again, to be sure, when the handler returns. After it, a change to
// the session is not saved and is reported to Config.OnError.
//
// If the session cannot be loaded or saved, Commit writes the error
// response to w (Config.ErrorHandler's, or 400 for ErrInterrupted and 500
// otherwise), after dropping every header the handler set but security
// policies, Vary and X-Request-Id, and returns the error: the integration
// must then send nothing more of the handler's response, neither its
// status nor its body. Commit panics if r has no session of m, which is a
// wiring mistake.
func (m *Manager) Commit(w http.ResponseWriter, r *http.Request, status int) error {
	s, ok := FromContext(r.Context())
	if !ok || s.m != m {
		panic("session: Commit of a request without a session of this Manager: call Manager.Load first")
	}
	if rw, ok := w.(*responseWriter); ok && rw.s == s {
		// Inside Handler: write past its writer, which would otherwise
		// see this commit as its own and drop the error response.
		done, err := m.commitTo(rw.ResponseWriter, r, s, status)
		rw.committed, rw.failed = rw.committed || done, rw.failed || err != nil
		return err
	}
	_, err := m.commitTo(w, r, s, status)
	return err
}

// commitTo is Commit for the session s of r. It reports whether the
// session is committed now (an informational status leaves it as it was).
func (m *Manager) commitTo(w http.ResponseWriter, r *http.Request, s *Session, status int) (bool, error) {
	switch {
	case status == 0:
		status = http.StatusOK
	case status < 200 && status != http.StatusSwitchingProtocols:
		return false, nil
	}
	first, err := m.commit(s, w.Header(), status)
	if err != nil && first {
		m.fail(w, r, err)
	}
	return true, err
}

// FromContext returns the session that Manager.Handler or Manager.Load
// put in ctx.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok
}

// FromRequest returns the request's session. It panics if the request did
// not go through Manager.Handler (or Manager.Load), since that is a wiring
// mistake.
func FromRequest(r *http.Request) *Session {
	s, ok := FromContext(r.Context())
	if !ok {
		panic("session: no session in the request context: wrap the handler with Manager.Handler, or use a framework adapter")
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

// commit commits the session for a response with status.
func (w *responseWriter) commit(status int) {
	done, err := w.m.commitTo(w.ResponseWriter, w.r, w.s, status)
	w.committed = done
	w.failed = err != nil
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.committed {
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
