package session

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/postgres"
	"github.com/sessionkit/session/server/sqlite"
)

// The Django suite runs against the PostgreSQL and SQLite stores, through
// the server engine and the auto engine.
func init() {
	extraEngineCases = append(extraEngineCases,
		engineCase{name: "server-postgres", engine: EngineServer, keyed: true, newStore: newPostgresStore},
		engineCase{name: "auto-postgres", engine: EngineAuto, newStore: newPostgresStore},
		engineCase{name: "server-sqlite", engine: EngineServer, keyed: true, newStore: newSQLiteStore},
		engineCase{name: "auto-sqlite", engine: EngineAuto, newStore: newSQLiteStore},
	)
}

// newPostgresStore returns a store on a table of its own, dropped at the
// end.
func newPostgresStore(t *testing.T) server.Store {
	t.Helper()
	return openPostgres(t, testenv.PostgresDSN(t))
}

// openPostgres opens a PostgreSQL store on dsn, on a table of its own,
// dropped at the end.
func openPostgres(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(dsn, postgres.Config{Table: testenv.Unique("sessions_root_")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Pool().Exec(context.Background(), `DROP TABLE IF EXISTS "`+s.Table()+`", "`+s.Table()+postgres.UsersSuffix+`"`)
		s.Close()
	})
	return s
}

// newSQLiteStore returns a store on a new file in a temporary directory.
func newSQLiteStore(t *testing.T) server.Store {
	t.Helper()
	return openSQLite(t, filepath.Join(t.TempDir(), "sessions.db"))
}

