package django

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testenv"
)

// realDjango runs scripts/django/signing_tool.py: Django's own signing.
type realDjango struct {
	t   *testing.T
	in  *json.Encoder
	out *bufio.Scanner
}

func startDjango(t *testing.T) *realDjango {
	t.Helper()
	py := testenv.DjangoPython(t)
	tool, _ := filepath.Abs("../scripts/django/signing_tool.py")
	cmd := exec.Command(py, "-I", tool)
	cmd.Dir = t.TempDir()
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("Django's signing tool: %v\n%s", err, stderr.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	return &realDjango{t: t, in: json.NewEncoder(stdin), out: sc}
}

func (d *realDjango) call(req map[string]any) map[string]any {
	d.t.Helper()
	if err := d.in.Encode(req); err != nil {
		d.t.Fatal(err)
	}
	if !d.out.Scan() {
		d.t.Fatalf("Django's signing tool answered nothing: %v", d.out.Err())
	}
	var resp map[string]any
	if err := json.Unmarshal(d.out.Bytes(), &resp); err != nil {
		d.t.Fatal(err)
	}
	return resp
}

const (
	testSecret = "django-insecure-test-secret-key-0123456789"
	oldSecret  = "django-insecure-the-key-before-it-rotated"
)

var at = time.Unix(1700000000, 0)

func signer(t *testing.T, salt string, fallbacks ...string) *Signer {
	t.Helper()
	var fb [][]byte
	for _, f := range fallbacks {
		fb = append(fb, []byte(f))
	}
	s, err := NewSigner(salt, []byte(testSecret), fb, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sessions are written as JSON text, which both Python's json.loads and
// parseJSON read: NaN, big integers and escapes included.
var sessions = []string{
	`{}`,
	`{"n":42,"user":"ada"}`,
	`{"text":"caf\u00e9 \u65e5\u672c \ud83d\ude00 \u007f <>&/ \"q\" \\ \n\t\r\b\f \u0001"}`,
	`{"floats":[1.0,0.1,-0.0,1e16,1e15,1e-05,0.0001,5e-324,1.7976931348623157e308,123456789.125,2.5e-7,100.0]}`,
	`{"special":[NaN,Infinity,-Infinity]}`,
	`{"big":1267650600228229401496703205376,"max":9223372036854775807,"neg":-9223372036854775809}`,
	`{"nested":{"cart":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":1,"tags":["x","y"]}],"flags":{"beta":true,"gamma":null}}}`,
	`{"long":"` + strings.Repeat("a compressible note about the cart. ", 40) + `"}`,
	`{"_auth_user_backend":"django.contrib.auth.backends.ModelBackend","_auth_user_hash":"6f800fb65682085493072ec85c41992f4f6a60255bdab7384165e1d7346fd7df","_auth_user_id":"42"}`,
}

// TestDumpsAsDjango checks Dumps against Django's signing.dumps: byte for
// byte when the value is not compressed (Go's zlib output differs from
// CPython's), and readable by Django either way; and Loads on what Django
// writes.
func TestDumpsAsDjango(t *testing.T) {
	dj := startDjango(t)
	exact := 0
	for _, salt := range []string{SaltSignedCookies, SaltSessionStore} {
		s := signer(t, salt)
		for _, text := range sessions {
			v, err := parseJSON([]byte(text))
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			ours, err := s.Dumps(v.(map[string]any))
			if err != nil {
				t.Fatal(err)
			}
			theirs := dj.call(map[string]any{"op": "dumps", "salt": salt, "secret": testSecret, "values": text, "time": at.Unix()})["value"].(string)
			compressed := strings.HasPrefix(theirs, ".") || strings.HasPrefix(ours, ".")
			if !compressed {
				exact++
				if ours != theirs {
					t.Errorf("%.60s: Dumps\n  %s\nDjango\n  %s", text, ours, theirs)
				}
			}
			// Django reads ours; we read Django's.
			back := dj.call(map[string]any{"op": "loads", "salt": salt, "secret": testSecret, "value": ours, "time": at.Unix()})
			if back["error"] != nil {
				t.Errorf("%.60s: Django cannot read Dumps' %s: %v", text, ours, back["error"])
			} else if got, _ := parseJSON([]byte(back["values"].(string))); !sameJSON(got, v) {
				t.Errorf("%.60s: Django read %s", text, back["values"])
			}
			l, err := s.Loads(theirs, 0)
			if err != nil || !sameJSON(l.Values, v) || !l.Signed.Equal(at) || l.Key != 0 {
				t.Errorf("%.60s: Loads(Django's %s) = %+v, %v", text, theirs, l, err)
			}
		}
	}
	if exact < 2*4 {
		t.Errorf("only %d values were compared byte for byte", exact)
	}
	// The JSON of every session, compressed or not, is Python's to the byte.
	for _, text := range sessions {
		v, _ := parseJSON([]byte(text))
		ours, err := appendJSON(nil, v, "session", 0)
		if err != nil {
			t.Fatal(err)
		}
		if theirs := dj.call(map[string]any{"op": "json", "values": text})["json"]; string(ours) != theirs {
			t.Errorf("JSON\n  ours   %s\n  Python %s", ours, theirs)
		}
	}
}

// sameJSON compares decoded JSON, with NaN equal to NaN.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y && math.Signbit(x) == math.Signbit(y) || math.IsNaN(x) && math.IsNaN(y))
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !sameJSON(v, y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestLoadsAsDjango checks what Loads refuses and accepts against what
// Django's signing.loads does with the same values: tampering, another
// salt or key, fallbacks, and max_age at its boundary.
func TestLoadsAsDjango(t *testing.T) {
	dj := startDjango(t)
	s := signer(t, SaltSignedCookies)
	good, _ := s.Dumps(map[string]any{"user": "ada"})
	old, _ := signer(t, SaltSignedCookies).Dumps(map[string]any{"user": "ada"})
	oldSigner, _ := NewSigner(SaltSignedCookies, []byte(oldSecret), nil, func() time.Time { return at })
	byOld, _ := oldSigner.Dumps(map[string]any{"user": "ada"})
	_ = old
	for _, tc := range []struct {
		name   string
		value  string
		maxAge int64 // seconds; 0 for none
		now    int64
		want   error // nil: accepted
	}{
		{"good", good, 0, at.Unix(), nil},
		{"a flipped signature character", good[:len(good)-1] + flip(good[len(good)-1]), 0, at.Unix(), ErrBadSignature},
		{"a flipped payload character", flip(good[0]) + good[1:], 0, at.Unix(), ErrBadSignature},
		{"truncated", good[:len(good)-5], 0, at.Unix(), ErrBadSignature},
		{"no colon", "e30", 0, at.Unix(), ErrBadSignature},
		{"another secret", byOld, 0, at.Unix(), ErrBadSignature},
		{"exactly max_age old", good, 60, at.Unix() + 60, nil},
		{"a second over max_age", good, 60, at.Unix() + 61, ErrExpired},
		{"from the future", good, 60, at.Unix() - 3600, nil},
	} {
		req := map[string]any{"op": "loads", "salt": SaltSignedCookies, "secret": testSecret, "value": tc.value, "time": tc.now}
		if tc.maxAge > 0 {
			req["max_age"] = tc.maxAge
		}
		theirs := dj.call(req)
		sNow, _ := NewSigner(SaltSignedCookies, []byte(testSecret), nil, func() time.Time { return time.Unix(tc.now, 0) })
		_, err := sNow.Loads(tc.value, time.Duration(tc.maxAge)*time.Second)
		djangoOK := theirs["error"] == nil
		if (err == nil) != djangoOK {
			t.Errorf("%s: Loads err %v, Django %v", tc.name, err, theirs["error"])
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if tc.want == ErrExpired && theirs["error"] != "SignatureExpired" {
			t.Errorf("%s: Django says %v, want SignatureExpired", tc.name, theirs["error"])
		}
	}
	// A value signed with a fallback reads, and says which key it took.
	rotated, _ := NewSigner(SaltSignedCookies, []byte("the newest key of all, 0123456789"), [][]byte{[]byte(oldSecret), []byte(testSecret)}, nil)
	if l, err := rotated.Loads(good, 0); err != nil || l.Key != 2 {
		t.Errorf("with the secret as the second fallback: key %d, %v", l.Key, err)
	}
	// Another salt does not verify.
	if _, err := signer(t, SaltSessionStore).Loads(good, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another salt: %v", err)
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// TestSessionAuthHash checks the auth hash against Django's.
func TestSessionAuthHash(t *testing.T) {
	dj := startDjango(t)
	pw := "pbkdf2_sha256$260000$djangoharnesssalt0$nsgM2f8gN0xq8VZ0f3u0m8S0cGdZs0J7m5S9u3a1o2c="
	want := dj.call(map[string]any{"op": "auth_hash", "secret": testSecret, "password": pw})["hash"]
	if got := SessionAuthHash([]byte(testSecret), pw); got != want {
		t.Fatalf("SessionAuthHash = %s, Django %v", got, want)
	}
	u, ok := UserOf(LoginValues([]byte(testSecret), 42, pw, ""))
	if !ok || u.ID != "42" || u.Backend != ModelBackend {
		t.Fatalf("UserOf(LoginValues) = %+v, %v", u, ok)
	}
	if VerifyUser(u, pw, []byte(testSecret)) != 0 || VerifyUser(u, pw, []byte("new key"), []byte(testSecret)) != 1 || VerifyUser(u, pw+"x", []byte(testSecret)) != -1 {
		t.Fatal("VerifyUser does not follow the key rule")
	}
}

// TestLegacyFormats checks that Loads reads what Django 3.2 writes with
// DEFAULT_HASHING_ALGORITHM = "sha1": a SHA-1 signature, and for the
// SessionStore salt the format of Django before 3.1.
func TestLegacyFormats(t *testing.T) {
	dj := startDjango(t)
	if v := dj.call(map[string]any{"op": "version"})["version"].(string); !strings.HasPrefix(v, "3.") {
		t.Skipf("Django %s no longer writes the legacy formats; the run with Debian's 3.2 checks them", v)
	}
	values := map[string]any{"user": "ada", "n": int64(3)}
	out := dj.call(map[string]any{"op": "legacy", "salt": SaltSessionStore, "secret": testSecret, "values": `{"user":"ada","n":3}`})
	for _, f := range []string{"sha1", "pre31"} {
		v, _ := out[f].(string)
		l, err := signer(t, SaltSessionStore).Loads(v, 0)
		if err != nil || !reflect.DeepEqual(l.Values, values) || !l.Legacy {
			t.Errorf("%s value %q: %+v, %v", f, v, l, err)
		}
		tampered := v[:len(v)-3] + flip(v[len(v)-3]) + v[len(v)-2:]
		if _, err := signer(t, SaltSessionStore).Loads(tampered, 0); err == nil {
			t.Errorf("%s value tampered: accepted", f)
		}
	}
}

// TestLoadsCapsDecompression checks that a signed value that inflates past
// MaxSize is refused rather than decompressed whole (Django has no cap).
func TestLoadsCapsDecompression(t *testing.T) {
	s := signer(t, SaltSignedCookies)
	bomb := map[string]any{"pad": strings.Repeat("a", MaxSize+1)}
	v, err := s.Dumps(bomb)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, ".") || len(v) > 8192 {
		t.Fatalf("the test value is not a small compressed one (%d characters)", len(v))
	}
	if _, err := s.Loads(v, 0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Loads of a value inflating past MaxSize: %v, want ErrMalformed", err)
	}
}
