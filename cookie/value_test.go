package cookie

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/session/codec"
)

// Value finds the session cookie as http.Request.Cookie would.
func TestValueMatchesRequestCookie(t *testing.T) {
	c, err := codec.New(codec.Config{Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	j, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, headers := range [][]string{
		{"sessionid=abc"},
		{"a=1; sessionid=abc; b=2"},
		{"sessionid2=no; xsessionid=no; sessionid=abc"},
		{"a=1", "sessionid=abc"},
		{`sessionid="abc"`},
		{"  sessionid=abc  ;x=1"},
		{"sessionid=first; sessionid=second"},
		{"sessionid="},
		{"sessionid"},
		{"other=1"},
		{},
		{";;; sessionid=abc;"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		for _, h := range headers {
			r.Header.Add("Cookie", h)
		}
		want, werr := r.Cookie("sessionid")
		got, ok := j.Value(r)
		if (werr == nil) != ok || werr == nil && want.Value != got {
			t.Errorf("%q: Value = %q, %v; Request.Cookie = %v, %v", headers, got, ok, want, werr)
		}
	}
}
