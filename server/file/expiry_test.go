package file

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
)

// expiryStore returns a store, a fresh key and the store's expiry resolution.
func expiryStore(t *testing.T) (*Store, string, time.Duration) {
	s, _ := newStore(t)
	return s, key(t), time.Nanosecond
}

// TestLoadWithExpiry checks the server.ExpiryLoader method: the blob and
// the expiry it was stored with (at the store's resolution, never later),
// a copy the caller may change, and Load's answers for unknown, expired
// and invalid keys and for a done context.
func TestLoadWithExpiry(t *testing.T) {
	s, k, resolution := expiryStore(t)
	ctx := context.Background()
	check := func(want []byte, exp time.Time) {
		t.Helper()
		blob, got, err := s.LoadWithExpiry(ctx, k)
		if err != nil || !bytes.Equal(blob, want) {
			t.Fatalf("LoadWithExpiry = %q, %v; want %q", blob, err, want)
		}
		if got.After(exp) || exp.Sub(got) >= resolution {
			t.Errorf("LoadWithExpiry expiry = %v, want %v to within %v, not later", got, exp, resolution)
		}
		blob[0] = 'X'
		if again, _ := s.Load(ctx, k); !bytes.Equal(again, want) {
			t.Errorf("changing the returned blob changed the stored one: %q", again)
		}
	}
	exp := time.Now().Add(time.Hour).Add(123456789 * time.Nanosecond)
	if err := s.Create(ctx, k, []byte("first"), exp); err != nil {
		t.Fatal(err)
	}
	check([]byte("first"), exp)
	exp2 := exp.Add(time.Hour + 987654321*time.Nanosecond)
	if err := s.Update(ctx, k, []byte("second"), exp2); err != nil {
		t.Fatal(err)
	}
	check([]byte("second"), exp2)

	if err := s.Update(ctx, k, []byte("second"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LoadWithExpiry(ctx, k); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("LoadWithExpiry of an expired entry = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LoadWithExpiry(ctx, k); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("LoadWithExpiry of a deleted entry = %v, want ErrNotFound", err)
	}
	if _, _, err := s.LoadWithExpiry(ctx, "../../etc/passwd"); !errors.Is(err, server.ErrInvalidKey) {
		t.Errorf("LoadWithExpiry of an invalid key = %v, want ErrInvalidKey", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.LoadWithExpiry(done, k); !errors.Is(err, context.Canceled) {
		t.Errorf("LoadWithExpiry with a cancelled context = %v, want context.Canceled", err)
	}
}
