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
	"github.com/labstack/echo/v5"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/commitwriter"
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
			w := &commitwriter.Writer{ResponseWriter: res.ResponseWriter, M: m, R: r, Res: (*response)(res)}
			res.ResponseWriter = w
			err = next(c)
			if err == nil {
				// Nothing written yet (or it was, and this does nothing):
				// commit with the status Echo holds.
				w.Commit(res.Status)
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

// response is Echo's Response, as commitwriter.Writer reads and sets it.
type response echo.Response

// StatusHeld returns the status Echo holds.
func (r *response) StatusHeld() int { return r.Status }

// Replaced records that the session's error response went out with status.
func (r *response) Replaced(status int) { r.Status, r.Committed = status, true }
