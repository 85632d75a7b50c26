package session

import (
	"os"
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
