package sessionecho_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sessionkit/session"
	sessionecho "github.com/sessionkit/session/contrib/echo"
	"github.com/sessionkit/session/internal/adaptertest"
)

// TestTable runs the adapters' table through Echo.
func TestTable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(file, []byte("a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	adaptertest.Run(t, adaptertest.App{
		New: func(m *session.Manager) http.Handler { return app(m, file) },
		Writes: map[string]int{
			"/write/json":         200,
			"/write/string":       200,
			"/write/blob":         200,
			"/write/html":         200,
			"/write/stream":       200,
			"/write/file":         200,
			"/write/attachment":   200,
			"/write/redirect":     http.StatusFound,
			"/write/nocontent":    http.StatusNoContent,
			"/write/response":     200,
			"/write/unauthorized": http.StatusUnauthorized,
			"/write/nothing":      200,
			"/write/flush":        200,
		},
		Fails: []string{"/fail/httperror", "/fail/error", "/fail/panic", "/fail/json", "/fail/nocontent", "/fail/wrapped"},
	})
}

// app is the table's application in Echo's idiom.
func app(m *session.Manager, file string) *echo.Echo {
	e := echo.New()
	e.Logger.SetOutput(io.Discard)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true}), sessionecho.Middleware(m))
	s := sessionecho.From
	e.GET("/set", func(c echo.Context) error {
		s(c).Set(c.QueryParam("k"), c.QueryParam("v"))
		return c.String(http.StatusOK, "ok")
	})
	e.GET("/get", func(c echo.Context) error {
		v, _ := s(c).Get(c.QueryParam("k")).(string)
		return c.String(http.StatusOK, v)
	})
	e.GET("/count", func(c echo.Context) error {
		n, _ := session.Get[int](s(c), "n")
		s(c).Set("n", n+1)
		return c.String(http.StatusOK, strconv.Itoa(n+1))
	})
	e.GET("/flash", func(c echo.Context) error {
		s(c).AddFlash(c.QueryParam("msg"))
		return c.Redirect(http.StatusSeeOther, "/flashes")
	})
	e.GET("/flashes", func(c echo.Context) error {
		var out []string
		for _, f := range s(c).Flashes() {
			out = append(out, f.(string))
		}
		return c.String(http.StatusOK, strings.Join(out, ","))
	})
	e.GET("/login", func(c echo.Context) error {
		if err := s(c).CycleKey(c.Request().Context()); err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable)
		}
		s(c).Set("user", c.QueryParam("user"))
		return c.String(http.StatusOK, "ok")
	})
	e.GET("/logout", func(c echo.Context) error {
		s(c).Flush(c.Request().Context())
		return c.String(http.StatusOK, "ok")
	})
	e.GET("/headers", func(c echo.Context) error {
		c.Response().Header().Set("X-Custom", "kept")
		c.Response().Header().Set("Cache-Control", "no-cache")
		s(c).Set("via", "headers")
		return c.String(http.StatusOK, "ok")
	})
	e.GET("/stream", func(c echo.Context) error {
		s(c).Set("via", "stream")
		res := c.Response()
		res.Header().Set(echo.HeaderContentType, echo.MIMETextPlain)
		res.WriteHeader(http.StatusOK)
		io.WriteString(res, "first\n")
		res.Flush()
		s(c).Set("late", "1")
		io.WriteString(res, "second\n")
		return nil
	})
	e.GET("/bad", func(c echo.Context) error {
		c.Response().Header().Set("Location", "/next")
		s(c).Set("bad", adaptertest.BadValue())
		return c.Redirect(http.StatusFound, "/next")
	})
	e.GET("/bad-body", func(c echo.Context) error {
		s(c).Set("bad", adaptertest.BadValue())
		return c.String(http.StatusOK, "handler body")
	})

	via := func(c echo.Context) {
		s(c).Set("via", c.Path()[strings.LastIndexByte(c.Path(), '/')+1:])
	}
	routes := map[string]echo.HandlerFunc{
		"/write/json":   func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]int{"n": 1}) },
		"/write/string": func(c echo.Context) error { return c.String(http.StatusOK, "text") },
		"/write/blob":   func(c echo.Context) error { return c.Blob(http.StatusOK, "application/octet-stream", []byte{1, 2}) },
		"/write/html":   func(c echo.Context) error { return c.HTML(http.StatusOK, "<p>hi</p>") },
		"/write/stream": func(c echo.Context) error {
			return c.Stream(http.StatusOK, "text/plain", strings.NewReader("streamed"))
		},
		"/write/file":       func(c echo.Context) error { return c.File(file) },
		"/write/attachment": func(c echo.Context) error { return c.Attachment(file, "file.txt") },
		"/write/redirect":   func(c echo.Context) error { return c.Redirect(http.StatusFound, "/") },
		"/write/nocontent":  func(c echo.Context) error { return c.NoContent(http.StatusNoContent) },
		"/write/response": func(c echo.Context) error {
			_, err := c.Response().Write([]byte("raw"))
			return err
		},
		"/write/unauthorized": func(c echo.Context) error { return echo.NewHTTPError(http.StatusUnauthorized, "log in") },
		"/write/nothing":      func(c echo.Context) error { return nil },

		"/write/flush": func(c echo.Context) error {
			res := c.Response()
			http.NewResponseController(res).Flush() // the header goes out here
			_, err := io.WriteString(res, "flushed")
			return err
		},

		"/fail/httperror": func(c echo.Context) error { return echo.NewHTTPError(http.StatusInternalServerError, "broken") },
		"/fail/error":     func(c echo.Context) error { return errors.New("broken") },
		"/fail/panic":     func(c echo.Context) error { panic("broken") },
		"/fail/json": func(c echo.Context) error {
			return c.JSON(http.StatusInternalServerError, map[string]string{"error": "broken"})
		},
		"/fail/nocontent": func(c echo.Context) error { return c.NoContent(http.StatusInternalServerError) },
		"/fail/wrapped": func(c echo.Context) error {
			return echo.NewHTTPError(http.StatusInternalServerError).SetInternal(errors.New("broken"))
		},
	}
	for p, h := range routes {
		e.GET(p, func(c echo.Context) error { via(c); return h(c) })
	}
	return e
}

