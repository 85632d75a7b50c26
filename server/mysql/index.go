package mysql

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

// usersQueries returns the statements of the user index on the table
// t+UsersSuffix, reading at most maxLen bytes of a blob.
func usersQueries(table string, maxLen int) (q usersSQL) {
	t := "`" + table + UsersSuffix + "`"
	data := fmt.Sprintf("IF(LENGTH(data) <= %d, data, NULL)", maxLen)
	q.bind = "INSERT INTO " + t + " (user_key, entry_id, data, expiry) VALUES (?, ?, ?, ?)" +
		" ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)"
	q.touch = "UPDATE " + t + " SET data = ?, expiry = ? WHERE user_key = ? AND entry_id = ? AND expiry > ?"
	q.entries = "SELECT entry_id, " + data + ", expiry FROM " + t + " WHERE user_key = ? AND expiry > ?"
	q.unbind = "DELETE FROM " + t + " WHERE user_key = ? AND entry_id IN "
	q.deleteExpired = "DELETE FROM " + t + " WHERE expiry <= ? LIMIT %d"
	q.create = "CREATE TABLE IF NOT EXISTS " + t + " (\n" +
		"  user_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n" +
		"  entry_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n" +
		"  data     MEDIUMBLOB  NOT NULL,\n" +
		"  expiry   DATETIME(6) NOT NULL,\n" +
		"  PRIMARY KEY (user_key, entry_id),\n" +
		"  KEY expiry_idx (expiry)\n" +
		") ENGINE=InnoDB"
	return q
}

// usersSQL holds the statements of the user index.
type usersSQL struct {
	bind, touch, entries, unbind, deleteExpired, create string
}

// checkEntry validates a user key and entry IDs for op.
func checkEntry(op, user string, ids ...string) error {
	if err := server.ValidateEntry(user, ids...); err != nil {
		return fmt.Errorf("session store mysql: %s: %w", op, err)
	}
	return nil
}

// Bind stores blob as user's entry id until expires, replacing the entry
// if there is one: one statement.
func (s *Store) Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkEntry("bind", user, id); err != nil {
		return err
	}
	blob, err := s.checkBlob("bind", blob)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.users.bind, user, id, blob, dbTime(expires)); err != nil {
		return fmt.Errorf("session store mysql: bind: %w", err)
	}
	return nil
}

// Touch replaces user's entry id if it exists and has not expired, in one
// statement; otherwise it returns server.ErrNotFound.
func (s *Store) Touch(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	if err := checkEntry("touch", user, id); err != nil {
		return err
	}
	blob, err := s.checkBlob("touch", blob)
	if err != nil {
		return err
	}
	res, err := s.exec(ctx, s.users.touch, blob, dbTime(expires), user, id, now())
	return matched(res, err, "touch")
}

// Entries returns user's unexpired entries, in one statement. An entry
// whose blob is over MaxLength is not sent by the server; it makes the
// call fail with an error wrapping server.ErrTooLarge.
func (s *Store) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	if err := checkEntry("entries", user); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.users.entries, user, now())
	if err != nil {
		return nil, fmt.Errorf("session store mysql: entries: %w", err)
	}
	defer rows.Close()
	var out []server.Entry
	for rows.Next() {
		var (
			e    server.Entry
			data sql.Null[[]byte]
		)
		if err := rows.Scan(&e.ID, &data, &e.Expires); err != nil {
			return nil, fmt.Errorf("session store mysql: entries: %w", err)
		}
		if !data.Valid {
			return nil, fmt.Errorf("session store mysql: entries: %w: a stored entry is longer than MaxLength %d", server.ErrTooLarge, s.maxLen)
		}
		e.Blob = data.V
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session store mysql: entries: %w", err)
	}
	return out, nil
}

// Unbind removes user's entries with the given IDs, in one statement.
func (s *Store) Unbind(ctx context.Context, user string, ids ...string) error {
	if err := checkEntry("unbind", user, ids...); err != nil {
		return err
	}
	if len(ids) == 0 {
		return ctxErr(ctx)
	}
	args := make([]any, 0, 1+len(ids))
	args = append(args, user)
	for _, id := range ids {
		args = append(args, id)
	}
	q := s.users.unbind + "(?" + strings.Repeat(", ?", len(ids)-1) + ")"
	if _, err := s.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("session store mysql: unbind: %w", err)
	}
	return nil
}

// ctxErr returns ctx's error, wrapped, if it is done.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session store mysql: %w", err)
	}
	return nil
}

// deleteExpiredEntries removes the user index's expired entries, batch by
// batch, before cutoff.
func (s *Store) deleteExpiredEntries(ctx context.Context, cutoff time.Time) error {
	q := fmt.Sprintf(s.users.deleteExpired, s.batch)
	_, err := sqlconf.DeleteBatches(ctx, s.batch, func(ctx context.Context) (int64, error) {
		n, err := rowsAffected(s.exec(ctx, q, cutoff))
		if isErrno(err, errNoSuchTable) {
			return 0, nil // a store migrated before the index existed
		}
		return n, err
	})
	if err != nil {
		return fmt.Errorf("session store mysql: delete expired entries: %w", err)
	}
	return nil
}
