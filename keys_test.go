package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// By default a store sees only the SHA-256 of each session key, so that a
// leaked table yields no usable session; StoreRawKeys turns that off.
func TestStoreKeysAreHashed(t *testing.T) {
	for _, raw := range []bool{false, true} {
		store := memory.New()
		defer store.Close()
		ec := engineCase{name: "server", engine: EngineServer, keyed: true, newStore: func(*testing.T) server.Store { return store }}
		h := newHarness(t, ec, func(c *Config) { c.StoreRawKeys = raw })
		s := h.saved(map[string]any{"user": "alice"})
		key := s.Key()
		sum := sha256.Sum256([]byte(key))
		hashed := hex.EncodeToString(sum[:])
		ctx := context.Background()
		_, errRaw := store.Load(ctx, key)
		_, errHashed := store.Load(ctx, hashed)
		if raw {
			if errRaw != nil || !errors.Is(errHashed, server.ErrNotFound) {
				t.Errorf("StoreRawKeys: load by key: %v, by hash: %v", errRaw, errHashed)
			}
		} else if !errors.Is(errRaw, server.ErrNotFound) || errHashed != nil {
			t.Errorf("default: load by key: %v (want not found), by hash: %v", errRaw, errHashed)
		}
		if store.Len() != 1 {
			t.Errorf("store holds %d entries", store.Len())
		}
	}
}
