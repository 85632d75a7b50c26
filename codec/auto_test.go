package codec

import (
	"strings"
	"testing"
)

// The default "auto" compression uses s2 for mid-sized bodies and zstd from
// AutoZstdFrom bytes on, and neither is stale under it.
func TestAutoCompression(t *testing.T) {
	c := mustNew(t, Config{Secret: testSecret(1)})
	if c.Compression() != "auto" {
		t.Fatalf("default compression %q", c.Compression())
	}
	for _, tc := range []struct {
		size int
		want string
	}{
		{100, "none"},                // under CompressThreshold
		{AutoZstdFrom / 2, "s2"},     // s2 territory
		{AutoZstdFrom * 3, "zstd"},   // zstd territory
		{DefaultMaxSize / 4, "zstd"}, // large blobs
	} {
		text := strings.Repeat("a compressible session value, ", tc.size/30+1)[:tc.size]
		v, err := c.Encode("p", Payload{Kind: KindData, Values: map[string]any{"t": text}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Decode("p", v)
		if err != nil {
			t.Fatal(err)
		}
		if d.Compression != tc.want || d.Stale != 0 || d.Values["t"] != text {
			t.Errorf("%d bytes: compression %q stale %v, want %q and not stale", tc.size, d.Compression, d.Stale, tc.want)
		}
		// Read under an explicit s2 configuration, a zstd value is stale
		// and an s2 one is not.
		s2 := mustNew(t, Config{Secret: testSecret(1), Compression: "s2"})
		d, err = s2.Decode("p", v)
		if err != nil {
			t.Fatal(err)
		}
		if (d.Stale&StaleCompression != 0) != (tc.want == "zstd") {
			t.Errorf("%d bytes under s2: stale %v", tc.size, d.Stale)
		}
	}
}
