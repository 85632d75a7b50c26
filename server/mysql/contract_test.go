package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
)

// The server.Store contract, checked directly against MariaDB.

func TestLoadMissing(t *testing.T) {
	s := openStore(t, "", Config{})
	_, err := s.Load(testCtx(t), key("missing", 1))
	if !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load of a missing key: err = %v, want ErrNotFound", err)
	}
	if n := rowCount(t, s); n != 0 {
		t.Fatalf("Load wrote: table has %d rows", n)
	}
}

func TestCreateLoadRoundTrip(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := bytes.Repeat([]byte("0123456789abcdef\x00\xff'\\\""), 1<<16) // 1.25 MiB
	cases := map[string][]byte{
		"every byte": all,
		"empty":      {},
		"nil":        nil,
		"quotes":     []byte(`'; DROP TABLE x; -- \' \" \\`),
		"large":      big,
	}
	i := 0
	for name, blob := range cases {
		i++
		k := key("rt", i)
		if err := s.Create(ctx, k, blob, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("%s: Create: %v", name, err)
		}
		got, err := s.Load(ctx, k)
		if err != nil {
			t.Fatalf("%s: Load: %v", name, err)
		}
		if !bytes.Equal(got, blob) {
			t.Fatalf("%s: Load returned %d bytes that differ from the %d stored", name, len(got), len(blob))
		}
	}
}

