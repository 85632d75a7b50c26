package session

import (
	"os"
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
	for _, pkg := range []string{".", "./codec", "./cookie", "./serializer", "./django", "./server", "./server/memory", "./server/file"} {
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

// frameworks are the web frameworks that adapters in contrib/ integrate:
// each adapter is a module of its own, so that the main module never
// depends on one.
var frameworks = []string{"github.com/gin-gonic/", "github.com/labstack/echo", "github.com/gofiber/", "github.com/go-chi/", "github.com/valyala/fasthttp", "github.com/gin-contrib/"}

// The main module requires no web framework, and none of its packages
// links one.
func TestNoFrameworkDependency(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "-deps", "-test", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, f := range frameworks {
		if strings.Contains(string(mod), f) {
			t.Errorf("go.mod requires %s…", f)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, f) {
				t.Errorf("a package of the main module depends on %s", dep)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/sessionkit/session/internal/adaptertest") {
		t.Error("go list -deps ./... does not list the packages it should: the check would pass whatever they import")
	}
}
