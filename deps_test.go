package session

import (
	"os/exec"
	"strings"
	"testing"
)

// deps returns the packages that pkg links.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// isDriver reports whether a package is a database driver or client.
func isDriver(dep string) bool {
	return strings.Contains(dep, "go-sql-driver") || strings.Contains(dep, "go-redis") || dep == "database/sql"
}

// A program that uses only cookie sessions must not link a database
// driver: each store lives in its own package, and so does the package
// that builds every store from the environment.
func TestCookieOnlyLinksNoDriver(t *testing.T) {
	for _, pkg := range []string{".", "./codec", "./cookie", "./serializer", "./server", "./server/memory", "./server/file"} {
		for _, dep := range deps(t, pkg) {
			if isDriver(dep) || pkg == "." && (strings.HasPrefix(dep, "github.com/sessionkit/session/server/") || strings.HasSuffix(dep, "/sessionenv")) {
				t.Errorf("package %s depends on %s", pkg, dep)
			}
		}
	}
	// The check sees the drivers where they are.
	var found []string
	for _, dep := range deps(t, "./sessionenv") {
		if isDriver(dep) && !strings.Contains(dep, "/internal/") {
			found = append(found, dep)
		}
	}
	if len(found) == 0 {
		t.Error("package sessionenv links no driver: the check above cannot tell")
	}
}
