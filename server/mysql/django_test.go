package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/django"
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
)

// djangoTable returns the DSN of the test server after checking that its
// django_session table is there, made by Django's own migration
// (scripts/django.sh runs it), and a fresh table of the same definition
// (CREATE TABLE ... LIKE), which the test drops when it ends.
func djangoTable(t *testing.T) (dsn, table string) {
	t.Helper()
	dsn = testenv.MySQLDSN(t)
	testenv.DjangoPython(t) // the table is Django's: no Django, no test
	s := openStore(t, "", Config{})
	var n int
	err := s.DB().QueryRowContext(testCtx(t), "SELECT COUNT(*) FROM django_migrations WHERE app = 'sessions' AND name = '0001_initial'").Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("no django_session made by Django's migration in the test database (%v): run `source scripts/django.sh; django_setup` with %s set, or `scripts/django.sh migrate`", err, testenv.MySQLDSNVar)
	}
	table = testenv.Unique("django_session_test_")
	if _, err := s.DB().ExecContext(testCtx(t), "CREATE TABLE `"+table+"` LIKE django_session"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropTable(t, s.DB(), table) })
	return dsn, table
}

func openDjango(t *testing.T, cfg Config) *DjangoStore {
	t.Helper()
	dsn, table := djangoTable(t)
	if cfg.Table == "" {
		cfg.Table = table
	}
	s, err := OpenDjango(dsn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDjangoTable checks the table Django's migration made against what
// DjangoStore's documentation says of it: its columns, and a collation
// that finds a row under a key in another case, which the store's own
// statements do not.
func TestDjangoTable(t *testing.T) {
	dsn, _ := djangoTable(t)
	s, err := OpenDjango(dsn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var name, create string
	if err := s.DB().QueryRowContext(testCtx(t), "SHOW CREATE TABLE django_session").Scan(&name, &create); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`session_key` varchar(40) NOT NULL", "`session_data` longtext NOT NULL", "`expire_date` datetime(6) NOT NULL", "PRIMARY KEY (`session_key`)", "KEY `django_session_expire_date_a5c62663` (`expire_date`)"} {
		if !strings.Contains(create, want) {
			t.Errorf("Django's table lacks %s:\n%s", want, create)
		}
	}

	key := django.NewKey()
	if err := s.Create(testCtx(t), key, []byte("e30:1r31eq:x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	defer s.Delete(context.Background(), key)
	var n int
	if err := s.DB().QueryRowContext(testCtx(t), "SELECT COUNT(*) FROM django_session WHERE session_key = ?", strings.ToUpper(key)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the column's collation is not case-insensitive here (%d rows, %v): the test below shows nothing", n, err)
	}
	// A row under the key in upper case, as only a hand-made row could be.
	upper := django.NewKey()
	if _, err := s.DB().ExecContext(testCtx(t), "INSERT INTO django_session VALUES (?, 'e30:1r31eq:y', ?)", strings.ToUpper(upper), dbTime(time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	defer s.DB().ExecContext(context.Background(), "DELETE FROM django_session WHERE session_key = ?", upper)
	if _, _, err := s.Load(testCtx(t), upper); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Load found the row of the key in upper case: %v", err)
	}
	if err := s.Update(testCtx(t), upper, []byte("e30:1r31eq:z"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Update of the key in lower case: %v, want server.ErrNotFound", err)
	}
	if err := s.Delete(testCtx(t), upper); err != nil {
		t.Fatal(err)
	}
	var data string
	if err := s.DB().QueryRowContext(testCtx(t), "SELECT session_data FROM django_session WHERE BINARY session_key = ?", strings.ToUpper(upper)).Scan(&data); err != nil || data != "e30:1r31eq:y" {
		t.Errorf("the row of the key in upper case after Update and Delete in lower case: %q, %v", data, err)
	}
	if _, _, err := s.Load(testCtx(t), strings.ToUpper(key)); !errors.Is(err, server.ErrInvalidKey) {
		t.Errorf("Load of a key in upper case: %v, want server.ErrInvalidKey", err)
	}
}

// TestDjangoStore checks the store's semantics on a table of Django's
// definition: Django's, with an expired row as good as gone.
func TestDjangoStore(t *testing.T) {
	s := openDjango(t, Config{MaxLength: 1000})
	ctx := testCtx(t)
	key := django.NewKey()
	if len(key) != django.KeyLen || !django.IsKey(key) {
		t.Fatalf("NewKey() = %q", key)
	}
	if _, _, err := s.Load(ctx, key); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load of an unknown key: %v", err)
	}
	exp := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	if err := s.Create(ctx, key, []byte("one"), exp); err != nil {
		t.Fatal(err)
	}
	// expire_date is naive UTC, to the microsecond, as Django writes it.
	var raw string
	if err := s.DB().QueryRowContext(ctx, "SELECT CAST(expire_date AS CHAR) FROM `"+s.Table()+"` WHERE session_key = ?", key).Scan(&raw); err != nil || raw != "2031-05-06 05:08:09.123456" {
		t.Errorf("expire_date = %q, %v; want naive UTC 2031-05-06 05:08:09.123456", raw, err)
	}
	data, got, err := s.Load(ctx, key)
	if err != nil || string(data) != "one" || !got.Equal(exp.Truncate(time.Microsecond)) || got.Location() != time.UTC {
		t.Errorf("Load = %q, %v, %v", data, got, err)
	}
	if err := s.Create(ctx, key, []byte("two"), exp); !errors.Is(err, server.ErrExists) {
		t.Errorf("Create over a row: %v, want server.ErrExists", err)
	}
	if err := s.Update(ctx, key, []byte("two"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, key, []byte("two"), exp); err != nil {
		t.Errorf("Update that changes nothing: %v (clientFoundRows?)", err)
	}
	if data, _, _ := s.Load(ctx, key); string(data) != "two" {
		t.Errorf("after Update: %q", data)
	}

	// An expired row does not load and is not updated, but is there for
	// Create.
	if err := s.Update(ctx, key, []byte("two"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, key); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Load of an expired row: %v", err)
	}
	if err := s.Update(ctx, key, []byte("three"), exp); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Update of an expired row: %v, want server.ErrNotFound", err)
	}
	if err := s.Create(ctx, key, []byte("three"), exp); !errors.Is(err, server.ErrExists) {
		t.Errorf("Create over an expired row: %v, want server.ErrExists", err)
	}
	live := django.NewKey()
	if err := s.Create(ctx, live, []byte("live"), exp); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
		t.Errorf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if err := s.Create(ctx, key, []byte("again"), exp); err != nil {
		t.Errorf("Create after DeleteExpired: %v", err)
	}

	// Delete, then no resurrection.
	if err := s.Delete(ctx, live); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, live); err != nil {
		t.Errorf("Delete of a missing row: %v", err)
	}
	if err := s.Update(ctx, live, []byte("back"), exp); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("Update of a deleted row: %v, want server.ErrNotFound", err)
	}

	// MaxLength on both sides, the key never in an error.
	if err := s.Update(ctx, key, make([]byte, 1001), exp); !errors.Is(err, server.ErrTooLarge) {
		t.Errorf("Update over MaxLength: %v", err)
	}
	if _, err := s.DB().ExecContext(ctx, "UPDATE `"+s.Table()+"` SET session_data = REPEAT('a', 1001) WHERE session_key = ?", key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, key); !errors.Is(err, server.ErrTooLarge) || strings.Contains(err.Error(), key) {
		t.Errorf("Load of a planted session_data over MaxLength: %v", err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 41), strings.ToUpper(key), key[:31] + "/", key[:31] + " ", key[:31] + "é"} {
		_, _, err1 := s.Load(ctx, bad)
		err2 := s.Create(ctx, bad, []byte("x"), exp)
		err3 := s.Update(ctx, bad, []byte("x"), exp)
		err4 := s.Delete(ctx, bad)
		for _, err := range []error{err1, err2, err3, err4} {
			if !errors.Is(err, server.ErrInvalidKey) {
				t.Errorf("key %q: %v, want server.ErrInvalidKey", bad, err)
			}
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Load(cancelled, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a cancelled context: %v", err)
	}
}

// TestOpenDjangoNeedsTheTable checks that OpenDjango and NewDjango refuse
// a table that is not Django's, saying to run Django's migrations.
func TestOpenDjangoNeedsTheTable(t *testing.T) {
	dsn := testenv.MySQLDSN(t)
	_, err := OpenDjango(dsn, Config{Table: testenv.Unique("no_such_table_")})
	if !errors.Is(err, ErrMisconfigured) || !strings.Contains(err.Error(), "migrate") {
		t.Errorf("OpenDjango of a missing table: %v", err)
	}
	ours := openStore(t, "", Config{}) // this package's own table: other columns
	_, err = NewDjango(testCtx(t), ours.DB(), Config{Table: ours.Table()})
	if !errors.Is(err, ErrMisconfigured) {
		t.Errorf("NewDjango on a table of another schema: %v", err)
	}
}

// TestDjangoDeadlineDuringLockWait: an Update of Django's table whose
// context ends while it waits for a row lock is ended on the server
// before it returns, as the Store's writes are (TestDeadlineDuringLockWait):
// it says so, and once the lock is released the row is as it was.
func TestDjangoDeadlineDuringLockWait(t *testing.T) {
	s := openDjango(t, Config{})
	ctx := testCtx(t)
	key := django.NewKey()
	if err := s.Create(ctx, key, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	locker, tx := lockRow(t, s.Table(), key)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := s.Update(short, key, []byte("y"), time.Now().Add(time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "interrupted on the server") {
		t.Fatalf("Update blocked on a row lock: %v; want context.DeadlineExceeded, interrupted on the server", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitNone(t, locker, "SELECT count(*) FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Sleep' AND INFO LIKE ?", "UPDATE `"+s.Table()+"`%")
	if data, _, err := s.Load(ctx, key); err != nil || string(data) != "x" {
		t.Fatalf("after the failed Update, Load = %q, %v; want x", data, err)
	}
	if err := s.Update(ctx, key, []byte("z"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Update after the lock was released: %v", err)
	}
}
