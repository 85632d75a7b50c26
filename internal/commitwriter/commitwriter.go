// Package commitwriter is the http.ResponseWriter that a framework adapter
// puts beneath the framework's own response, so that the session is
// committed on whatever sends the header first: WriteHeader, Write, Flush
// or Hijack. The adapters for Echo v4 and v5 use it.
package commitwriter

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// ErrReplaced is what the handler's writes return once the response has
// become the session's error response.
var ErrReplaced = errors.New("session: the response was replaced by the session error response")

// Committer commits a request's session for a response with a status, as
// session.Manager.Commit does, writing the error response, if any, to w.
type Committer interface {
	Commit(w http.ResponseWriter, r *http.Request, status int) error
}

// Response is what the framework keeps of the response: the status it
// holds, and what it must learn when the session's error response has
// replaced the handler's.
type Response interface {
	// StatusHeld is the status the framework holds (0 for none yet).
	StatusHeld() int
	// Replaced records that the response went out with status, as the
	// session's error response.
	Replaced(status int)
}

// Writer commits the session of R through M before the first byte of the
// response goes out, and keeps Flush, Hijack and
// http.ResponseController working.
type Writer struct {
	http.ResponseWriter
	M   Committer
	R   *http.Request
	Res Response

	committed, failed bool
	// status is the status that went out, once the header has.
	status int
}

// Commit commits the session for a response with status, once, and
// reports whether the handler's response may go on.
func (w *Writer) Commit(status int) bool {
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
	if w.M.Commit(w, w.R, status) != nil {
		w.failed = true
		if w.status == 0 {
			w.status = http.StatusOK
		}
		// What the framework reports of the response (to its logger,
		// say) is the error response.
		w.Res.Replaced(w.status)
	}
	return !w.failed
}

// WriteHeader commits the session, then sends the header.
func (w *Writer) WriteHeader(code int) {
	if w.Commit(code) {
		if code >= 200 || code == http.StatusSwitchingProtocols {
			w.status = code
		}
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write commits the session, then writes b.
func (w *Writer) Write(b []byte) (int, error) {
	if !w.Commit(http.StatusOK) {
		return 0, ErrReplaced
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (w *Writer) Flush() { _ = w.FlushError() }

// FlushError commits the session, then flushes; it is what
// http.ResponseController.Flush calls.
func (w *Writer) FlushError() error {
	if !w.Commit(w.Res.StatusHeld()) {
		return ErrReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack commits the session as for a 101, then hands over the
// connection.
func (w *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.Commit(http.StatusSwitchingProtocols) {
		return nil, nil, ErrReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the writer beneath.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