func TestLoadReturnsACopy(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	k := key("copy", 1)
	blob := []byte("original")
	if err := s.Create(ctx, k, blob, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	blob[0] = 'X'
	got, err := s.Load(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "original" {
		t.Fatalf("Load = %q after the caller changed its slice, want %q", got, "original")
	}
	got[0] = 'Y'
	again, err := s.Load(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != "original" {
		t.Fatalf("Load = %q after the caller changed a loaded slice, want %q", again, "original")
	}
}

func TestCreateExisting(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	live, expired := key("live", 1), key("expired", 1)
	if err := s.Create(ctx, live, []byte("first"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, expired, []byte("old"), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, live, []byte("second"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrExists) {
		t.Fatalf("Create over a live key: err = %v, want ErrExists", err)
	}
	if err := s.Create(ctx, expired, []byte("new"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrExists) {
		t.Fatalf("Create over an expired key: err = %v, want ErrExists", err)
	}
	got, err := s.Load(ctx, live)
	if err != nil || string(got) != "first" {
		t.Fatalf("after a refused Create, Load = %q, %v; want %q", got, err, "first")
	}
	if _, err := s.Load(ctx, expired); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("after a refused Create over an expired key, Load err = %v, want ErrNotFound", err)
	}
}

func TestCreateConcurrentSameKey(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	k := key("race", 1)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Create(ctx, k, []byte{byte(i)}, time.Now().Add(time.Hour))
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Fatalf("Create succeeded twice on one key (goroutines %d and %d)", won, i)
			}
			won = i
		case !errors.Is(err, server.ErrExists):
			t.Fatalf("goroutine %d: err = %v, want nil or ErrExists", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no concurrent Create succeeded")
	}
	got, err := s.Load(ctx, k)
	if err != nil || !bytes.Equal(got, []byte{byte(won)}) {
		t.Fatalf("Load = %v, %v; want the winner's blob %v", got, err, []byte{byte(won)})
	}
}

func TestLoadExpired(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	past, soon := key("past", 1), key("soon", 1)
	if err := s.Create(ctx, past, []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, past); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load of an expired key: err = %v, want ErrNotFound", err)
	}
	// An entry is gone from its expiry on.
	exp := time.Now().Add(300 * time.Millisecond)
	if err := s.Create(ctx, soon, []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(exp))
	for !time.Now().After(exp) {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.Load(ctx, soon); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load after the expiry passed: err = %v, want ErrNotFound", err)
	}
	if n := rowCount(t, s); n != 2 {
		t.Fatalf("Load of expired keys changed the table: %d rows, want 2", n)
	}
}

func TestUpdate(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	k := key("upd", 1)
	if err := s.Create(ctx, k, []byte("v1"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(48 * time.Hour)
	if err := s.Update(ctx, k, []byte("v2"), exp); err != nil {
		t.Fatalf("Update: %v", err)
	}
	got, err := s.Load(ctx, k)
	if err != nil || string(got) != "v2" {
		t.Fatalf("Load after Update = %q, %v; want %q", got, err, "v2")
	}
	var stored time.Time
	if err := s.DB().QueryRowContext(ctx, "SELECT expiry FROM `"+s.Table()+"` WHERE session_key = ?", k).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := exp.UTC().Truncate(time.Microsecond); !stored.Equal(want) {
		t.Fatalf("stored expiry = %v, want %v", stored, want)
	}
}

func TestUpdateIdenticalRow(t *testing.T) {
	// With the driver's default (affected rows = changed rows) this Update
	// would report zero rows and look like a deleted session.
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	k := key("same", 1)
	exp := time.Now().Add(time.Hour)
	if err := s.Create(ctx, k, []byte("same"), exp); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Update(ctx, k, []byte("same"), exp); err != nil {
			t.Fatalf("Update %d with identical data and expiry: %v", i+1, err)
		}
	}
}

func TestUpdateMissingOrExpired(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	missing, expired, deleted := key("nope", 1), key("gone", 1), key("del", 1)
	if err := s.Create(ctx, expired, []byte("old"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, deleted, []byte("old"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]string{"missing": missing, "expired": expired, "deleted": deleted} {
		if err := s.Update(ctx, k, []byte("new"), time.Now().Add(time.Hour)); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("Update of a %s key: err = %v, want ErrNotFound", name, err)
		}
		if _, err := s.Load(ctx, k); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("Update brought a %s key back: Load err = %v", name, err)
		}
	}
	var data []byte
	if err := s.DB().QueryRowContext(ctx, "SELECT data FROM `"+s.Table()+"` WHERE session_key = ?", expired).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if string(data) != "old" {
		t.Fatalf("Update changed an expired row: data = %q", data)
	}
	if n := rowCount(t, s); n != 1 {
		t.Fatalf("table has %d rows, want 1 (the expired one)", n)
	}
}

func TestDelete(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	k, other := key("del", 1), key("del", 2)
	for _, kk := range []string{k, other} {
		if err := s.Create(ctx, kk, []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Load(ctx, k); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load after Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Load(ctx, other); err != nil {
		t.Fatalf("Delete removed another key: %v", err)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}
	if err := s.Create(ctx, k, []byte("again"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
}

func TestDeleteExpired(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	for i := range 3 {
		if err := s.Create(ctx, key("old", i), []byte("x"), time.Now().Add(-time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if err := s.Create(ctx, key("new", i), []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 3 {
		t.Fatalf("DeleteExpired = %d, %v; want 3, nil", n, err)
	}
	for i := range 2 {
		if _, err := s.Load(ctx, key("new", i)); err != nil {
			t.Fatalf("DeleteExpired removed a live key: %v", err)
		}
	}
	if err := s.Create(ctx, key("old", 0), []byte("y"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Create on a key DeleteExpired removed: %v", err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Fatalf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func TestExpiryStoredAsUTCMicroseconds(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	exp := time.Date(2031, 3, 4, 5, 6, 7, 123456789, zone)
	k := key("tz", 1)
	if err := s.Create(ctx, k, []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := s.DB().QueryRowContext(ctx, "SELECT CAST(expiry AS CHAR) FROM `"+s.Table()+"` WHERE session_key = ?", k).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if want := "2031-03-03 23:36:07.123456"; raw != want {
		t.Fatalf("stored expiry = %q, want naive UTC truncated to microseconds %q", raw, want)
	}
}

func TestExpiryOutOfRangeIsClamped(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := testCtx(t)
	zero, far := key("zero", 1), key("far", 1)
	if err := s.Create(ctx, zero, []byte("x"), time.Time{}); err != nil {
		t.Fatalf("Create with the zero time: %v", err)
	}
	if _, err := s.Load(ctx, zero); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load of a key created with the zero time: err = %v, want ErrNotFound", err)
	}
	if err := s.Create(ctx, far, []byte("x"), time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("Create with year 20000: %v", err)
	}
	if _, err := s.Load(ctx, far); err != nil {
		t.Fatalf("Load of a key that expires in year 20000: %v", err)
	}
	if err := s.Update(ctx, far, []byte("y"), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("Update with year -5: %v", err)
	}
	if _, err := s.Load(ctx, far); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("Load after an Update into the past: err = %v, want ErrNotFound", err)
	}
}

var badKeys = []string{
	"",
	"short",
	strings.Repeat("a", server.MinKeyLen-1),
	strings.Repeat("a", server.MaxKeyLen+1),
	"AAAAAAAAAAAAAAAAAAAAAAAA",
	"aaaaaaaaaaaaaaaa' OR '1'='1",
	"../../../../etc/passwd0000",
	"aaaaaaaaaaaaaaaa\x00",
	"aaaaaaaaaaaaaaaa%",
	"aaaaaaaaaaaaaaa_",
	"ééééééééééééééééé",
}

// TestInvalidKeysDoNoIO runs every operation with invalid keys on a store
// whose database is closed: the error must be ErrInvalidKey, which proves
// that the key was refused before any I/O.
func TestInvalidKeysDoNoIO(t *testing.T) {
	db, err := sql.Open("mysql", "u:p@tcp(127.0.0.1:1)/none")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newStore(db, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, k := range badKeys {
		ops := map[string]error{
			"Load":   func() error { _, err := s.Load(ctx, k); return err }(),
			"Create": s.Create(ctx, k, []byte("x"), exp),
			"Update": s.Update(ctx, k, []byte("x"), exp),
			"Delete": s.Delete(ctx, k),
		}
		for op, err := range ops {
			if !errors.Is(err, server.ErrInvalidKey) {
				t.Errorf("%s(%q): err = %v, want ErrInvalidKey", op, k, err)
			}
		}
	}
	// The same store does reach the database for a valid key.
	if _, err := s.Load(ctx, key("valid", 1)); err == nil || errors.Is(err, server.ErrInvalidKey) {
		t.Fatalf("Load of a valid key on a closed database: err = %v, want a database error", err)
	}
}

func TestBlobTooLarge(t *testing.T) {
	db, err := sql.Open("mysql", "u:p@tcp(127.0.0.1:1)/none")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := newStore(db, Config{})
	if err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, MaxBlobLen+1)
	ctx := context.Background()
	if err := s.Create(ctx, key("big", 1), blob, time.Now().Add(time.Hour)); !errors.Is(err, ErrBlobTooLarge) {
		t.Fatalf("Create: err = %v, want ErrBlobTooLarge", err)
	}
	if err := s.Update(ctx, key("big", 1), blob, time.Now().Add(time.Hour)); !errors.Is(err, ErrBlobTooLarge) {
		t.Fatalf("Update: err = %v, want ErrBlobTooLarge", err)
	}
}
