package file

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/storetest"
)

func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func key(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// noKey fails t if err mentions key, as a file name holding it would.
func noKey(t *testing.T, key string, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), key) {
		t.Errorf("error %q contains the session key", err)
	}
}

// names lists the names in dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

// noTemps fails t if dir holds a temporary file.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	for _, n := range names(t, dir) {
		if strings.HasPrefix(n, tempPrefix) {
			t.Errorf("temporary file %s left behind", n)
		}
	}
}

// plant writes a session file for key, blob and expires into dir as the
// store would, without the store's checks.
func plant(dir string) func(key string, blob []byte, expires time.Time) error {
	return func(key string, blob []byte, expires time.Time) error {
		data := binary.BigEndian.AppendUint64(append([]byte{}, magic[:]...), uint64(expires.UnixNano()))
		return os.WriteFile(filepath.Join(dir, Prefix+key), append(data, blob...), 0o600)
	}
}

func TestConformanceFresh(t *testing.T) {
	var dir string
	storetest.Run(t, func(t *testing.T) server.Store {
		var s *Store
		s, dir = newStore(t)
		t.Cleanup(func() { noTemps(t, dir) })
		return s
	}, storetest.Options{Plant: func(key string, blob []byte, exp time.Time) error { return plant(dir)(key, blob, exp) }})
}

// TestConformanceMaxLength runs the suite on a store with a limit other
// than the default.
func TestConformanceMaxLength(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, Options{MaxLength: 5000})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T) server.Store { return s }, storetest.Options{MaxLength: 5000, Plant: plant(dir)})
}

func TestConformanceShared(t *testing.T) {
	s, dir := newStore(t)
	storetest.Run(t, func(*testing.T) server.Store { return s }, storetest.Options{Plant: plant(dir)})
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("after the suite the directory holds %v, want nothing (the suite deletes what it creates)", got)
	}
}

// twoStores is one directory seen through two Stores, as two processes
// sharing it see it: Update goes through one, every other method through
// the other. They share no in-process lock, so only the file lock keeps
// an Update from racing a Delete.
type twoStores struct{ updater, other *Store }

func (s twoStores) Load(ctx context.Context, key string) ([]byte, error) {
	return s.other.Load(ctx, key)
}
func (s twoStores) Create(ctx context.Context, key string, blob []byte, exp time.Time) error {
	return s.other.Create(ctx, key, blob, exp)
}
func (s twoStores) Update(ctx context.Context, key string, blob []byte, exp time.Time) error {
	return s.updater.Update(ctx, key, blob, exp)
}
func (s twoStores) Delete(ctx context.Context, key string) error { return s.other.Delete(ctx, key) }
func (s twoStores) DeleteExpired(ctx context.Context) (int64, error) {
	return s.other.DeleteExpired(ctx)
}

// TestConformanceTwoStores runs the suite on two Stores sharing one
// directory, Updates going through one of them: the file lock holds
// between them as between processes.
func TestConformanceTwoStores(t *testing.T) {
	var dir string
	storetest.Run(t, func(t *testing.T) server.Store {
		var a *Store
		a, dir = newStore(t)
		b, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		return twoStores{updater: a, other: b}
	}, storetest.Options{Plant: func(key string, blob []byte, exp time.Time) error { return plant(dir)(key, blob, exp) }})
}

func TestNewErrors(t *testing.T) {
	parent := t.TempDir()
	missing := filepath.Join(parent, "no-such-dir")
	_, err := New(missing)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("New(missing dir) = %v, want an error wrapping fs.ErrNotExist that names %s", err, missing)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New created the missing directory")
	}

	regular := filepath.Join(parent, "a-file")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(regular)
	if err == nil || !strings.Contains(err.Error(), regular) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("New(regular file) = %v, want an error naming %s as not a directory", err, regular)
	}

	if _, err := New(""); err == nil {
		t.Error(`New("") succeeded, want an error`)
	}
}

