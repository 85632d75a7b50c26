package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/session/server"
)

// expiryResolution is the coarsest expiry resolution the suite accepts from
// a server.ExpiryLoader: Redis keeps milliseconds, MySQL microseconds.
const expiryResolution = time.Millisecond

// testLoadWithExpiry checks server.ExpiryLoader, for stores that implement
// it: the blob and the expiry it was stored with (to the millisecond,
// never later), a copy the caller may change, and Load's answers for
// expired, deleted and invalid keys and for a done context.
func testLoadWithExpiry(t *testing.T, st server.Store) {
	s, ok := st.(server.ExpiryLoader)
	if !ok {
		t.Skip("the store does not implement server.ExpiryLoader (optional)")
	}
	ctx := context.Background()
	k := newKey(t, st)
	check := func(want []byte, exp time.Time) {
		t.Helper()
		blob, got, err := s.LoadWithExpiry(ctx, k)
		if err != nil || !bytes.Equal(blob, want) {
			t.Fatalf("LoadWithExpiry = %q, %v; want %q", blob, err, want)
		}
		if got.After(exp) || exp.Sub(got) >= expiryResolution {
			t.Errorf("LoadWithExpiry expiry = %v, want %v to within %v, not later", got, exp, expiryResolution)
		}
		blob[0] = 'X'
		if again, _ := st.Load(ctx, k); !bytes.Equal(again, want) {
			t.Errorf("changing the returned blob changed the stored one: %q", again)
		}
	}
	exp := time.Now().Add(hour).Add(123456789 * time.Nanosecond)
	mustCreate(t, st, k, []byte("first"), exp)
	check([]byte("first"), exp)
	exp2 := exp.Add(hour + 987654321*time.Nanosecond)
	if err := st.Update(ctx, k, []byte("second"), exp2); err != nil {
		t.Fatal(err)
	}
	check([]byte("second"), exp2)

	if err := st.Update(ctx, k, []byte("second"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LoadWithExpiry(ctx, k); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("LoadWithExpiry of an expired entry = %v, want ErrNotFound", err)
	}
	if err := st.Delete(ctx, k); err != nil {
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
