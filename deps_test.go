package session

import (
	"os/exec"
	"strings"
	"testing"
)

// A program that uses only cookie sessions must not link a database
// driver: each store lives in its own package.
func TestCookieOnlyLinksNoDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "go-sql-driver") || strings.HasPrefix(dep, "github.com/sessionkit/session/server/") || dep == "database/sql" {
			t.Errorf("package session depends on %s", dep)
		}
	}
}
