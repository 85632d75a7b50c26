package sessionecho_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sessionkit/session"
	sessionecho "github.com/sessionkit/session/contrib/echo"
)

// The middleware goes after middleware.Recover; handlers find their
// session with From. A returned error of 500 saves nothing.
func ExampleMiddleware() {
	m, err := session.New(session.Config{SecretKey: []byte("an example secret key of at least 32 bytes")})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.Use(middleware.Recover(), sessionecho.Middleware(m))
	e.GET("/visit", func(c echo.Context) error {
		s := sessionecho.From(c)
		n, _ := session.Get[int](s, "visits")
		s.Set("visits", n+1)
		return c.String(http.StatusOK, fmt.Sprintf("visit %d", n+1))
	})
	e.GET("/broken", func(c echo.Context) error {
		sessionecho.From(c).Set("visits", 100)
		return echo.NewHTTPError(http.StatusInternalServerError)
	})

	cookie := ""
	for _, path := range []string{"/visit", "/broken", "/visit"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if cs := rec.Result().Cookies(); len(cs) == 1 {
			cookie = cs[0].Name + "=" + cs[0].Value
		}
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()), "| cookies:", len(rec.Result().Cookies()))
	}
	// Output:
	// 200 visit 1 | cookies: 1
	// 500 {"message":"Internal Server Error"} | cookies: 0
	// 200 visit 2 | cookies: 1
}
