package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/sessionkit/session/internal/sqlconf"
	"github.com/sessionkit/session/server"
)

// UsersSuffix names the user index's table: the sessions table's name
// followed by it ("sessions_users" by default). Migrate creates it.
const UsersSuffix = "_users"

var _ server.Index = (*Store)(nil)

// usersQueries sets the statements and the schema of the user index, on
// the table Table()+UsersSuffix; data is the expression that reads the
// data column, NULL for a blob over MaxLength.
func (s *Store) usersQueries(data string) {
	name := s.table + UsersSuffix
	t := `"` + name + `"`
	s.queries[stmtBind] = "INSERT INTO " + t + " (user_key, entry_id, data, expiry) VALUES (?, ?, ?, ?)" +
		" ON CONFLICT (user_key, entry_id) DO UPDATE SET data = excluded.data, expiry = excluded.expiry"
	s.queries[stmtTouch] = "UPDATE " + t + " SET data = ?, expiry = ? WHERE user_key = ? AND entry_id = ? AND expiry > ?"
	s.queries[stmtEntries] = "SELECT entry_id, " + data + ", expiry FROM " + t + " WHERE user_key = ? AND expiry > ?"
	s.queries[stmtDeleteExpiredEntries] = fmt.Sprintf("DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s WHERE expiry <= ? LIMIT %d)", t, t, s.batch)
	s.qUnbind = "DELETE FROM " + t + " WHERE user_key = ? AND entry_id IN "
	s.qMigrate = append(s.qMigrate,
		"CREATE TABLE IF NOT EXISTS "+t+" (\n"+
			"  user_key TEXT    NOT NULL,\n"+
			"  entry_id TEXT    NOT NULL,\n"+
			"  data     BLOB    NOT NULL,\n"+
			"  expiry   INTEGER NOT NULL,\n"+
			"  PRIMARY KEY (user_key, entry_id)\n"+
			")",
		`CREATE INDEX IF NOT EXISTS "`+name+`_expiry_idx" ON `+t+" (expiry)",
	)
}

// checkEntry validates a user key and entry IDs for op.
func checkEntry(op, user string, ids ...string) error {
	if err := server.ValidateEntry(user, ids...); err != nil {
		return fmt.Errorf("session store sqlite: %s: %w", op, err)
	}
	return nil
}

// Bind stores blob as user's entry id until expires, replacing the entry
// if there is one: one statement, INSERT … ON CONFLICT DO UPDATE.
func (s *Store) Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkEntry("bind", user, id); err != nil {
		return err
	}
	blob, err := s.checkBlob("bind", blob)
	if err != nil {
		return err
	}
	if _, err := s.write(ctx, stmtBind, user, id, blob, dbTime(expires)); err != nil {
		return fmt.Errorf("session store sqlite: bind: %w", err)
	}
	return nil
}

// Touch replaces user's entry id if it exists and has not expired, in one
// statement; otherwise it returns server.ErrNotFound. Writes go one at a
// time, so a Touch after an Unbind of its entry finds no row.
func (s *Store) Touch(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkEntry("touch", user, id); err != nil {
		return err
	}
	blob, err := s.checkBlob("touch", blob)
	if err != nil {
		return err
	}
	n, err := s.write(ctx, stmtTouch, blob, dbTime(expires), user, id, now())
	if err != nil {
		return fmt.Errorf("session store sqlite: touch: %w", err)
	}
	if n == 0 {
		return server.ErrNotFound
	}
	return nil
}

// Entries returns user's unexpired entries, in one statement on the read
// pool. A blob over MaxLength is not read (NULL comes in its place); it
// makes the call fail with an error wrapping server.ErrTooLarge.
func (s *Store) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	if err := checkEntry("entries", user); err != nil {
		return nil, err
	}
	st, err := s.stmt(ctx, stmtEntries)
	if err != nil {
		return nil, fmt.Errorf("session store sqlite: entries: %w", err)
	}
	rows, err := st.QueryContext(ctx, user, now())
	if err != nil {
		return nil, fmt.Errorf("session store sqlite: entries: %w", err)
	}
	defer rows.Close()
	var out []server.Entry
	for rows.Next() {
		var (
			e      server.Entry
			data   sql.Null[[]byte]
			expiry int64
		)
		if err := rows.Scan(&e.ID, &data, &expiry); err != nil {
			return nil, fmt.Errorf("session store sqlite: entries: %w", err)
		}
		if !data.Valid {
			return nil, fmt.Errorf("session store sqlite: entries: %w: a stored entry is longer than MaxLength %d", server.ErrTooLarge, s.maxLen)
		}
		e.Blob = data.V
		if e.Blob == nil {
			e.Blob = []byte{}
		}
		e.Expires = time.UnixMicro(expiry).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session store sqlite: entries: %w", err)
	}
	return out, nil
}

// Unbind removes user's entries with the given IDs, in one statement:
// DELETE … WHERE entry_id IN (?, …), prepared for the call.
func (s *Store) Unbind(ctx context.Context, user string, ids ...string) error {
	if err := checkEntry("unbind", user, ids...); err != nil {
		return err
	}
	if len(ids) == 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("session store sqlite: unbind: %w", err)
		}
		return nil
	}
	args := make([]any, 0, 1+len(ids))
	args = append(args, user)
	for _, id := range ids {
		args = append(args, id)
	}
	q := s.qUnbind + "(?" + strings.Repeat(", ?", len(ids)-1) + ")"
	if err := s.lockWriter(ctx); err != nil {
		return fmt.Errorf("session store sqlite: unbind: %w", err)
	}
	defer s.unlockWriter()
	if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("session store sqlite: unbind: %w", err)
	}
	return nil
}

// noSuchTable reports SQLite's error for a table that does not exist.
func noSuchTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table")
}

// deleteExpiredEntries removes the user index's entries that expired
// before cutoff, batch by batch. A missing table (the database was
// migrated before the index existed) has none.
func (s *Store) deleteExpiredEntries(ctx context.Context, cutoff int64) error {
	_, err := sqlconf.DeleteBatches(ctx, s.batch, func(ctx context.Context) (int64, error) {
		n, err := s.write(ctx, stmtDeleteExpiredEntries, cutoff)
		if noSuchTable(err) {
			return 0, nil
		}
		return n, err
	})
	if err != nil {
		return fmt.Errorf("session store sqlite: delete expired entries: %w", err)
	}
	return nil
}
