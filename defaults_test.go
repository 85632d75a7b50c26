package session

import (
	"testing"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server/cached"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/postgres"
	"github.com/sessionkit/session/server/redis"
	"github.com/sessionkit/session/server/sqlite"
)

// TestDocumentedDefaults holds the defaults that README.md and SECURITY.md
// state in figures to those figures, so that changing one changes the
// documents too.
func TestDocumentedDefaults(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"DefaultRevalidateInterval", DefaultRevalidateInterval, 60 * time.Second},
		{"the moved copy's grace (one more minute)", movedGrace, time.Minute},
		{"codec.DefaultCompressThreshold (no compression under 256 bytes)", codec.DefaultCompressThreshold, 256},
		{"codec.AutoZstdFrom (zstd from 512 bytes)", codec.AutoZstdFrom, 512},
		{"codec.DefaultMaxLength (1 MiB)", codec.DefaultMaxLength, 1 << 20},
		{"cached.DefaultMaxTTL (one minute)", cached.DefaultMaxTTL, time.Minute},
		{"cached.DefaultCoolDown (five seconds)", cached.DefaultCoolDown, 5 * time.Second},
		{"redis.DefaultWaitTimeout (500 ms)", redis.DefaultWaitTimeout, 500 * time.Millisecond},
		{"mysql.DefaultDeleteBatch", mysql.DefaultDeleteBatch, 1000},
		{"postgres.DefaultDeleteBatch", postgres.DefaultDeleteBatch, 1000},
		{"sqlite.DefaultDeleteBatch", sqlite.DefaultDeleteBatch, 1000},
		{"mysql.DefaultMaxOpenConns", mysql.DefaultMaxOpenConns, 32},
		{"mysql.DefaultMaxIdleConns", mysql.DefaultMaxIdleConns, 32},
		{"mysql.DefaultConnMaxLifetime", mysql.DefaultConnMaxLifetime, 3 * time.Minute},
		{"mysql.DefaultConnMaxIdleTime", mysql.DefaultConnMaxIdleTime, time.Minute},
		{"mysql.DefaultDialTimeout", mysql.DefaultDialTimeout, 10 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, but the documents say %v", c.name, c.got, c.want)
		}
	}
}
