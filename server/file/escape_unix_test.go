//go:build unix

package file

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
)

// loadPromptly loads key in a goroutine and returns its error, failing t
// if Load has not returned within a second.
func loadPromptly(t *testing.T, s *Store, key string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := s.Load(context.Background(), key)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Second):
		t.Fatal("Load has not returned after a second")
		return nil
	}
}

// mkfifo makes a FIFO at p and, when the test ends, opens it for writing
// and closes it again, which ends any read still blocked on it.
func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}

// TestFIFO puts a FIFO, and a symbolic link to one, where a session file
// belongs: Load, Update and DeleteExpired return at once, and Load and
// Update report ErrNotRegular. Reading a FIFO blocks until someone writes
// to it, so a store that opened and read it would hang the request.
func TestFIFO(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	fifo := filepath.Join(t.TempDir(), "fifo")
	mkfifo(t, fifo)
	linked, inPlace := key(t), key(t)
	if err := os.Symlink(fifo, s.path(linked)); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, s.path(inPlace))
	for name, k := range map[string]string{"symbolic link to a FIFO": linked, "FIFO": inPlace} {
		t.Run(name, func(t *testing.T) {
			err := loadPromptly(t, s, k)
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("Load = %v, want ErrNotRegular", err)
			}
			noKey(t, k, err)
			uctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			err = s.Update(uctx, k, []byte("x"), time.Now().Add(time.Hour))
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("Update = %v, want ErrNotRegular", err)
			}
			noKey(t, k, err)
		})
	}
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := s.DeleteExpired(dctx); err != nil {
		t.Errorf("DeleteExpired = %v", err)
	}
	// Delete removes the names, not the FIFO a link points to.
	for _, k := range []string{linked, inPlace} {
		if err := s.Delete(dctx, k); err != nil {
			t.Errorf("Delete = %v", err)
		}
	}
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("after Delete the directory holds %v", got)
	}
	if _, err := os.Lstat(fifo); err != nil {
		t.Errorf("Delete of a link removed its target: %v", err)
	}
}

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
// session file belongs, and a symbolic link to one: Load refuses both
// without reading them, allocating less than a megabyte.
func TestBigFile(t *testing.T) {
	s, _ := newStore(t)
	big := func(p string) {
		t.Helper()
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(magic[:]); err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(256 << 20); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "big")
	big(outside)
	linked, inPlace := key(t), key(t)
	if err := os.Symlink(outside, s.path(linked)); err != nil {
		t.Fatal(err)
	}
	big(s.path(inPlace))
	for _, c := range []struct {
		name, key string
		want      error
	}{
		{"symbolic link to a big file", linked, ErrNotRegular},
		{"big file", inPlace, server.ErrTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			n := allocated(func() { err = loadPromptly(t, s, c.key) })
			if !errors.Is(err, c.want) {
				t.Errorf("Load = %v, want an error wrapping %v", err, c.want)
			}
			noKey(t, c.key, err)
			if n > 1<<20 {
				t.Errorf("Load allocated %d bytes, want less than 1 MiB", n)
			}
			t.Logf("Load allocated %d bytes: %v", n, err)
		})
	}
}

// TestDevice puts a character device (the one of /dev/null) where a
// session file belongs: Load and Update refuse it. Making one needs root.
func TestDevice(t *testing.T) {
	s, _ := newStore(t)
	var st syscall.Stat_t
	if err := syscall.Stat("/dev/null", &st); err != nil {
		t.Skipf("stat /dev/null: %v", err)
	}
	k := key(t)
	if err := syscall.Mknod(s.path(k), syscall.S_IFCHR|0o600, int(st.Rdev)); err != nil {
		t.Skipf("mknod needs privileges: %v", err)
	}
	err := loadPromptly(t, s, k)
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("Load = %v, want ErrNotRegular", err)
	}
	noKey(t, k, err)
	if err := s.Update(context.Background(), k, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Update = %v, want ErrNotRegular", err)
	}
	if fi, err := os.Lstat(s.path(k)); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("the device was replaced: %v, %v", fi, err)
	}
}

// TestSocketAndDirectory puts a Unix socket, and a directory, where a
// session file belongs: Load and Update refuse each with ErrNotRegular,
// at once, and leave it where it is.
func TestSocketAndDirectory(t *testing.T) {
	for name, plant := range map[string]func(t *testing.T, p string){
		"directory": func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		"socket": func(t *testing.T, p string) {
			// Made under a short name (a socket's path is limited to
			// about 100 bytes), then moved into place.
			short, err := os.MkdirTemp("", "sk")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(short) })
			l, err := net.Listen("unix", filepath.Join(short, "s"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			if err := os.Rename(filepath.Join(short, "s"), p); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, _ := newStore(t)
			k := key(t)
			plant(t, s.path(k))
			before, err := os.Lstat(s.path(k))
			if err != nil {
				t.Fatal(err)
			}
			err = loadPromptly(t, s, k)
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("Load = %v, want ErrNotRegular", err)
			}
			noKey(t, k, err)
			if err := s.Update(context.Background(), k, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, ErrNotRegular) {
				t.Errorf("Update = %v, want ErrNotRegular", err)
			}
			if after, err := os.Lstat(s.path(k)); err != nil || after.Mode().Type() != before.Mode().Type() {
				t.Errorf("the %s was replaced: %v, %v", name, after, err)
			}
		})
	}
}

// TestLockWaitEndsWithContext holds the lock of a session file, as another
// process in the middle of an Update or Delete would: Update and Delete
// wait for it until their context ends, and then succeed once it is
// released.
func TestLockWaitEndsWithContext(t *testing.T) {
	if !holdOpen {
		t.Skip("no file lock on this system")
	}
	s, _ := newStore(t)
	ctx := context.Background()
	k := key(t)
	if err := s.Create(ctx, k, []byte("v1"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	holder, err := os.Open(s.path(k))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	for op, call := range map[string]func(context.Context) error{
		"Update": func(ctx context.Context) error { return s.Update(ctx, k, []byte("v2"), time.Now().Add(time.Hour)) },
		"Delete": func(ctx context.Context) error { return s.Delete(ctx, k) },
	} {
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		err := call(c)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the file is locked = %v, want context.DeadlineExceeded", op, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s returned %v after its deadline", op, d-100*time.Millisecond)
		}
	}
	// DeleteExpired does not wait: it leaves an expired file that is
	// locked for its next run.
	expired := key(t)
	if err := s.Create(ctx, expired, []byte("old"), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	holder2, err := os.Open(s.path(expired))
	if err != nil {
		t.Fatal(err)
	}
	defer holder2.Close()
	if err := syscall.Flock(int(holder2.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("DeleteExpired with the expired file locked = %d, %v; want 0, nil", n, err)
	}
	holder2.Close()
	if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
		t.Errorf("DeleteExpired once the lock is released = %d, %v; want 1, nil", n, err)
	}
	wantLoad := func(want string) {
		t.Helper()
		if b, err := s.Load(ctx, k); err != nil || string(b) != want {
			t.Errorf("Load = %q, %v; want %q", b, err, want)
		}
	}
	wantLoad("v1")
	done := make(chan error, 1)
	go func() { done <- s.Update(ctx, k, []byte("v2"), time.Now().Add(time.Hour)) }()
	time.Sleep(20 * time.Millisecond)
	holder.Close() // releases the lock
	if err := <-done; err != nil {
		t.Fatalf("Update after the lock was released: %v", err)
	}
	wantLoad("v2")
}
