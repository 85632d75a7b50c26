package codec

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/serializer"
)

var update = flag.Bool("update", false, "rewrite testdata/values.txt with freshly encoded values")

const fixturesFile = "testdata/values.txt"

// fixturePayloads are the payloads of testdata/values.txt. Each line of
// the file names its payload by index.
func fixturePayloads() []Payload {
	return []Payload{
		{Kind: KindData, Values: smallValues(), Expires: t0.Add(time.Hour), Created: t0},
		{Kind: KindData, Values: map[string]any{"blob": strings.Repeat("session ", 40), "n": int64(1)}},
		{Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4"},
		{Kind: KindReference, Ref: strings.Repeat("store/key/", 30), Expires: t0.Add(time.Minute)},
	}
}

// fixture is one line of testdata/values.txt.
type fixture struct {
	payload  int
	ser      serializer.Serializer
	comp     string
	signOnly bool
	secret   byte // testSecret(secret) made it
	value    string
}

// fixtureReader is the codec every fixture decodes under: secret 1,
// fallback secret 2, msgpack, s2, encrypted.
func fixtureReader(tb testing.TB) *Codec {
	return mustNew(tb, Config{Secret: testSecret(1), Fallbacks: [][]byte{testSecret(2)}, Compression: "s2"})
}

func writeFixtures(tb testing.TB) {
	var b strings.Builder
	b.WriteString("# Values encoded by package codec; see fixtures_test.go. Regenerate with:\n")
	b.WriteString("#   go test ./codec -run TestFixtures -update\n")
	b.WriteString("# payload serializer compression mode secret value\n")
	for _, secret := range []byte{1, 2} {
		for _, ser := range serializers {
			for _, comp := range compressions {
				for _, signOnly := range []bool{false, true} {
					c := mustNew(tb, Config{Secret: testSecret(secret), Serializer: ser, Compression: comp, SignOnly: signOnly})
					for i, p := range fixturePayloads() {
						s, err := c.Encode(fuzzPurpose, p)
						if err != nil {
							tb.Fatal(err)
						}
						mode := "encrypted"
						if signOnly {
							mode = "signonly"
						}
						fmt.Fprintf(&b, "%d %s %s %s %d %s\n", i, ser.Name(), comp, mode, secret, s)
					}
				}
			}
		}
	}
	if err := os.WriteFile(fixturesFile, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func readFixtures(tb testing.TB) []fixture {
	tb.Helper()
	f, err := os.Open(fixturesFile)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []fixture
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		var fx fixture
		var serName, mode string
		if _, err := fmt.Sscanf(line, "%d %s %s %s %d %s", &fx.payload, &serName, &fx.comp, &mode, &fx.secret, &fx.value); err != nil {
			tb.Fatalf("%s: %q: %v", fixturesFile, line, err)
		}
		if fx.ser, err = serializer.ByName(serName); err != nil {
			tb.Fatal(err)
		}
		fx.signOnly = mode == "signonly"
		out = append(out, fx)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("%s holds no values", fixturesFile)
	}
	return out
}

// TestFixtures decodes values written earlier and kept in testdata: the
// format must stay readable, and Decode must report what wrote each one.
func TestFixtures(t *testing.T) {
	if *update {
		writeFixtures(t)
	}
	c := fixtureReader(t)
	payloads := fixturePayloads()
	seen := map[string]bool{}
	for _, fx := range readFixtures(t) {
		name := fmt.Sprintf("%d/%s/%s/signonly=%v/secret%d", fx.payload, fx.ser.Name(), fx.comp, fx.signOnly, fx.secret)
		seen[fmt.Sprintf("%d/%s/%s/%v", fx.payload, fx.ser.Name(), fx.comp, fx.signOnly)] = true
		d, err := c.Decode(fuzzPurpose, fx.value)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		p := payloads[fx.payload]
		checkDecoded(t, d, p)
		// Payloads 1 and 3 are over the compression threshold.
		wantComp := "none"
		if fx.payload == 1 || fx.payload == 3 {
			wantComp = fx.comp
		}
		var want Stale
		if fx.secret != 1 {
			want |= StaleKey
		}
		if fx.signOnly {
			want |= StaleMode
		}
		if p.Kind == KindData && fx.ser != serializer.MsgPack {
			want |= StaleSerializer
		}
		if wantComp != "none" && wantComp != "s2" {
			want |= StaleCompression
		}
		if d.Compression != wantComp || d.Stale != want {
			t.Errorf("%s: Compression %q, Stale %v; want %q, %v", name, d.Compression, d.Stale, wantComp, want)
		}
	}
	if want := len(payloads) * len(serializers) * len(compressions) * 2; len(seen) != want {
		t.Errorf("%s covers %d combinations, want %d", fixturesFile, len(seen), want)
	}
}
