package session

import (
	"os"
	"testing"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server/mysql"
)

// TestMySQLOutage stops MariaDB while requests are in flight and starts it
// again. During the outage requests get the error response: never a panic,
// never an empty session served as if the user were logged out, nothing
// half-written. Afterwards the same Manager works again and every session
// saved before the outage is still there.
func TestMySQLOutage(t *testing.T) {
	testenv.MySQLDSN(t)
	if os.Getenv("MARIADB_STOP_CMD") == "" {
		if os.Getenv("MARIADB_PID") != "" {
			t.Fatal("MARIADB_STOP_CMD is not set; run `make test`")
		}
		t.Skip("the MariaDB server is not ours (no MARIADB_STOP_CMD): run `make test`, which starts one and can start more")
	}
	// A server of its own: stopping the shared one would fail the MySQL
	// tests of the packages running at the same time.
	v := privateServer(t, "mariadb.sh", "MARIADB_RUNDIR", "SESSION_TEST_MYSQL_DSN", "MARIADB_STOP_CMD", "MARIADB_START_CMD")
	stop, start := v["MARIADB_STOP_CMD"], v["MARIADB_START_CMD"]
	t.Setenv("SESSION_TEST_MYSQL_DSN", v["SESSION_TEST_MYSQL_DSN"])
	store := newMySQLStore(t).(*mysql.Store)
	m, err := New(Config{SecretKey: testSecret, Engine: EngineServer, Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := counterSite(t, m)
	clients := runOutage(t, srv.URL, stop, start, false)
	outage := 0
	for _, c := range clients {
		outage += c.outage
	}
	if outage == 0 {
		t.Fatal("no request failed while the server was down: the outage was not observed")
	}
	t.Logf("%d error responses during the outage", outage)
}
