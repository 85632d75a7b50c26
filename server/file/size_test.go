package file

import (
	"context"
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/sessionkit/session/server"
)

// allocated returns the bytes that f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBigFile puts a 256 MiB file (sparse, so it costs no disk) where a
// session file belongs: Load refuses it without reading it, allocating
// less than a megabyte.
func TestBigFile(t *testing.T) {
	s, _ := newStore(t)
	k := key(t)
	f, err := os.Create(s.path(k))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(magic[:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(256 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var lerr error
	n := allocated(func() { _, lerr = s.Load(context.Background(), k) })
	if !errors.Is(lerr, server.ErrTooLarge) {
		t.Errorf("Load = %v, want an error wrapping server.ErrTooLarge", lerr)
	}
	if n > 1<<20 {
		t.Errorf("Load allocated %d bytes, want less than 1 MiB", n)
	}
	t.Logf("Load allocated %d bytes: %v", n, lerr)
}
