package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessionkit/session/internal/sqlconf"
	"github.com/sessionkit/session/server"
)

// UsersSuffix names the user index's table: the sessions table's name
// followed by it ("sessions_users" by default). Migrate creates it.
const UsersSuffix = "_users"

var _ server.Index = (*Store)(nil)

// usersStatements are the statements of the user index.
type usersStatements struct {
	bind, touch, entries, unbind, deleteExpired *statement
}

// newUsersStatements returns the statements of the user index on the
// table table+UsersSuffix; data is the expression that reads the data
// column, NULL for a blob over MaxLength.
func newUsersStatements(table, data string, batch int) usersStatements {
	t := `"` + table + UsersSuffix + `"`
	return usersStatements{
		bind: newStatement("INSERT INTO "+t+" (user_key, entry_id, data, expiry) VALUES ($1, $2, $3, $4)"+
			" ON CONFLICT (user_key, entry_id) DO UPDATE SET data = excluded.data, expiry = excluded.expiry", bindOIDs, bindFormats),
		touch:   newStatement("UPDATE "+t+" SET data = $1, expiry = $2 WHERE user_key = $3 AND entry_id = $4 AND expiry > $5", touchOIDs, touchFormats),
		entries: newStatement("SELECT entry_id, "+data+", expiry FROM "+t+" WHERE user_key = $1 AND expiry > $2", loadOIDs, loadFormats),
		unbind:  newStatement("DELETE FROM "+t+" WHERE user_key = $1 AND entry_id = ANY($2)", unbindOIDs, unbindFormats),
		// As the sessions' DeleteExpired statement: the outer condition
		// is checked again on the row's latest version.
		deleteExpired: newStatement(fmt.Sprintf("DELETE FROM %s WHERE (user_key, entry_id) IN "+
			"(SELECT user_key, entry_id FROM %s WHERE expiry <= $1 LIMIT %d FOR UPDATE SKIP LOCKED) AND expiry <= $1", t, t, batch), expiredOIDs, expiredFmts),
	}
}

// usersSchema returns the statements that create the user index's table
// and its index on expiry, if they do not exist.
func usersSchema(table string) string {
	t := `"` + table + UsersSuffix + `"`
	return "CREATE TABLE IF NOT EXISTS " + t + " (\n" +
		"  user_key text COLLATE \"C\" NOT NULL,\n" +
		"  entry_id text COLLATE \"C\" NOT NULL,\n" +
		"  data     bytea       NOT NULL,\n" +
		"  expiry   timestamptz NOT NULL,\n" +
		"  PRIMARY KEY (user_key, entry_id)\n" +
		");\n" +
		`CREATE INDEX IF NOT EXISTS "` + table + UsersSuffix + `_expiry_idx" ON ` + t + " (expiry)"
}

// Parameter types and formats of the user index's statements.
const oidTextArray = 1009

var (
	bindOIDs      = []uint32{oidText, oidText, oidBytea, oidTimestamptz}
	bindFormats   = []int16{textFormat, textFormat, binaryFormat, binaryFormat}
	touchOIDs     = []uint32{oidBytea, oidTimestamptz, oidText, oidText, oidTimestamptz}
	touchFormats  = []int16{binaryFormat, binaryFormat, textFormat, textFormat, binaryFormat}
	unbindOIDs    = []uint32{oidText, oidTextArray}
	unbindFormats = []int16{textFormat, binaryFormat}
)

// encodeTextArray returns ids as a one-dimensional text[] in binary form:
// the number of dimensions, a flag for NULLs, the element type, the
// dimension's length and lower bound, then each element's length and
// bytes, every integer big-endian.
func encodeTextArray(ids []string) []byte {
	n := 20
	for _, id := range ids {
		n += 4 + len(id)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, 1) // dimensions
	b = binary.BigEndian.AppendUint32(b, 0) // no NULLs
	b = binary.BigEndian.AppendUint32(b, oidText)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	b = binary.BigEndian.AppendUint32(b, 1) // lower bound
	for _, id := range ids {
		b = binary.BigEndian.AppendUint32(b, uint32(len(id)))
		b = append(b, id...)
	}
	return b
}

