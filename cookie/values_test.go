package cookie

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sessionkit/session/codec"
)

// requestCookies returns the values net/http finds for name in a request
// with these Cookie header lines.
func requestCookies(lines []string, name string) []string {
	r := &http.Request{Header: http.Header{}}
	for _, l := range lines {
		r.Header.Add("Cookie", l)
	}
	var vs []string
	for _, c := range r.CookiesNamed(name) {
		vs = append(vs, c.Value)
	}
	return vs
}

// jarValues returns what Values and Value find for name in a request with
// these Cookie header lines.
func jarValues(t *testing.T, c *codec.Codec, lines []string, name string) (all []string, first string, ok bool) {
	j, err := New(c, Options{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	r := &http.Request{Header: http.Header{}}
	for _, l := range lines {
		r.Header.Add("Cookie", l)
	}
	all = slices.Collect(j.Values(r))
	first, ok = j.Value(r)
	return all, first, ok
}

// valuesCases are Cookie headers on which a simpler scanner and net/http
// disagree. Each is run for the cookie name "sid".
var valuesCases = []struct {
	name  string
	lines []string
	want  []string
}{
	{"none", nil, nil},
	{"other cookies", []string{"a=1; b=2"}, nil},
	{"alone", []string{"sid=abc"}, []string{"abc"}},
	{"among others", []string{"a=1; sid=abc==; b=2"}, []string{"abc=="}},
	{"longer names", []string{"sid2=no; xsid=no; sid=yes"}, []string{"yes"}},
	{"name inside a value", []string{"a=sid=no; b= sid=no; sid=yes"}, []string{"yes"}},
	{"every one, in order", []string{"sid=1; a=x; sid=2", "sid=3"}, []string{"1", "2", "3"}},
	{"quoted", []string{`sid="abc"`}, []string{"abc"}},
	{"quoted empty", []string{`sid=""`}, []string{""}},
	{"lone quote", []string{`sid="; sid=next`}, []string{"next"}},
	{"quote inside", []string{`sid="a"b"; sid=a"b; sid=ok`}, []string{"ok"}},
	{"half quoted", []string{`sid="abc; sid=abc"`}, nil},
	{"space before =", []string{"sid =abc"}, []string{"abc"}},
	{"tab before =", []string{"sid\t=abc"}, []string{"abc"}},
	{"space after = is kept", []string{"sid= abc"}, []string{" abc"}},
	{"space inside", []string{"sid=a b"}, []string{"a b"}},
	{"tab inside", []string{"sid=a\tb; sid=ok"}, []string{"ok"}},
	{"tab after = ", []string{"sid=\tabc"}, nil},
	{"tabs around", []string{"\tsid=abc\t;\tx=1"}, []string{"abc"}},
	{"spaces around", []string{"  sid=abc  ;x=1"}, []string{"abc"}},
	{"CR and LF trimmed", []string{"\r\nsid=abc\r\n"}, []string{"abc"}},
	{"empty", []string{"sid="}, []string{""}},
	{"empty with spaces", []string{"sid =  ; x=1"}, []string{""}},
	{"no =", []string{"sid"}, []string{""}},
	{"no =, spaces", []string{"a=1;  sid  ;b=2"}, []string{""}},
	{"space in name", []string{"s id=no; sid=yes"}, []string{"yes"}},
	{"backslash", []string{`sid=a\b; sid=ok`}, []string{"ok"}},
	{"control byte", []string{"sid=a\x01b; sid=ok"}, []string{"ok"}},
	{"DEL", []string{"sid=a\x7fb"}, nil},
	{"non-ASCII", []string{"sid=ñ; sid=ok"}, []string{"ok"}},
	{"comma is a value byte", []string{"sid=a,b"}, []string{"a,b"}},
	{"empty parts", []string{";;; sid=abc;"}, []string{"abc"}},
	{"empty line", []string{"", "sid=abc"}, []string{"abc"}},
	{"case matters", []string{"SID=no; Sid=no"}, nil},
	{"vertical tab is not a space", []string{"\vsid=no"}, nil},
	{"3000 cookies", []string{strings.Repeat("a=1; ", 2999) + "sid=abc"}, []string{"abc"}},
	{"3001 cookies", []string{strings.Repeat("a=1; ", 3000) + "sid=abc"}, nil},
	{"3001 parts on two lines", []string{"sid=abc", strings.Repeat(";", 2999)}, nil},
}

func TestValues(t *testing.T) {
	for _, tt := range valuesCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := requestCookies(tt.lines, "sid"); !slices.Equal(got, tt.want) {
				t.Fatalf("net/http finds %q, the test wants %q", got, tt.want)
			}
			all, first, ok := jarValues(t, newCodec(t), tt.lines, "sid")
			if !slices.Equal(all, tt.want) {
				t.Errorf("Values = %q, want %q", all, tt.want)
			}
			if ok != (len(tt.want) > 0) || ok && first != tt.want[0] || !ok && first != "" {
				t.Errorf("Value = %q, %v; want the first of %q", first, ok, tt.want)
			}
		})
	}
}

// TestValuesStops checks that Values stops when the loop does.
func TestValuesStops(t *testing.T) {
	j := newJar(t, Options{Name: "sid"})
	r := &http.Request{Header: http.Header{"Cookie": {"sid=1; sid=2", "sid=3"}}}
	var got []string
	for v := range j.Values(r) {
		got = append(got, v)
		if v == "2" {
			break
		}
	}
	if !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("got %q, want [1 2]", got)
	}
}

