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

// drivers are the import path prefixes of the database drivers and
// clients the stores use, by the store that uses each.
var drivers = map[string][]string{
	"mysql":    {"github.com/go-sql-driver/"},
	"postgres": {"github.com/jackc/"},
	"sqlite":   {"modernc.org/"},
	"redis":    {"github.com/redis/"},
}

// isDriver reports whether a package is a database driver or client.
func isDriver(dep string) bool {
	if dep == "database/sql" {
		return true
	}
	for _, prefixes := range drivers {
		for _, p := range prefixes {
			if strings.HasPrefix(dep, p) {
				return true
			}
		}
	}
	return false
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

// Each store links its own driver and no other: a program that uses the
// MySQL store links neither pgx nor SQLite, and so on.
func TestEachStoreLinksOnlyItsDriver(t *testing.T) {
	for store := range drivers {
		var own bool
		for _, dep := range deps(t, "./server/"+store) {
			for other, prefixes := range drivers {
				for _, p := range prefixes {
					if !strings.HasPrefix(dep, p) {
						continue
					}
					if other == store {
						own = true
					} else {
						t.Errorf("package server/%s depends on %s, %s's driver", store, dep, other)
					}
				}
			}
		}
		if !own {
			t.Errorf("package server/%s links no package of its driver %v: the check cannot tell", store, drivers[store])
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
