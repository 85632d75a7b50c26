package session

import (
	"context"
	"testing"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/mysql"
)

// The Django suite runs against the file and MySQL stores too.
func init() {
	extraEngineCases = append(extraEngineCases,
		engineCase{name: "server-file", engine: EngineServer, keyed: true, newStore: newFileStore},
		engineCase{name: "server-mysql", engine: EngineServer, keyed: true, newStore: newMySQLStore},
	)
}

func newFileStore(t *testing.T) server.Store {
	s, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newMySQLStore returns a store on a table of its own, dropped at the end.
func newMySQLStore(t *testing.T) server.Store {
	t.Helper()
	dsn := testenv.MySQLDSN(t)
	table := testenv.Unique("sessions_root_")
	s, err := mysql.Open(dsn, mysql.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.DB().Exec("DROP TABLE IF EXISTS `" + table + "`, `" + table + mysql.UsersSuffix + "`")
		s.Close()
	})
	return s
}
