package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
)

// The sides of the server.Store contract that depend on MySQL: escaping of
// binary blobs, NOT NULL and empty blobs, clientFoundRows, what the row holds
// after an Update, DATETIME(6) precision and range, and checks done before
// any I/O. The store-independent contract is storetest's (conformance_test.go).

func TestCreateLoadRoundTrip(t *testing.T) {
	// A limit above the default, for the large blob.
	s := openStore(t, "", Config{MaxLength: 2 << 20})
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
	// No server needed: the length is checked before any I/O.
	db, err := sql.Open("mysql", "u:p@tcp(127.0.0.1:1)/none")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, c := range []struct {
		cfg   Config
		limit int
	}{
		{Config{}, codec.DefaultMaxLength},
		{Config{MaxLength: 100}, 100},
		{Config{MaxLength: MaxBlobLen}, MaxBlobLen},
	} {
		s, err := newStore(db, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if s.MaxLength() != c.limit {
			t.Errorf("MaxLength() = %d, want %d", s.MaxLength(), c.limit)
		}
		blob := make([]byte, c.limit+1)
		for op, err := range map[string]error{
			"Create": s.Create(ctx, key("big", 1), blob, time.Now().Add(time.Hour)),
			"Update": s.Update(ctx, key("big", 1), blob, time.Now().Add(time.Hour)),
		} {
			if !errors.Is(err, server.ErrTooLarge) || !errors.Is(err, ErrBlobTooLarge) {
				t.Errorf("%s of %d bytes with MaxLength %d: err = %v, want server.ErrTooLarge", op, len(blob), c.limit, err)
			}
		}
	}
	for _, n := range []int{-1, MaxBlobLen + 1} {
		if _, err := newStore(db, Config{MaxLength: n}); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("MaxLength %d: err = %v, want ErrMisconfigured", n, err)
		}
	}
}