// TestEchoSeesTheErrorResponse checks that what Echo reports of a response
// that became the session's error response (to its logger, say) is that
// response: its status, committed.
func TestEchoSeesTheErrorResponse(t *testing.T) {
	m, err := session.New(session.Config{SecretKey: adaptertest.Secret, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range map[string]echo.HandlerFunc{
		"written":     func(c echo.Context) error { return c.String(http.StatusOK, "handler body") },
		"not written": func(c echo.Context) error { return nil },
	} {
		e := echo.New()
		var status int
		var committed bool
		e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				err := next(c)
				status, committed = c.Response().Status, c.Response().Committed
				return err
			}
		}, sessionecho.Middleware(m))
		e.GET("/", func(c echo.Context) error {
			sessionecho.From(c).Set("bad", adaptertest.BadValue())
			return h(c)
		})
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != 500 || status != 500 || !committed || strings.Contains(rec.Body.String(), "handler body") {
			t.Errorf("sent %d %q; Echo reports %d, committed %v", rec.Code, rec.Body, status, committed)
		}
	}
}

// TestHijack checks that a handler that hijacks the connection commits
// the session first: a change after the hijack is a late change.
func TestHijack(t *testing.T) {
	var errs []error
	var mu sync.Mutex
	m, err := session.New(session.Config{SecretKey: adaptertest.Secret, OnError: func(r *http.Request, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.Use(sessionecho.Middleware(m))
	e.GET("/", func(c echo.Context) error {
		s := sessionecho.From(c)
		s.Set("user", "ada")
		conn, buf, err := http.NewResponseController(c.Response()).Hijack()
		if err != nil {
			return err
		}
		defer conn.Close()
		s.Set("late", 1)
		buf.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
		return buf.Flush()
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != http.StatusNoContent || len(errs) != 1 || !errors.Is(errs[0], session.ErrLateChange) {
		t.Fatalf("status %d, OnError %v", resp.StatusCode, errs)
	}
}

// TestWrapMiddlewareIsWrong pins what README.md says of
// echo.WrapMiddleware(m.Handler): it commits when the handler returns,
// with status 200, before Echo renders the handler's error, so a session
// changed by a handler that fails with a 500 is saved; the adapter saves
// nothing then.
func TestWrapMiddlewareIsWrong(t *testing.T) {
	m, err := session.New(session.Config{SecretKey: adaptertest.Secret, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for name, mw := range map[string]echo.MiddlewareFunc{
		"WrapMiddleware": echo.WrapMiddleware(m.Handler),
		"the adapter":    sessionecho.Middleware(m),
	} {
		e := echo.New()
		e.Logger.SetOutput(io.Discard)
		e.Use(mw)
		e.GET("/", func(c echo.Context) error {
			session.FromRequest(c.Request()).Set("k", "v")
			return echo.NewHTTPError(http.StatusInternalServerError, "failed")
		})
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		saved := len(rec.Result().Header.Values("Set-Cookie")) != 0
		if rec.Code != http.StatusInternalServerError || saved != (name == "WrapMiddleware") {
			t.Errorf("%s: status %d, session saved %v", name, rec.Code, saved)
		}
	}
}
