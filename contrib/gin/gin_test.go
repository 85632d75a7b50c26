package sessiongin_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sessionkit/session"
	sessiongin "github.com/sessionkit/session/contrib/gin"
	"github.com/sessionkit/session/internal/adaptertest"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// TestTable runs the adapters' table through gin.
func TestTable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(file, []byte("a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	adaptertest.Run(t, adaptertest.App{
		New: func(m *session.Manager) http.Handler { return app(m, file) },
		Writes: map[string]int{
			"/write/json":     200,
			"/write/string":   200,
			"/write/data":     200,
			"/write/file":     200,
			"/write/redirect": http.StatusFound,
			"/write/status":   http.StatusNoContent,
			"/write/abort":    http.StatusUnauthorized,
			"/write/writer":   200,
			"/write/sse":      200,
			"/write/html":     200,
			"/write/flush":    200,
		},
		Fails: []string{"/fail/abort", "/fail/aborterror", "/fail/json", "/fail/panic", "/fail/status"},
	})
}

// app is the table's application in gin's idiom.
func app(m *session.Manager, file string) *gin.Engine {
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}), sessiongin.Middleware(m))
	s := sessiongin.From
	r.GET("/set", func(c *gin.Context) {
		s(c).Set(c.Query("k"), c.Query("v"))
		c.String(http.StatusOK, "ok")
	})
	r.GET("/get", func(c *gin.Context) {
		v, _ := s(c).Get(c.Query("k")).(string)
		c.String(http.StatusOK, "%s", v)
	})
	r.GET("/count", func(c *gin.Context) {
		n, _ := session.Get[int](s(c), "n")
		s(c).Set("n", n+1)
		c.String(http.StatusOK, strconv.Itoa(n+1))
	})
	r.GET("/flash", func(c *gin.Context) {
		s(c).AddFlash(c.Query("msg"))
		c.Redirect(http.StatusSeeOther, "/flashes")
	})
	r.GET("/flashes", func(c *gin.Context) {
		var out []string
		for _, f := range s(c).Flashes() {
			out = append(out, f.(string))
		}
		c.String(http.StatusOK, strings.Join(out, ","))
	})
	r.GET("/login", func(c *gin.Context) {
		if err := s(c).CycleKey(c); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		s(c).Set("user", c.Query("user"))
		c.String(http.StatusOK, "ok")
	})
	r.GET("/logout", func(c *gin.Context) {
		s(c).Flush(c)
		c.String(http.StatusOK, "ok")
	})
	r.GET("/headers", func(c *gin.Context) {
		c.Header("X-Custom", "kept")
		c.Header("Cache-Control", "no-cache")
		s(c).Set("via", "headers")
		c.String(http.StatusOK, "ok")
	})
	r.GET("/stream", func(c *gin.Context) {
		s(c).Set("via", "stream")
		step := 0
		c.Stream(func(w io.Writer) bool {
			step++
			if step == 1 {
				io.WriteString(w, "first\n")
				return true
			}
			s(c).Set("late", "1")
			io.WriteString(w, "second\n")
			return false
		})
	})
	r.GET("/bad", func(c *gin.Context) {
		c.Header("Location", "/next")
		s(c).Set("bad", adaptertest.BadValue())
		c.Redirect(http.StatusFound, "/next")
	})
	r.GET("/bad-body", func(c *gin.Context) {
		s(c).Set("bad", adaptertest.BadValue())
		c.String(http.StatusOK, "handler body")
	})

	via := func(c *gin.Context) {
		s(c).Set("via", c.Request.URL.Path[strings.LastIndexByte(c.Request.URL.Path, '/')+1:])
	}
	r.GET("/write/json", func(c *gin.Context) { via(c); c.JSON(http.StatusOK, gin.H{"n": 1}) })
	r.GET("/write/string", func(c *gin.Context) { via(c); c.String(http.StatusOK, "text") })
	r.GET("/write/data", func(c *gin.Context) { via(c); c.Data(http.StatusOK, "application/octet-stream", []byte{1, 2}) })
	r.GET("/write/file", func(c *gin.Context) { via(c); c.File(file) })
	r.GET("/write/redirect", func(c *gin.Context) { via(c); c.Redirect(http.StatusFound, "/") })
	r.GET("/write/status", func(c *gin.Context) { via(c); c.Status(http.StatusNoContent) })
	r.GET("/write/abort", func(c *gin.Context) { via(c); c.AbortWithStatus(http.StatusUnauthorized) })
	r.GET("/write/writer", func(c *gin.Context) { via(c); c.Writer.Write([]byte("raw")) })
	r.GET("/write/sse", func(c *gin.Context) { via(c); c.SSEvent("message", "hi") })
	r.GET("/write/html", func(c *gin.Context) { via(c); c.Data(http.StatusOK, "text/html", []byte("<p>hi</p>")) })

	r.GET("/write/flush", func(c *gin.Context) {
		via(c)
		c.Writer.Flush() // the header goes out here
		c.Writer.WriteString("flushed")
	})

	r.GET("/fail/abort", func(c *gin.Context) { via(c); c.AbortWithStatus(http.StatusInternalServerError) })
	r.GET("/fail/aborterror", func(c *gin.Context) {
		via(c)
		c.AbortWithError(http.StatusInternalServerError, errors.New("broken"))
	})
	r.GET("/fail/json", func(c *gin.Context) { via(c); c.JSON(http.StatusInternalServerError, gin.H{"error": "broken"}) })
	r.GET("/fail/panic", func(c *gin.Context) { via(c); panic("broken") })
	r.GET("/fail/status", func(c *gin.Context) { via(c); c.Status(http.StatusInternalServerError) })
	return r
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
	r := gin.New()
	r.Use(sessiongin.Middleware(m))
	r.GET("/", func(c *gin.Context) {
		s := sessiongin.From(c)
		s.Set("user", "ada")
		conn, buf, err := c.Writer.Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		s.Set("late", 1)
		buf.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
		buf.Flush()
	})
	srv := httptest.NewServer(r)
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

// TestHandlerAroundNextIsWrong pins what README.md says of wrapping
// m.Handler around c.Next(): gin's handlers write through gin's writer,
// not the one Handler watches, so the response goes out before Handler
// commits, and the session's change is lost; the adapter saves it.
func TestHandlerAroundNextIsWrong(t *testing.T) {
	m, err := session.New(session.Config{SecretKey: adaptertest.Secret})
	if err != nil {
		t.Fatal(err)
	}
	wrapped := func(c *gin.Context) {
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
	}
	for name, mw := range map[string]gin.HandlerFunc{
		"m.Handler around c.Next": wrapped,
		"the adapter":             sessiongin.Middleware(m),
	} {
		r := gin.New()
		r.Use(mw)
		r.GET("/", func(c *gin.Context) {
			session.FromRequest(c.Request).Set("k", "v")
			c.String(http.StatusOK, "ok")
		})
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		// What was sent: the headers as they were when the status went
		// out (the recorder's map takes later changes too).
		saved := len(rec.Result().Header.Values("Set-Cookie")) != 0
		if rec.Code != http.StatusOK || saved != (name == "the adapter") {
			t.Errorf("%s: status %d, session saved %v", name, rec.Code, saved)
		}
	}
}
