package bench

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
	echo4 "github.com/labstack/echo/v4"
	echo5 "github.com/labstack/echo/v5"

	session "github.com/sessionkit/session"
	sessionecho "github.com/sessionkit/session/contrib/echo"
	sessionecho5 "github.com/sessionkit/session/contrib/echov5"
	sessiongin "github.com/sessionkit/session/contrib/gin"
)

// The framework round trip is the round trip of roundtrip_test.go through
// a web framework: the same request, cookie and handler work, written in
// the framework's idiom (c.String), with:
//
//	gin-baseline                 gin, no session at all
//	gin-sessionkit-cookie        contrib/gin's Middleware, default Config
//	gin-contrib-sessions-cookie  gin-contrib/sessions with its cookie store
//	                             (gorilla's CookieStore: hash and block keys):
//	                             sessions.Default, Get, Set, Save
//	echo-baseline                Echo v4, no session
//	echo-sessionkit-cookie       contrib/echo's Middleware, default Config
//	echov5-baseline              Echo v5, no session
//	echov5-sessionkit-cookie     contrib/echov5's Middleware, default Config
//
// An adapter's overhead is its time minus its framework's baseline, in the
// same run.

func init() { gin.SetMode(gin.ReleaseMode) }

// ginVariant builds a variant from three gin engines with mw (none when
// nil) and the handlers of one route each.
func ginVariant(name string, mw gin.HandlerFunc, login, action, lastSeen gin.HandlerFunc) variant {
	engine := func(h gin.HandlerFunc) http.Handler {
		r := gin.New()
		if mw != nil {
			r.Use(mw)
		}
		r.GET("/*any", h)
		return r
	}
	return variant{name: name, login: engine(login), action: engine(action), lastSeen: engine(lastSeen), wantCookie: mw != nil}
}

// ginAnswer writes okBody, or a 500 unless ok.
func ginAnswer(c *gin.Context, ok bool) {
	if !ok {
		c.String(http.StatusInternalServerError, "wrong user_id")
		return
	}
	c.String(http.StatusOK, okBody)
}

func ginBaselineVariant() variant {
	h := func(c *gin.Context) { c.String(http.StatusOK, okBody) }
	return ginVariant("gin-baseline", nil, h, h, h)
}

