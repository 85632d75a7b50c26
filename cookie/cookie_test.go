package cookie

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
)

func newCodec(t *testing.T) *codec.Codec {
	t.Helper()
	c, err := codec.New(codec.Config{Secret: []byte(strings.Repeat("k", codec.MinSecretLen))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newJar(t *testing.T, opts Options) *Jar {
	t.Helper()
	j, err := New(newCodec(t), opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	return j
}

func TestHeaderAttributes(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		maxAge time.Duration
		want   string
	}{
		{"defaults, browser session", Options{}, 0,
			"sessionid=v; Path=/; HttpOnly; SameSite=Lax"},
		{"defaults, persistent", Options{}, time.Hour,
			"sessionid=v; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"},
		{"fraction of a second is dropped", Options{}, 90*time.Second + 900*time.Millisecond,
			"sessionid=v; Max-Age=90; Path=/; HttpOnly; SameSite=Lax"},
		{"negative maxAge is a browser session", Options{}, -time.Hour,
			"sessionid=v; Path=/; HttpOnly; SameSite=Lax"},
		{"every attribute",
			Options{Name: "__Secure-s", Domain: "example.com", Path: "/app", Secure: true, SameSite: http.SameSiteStrictMode, Partitioned: true}, 2 * time.Second,
			"__Secure-s=v; Max-Age=2; Path=/app; Domain=example.com; Secure; HttpOnly; SameSite=Strict; Partitioned"},
		{"script access, SameSite=None", Options{Secure: true, ScriptAccess: true, SameSite: http.SameSiteNoneMode}, 0,
			"sessionid=v; Path=/; Secure; SameSite=None"},
		{"SameSite omitted", Options{SameSite: http.SameSiteDefaultMode}, 0,
			"sessionid=v; Path=/; HttpOnly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJar(t, tt.opts)
			got, err := j.Header("v", tt.maxAge)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Header:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestHeaderParsesBack(t *testing.T) {
	j := newJar(t, Options{Domain: "example.com", Secure: true})
	h, err := j.Header("abc=", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp := http.Response{Header: http.Header{"Set-Cookie": {h}}}
	cs := resp.Cookies()
	if len(cs) != 1 {
		t.Fatalf("net/http parsed %d cookies from %q", len(cs), h)
	}
	c := cs[0]
	if c.Name != "sessionid" || c.Value != "abc=" || c.MaxAge != 3600 || c.Domain != "example.com" || c.Path != "/" ||
		!c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("parsed %+v from %q", c, h)
	}
	if strings.Contains(h, "Expires") {
		t.Errorf("%q carries an Expires date besides Max-Age", h)
	}
}

func TestDeleteHeader(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, `sessionid=""; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`},
		{Options{Name: "sid", Domain: ".example.com", Path: "/shop", Secure: true, SameSite: http.SameSiteStrictMode},
			`sid=""; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/shop; Domain=.example.com; Secure; HttpOnly; SameSite=Strict`},
	}
	for _, tt := range tests {
		j := newJar(t, tt.opts)
		if got := j.DeleteHeader(); got != tt.want {
			t.Errorf("DeleteHeader with %+v:\n got %s\nwant %s", tt.opts, got, tt.want)
		}
		resp := http.Response{Header: http.Header{"Set-Cookie": {j.DeleteHeader()}}}
		if cs := resp.Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Value != "" {
			t.Errorf("DeleteHeader does not parse as a deletion: %+v", cs)
		}
	}
}

// TestHeaderBudget checks that the budget counts the whole header value,
// name and attributes included, to the byte.
func TestHeaderBudget(t *testing.T) {
	for _, maxSize := range []int{200, DefaultMaxSize} {
		for _, maxAge := range []time.Duration{0, 14 * 24 * time.Hour} {
			j := newJar(t, Options{Name: "session_cookie", Domain: "example.org", Secure: true, MaxSize: maxSize})
			probe, err := j.Header("", maxAge)
			if err != nil {
				t.Fatal(err)
			}
			fits := strings.Repeat("a", maxSize-len(probe))
			h, err := j.Header(fits, maxAge)
			if err != nil {
				t.Fatalf("MaxSize %d, maxAge %v: a header of exactly %d bytes was refused: %v", maxSize, maxAge, maxSize, err)
			}
			if len(h) != maxSize {
				t.Fatalf("header is %d bytes, want %d", len(h), maxSize)
			}
			_, err = j.Header(fits+"a", maxAge)
			var se *SizeError
			if !errors.As(err, &se) {
				t.Fatalf("one byte over the budget: err = %v, want *SizeError", err)
			}
			if se.Size != maxSize+1 || se.Limit != maxSize || se.Name != "session_cookie" {
				t.Errorf("SizeError = %+v, want Size %d, Limit %d, Name session_cookie", se, maxSize+1, maxSize)
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("errors.Is(%v, ErrTooLarge) = false", err)
			}
			if !strings.Contains(err.Error(), "session_cookie") || !strings.Contains(err.Error(), "budget") {
				t.Errorf("unclear message: %v", err)
			}
		}
	}
}

func TestDefaultMaxSize(t *testing.T) {
	j := newJar(t, Options{})
	if got := j.Options().MaxSize; got != DefaultMaxSize || DefaultMaxSize != 4096 {
		t.Errorf("MaxSize = %d, DefaultMaxSize = %d; want 4096", got, DefaultMaxSize)
	}
	if _, err := j.Header(strings.Repeat("a", 4096), 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 4096-byte value fits a 4096-byte budget with its name and attributes: err = %v", err)
	}
}

func TestEncodeDecode(t *testing.T) {
	j := newJar(t, Options{Name: "sid"})
	v, err := j.Encode(codec.Payload{Kind: codec.KindData, Values: map[string]any{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := j.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != codec.KindData || d.Values["a"] != "b" {
		t.Errorf("Decode = %+v", d)
	}
	// The cookie name is the codec's purpose: another name does not verify.
	other := newJar(t, Options{Name: "other"})
	if _, err := other.Decode(v); !errors.Is(err, codec.ErrInvalid) {
		t.Errorf("value moved to another cookie name: err = %v, want codec.ErrInvalid", err)
	}
}

// TestDecodeRefusesOverBudget checks that a value longer than the budget is
// refused on its length alone: garbage of that length would otherwise be
// reported as malformed by the codec.
func TestDecodeRefusesOverBudget(t *testing.T) {
	j := newJar(t, Options{MaxSize: 100})
	if _, err := j.Decode(strings.Repeat("!", 100)); !errors.Is(err, codec.ErrMalformed) {
		t.Fatalf("garbage within the budget: err = %v, want codec.ErrMalformed", err)
	}
	_, err := j.Decode(strings.Repeat("!", 101))
	if !errors.Is(err, codec.ErrTooLarge) {
		t.Fatalf("garbage over the budget: err = %v, want codec.ErrTooLarge", err)
	}
	if errors.Is(err, codec.ErrMalformed) {
		t.Errorf("over-budget value reached the codec: %v", err)
	}
	// A genuine value over the budget is refused too.
	big := newJar(t, Options{})
	v, err := big.Encode(codec.Payload{Kind: codec.KindData, Values: map[string]any{"x": strings.Repeat("y", 300)}, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := big.Decode(v); err != nil {
		t.Fatal(err)
	}
	small, err := New(big.Codec(), Options{MaxSize: len(v) - 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Decode(v); !errors.Is(err, codec.ErrTooLarge) {
		t.Errorf("valid value one byte over the budget: err = %v, want codec.ErrTooLarge", err)
	}
}

func TestValue(t *testing.T) {
	j := newJar(t, Options{Name: "sid"})
	r, _ := http.NewRequest("GET", "/", nil)
	if v, ok := j.Value(r); ok || v != "" {
		t.Errorf("no cookie: Value = %q, %v", v, ok)
	}
	r.Header.Set("Cookie", "other=1; sid=abc==; x=2")
	if v, ok := j.Value(r); !ok || v != "abc==" {
		t.Errorf("Value = %q, %v; want abc==, true", v, ok)
	}
	r.Header.Set("Cookie", "sid=")
	if v, ok := j.Value(r); !ok || v != "" {
		t.Errorf("empty cookie: Value = %q, %v; want \"\", true", v, ok)
	}
}

func TestNewRejects(t *testing.T) {
	c := newCodec(t)
	if _, err := New(nil, Options{}); err == nil {
		t.Error("nil codec accepted")
	}
	for _, name := range []string{"a b", "a;b", "a=b", "a,b", "a\"b", "a\x00b", "a\tb", "sessión", "a/b", "(a)", "a\x7f"} {
		_, err := New(c, Options{Name: name})
		if err == nil {
			t.Errorf("cookie name %q accepted", name)
		} else if !strings.Contains(err.Error(), "invalid cookie name") {
			t.Errorf("cookie name %q: unclear error %v", name, err)
		}
	}
	for _, name := range []string{"sessionid", "__Hostsid", "a.b_c-d!#$%&'*+^`|~"} {
		if _, err := New(c, Options{Name: name}); err != nil {
			t.Errorf("valid cookie name %q refused: %v", name, err)
		}
	}
	bad := []Options{
		{Path: "/a;b"},
		{Path: "/a\tb"},
		{Path: "/a\x01b"},
		{Path: "/a\x7fb"},
		{Domain: "a\tb.com"},
		{Domain: "a\x1fb.com"},
		{Path: "/a\nb"},
		{Domain: "a b.com"},
		{Domain: "a.com; Secure"},
		{Partitioned: true},
		{SameSite: http.SameSiteNoneMode},
		{MaxSize: -1},
	}
	for _, o := range bad {
		if _, err := New(c, o); err == nil {
			t.Errorf("Options %+v accepted", o)
		}
	}
	if _, err := New(c, Options{Partitioned: true, Secure: true, SameSite: http.SameSiteNoneMode}); err != nil {
		t.Errorf("Secure, Partitioned, SameSite=None refused: %v", err)
	}
}

// TestNewPrefixes checks that New refuses a __Secure- or __Host- name
// without what browsers require of it, whatever the case of the prefix,
// and says what to set.
func TestNewPrefixes(t *testing.T) {
	c := newCodec(t)
	tests := []struct {
		opts Options
		want []string // in the error; none if New must accept
	}{
		{Options{Name: "__Secure-sid", Secure: true, Domain: "example.com", Path: "/app"}, nil},
		{Options{Name: "__Secure-sid"}, []string{`"__Secure-sid"`, "__Secure-", "set Secure"}},
		{Options{Name: "__secure-sid"}, []string{"set Secure"}},
		{Options{Name: "__SECURE-sid"}, []string{"set Secure"}},
		{Options{Name: "__Host-sid", Secure: true}, nil},
		{Options{Name: "__Host-sid", Secure: true, Path: "/"}, nil},
		{Options{Name: "__Host-sid"}, []string{`"__Host-sid"`, "__Host-", "set Secure"}},
		{Options{Name: "__Host-sid", Secure: true, Path: "/app"}, []string{`Path to "/"`}},
		{Options{Name: "__Host-sid", Secure: true, Domain: "example.com"}, []string{"leave Domain empty"}},
		{Options{Name: "__host-sid", Path: "/app", Domain: "example.com"}, []string{"set Secure", `Path to "/"`, "leave Domain empty"}},
		{Options{Name: "__HoSt-sid", Secure: true, Domain: "example.com"}, []string{"leave Domain empty"}},
		// Not the prefixes.
		{Options{Name: "__Secure"}, nil},
		{Options{Name: "__Hostsid"}, nil},
		{Options{Name: "x__Host-sid"}, nil},
		{Options{Name: "_Secure-sid"}, nil},
	}
	for _, tt := range tests {
		_, err := New(c, tt.opts)
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("New(%+v): %v", tt.opts, err)
		case tt.want != nil && err == nil:
			t.Errorf("New(%+v) accepted a cookie that browsers drop", tt.opts)
		case err != nil:
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New(%+v): error %q does not say %q", tt.opts, err, w)
				}
			}
		}
	}
}

// TestNewBrowserLimits checks that New refuses a budget over the 4096
// bytes that browsers keep of a name and value, and a Path or Domain over
// the 1024 bytes they keep of an attribute.
func TestNewBrowserLimits(t *testing.T) {
	c := newCodec(t)
	long := func(n int) string { return "/" + strings.Repeat("a", n-1) }
	domain := func(n int) string { return strings.Repeat("a", n-4) + ".com" }
	tests := []struct {
		opts Options
		want []string
	}{
		{Options{MaxSize: 4096}, nil},
		{Options{MaxSize: 4097}, []string{"MaxSize 4097", "4096"}},
		{Options{MaxSize: 8192}, []string{"MaxSize 8192", "at most 4096"}},
		{Options{Path: long(1024)}, nil},
		{Options{Path: long(1025)}, []string{"Path is 1025 bytes", "1024"}},
		{Options{Domain: domain(1024)}, nil},
		{Options{Domain: domain(1025)}, []string{"Domain is 1025 bytes", "1024"}},
	}
	for _, tt := range tests {
		_, err := New(c, tt.opts)
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("New(%+v): %v", tt.opts, err)
		case tt.want != nil && err == nil:
			t.Errorf("New accepted MaxSize %d, a %d-byte Path and a %d-byte Domain", tt.opts.MaxSize, len(tt.opts.Path), len(tt.opts.Domain))
		case err != nil:
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		}
	}
}

// TestHeaderNameValueLimit checks that no Jar that New returns emits a
// cookie whose name and value exceed 4096 bytes, which browsers drop: it
// refuses one with a *SizeError, which the auto engine takes as the
// signal to spill to the store.
func TestHeaderNameValueLimit(t *testing.T) {
	c := newCodec(t)
	for _, maxSize := range []int{0, 4096, 4097, 8192} {
		for _, name := range []string{"s", "sessionid"} {
			j, err := New(c, Options{Name: name, MaxSize: maxSize})
			if err != nil {
				continue // TestNewBrowserLimits checks which are refused
			}
			value := strings.Repeat("v", 4097-len(name))
			h, err := j.Header(value, 0)
			if err == nil {
				t.Errorf("MaxSize %d: Header returned %d bytes of name and value: %.40q...", maxSize, len(name)+len(value), h)
				continue
			}
			var se *SizeError
			if !errors.As(err, &se) || !errors.Is(err, ErrTooLarge) {
				t.Errorf("MaxSize %d: err = %v, want a *SizeError", maxSize, err)
			}
		}
	}
}