// TestValuesCookieMaxNum checks that Values follows the httpcookiemaxnum
// GODEBUG setting as net/http does.
func TestValuesCookieMaxNum(t *testing.T) {
	c := newCodec(t)
	t.Cleanup(func() { cachedCookieMaxNum.Store(nil) })
	lines := func(n int) []string { return []string{strings.Repeat("a=1; ", n-1) + "sid=abc"} }
	for _, tt := range []struct {
		godebug string
		n       int
		want    bool
	}{
		{"", 3000, true},
		{"", 3001, false},
		{"httpcookiemaxnum=5", 5, true},
		{"httpcookiemaxnum=5", 6, false},
		{"httpcookiemaxnum=0", 5000, true},
		{"httpcookiemaxnum=-1", 1, false},
		{"httpcookiemaxnum=junk", 3001, false},
		{"httpcookiemaxnum=", 3001, false},
		{"httpcookiemaxnum=0,httpcookiemaxnum=5", 6, false},
		{"httpcookiemaxnum=5,httpcookiemaxnum=0", 6, true},
		{"x=1,httpcookiemaxnum=2,y=2", 2, true},
		{"x=1,httpcookiemaxnum=2,y=2", 3, false},
	} {
		t.Setenv("GODEBUG", tt.godebug)
		cachedCookieMaxNum.Store(nil) // read $GODEBUG again
		want := []string(nil)
		if tt.want {
			want = []string{"abc"}
		}
		if got := requestCookies(lines(tt.n), "sid"); !slices.Equal(got, want) {
			t.Fatalf("GODEBUG=%s, %d cookies: net/http finds %q, the test wants %q", tt.godebug, tt.n, got, want)
		}
		if got, _, _ := jarValues(t, c, lines(tt.n), "sid"); !slices.Equal(got, want) {
			t.Errorf("GODEBUG=%s, %d cookies: Values = %q, want %q", tt.godebug, tt.n, got, want)
		}
	}
}

func TestParseCookieMaxNum(t *testing.T) {
	for _, tt := range []struct {
		env, def string
		want     int
	}{
		{"", "", 3000},
		{"", "httpcookiemaxnum=0", 0}, // a main module older than go 1.24
		{"httpcookiemaxnum=7", "httpcookiemaxnum=0", 7},
		{"httpcookiemaxnum=", "httpcookiemaxnum=0", 3000},
		{"other=1", "x=1,httpcookiemaxnum=0,y=2", 0},
		{"httpcookiemaxnum=many", "", 3000},
		{"httpcookiemaxnum=-2", "", -2},
		{"httpcookiemaxnum=+5", "", 5},
	} {
		if got := parseCookieMaxNum(tt.env, tt.def); got != tt.want {
			t.Errorf("parseCookieMaxNum(%q, %q) = %d, want %d", tt.env, tt.def, got, tt.want)
		}
	}
}

func TestGodebugValue(t *testing.T) {
	for _, tt := range []struct {
		s, v string
		ok   bool
	}{
		{"", "", false},
		{"k", "", false},
		{"k=1", "1", true},
		{"k=", "", true},
		{"a=1,k=2,b=3", "2", true},
		{"k=1,k=2", "2", true},
		{"kk=1,k", "", false},
		{"k=1#pattern", "1", true},
		{"k=a=b", "a=b", true},
		{",,k=1,,", "1", true},
	} {
		if v, ok := godebugValue(tt.s, "k"); v != tt.v || ok != tt.ok {
			t.Errorf("godebugValue(%q, k) = %q, %v; want %q, %v", tt.s, v, ok, tt.v, tt.ok)
		}
	}
}

// TestValuesAllocations checks that finding the session cookie allocates
// nothing.
func TestValuesAllocations(t *testing.T) {
	j := newJar(t, Options{Name: "sid"})
	r := &http.Request{Header: http.Header{"Cookie": {"a=1; sid=\"abc\"; b=2; sid=def"}}}
	n := 0
	if a := testing.AllocsPerRun(100, func() {
		n = 0
		for range j.Values(r) {
			n++
		}
		j.Value(r)
	}); a != 0 {
		t.Errorf("Values and Value allocate %v times", a)
	}
	if n != 2 {
		t.Errorf("Values yielded %d values, want 2", n)
	}
}

// FuzzValues checks that Values finds exactly the values net/http's
// CookiesNamed finds, in the same order. The header is split into several
// Cookie header lines at each "\n\n".
func FuzzValues(f *testing.F) {
	for _, tt := range valuesCases {
		f.Add(strings.Join(tt.lines, "\n\n"), "sid")
	}
	for _, s := range []string{
		`sessionid="abc"`,
		"sessionid =abc; sessionid\t=def",
		"sessionid",
		"sessionid=\x00; sessionid=\xff",
		"a=1\n\nsessionid=2\n\n\n\nsessionid=3",
		strings.Repeat("x=y;", 3001) + "sessionid=z",
	} {
		f.Add(s, "sessionid")
	}
	c, err := codec.New(codec.Config{Secret: []byte(strings.Repeat("k", codec.MinSecretLen))})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header, name string) {
		if !validName(name) {
			return
		}
		lines := strings.Split(header, "\n\n")
		want := requestCookies(lines, name)
		all, first, ok := jarValues(t, c, lines, name)
		if !slices.Equal(all, want) {
			t.Fatalf("Cookie %q, name %q: Values = %q, CookiesNamed = %q", lines, name, all, want)
		}
		if ok != (len(want) > 0) || ok && first != want[0] {
			t.Fatalf("Cookie %q, name %q: Value = %q, %v; CookiesNamed = %q", lines, name, first, ok, want)
		}
	})
}
