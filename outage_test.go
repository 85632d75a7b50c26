package session

import (
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
	// A server of its own: stopping the shared one would fail the MySQL
	// tests of the packages running at the same time.
	dsn, stop, start := privateServer(t, "mariadb", "SESSION_TEST_MYSQL_DSN")
	t.Setenv("SESSION_TEST_MYSQL_DSN", dsn)
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
