package codec

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/serializer"
)

// TestPrepare checks that a prepared payload seals, for each purpose, to
// a value that decodes to the payload for that purpose alone, in every
// serializer, compression and mode.
func TestPrepare(t *testing.T) {
	expires := t0.Add(time.Hour)
	payloads := map[string]Payload{
		"data-small": {Kind: KindData, Values: smallValues(), Expires: expires, Created: t0},
		"data-2KB":   {Kind: KindData, Values: largeValues(), Expires: expires, Created: t0},
		"ref":        {Kind: KindReference, Ref: "k7q2x9mzv3b8n1c4p0w5", Expires: expires},
	}
	for _, ser := range serializers {
		for _, comp := range compressions {
			for _, signOnly := range []bool{false, true} {
				c := mustNew(t, Config{Serializer: ser, Compression: comp, SignOnly: signOnly})
				for name, p := range payloads {
					t.Run(fmt.Sprintf("%s/%s/signonly=%v/%s", ser.Name(), comp, signOnly, name), func(t *testing.T) {
						pr, err := c.Prepare(p)
						if err != nil {
							t.Fatalf("Prepare: %v", err)
						}
						encoded, err := c.Encode("sessionid", p)
						if err != nil {
							t.Fatal(err)
						}
						for _, purpose := range []string{"sessionid", "0123456789abcdef0123456789abcdef"} {
							s, err := pr.Seal(purpose)
							if err != nil {
								t.Fatalf("Seal(%q): %v", purpose, err)
							}
							// The same length as Encode's: the same bytes
							// under the same envelope (gob writes maps in
							// no fixed order, so its lengths vary).
							if purpose == "sessionid" && ser != serializer.Gob && len(s) != len(encoded) {
								t.Errorf("Seal gave %d characters, Encode %d", len(s), len(encoded))
							}
							d, err := c.Decode(purpose, s)
							if err != nil {
								t.Fatalf("Decode(%q): %v", purpose, err)
							}
							checkDecoded(t, d, p)
							if _, err := c.Decode(purpose+"x", s); !errors.Is(err, ErrInvalid) {
								t.Errorf("sealed for %q, decoded for %q: %v, want ErrInvalid", purpose, purpose+"x", err)
							}
						}
					})
				}
			}
		}
	}
}

// TestMinSealedLen checks that MinSealedLen is a lower bound on Seal's
// length, and a close one (within a tenth and 200 characters), for
// payloads of many sizes that compression cannot shrink.
func TestMinSealedLen(t *testing.T) {
	for _, signOnly := range []bool{false, true} {
		c := mustNew(t, Config{SignOnly: signOnly})
		for n := 0; n <= 6000; n += 97 {
			b := make([]byte, n/2)
			for i := range b {
				b[i] = byte(i*131 + i*i*7 + n)
			}
			p := Payload{Kind: KindData, Values: map[string]any{"v": fmt.Sprintf("%x", b)}}
			pr, err := c.Prepare(p)
			if err != nil {
				t.Fatal(err)
			}
			s, err := pr.Seal("sessionid")
			if err != nil {
				t.Fatal(err)
			}
			if min := pr.MinSealedLen(); min > len(s) || len(s) > min+min/10+200 {
				t.Errorf("signonly=%v, %d-byte value: MinSealedLen %d, Seal %d characters", signOnly, n, min, len(s))
			}
		}
	}
}

func TestPrepareErrors(t *testing.T) {
	c := mustNew(t, Config{MaxSize: 1000})
	var ue *serializer.UnsupportedError
	if _, err := c.Prepare(Payload{Kind: KindData, Values: map[string]any{"ch": make(chan int)}}); !errors.As(err, &ue) {
		t.Errorf("Prepare of a channel: %v, want *serializer.UnsupportedError", err)
	}
	if _, err := c.Prepare(Payload{Kind: KindData, Values: map[string]any{"big": strings.Repeat("x", 2000)}}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Prepare over MaxSize: %v, want ErrTooLarge", err)
	}
	if _, err := c.Prepare(Payload{Kind: KindReference}); err == nil {
		t.Error("Prepare of an empty reference succeeded")
	}
	pr, err := c.Prepare(Payload{Kind: KindData, Values: smallValues()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Seal(""); err == nil {
		t.Error("Seal for an empty purpose succeeded")
	}
	small := mustNew(t, Config{MaxLength: 100})
	pr, err = small.Prepare(Payload{Kind: KindData, Values: smallValues()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Seal("sessionid"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Seal over MaxLength: %v, want ErrTooLarge", err)
	}
}

// TestPreparedConcurrentSeal seals one prepared payload from several
// goroutines: sealing must not change what the others seal (run with
// -race).
func TestPreparedConcurrentSeal(t *testing.T) {
	c := mustNew(t, Config{})
	p := Payload{Kind: KindData, Values: largeValues()}
	pr, err := c.Prepare(p)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			purpose := fmt.Sprintf("key%d", g)
			for range 20 {
				s, err := pr.Seal(purpose)
				if err != nil {
					t.Error(err)
					return
				}
				d, err := c.Decode(purpose, s)
				if err != nil {
					t.Error(err)
					return
				}
				checkDecoded(t, d, p)
			}
		})
	}
	wg.Wait()
}
