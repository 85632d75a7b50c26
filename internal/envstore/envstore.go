// Package envstore builds the server-side session store named by
// environment variables, for the programs of this module (the demo and
// clearsessions):
//
//	SESSION_STORE        memory | file | mysql; unset or empty: no store
//	SESSION_FILE_PATH    the file store's directory (required by file)
//	SESSION_MYSQL_DSN    user:password@tcp(host:port)/dbname (required by mysql)
//	SESSION_MYSQL_TABLE  the mysql store's table (optional, default sessions)
//
// The directory of SESSION_FILE_PATH must exist (Open does not create it);
// keep it private to the application (mode 0700). With SESSION_STORE=mysql,
// Open connects and creates the table if it does
// not exist (mysql.Store.Migrate, CREATE TABLE IF NOT EXISTS), so the user
// in the DSN needs the CREATE privilege on the database. Variables of the
// stores that SESSION_STORE does not name are ignored.
package envstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/memory"
	"github.com/sessionkit/session/server/mysql"
)

// The names of the variables Open reads.
const (
	VarStore      = "SESSION_STORE"
	VarFilePath   = "SESSION_FILE_PATH"
	VarMySQLDSN   = "SESSION_MYSQL_DSN"
	VarMySQLTable = "SESSION_MYSQL_TABLE"
)

// Stores lists the accepted values of SESSION_STORE.
var Stores = []string{"memory", "file", "mysql"}

// ErrConfig is matched by errors.Is for every error about a variable's
// value: unknown store, missing path or DSN, bad table name.
var ErrConfig = errors.New("invalid session store configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Open builds the store that the variables read through lookup describe
// (see the package documentation). lookup has the signature of
// os.LookupEnv; tests pass a map's.
//
// It returns the store and closeStore, which releases it (closes the MySQL
// connection pool, for one). With SESSION_STORE unset or empty it returns
// a nil store, a closeStore that does nothing and no error: the cookie
// engine needs no store. closeStore is never nil.
func Open(ctx context.Context, lookup func(string) (string, bool)) (store server.Store, closeStore func() error, err error) {
	noop := func() error { return nil }
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	kind := strings.ToLower(get(VarStore))
	switch kind {
	case "":
		return nil, noop, nil
	case "memory":
		m := memory.New()
		return m, m.Close, nil
	case "file":
		dir := get(VarFilePath)
		if dir == "" {
			return nil, noop, configErr("%s=file needs %s, the directory that holds the session files", VarStore, VarFilePath)
		}
		st, err := file.New(dir)
		if err != nil {
			return nil, noop, fmt.Errorf("%w: %s: %w", ErrConfig, VarFilePath, err)
		}
		return st, noop, nil
	case "mysql":
		dsn := get(VarMySQLDSN)
		if dsn == "" {
			return nil, noop, configErr("%s=mysql needs %s (user:password@tcp(host:port)/dbname)", VarStore, VarMySQLDSN)
		}
		table := get(VarMySQLTable)
		if table != "" {
			if err := mysql.ValidateTable(table); err != nil {
				return nil, noop, fmt.Errorf("%w: %s=%q: %w", ErrConfig, VarMySQLTable, table, err)
			}
		}
		st, err := mysql.Open(dsn, mysql.Config{Table: table})
		if err != nil {
			// The DSN holds a password: name the variable, not its value.
			return nil, noop, fmt.Errorf("%w: %s: %w", ErrConfig, VarMySQLDSN, err)
		}
		if err := st.Migrate(ctx); err != nil {
			_ = st.Close()
			return nil, noop, fmt.Errorf("%s=mysql: creating table %q on the server named by %s: %w", VarStore, st.Table(), VarMySQLDSN, err)
		}
		return st, st.Close, nil
	default:
		return nil, noop, configErr("%s=%q: want one of %s, or leave it empty for no store", VarStore, get(VarStore), strings.Join(Stores, ", "))
	}
}

// FromEnv is Open with os.LookupEnv.
func FromEnv(ctx context.Context) (server.Store, func() error, error) {
	return Open(ctx, os.LookupEnv)
}
