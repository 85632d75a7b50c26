package codec

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/sessionkit/session/serializer"
)

// allocatedBy returns the bytes allocated on the heap while f ran.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// setZstdFCS rewrites the content size in a zstd frame header, leaving the
// field's width alone.
func setZstdFCS(t *testing.T, frame []byte, fcs uint32) []byte {
	t.Helper()
	var h zstd.Header
	if err := h.Decode(frame); err != nil || !h.HasFCS {
		t.Fatalf("zstd header: HasFCS = %v, %v", h.HasFCS, err)
	}
	fhd := frame[4]
	if fhd>>6 != 2 {
		t.Fatalf("want a 4-byte content size field, descriptor %#x", fhd)
	}
	pos := 5
	if fhd&0x20 == 0 { // not single-segment: a window descriptor byte
		pos++
	}
	pos += [4]int{0, 1, 2, 4}[fhd&3] // dictionary ID
	out := bytes.Clone(frame)
	binary.LittleEndian.PutUint32(out[pos:], fcs)
	if err := h.Decode(out); err != nil || h.FrameContentSize != uint64(fcs) {
		t.Fatalf("patched header reads %d, %v", h.FrameContentSize, err)
	}
	return out
}

func TestDecompressionBomb(t *testing.T) {
	const (
		inflated = 64 << 20
		maxSize  = 1 << 20
	)
	zeros := make([]byte, inflated)
	s2Bomb := s2.Encode(nil, zeros)
	zstdBomb := zstdEncoder().EncodeAll(zeros, nil)
	zeros = nil
	small := zstdEncoder().EncodeAll(bytes.Repeat([]byte{0}, 300), nil)

	// s2 with a length prefix that lies: says 1000, holds 64 MiB.
	_, n := binary.Uvarint(s2Bomb)
	s2Liar := append(binary.AppendUvarint(nil, 1000), s2Bomb[n:]...)

	c := mustNew(t, Config{MaxSize: maxSize})
	hdr := func(comp byte) []byte {
		return appendHeader(nil, header{kind: KindData, ser: serializer.MsgPackID, comp: comp})
	}
	for _, tt := range []struct {
		name string
		comp byte
		body []byte
		want error
	}{
		{"s2, 64 MiB of zeros", compS2, s2Bomb, ErrTooLarge},
		{"zstd, 64 MiB of zeros", compZstd, zstdBomb, ErrTooLarge},
		// Frames whose header lies about the content size: the
		// destination is sized from the header and caps the output.
		{"s2, length says 1000", compS2, s2Liar, ErrCorrupt},
		{"zstd, content size says 1000", compZstd, setZstdFCS(t, zstdBomb, 1000), ErrCorrupt},
		{"zstd, content size says MaxSize", compZstd, setZstdFCS(t, zstdBomb, maxSize), ErrCorrupt},
		// A small first frame followed by the bomb.
		{"zstd, bomb as a second frame", compZstd, cat(small, zstdBomb), ErrCorrupt},
	} {
		raw := cat(hdr(tt.comp), tt.body)
		value := seal(t, c, "sessionid", raw)
		if len(value) > DefaultMaxLength {
			t.Fatalf("%s: the sealed bomb is %d bytes, over MaxLength", tt.name, len(value))
		}
		var err error
		c.Decode("sessionid", value) // warm up pools and decoders
		alloc := allocatedBy(func() { _, err = c.Decode("sessionid", value) })
		checkSentinel(t, tt.name, err, tt.want)
		// The value itself is decoded a few times (base64, MAC input).
		// Past that, the destination is sized from the frame header, at
		// most MaxSize; when the header lies, the zstd decoder may grow it
		// once before it notices (it appends a block, then checks).
		limit := uint64(10*len(value)) + 3*maxSize
		if alloc > limit {
			t.Errorf("%s: Decode allocated %d bytes (value %d bytes), want under %d; the bomb inflates to %d", tt.name, alloc, len(value), limit, inflated)
		}
		t.Logf("%s: body %d bytes, value %d chars, Decode allocated %d bytes: %v", tt.name, len(tt.body), len(value), alloc, err)
	}
}
