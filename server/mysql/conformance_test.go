package mysql

import (
	"testing"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/storetest"
)

// TestConformance runs the shared store suite, each subtest on a fresh
// table of the test server.
func TestConformance(t *testing.T) {
	testenv.MySQLDSN(t) // skip (or fail) once, here, without a server
	storetest.Run(t, func(t *testing.T) server.Store {
		return openStore(t, "", Config{})
	})
}
