package session

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSmoke(t *testing.T) {
	m, err := New(Config{SecretKey: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/inc", func(w http.ResponseWriter, r *http.Request) {
		s := FromRequest(r)
		n, _ := Get[int](s, "n")
		s.Set("n", n+1)
		fmt.Fprint(w, n+1)
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	for i := 1; i <= 3; i++ {
		resp, err := c.Get(srv.URL + "/inc")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Log(string(b), resp.Header)
		if string(b) != fmt.Sprint(i) {
			t.Fatalf("got %s", b)
		}
	}
}
