package session

import (
	"os"
	"testing"

	"github.com/sessionkit/session/server/mysql"
)

// TestMySQLOutage stops MariaDB while requests are in flight and starts it
// again. During the outage requests get the error response: never a panic,
// never an empty session served as if the user were logged out, nothing
// half-written. Afterwards the same Manager works again and every session
// saved before the outage is still there.
func TestMySQLOutage(t *testing.T) {
	mysqlDSN(t)
	stop, start := os.Getenv("MARIADB_STOP_CMD"), os.Getenv("MARIADB_START_CMD")
	if stop == "" || start == "" {
		if os.Getenv("SESSION_TEST_REQUIRE_MYSQL") == "1" && os.Getenv("MARIADB_PID") != "" {
			t.Fatal("MARIADB_STOP_CMD and MARIADB_START_CMD are not set; run `make test`")
		}
		t.Skip("the server is not ours to stop (no MARIADB_STOP_CMD/MARIADB_START_CMD): run `make test`")
	}
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
