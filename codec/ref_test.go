package codec

import (
	"crypto/rand"
	"errors"
	"testing"
)

func randomRefKey(t testing.TB) *[RefKeyLen]byte {
	var k [RefKeyLen]byte
	rand.Read(k[:])
	return &k
}

// TestRef checks the compact reference: 64 characters, round trip,
// bound to its purpose, every change to the key or the tag refused,
// fallbacks marked stale, anything else malformed.
func TestRef(t *testing.T) {
	c := mustNew(t, Config{})
	key := randomRefKey(t)
	ref := c.SealRef("sessionid", key)
	if len(ref) != RefLen || !IsRef(ref) {
		t.Fatalf("reference %q is %d characters, want %d", ref, len(ref), RefLen)
	}
	got, stale, err := c.OpenRef("sessionid", ref)
	if err != nil || got != *key || stale != 0 {
		t.Fatalf("OpenRef = %x, %v, %v; want the key, current", got, stale, err)
	}
	if _, _, err := c.OpenRef("other", ref); !errors.Is(err, ErrInvalid) {
		t.Errorf("another purpose: err = %v, want ErrInvalid", err)
	}
	// Every character changed to every other base64url character.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range RefLen {
		for j := range len(alphabet) {
			if alphabet[j] == ref[i] {
				continue
			}
			bad := ref[:i] + alphabet[j:j+1] + ref[i+1:]
			if _, _, err := c.OpenRef("sessionid", bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("character %d changed: err = %v, want ErrInvalid", i, err)
			}
		}
	}
	for _, bad := range []string{"", ref[:RefLen-1], ref + "A", ref[:RefLen-1] + "=", ref[:10] + "+" + ref[11:], ref[:10] + "\x00" + ref[11:]} {
		if _, _, err := c.OpenRef("sessionid", bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("OpenRef(%q): err = %v, want ErrMalformed", bad, err)
		}
	}

	// A reference tagged with an earlier secret is stale; one with an
	// unknown secret is invalid.
	rotated := mustNew(t, Config{Secret: testSecret(2), Fallbacks: [][]byte{testSecret(1)}})
	if got, stale, err := rotated.OpenRef("sessionid", ref); err != nil || got != *key || stale != StaleKey {
		t.Errorf("with the secret as a fallback: %v, %v; want StaleKey", stale, err)
	}
	if _, _, err := mustNew(t, Config{Secret: testSecret(2)}).OpenRef("sessionid", ref); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown secret: err = %v, want ErrInvalid", err)
	}
	// The tag does not depend on the encryption mode.
	if _, stale, err := mustNew(t, Config{SignOnly: true}).OpenRef("sessionid", ref); err != nil || stale != 0 {
		t.Errorf("SignOnly codec: %v, %v", stale, err)
	}
	// An encoded value is never a reference.
	v, err := c.Encode("sessionid", Payload{Kind: KindData})
	if err != nil || IsRef(v) {
		t.Errorf("an encoded empty session is %d characters: it must not look like a reference", len(v))
	}
}

func TestRefAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items: allocations are not counted")
	}
	c := mustNew(t, Config{Fallbacks: [][]byte{testSecret(2)}})
	key := randomRefKey(t)
	ref := c.SealRef("sessionid", key)
	if n := testing.AllocsPerRun(100, func() { c.OpenRef("sessionid", ref) }); n != 0 {
		t.Errorf("OpenRef allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { c.SealRef("sessionid", key) }); n > 1 {
		t.Errorf("SealRef allocates %v times, want 1 (the string)", n)
	}
}

// TestPayloadID checks that a data value carries its session ID.
func TestPayloadID(t *testing.T) {
	c := mustNew(t, Config{})
	id := ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for _, p := range []Payload{{Kind: KindData, ID: id, Created: t0}, {Kind: KindData, ID: id}, {Kind: KindData}} {
		v, err := c.Encode("p", p)
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Decode("p", v)
		if err != nil || d.ID != p.ID {
			t.Errorf("ID %x came back as %x (%v)", p.ID, d.ID, err)
		}
	}
}

func BenchmarkRef(b *testing.B) {
	c := mustNew(b, Config{})
	key := randomRefKey(b)
	ref := c.SealRef("sessionid", key)
	b.Run("Seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.SealRef("sessionid", key)
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.OpenRef("sessionid", ref)
		}
	})
}
