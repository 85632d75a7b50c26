package sessiongin_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/sessionkit/session"
	sessiongin "github.com/sessionkit/session/contrib/gin"
)

// The middleware goes after gin.Recovery; handlers find their session
// with From.
func ExampleMiddleware() {
	m, err := session.New(session.Config{SecretKey: []byte("an example secret key of at least 32 bytes")})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(gin.Recovery(), sessiongin.Middleware(m))
	r.GET("/visit", func(c *gin.Context) {
		s := sessiongin.From(c)
		n, _ := session.Get[int](s, "visits")
		s.Set("visits", n+1)
		c.JSON(http.StatusOK, gin.H{"visits": n + 1})
	})

	cookie := ""
	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/visit", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		c := rec.Result().Cookies()[0]
		cookie = c.Name + "=" + c.Value
		fmt.Println(rec.Body.String())
	}
	// Output:
	// {"visits":1}
	// {"visits":2}
}