// TestWarnsOfSharedDir checks that New warns, through Options.Logger, of a
// directory that its group or everyone can write to, and of no other.
func TestWarnsOfSharedDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits do not apply on Windows")
	}
	for _, c := range []struct {
		mode os.FileMode
		want string // in the warning; empty: no warning
	}{
		{0o700, ""},
		{0o750, ""},
		{0o755, ""},
		{0o770, "its group"},
		{0o730, "its group"},
		{0o777, "every user"},
		{os.ModeSticky | 0o777, "every user"},
		{0o702, "every user"},
	} {
		t.Run(fmt.Sprintf("%#o", c.mode), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, c.mode); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			if _, err := New(dir, Options{Logger: log}); err != nil {
				t.Fatalf("New: %v", err)
			}
			out := buf.String()
			switch {
			case c.want == "" && out != "":
				t.Errorf("New logged %q for a private directory", out)
			case c.want != "" && (!strings.Contains(out, "level=WARN") || !strings.Contains(out, c.want) || !strings.Contains(out, dir)):
				t.Errorf("New logged %q, want a warning naming %s and %q", out, dir, c.want)
			}
		})
	}
}

func TestRelativeDirIsFixedAtNew(t *testing.T) {
	parent := t.TempDir()
	if err := os.Mkdir(filepath.Join(parent, "sessions"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(parent)
	s, err := New("sessions")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	k := key(t)
	if err := s.Create(context.Background(), k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(parent, "sessions", Prefix+k)); err != nil {
		t.Errorf("the session file is not in the directory given to New: %v", err)
	}
}

func TestFileLayout(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	k := key(t)
	exp := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)
	blob := []byte("the blob \x00\xff")
	if err := s.Create(ctx, k, blob, exp); err != nil {
		t.Fatal(err)
	}
	if got, want := names(t, dir), []string{Prefix + k}; !slices.Equal(got, want) {
		t.Fatalf("directory holds %v, want %v", got, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, Prefix+k))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("SKF\x01")
	want = binary.BigEndian.AppendUint64(want, uint64(exp.UnixNano()))
	want = append(want, blob...)
	if !bytes.Equal(data, want) {
		t.Errorf("file holds %x, want %x", data, want)
	}
}

func TestExpiryClamped(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	far, past := key(t), key(t)
	if err := s.Create(ctx, far, []byte("far"), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, past, []byte("past"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Load(ctx, far); err != nil || string(b) != "far" {
		t.Errorf("Load(far future) = %q, %v", b, err)
	}
	if _, err := s.Load(ctx, past); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Load(zero expiry) = %v, want ErrNotFound", err)
	}
	for k, want := range map[string]int64{far: math.MaxInt64, past: math.MinInt64} {
		data, err := os.ReadFile(filepath.Join(dir, Prefix+k))
		if err != nil {
			t.Fatal(err)
		}
		if got := int64(binary.BigEndian.Uint64(data[4:12])); got != want {
			t.Errorf("stored expiry %d, want %d", got, want)
		}
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits do not apply on Windows")
	}
	s, dir := newStore(t)
	ctx := context.Background()
	k := key(t)
	perm := func(when string) {
		t.Helper()
		fi, err := os.Stat(filepath.Join(dir, Prefix+k))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("mode after %s = %o, want 600", when, got)
		}
	}
	if err := s.Create(ctx, k, []byte("a"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	perm("Create")
	if err := s.Update(ctx, k, []byte("b"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	perm("Update")
}

// TestNothingOutsideDir runs every method with hostile keys against a
// store whose directory sits inside an otherwise empty parent, and then
// checks that nothing was created anywhere in the parent, nor at the
// absolute paths some of the keys name.
func TestNothingOutsideDir(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "sessions")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(parent, "victim0123456789abcdef")
	hostile := []string{
		"../victim0123456789abcdef",
		"..\\victim0123456789abcdef",
		"../../../../../../../../../../tmp/x0123456789abcdef",
		`..\..\..\..\..\..\windows\win.ini`,
		target,
		strings.TrimPrefix(target, "/"),
		"/etc/passwd",
		"/" + strings.Repeat("a", 40),
		"a/" + strings.Repeat("b", 40),
		strings.Repeat("a", 20) + "/..",
		"..",
		".",
		"",
		strings.Repeat("a", 20) + "\x00/etc/passwd",
		"C:\\" + strings.Repeat("a", 20),
		"~/" + strings.Repeat("a", 20),
	}
	ctx := context.Background()
	for _, k := range hostile {
		for op, err := range map[string]error{
			"Create": s.Create(ctx, k, []byte("pwned"), time.Now().Add(time.Hour)),
			"Update": s.Update(ctx, k, []byte("pwned"), time.Now().Add(time.Hour)),
			"Delete": s.Delete(ctx, k),
		} {
			if !errors.Is(err, server.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, k, err)
			}
		}
		if _, err := s.Load(ctx, k); !errors.Is(err, server.ErrInvalidKey) {
			t.Errorf("Load(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	var found []string
	err = filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != parent && p != dir {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 0 {
		t.Errorf("files created by hostile keys: %v", found)
	}
	for _, p := range []string{"/tmp/x0123456789abcdef", "/" + strings.Repeat("a", 40)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists after the hostile calls", p)
		}
	}
}

func TestCorruptFiles(t *testing.T) {
	ctx := context.Background()
	for name, content := range map[string][]byte{
		"empty":          {},
		"5 bytes":        []byte("SKF\x01\x00"),
		"11 bytes":       []byte("SKF\x01\x00\x00\x00\x00\x00\x00\x00"),
		"wrong magic":    append([]byte("XXXX\x7f\x00\x00\x00\x00\x00\x00\x00"), "blob"...),
		"future version": append([]byte("SKF\x02\x7f\x00\x00\x00\x00\x00\x00\x00"), "blob"...),
	} {
		t.Run(name, func(t *testing.T) {
			s, dir := newStore(t)
			k := key(t)
			p := filepath.Join(dir, Prefix+k)
			if err := os.WriteFile(p, content, 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := s.Load(ctx, k)
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, server.ErrNotFound) || b != nil {
				t.Errorf("Load = %q, %v; want an error wrapping ErrCorrupt, not a session", b, err)
			}
			noKey(t, k, err)
			err = s.Update(ctx, k, []byte("new"), time.Now().Add(time.Hour))
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Update = %v, want an error wrapping ErrCorrupt", err)
			}
			noKey(t, k, err)
			if err := s.Create(ctx, k, []byte("new"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrExists) {
				t.Errorf("Create = %v, want ErrExists", err)
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("the corrupt file changed: %q, %v", got, err)
			}
			// A fresh corrupt file may still be being written by someone
			// else: DeleteExpired leaves it alone.
			if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
				t.Errorf("DeleteExpired = %d, %v; want 0, nil for a fresh corrupt file", n, err)
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("DeleteExpired removed a fresh corrupt file: %v", err)
			}
			noTemps(t, dir)
		})
	}
}

func TestLoadLeavesExpiredFile(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	k := key(t)
	if err := s.Create(ctx, k, []byte("old"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, k); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(dir, Prefix+k)); err != nil {
		t.Errorf("Load removed the expired file (Load never writes): %v", err)
	}
}

func TestNoTempFilesLeft(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	k := key(t)
	exp := time.Now().Add(time.Hour)
	if err := s.Create(ctx, k, []byte("a"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, k, []byte("b"), exp); !errors.Is(err, server.ErrExists) {
		t.Fatalf("second Create = %v", err)
	}
	if err := s.Update(ctx, k, []byte("c"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, key(t), []byte("d"), exp); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Update(unknown) = %v", err)
	}
	if got, want := names(t, dir), []string{Prefix + k}; !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func TestDeleteExpiredTouchesOnlyItsFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	s, dir := newStore(t)
	ctx := context.Background()
	old := time.Now().Add(-2 * StaleAge)
	write := func(name string, content []byte, mtime time.Time) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if !mtime.IsZero() {
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		return name
	}
	expiredHeader := binary.BigEndian.AppendUint64([]byte("SKF\x01"), uint64(time.Now().Add(-time.Hour).UnixNano()))

	live, dead := key(t), key(t)
	if err := s.Create(ctx, live, []byte("live"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, dead, []byte("dead"), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	oldCorrupt := write(Prefix+key(t), []byte("SKF"), old)
	freshCorrupt := write(Prefix+key(t), []byte("SKF"), time.Time{})
	oldTemp := write(tempPrefix+"123456", []byte("partial"), old)
	freshTemp := write(tempPrefix+"654321", []byte("partial"), time.Time{})

	// Files that are not ours, some of which look expired.
	keep := []string{
		Prefix + live,
		freshCorrupt,
		freshTemp,
		write("foreign.txt", []byte("hello"), old),
		write("other_"+key(t), expiredHeader, old),
		write(Prefix+"NOTAKEY0123456789", expiredHeader, old),
		write(Prefix+"short", expiredHeader, old),
		write(Prefix+key(t)+".bak", expiredHeader, old),
		write(strings.TrimSuffix(Prefix, "_")+key(t), expiredHeader, old),
	}
	subdir := Prefix + key(t)
	if err := os.Mkdir(filepath.Join(dir, subdir), 0o700); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, subdir)
	// A symbolic link with a session name, to an expired session file
	// outside the directory: neither the link nor its target is removed.
	outside := filepath.Join(t.TempDir(), Prefix+key(t))
	if err := os.WriteFile(outside, expiredHeader, 0o600); err != nil {
		t.Fatal(err)
	}
	link := Prefix + key(t)
	if err := os.Symlink(outside, filepath.Join(dir, link)); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, link)

	n, err := s.DeleteExpired(ctx)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n != 2 {
		t.Errorf("DeleteExpired = %d, want 2 (one expired and one stale corrupt session file)", n)
	}
	slices.Sort(keep)
	if got := names(t, dir); !slices.Equal(got, keep) {
		t.Errorf("after DeleteExpired the directory holds\n%v\nwant\n%v", got, keep)
	}
	for _, gone := range []string{Prefix + dead, oldCorrupt, oldTemp} {
		if slices.Contains(names(t, dir), gone) {
			t.Errorf("%s was not removed", gone)
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("the target of a symbolic link was touched: %v", err)
	}
}

func TestDeleteExpiredManyFiles(t *testing.T) {
	// More files than one directory batch, half of them expired.
	s, dir := newStore(t)
	ctx := context.Background()
	const total = 700
	for i := 0; i < total; i++ {
		exp := time.Now().Add(time.Hour)
		if i%2 == 0 {
			exp = time.Now().Add(-time.Hour)
		}
		if err := s.Create(ctx, key(t), []byte("x"), exp); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpired(ctx)
	if err != nil || n != total/2 {
		t.Fatalf("DeleteExpired = %d, %v, want %d, nil", n, err, total/2)
	}
	if got := len(names(t, dir)); got != total/2 {
		t.Errorf("%d files left, want %d", got, total/2)
	}
}

func TestDeleteExpiredCancelled(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.DeleteExpired(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteExpired = %v, want context.Canceled", err)
	}
}

func TestDirRemovedAfterNew(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "sessions")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.Create(ctx, key(t), []byte("x"), time.Now().Add(time.Hour))
	if err == nil || errors.Is(err, server.ErrExists) || !strings.Contains(err.Error(), dir) {
		t.Errorf("Create into a removed directory = %v, want an error naming %s", err, dir)
	}
	if _, err := s.DeleteExpired(ctx); err == nil {
		t.Error("DeleteExpired of a removed directory succeeded")
	}
}

func TestManyConcurrentCreators(t *testing.T) {
	// Many creators of one key, as separate processes would race: exactly
	// one wins, and the file holds its blob whole.
	s, dir := newStore(t)
	ctx := context.Background()
	k := key(t)
	const n = 32
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		wins   []int
		start  = make(chan struct{})
		failed []error
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := s.Create(ctx, k, bytes.Repeat([]byte{byte(i)}, 4096), time.Now().Add(time.Hour))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins = append(wins, i)
			case !errors.Is(err, server.ErrExists):
				failed = append(failed, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range failed {
		t.Error(err)
	}
	if len(wins) != 1 {
		t.Fatalf("%d Creates won, want 1", len(wins))
	}
	b, err := s.Load(ctx, k)
	if err != nil || !bytes.Equal(b, bytes.Repeat([]byte{byte(wins[0])}, 4096)) {
		t.Errorf("Load after the race = %d bytes, %v; want the winner's blob", len(b), err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{Prefix + k}) {
		t.Errorf("directory holds %v", got)
	}
}

func benchStore(b *testing.B) (*Store, []string, []byte) {
	s, _ := newStore(b)
	ctx := context.Background()
	keys := make([]string, 256)
	blob := make([]byte, 512)
	for i := range keys {
		keys[i] = key(b)
		if err := s.Create(ctx, keys[i], blob, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	return s, keys, blob
}

func BenchmarkLoad(b *testing.B) {
	s, keys, _ := benchStore(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Load(ctx, keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	s, keys, blob := benchStore(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := s.Update(ctx, keys[i%len(keys)], blob, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateDelete(b *testing.B) {
	s, _, blob := benchStore(b)
	ctx := context.Background()
	k := key(b)
	for b.Loop() {
		if err := s.Create(ctx, k, blob, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}

// TestErrorsNeverNameTheKey provokes the errors a session file can cause
// and checks that none of them contains the session's key, as the file's
// path would. With session.Config.StoreRawKeys the key is the session's
// bearer secret, and errors end up in logs.
func TestErrorsNeverNameTheKey(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	var errs []error
	collect := func(err error) {
		t.Helper()
		if err == nil {
			t.Error("want an error, got nil")
		}
		errs = append(errs, err)
	}
	ks := make([]string, 0, 8)
	newKey := func() string { k := key(t); ks = append(ks, k); return k }

	// A corrupt file.
	corruptKey := newKey()
	if err := os.WriteFile(s.path(corruptKey), []byte("SKF"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load(ctx, corruptKey)
	collect(err)
	collect(s.Update(ctx, corruptKey, []byte("x"), exp))
	// A non-empty directory: Delete cannot remove it.
	dirKey := newKey()
	if err := os.MkdirAll(filepath.Join(s.path(dirKey), "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(ctx, dirKey)
	collect(err)
	collect(s.Update(ctx, dirKey, []byte("x"), exp))
	collect(s.Delete(ctx, dirKey))
	// A blob over MaxLength.
	bigKey := newKey()
	collect(s.Create(ctx, bigKey, make([]byte, s.MaxLength()+1), exp))
	if err := os.WriteFile(s.path(bigKey), make([]byte, headerLen+s.MaxLength()+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(ctx, bigKey)
	collect(err)
	// The directory gone.
	gone, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone.dir); err != nil {
		t.Fatal(err)
	}
	goneKey := newKey()
	collect(gone.Create(ctx, goneKey, []byte("x"), exp))
	collect(gone.Update(ctx, goneKey, []byte("x"), exp))
	_, err = gone.DeleteExpired(ctx)
	collect(err)

	for _, err := range errs {
		t.Log(err)
		for _, k := range ks {
			noKey(t, k, err)
		}
		if err != nil && strings.Contains(err.Error(), Prefix+"0") {
			t.Errorf("error %q names a session file", err)
		}
	}
}

// TestIOErrorDropsFileNames checks the wrapping of the os package's errors:
// the file name goes, the directory is named, and errors.Is still sees the
// cause.
func TestIOErrorDropsFileNames(t *testing.T) {
	s, dir := newStore(t)
	k := key(t)
	p := s.path(k)
	for _, in := range []error{
		&fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission},
		&os.LinkError{Op: "rename", Old: filepath.Join(dir, tempPrefix+"123"), New: p, Err: fs.ErrPermission},
		fmt.Errorf("context: %w", &fs.PathError{Op: "remove", Path: p, Err: fs.ErrPermission}),
	} {
		err := s.ioError("update", in)
		noKey(t, k, err)
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("ioError(%v) = %v, which does not wrap fs.ErrPermission", in, err)
		}
		if !strings.Contains(err.Error(), dir) || !strings.HasPrefix(err.Error(), "file session store: update") {
			t.Errorf("ioError(%v) = %q, want the store, the operation and the directory", in, err)
		}
	}
}

// TestReadAtMost checks the capped read of a file that is longer than its
// size said: it stops one byte past the limit.
func TestReadAtMost(t *testing.T) {
	for _, c := range []struct {
		n, hint, limit int
		tooLarge       bool
	}{
		{n: 50, hint: 50, limit: 100},
		{n: 50, hint: 10, limit: 100},  // grew
		{n: 10, hint: 50, limit: 100},  // shrank
		{n: 100, hint: 10, limit: 100}, // grew to the limit
		{n: 101, hint: 10, limit: 100, tooLarge: true},
		{n: 1 << 20, hint: 10, limit: 100, tooLarge: true},
		{n: 0, hint: 0, limit: 100},
	} {
		data := bytes.Repeat([]byte{7}, c.n)
		got, err := readAtMost(bytes.NewReader(data), c.hint, c.limit)
		switch {
		case c.tooLarge:
			if !errors.Is(err, server.ErrTooLarge) || len(got) != c.limit+1 || cap(got) > 2*(c.limit+1) {
				t.Errorf("%+v: %d bytes (cap %d), %v; want %d bytes and ErrTooLarge", c, len(got), cap(got), err, c.limit+1)
			}
		case err != nil || !bytes.Equal(got, data):
			t.Errorf("%+v: %d bytes, %v; want the %d bytes", c, len(got), err, c.n)
		}
	}
}