func openSQLite(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAutoSpillsIntoSQLStores runs the auto engine's spilled side on the
// PostgreSQL and SQLite stores: a session too large for the cookie goes to
// the store and reads back, CycleKey moves it to a new key and removes the
// old row, Flush removes it, and a request that saves after a concurrent
// logout gets ErrInterrupted instead of bringing the row back.
func TestAutoSpillsIntoSQLStores(t *testing.T) {
	for _, c := range []struct {
		name     string
		newStore func(*testing.T) server.Store
	}{{"postgres", newPostgresStore}, {"sqlite", newSQLiteStore}} {
		t.Run(c.name, func(t *testing.T) {
			ec := engineCase{name: "auto-" + c.name, engine: EngineAuto, newStore: c.newStore}
			h := newHarness(t, ec, func(cfg *Config) { cfg.CookieMaxSize = 1000 })
			s := h.session()
			s.Set("blob", randomText(2000))
			s.Set("user", "alice")
			h.commit(s)
			if h.kind() != codec.KindReference || !h.exists(s.Key()) {
				t.Fatalf("a 2000-character session with CookieMaxSize 1000 did not spill into the store")
			}
			key := s.Key()
			s = h.session()
			if s.Get("user") != "alice" {
				t.Fatal("the spilled session does not read back")
			}
			if err := s.CycleKey(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.commit(s)
			if s.Key() == key || h.exists(key) || !h.exists(s.Key()) {
				t.Fatalf("CycleKey: old row exists %v, new row exists %v", h.exists(key), h.exists(s.Key()))
			}
			stale := h.session()
			stale.Len()
			s = h.session()
			if err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.commit(s)
			if h.exists(s.Key()) {
				t.Fatal("Flush left the row")
			}
			stale.Set("more", 1)
			if _, err := h.commitStatus(stale, http.StatusOK); err == nil || !strings.Contains(err.Error(), "deleted before the request completed") {
				t.Fatalf("a save after a concurrent logout: %v, want ErrInterrupted", err)
			}
		})
	}
}

// TestPostgresOutage stops PostgreSQL (a fast shutdown, which ends the
// open connections) while requests are in flight and starts it again.
// During the outage requests get the error response: never a panic, never
// an empty session served as if the user were logged out, nothing
// half-written. Afterwards the same Manager, and the same pool, work again
// and every session saved before the outage is still there.
func TestPostgresOutage(t *testing.T) {
	testenv.PostgresDSN(t)
	// A server of its own: stopping the shared one would fail the
	// PostgreSQL tests of the packages running at the same time.
	dsn, stop, start := privateServer(t, "postgres", "SESSION_TEST_POSTGRES_DSN")
	store := openPostgres(t, dsn)
	m, err := New(Config{SecretKey: testSecret, Engine: EngineServer, Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := counterSite(t, m)
	clients := runOutage(t, srv.URL, stop, start, false)
	outage := 0
	for _, c := range clients {
		outage += c.outage
	}
	if outage == 0 {
		t.Fatal("no request failed while the server was down: the outage was not observed")
	}
	t.Logf("%d error responses during the outage", outage)
}

// requireImmutableVar, set to 1 (scripts/test.sh sets it when run as
// root), makes TestSQLiteReadOnlyOutage fail instead of skipping where
// files cannot be made immutable.
const requireImmutableVar = "SESSION_TEST_REQUIRE_IMMUTABLE"

// immutable returns the shell commands that set and clear the immutable
// attribute (chattr +i, -i) of dir and of the files in it. An immutable
// file cannot be written, even through a descriptor opened before, and
// even by root (permissions do not stop root, and mode bits are checked
// only when a file is opened: the store's connections keep theirs). The
// attribute is cleared when the test ends. Making a file immutable takes
// CAP_LINUX_IMMUTABLE and a file system that has the attribute (ext4,
// xfs, btrfs); without them the test skips, or fails under
// SESSION_TEST_REQUIRE_IMMUTABLE=1.
func immutable(t *testing.T, dir string) (set, clear string) {
	t.Helper()
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("chattr", "+i", probe).CombinedOutput()
	exec.Command("chattr", "-i", probe).Run()
	os.Remove(probe)
	if err != nil {
		msg := "cannot make a file immutable here (chattr +i, which takes root or CAP_LINUX_IMMUTABLE, on ext4, xfs or btrfs): " + strings.TrimSpace(string(out)) + ": " + err.Error()
		if os.Getenv(requireImmutableVar) == "1" {
			t.Fatalf("%s (%s=1)", msg, requireImmutableVar)
		}
		t.Skip(msg)
	}
	// The shared-memory file (*-shm) stays writable: SQLite maps it, and
	// a write through a mapping of an immutable file is a SIGBUS, which
	// kills the process rather than failing a call. Without the database
	// file and its WAL, no write can commit anyway.
	q := "'" + dir + "'"
	set = "chattr +i " + q + "/*.db " + q + "/*.db-wal && chattr +i " + q
	clear = "chattr -i " + q + " && chattr -i " + q + "/*"
	t.Cleanup(func() { exec.Command("bash", "-c", clear).Run() })
	return set, clear
}

// TestSQLiteReadOnlyOutage makes the database's files (the file and its
// WAL) and their directory immutable while requests
// are in flight, and writable again. Every request writes (the counter
// moves), so while the files are immutable every request fails, with the
// error response, and none is half-written; reads go on meanwhile (a
// Load while the files are immutable again, after the run). Afterwards the same Manager and the same open store work again, with no
// write lost or made up.
func TestSQLiteReadOnlyOutage(t *testing.T) {
	dir := t.TempDir()
	set, clear := immutable(t, dir)
	store := openSQLite(t, filepath.Join(dir, "sessions.db"))
	// The WAL and its index exist once a connection has written.
	if err := store.Create(context.Background(), strings.Repeat("0", 64), []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"sessions.db-wal", "sessions.db-shm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("no %s: %v", f, err)
		}
	}
	m, err := New(Config{SecretKey: testSecret, Engine: EngineServer, Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := counterSite(t, m)
	clients := runOutage(t, srv.URL, set, clear, false)
	outage := 0
	for _, c := range clients {
		outage += c.outage
	}
	if outage == 0 {
		t.Fatal("no request failed while the files were immutable: the outage was not observed")
	}
	t.Logf("%d error responses while the files were immutable", outage)
	// Reads go on while the files are immutable; writes fail until they
	// are writable again.
	ctx := context.Background()
	kept := strings.Repeat("0", 64)
	for _, cmd := range []string{set, clear} {
		if out, err := exec.Command("bash", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		b, err := store.Load(ctx, kept)
		if err != nil || string(b) != "x" {
			t.Errorf("after %q: Load = %q, %v; want the session", cmd, b, err)
		}
		err = store.Update(ctx, kept, []byte("x"), time.Now().Add(time.Hour))
		if (cmd == set) != (err != nil) {
			t.Errorf("after %q: Update = %v", cmd, err)
		}
	}
	// The file is whole.
	var check string
	if err := store.DB().QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
}
