package mysql

import (
	"database/sql"
	"errors"
	"fmt"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/session/server"
)

// MySQL's error numbers that the store acts on.
const (
	errDupEntry    = 1062 // ER_DUP_ENTRY
	errBadField    = 1054 // ER_BAD_FIELD_ERROR
	errNoSuchTable = 1146 // ER_NO_SUCH_TABLE
	errDeadlock    = 1213 // ER_LOCK_DEADLOCK
)

// isErrno reports whether err is the server's error with one of the
// numbers.
func isErrno(err error, numbers ...uint16) bool {
	var me *gomysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, n := range numbers {
		if me.Number == n {
			return true
		}
	}
	return false
}

// inserted maps what an INSERT of a new key returned: a duplicate key is
// server.ErrExists, anything else an error prefixed with what.
func inserted(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case isErrno(err, errDupEntry):
		return server.ErrExists
	}
	return fmt.Errorf("session store mysql: %s: %w", what, err)
}

// matched maps what an UPDATE of one live row returned: no row matched
// (with clientFoundRows, an unchanged row counts) is server.ErrNotFound,
// an error is prefixed with what.
func matched(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("session store mysql: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("session store mysql: %s: %w", what, err)
	}
	if n == 0 {
		return server.ErrNotFound
	}
	return nil
}

// rowsAffected returns the number of rows the statement that gave res
// changed, or err.
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