func newManager(tb testing.TB) *session.Manager {
	tb.Helper()
	m, err := session.New(session.Config{SecretKey: secret, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func ginSessionkitVariant(tb testing.TB) variant {
	return ginVariant("gin-sessionkit-cookie", sessiongin.Middleware(newManager(tb)),
		func(c *gin.Context) {
			sessiongin.From(c).Update(userValues())
			c.String(http.StatusOK, okBody)
		},
		func(c *gin.Context) {
			s := sessiongin.From(c)
			id, err := session.Get[int](s, "user_id")
			s.Set("last_seen", seenAt)
			ginAnswer(c, err == nil && id == wantUserID)
		},
		func(c *gin.Context) { writeLastSeen(c.Writer, sessiongin.From(c).Get("last_seen")) })
}

func ginContribVariant() variant {
	store := cookie.NewStore(hashKey, blockKey)
	return ginVariant("gin-contrib-sessions-cookie", sessions.Sessions(cookieName, store),
		func(c *gin.Context) {
			s := sessions.Default(c)
			for k, v := range userValues() {
				s.Set(k, v)
			}
			if err := s.Save(); err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.String(http.StatusOK, okBody)
		},
		func(c *gin.Context) {
			s := sessions.Default(c)
			id, _ := s.Get("user_id").(int)
			s.Set("last_seen", seenAt)
			if err := s.Save(); err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			ginAnswer(c, id == wantUserID)
		},
		func(c *gin.Context) { writeLastSeen(c.Writer, sessions.Default(c).Get("last_seen")) })
}

// echoVariant builds a variant from three Echo v4 instances with mw (none
// when nil) and the handlers of one route each.
func echoVariant(name string, mw echo4.MiddlewareFunc, login, action, lastSeen echo4.HandlerFunc) variant {
	engine := func(h echo4.HandlerFunc) http.Handler {
		e := echo4.New()
		e.Logger.SetOutput(io.Discard)
		if mw != nil {
			e.Use(mw)
		}
		e.GET("/*", h)
		return e
	}
	return variant{name: name, login: engine(login), action: engine(action), lastSeen: engine(lastSeen), wantCookie: mw != nil}
}

func echoBaselineVariant() variant {
	h := func(c echo4.Context) error { return c.String(http.StatusOK, okBody) }
	return echoVariant("echo-baseline", nil, h, h, h)
}

func echoSessionkitVariant(tb testing.TB) variant {
	return echoVariant("echo-sessionkit-cookie", sessionecho.Middleware(newManager(tb)),
		func(c echo4.Context) error {
			sessionecho.From(c).Update(userValues())
			return c.String(http.StatusOK, okBody)
		},
		func(c echo4.Context) error {
			s := sessionecho.From(c)
			id, err := session.Get[int](s, "user_id")
			s.Set("last_seen", seenAt)
			if err != nil || id != wantUserID {
				return c.String(http.StatusInternalServerError, "wrong user_id")
			}
			return c.String(http.StatusOK, okBody)
		},
		func(c echo4.Context) error {
			writeLastSeen(c.Response(), sessionecho.From(c).Get("last_seen"))
			return nil
		})
}

// echo5Variant is echoVariant for Echo v5.
func echo5Variant(name string, mw echo5.MiddlewareFunc, login, action, lastSeen echo5.HandlerFunc) variant {
	engine := func(h echo5.HandlerFunc) http.Handler {
		e := echo5.New()
		e.Logger = slog.New(slog.DiscardHandler)
		if mw != nil {
			e.Use(mw)
		}
		e.GET("/*", h)
		return e
	}
	return variant{name: name, login: engine(login), action: engine(action), lastSeen: engine(lastSeen), wantCookie: mw != nil}
}

func echo5BaselineVariant() variant {
	h := func(c *echo5.Context) error { return c.String(http.StatusOK, okBody) }
	return echo5Variant("echov5-baseline", nil, h, h, h)
}

func echo5SessionkitVariant(tb testing.TB) variant {
	return echo5Variant("echov5-sessionkit-cookie", sessionecho5.Middleware(newManager(tb)),
		func(c *echo5.Context) error {
			sessionecho5.From(c).Update(userValues())
			return c.String(http.StatusOK, okBody)
		},
		func(c *echo5.Context) error {
			s := sessionecho5.From(c)
			id, err := session.Get[int](s, "user_id")
			s.Set("last_seen", seenAt)
			if err != nil || id != wantUserID {
				return c.String(http.StatusInternalServerError, "wrong user_id")
			}
			return c.String(http.StatusOK, okBody)
		},
		func(c *echo5.Context) error {
			writeLastSeen(c.Response(), sessionecho5.From(c).Get("last_seen"))
			return nil
		})
}

// frameworkVariants lists the framework round trip's variants, each
// framework's baseline first.
func frameworkVariants(tb testing.TB) []variant {
	return []variant{
		ginBaselineVariant(),
		ginSessionkitVariant(tb),
		ginContribVariant(),
		echoBaselineVariant(),
		echoSessionkitVariant(tb),
		echo5BaselineVariant(),
		echo5SessionkitVariant(tb),
	}
}

// BenchmarkFrameworks runs the framework round trip of every variant.
func BenchmarkFrameworks(b *testing.B) {
	for _, v := range frameworkVariants(b) {
		b.Run(v.name, func(b *testing.B) {
			req := loggedIn(b, v)
			b.ReportAllocs()
			for b.Loop() {
				if _, msg := serve(v.action, req, v.wantCookie); msg != "" {
					b.Fatalf("%s: %s", v.name, msg)
				}
			}
		})
	}
}

// TestFrameworks checks that every variant of BenchmarkFrameworks does
// what it is measured for, as TestRoundTrip does for the round trip.
func TestFrameworks(t *testing.T) {
	for _, v := range frameworkVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			checkVariant(t, v)
		})
	}
}