// checkEntry validates a user key and entry IDs for op.
func checkEntry(op, user string, ids ...string) error {
	if err := server.ValidateEntry(user, ids...); err != nil {
		return fmt.Errorf("session store postgres: %s: %w", op, err)
	}
	return nil
}

// Bind stores blob as user's entry id until expires, replacing the entry
// if there is one: one statement, INSERT … ON CONFLICT DO UPDATE.
func (s *Store) Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkEntry("bind", user, id); err != nil {
		return err
	}
	if err := s.checkBlob("bind", blob); err != nil {
		return err
	}
	if blob == nil {
		blob = []byte{} // a nil parameter is NULL; the column is NOT NULL
	}
	if _, err := s.exec(ctx, s.users.bind, [][]byte{[]byte(user), []byte(id), blob, encodeTime(expires)}, nil); err != nil {
		return fmt.Errorf("session store postgres: bind: %w", err)
	}
	return nil
}

// Touch replaces user's entry id if it exists and has not expired, in one
// statement; otherwise it returns server.ErrNotFound. Like Update, a
// Touch that waits for a concurrent Unbind of its row then finds no row:
// it never brings the entry back.
func (s *Store) Touch(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkEntry("touch", user, id); err != nil {
		return err
	}
	if err := s.checkBlob("touch", blob); err != nil {
		return err
	}
	if blob == nil {
		blob = []byte{}
	}
	tag, err := s.exec(ctx, s.users.touch, [][]byte{blob, encodeTime(expires), []byte(user), []byte(id), now()}, nil)
	if err != nil {
		return fmt.Errorf("session store postgres: touch: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return server.ErrNotFound
	}
	return nil
}

// Entries returns user's unexpired entries, in one statement whatever
// their number. An entry whose blob is over MaxLength is not sent by the
// server (NULL comes in its place); it makes the call fail with an error
// wrapping server.ErrTooLarge.
func (s *Store) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	if err := checkEntry("entries", user); err != nil {
		return nil, err
	}
	var out []server.Entry
	_, err := s.exec(ctx, s.users.entries, [][]byte{[]byte(user), now()}, func(v [][]byte) error {
		if v[1] == nil {
			return errDataTooLarge
		}
		exp, err := decodeTime(v[2])
		if err != nil {
			return err
		}
		out = append(out, server.Entry{
			ID:      string(v[0]),
			Blob:    append(make([]byte, 0, len(v[1])), v[1]...),
			Expires: exp,
		})
		return nil
	})
	switch {
	case errors.Is(err, errDataTooLarge):
		return nil, fmt.Errorf("session store postgres: entries: %w: a stored entry is longer than MaxLength %d", server.ErrTooLarge, s.maxLen)
	case err != nil:
		return nil, fmt.Errorf("session store postgres: entries: %w", err)
	}
	return out, nil
}

// Unbind removes user's entries with the given IDs, in one statement:
// DELETE … WHERE entry_id = ANY($2), the IDs a text[] parameter.
func (s *Store) Unbind(ctx context.Context, user string, ids ...string) error {
	if err := checkEntry("unbind", user, ids...); err != nil {
		return err
	}
	if len(ids) == 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("session store postgres: unbind: %w", err)
		}
		return nil
	}
	if _, err := s.exec(ctx, s.users.unbind, [][]byte{[]byte(user), encodeTextArray(ids)}, nil); err != nil {
		return fmt.Errorf("session store postgres: unbind: %w", err)
	}
	return nil
}

// deleteExpiredEntries removes the user index's entries that expired
// before cutoff, batch by batch. A missing table (42P01: the store was
// migrated before the index existed) has none.
func (s *Store) deleteExpiredEntries(ctx context.Context, cutoff []byte) error {
	_, err := sqlconf.DeleteBatches(ctx, s.batch, func(ctx context.Context) (int64, error) {
		tag, err := s.exec(ctx, s.users.deleteExpired, [][]byte{cutoff}, nil)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
			return 0, nil
		}
		return tag.RowsAffected(), err
	})
	if err != nil {
		return fmt.Errorf("session store postgres: delete expired entries: %w", err)
	}
	return nil
}
