package sessionenv

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/django"
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/memory"
)

// setEnv gives the process exactly the SESSION_ variables in vars for one
// test (the SESSION_TEST_ ones, which name the test servers, stay).
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SESSION_") && !strings.HasPrefix(k, "SESSION_TEST_") {
			t.Setenv(k, "") // restored when the test ends
			os.Unsetenv(k)
		}
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

const secret = "a test secret of at least thirty-two bytes"

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	setEnv(t, map[string]string{"SESSION_ENGINE": "server", "SESSION_SERIALIZER": "json", "SESSION_STORE": "file", "SESSION_FILE_PATH": dir})
	cfg, closeStore, err := Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if _, ok := cfg.Store.(*file.Store); !ok || cfg.Engine != session.EngineServer || cfg.Serializer != "json" {
		t.Errorf("Load: store %T, engine %q, serializer %q", cfg.Store, cfg.Engine, cfg.Serializer)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"SESSION_ENGINE": "server"}, []string{"SESSION_ENGINE=server", "SESSION_STORE", "memory, file, mysql, postgres, sqlite, redis, cached"}},
		{map[string]string{"SESSION_ENGINE": "auto", "SESSION_STORE": " "}, []string{"SESSION_ENGINE=auto", "SESSION_STORE"}},
		{map[string]string{"SESSION_COOKIE_SAMESITE": "sometimes"}, []string{"SESSION_COOKIE_SAMESITE"}},
		{map[string]string{"SESSION_STORE": "memcached"}, []string{"SESSION_STORE", `"memcached"`}},
	} {
		setEnv(t, tc.env)
		_, closeStore, err := Load(t.Context())
		if !errors.Is(err, session.ErrConfig) || closeStore == nil {
			t.Errorf("Load with %v: %v; want a session.ErrConfig and a close function", tc.env, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Load with %v: %q does not mention %q", tc.env, err, w)
			}
		}
	}
}

// New builds a Manager that works: a session saved in the store it names
// reads back.
func TestNew(t *testing.T) {
	setEnv(t, map[string]string{"SESSION_SECRET_KEY": secret, "SESSION_ENGINE": "server", "SESSION_STORE": "memory", "SESSION_COOKIE_NAME": "sid"})
	m, closeStore, err := New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		n, _ := session.Get[int](s, "n")
		s.Set("n", n+1)
		w.Write([]byte(strings.Repeat("x", n+1)))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Name != "sid" || len(c[0].Value) != 64 {
		t.Fatalf("Set-Cookie %v: want a server-engine reference in the sid cookie", c)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(c[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Body.String() != "xx" {
		t.Errorf("second request: %q, want the session read back from the store", rec.Body)
	}
}

// New fails on what session.New refuses, after releasing the store.
func TestNewErrors(t *testing.T) {
	setEnv(t, map[string]string{"SESSION_ENGINE": "server", "SESSION_STORE": "memory"})
	m, closeStore, err := New(t.Context())
	if err == nil || m != nil || closeStore == nil || !strings.Contains(err.Error(), "SecretKey") {
		t.Errorf("New without a secret: %v, %v; want an error about the secret", m, err)
	}
}

// Migrate does nothing for the stores that need nothing.
func TestMigrateNothing(t *testing.T) {
	fs, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []server.Store{memory.New(), fs} {
		if err := Migrate(t.Context(), st); err != nil {
			t.Errorf("Migrate(%T): %v", st, err)
		}
	}
}

// TestLoadDjango checks that Load opens Django's django_session table for
// Django's db engine, from SESSION_DJANGO_MYSQL_DSN or SESSION_MYSQL_DSN,
// and that the Manager it describes shares it.
func TestLoadDjango(t *testing.T) {
	setEnv(t, map[string]string{"SESSION_SECRET_KEY": secret, "SESSION_DJANGO": "share", "SESSION_DJANGO_SECRET_KEY": "django-insecure-0123456789"})
	if _, _, err := Load(t.Context()); !errors.Is(err, session.ErrConfig) || !strings.Contains(err.Error(), "SESSION_DJANGO_MYSQL_DSN") {
		t.Errorf("Load of Django's db engine without a DSN: %v", err)
	}
	dsn := testenv.MySQLDSN(t)
	testenv.DjangoPython(t) // Django's migrations made the table
	for _, v := range []string{"SESSION_MYSQL_DSN", "SESSION_DJANGO_MYSQL_DSN"} {
		setEnv(t, map[string]string{"SESSION_SECRET_KEY": secret, "SESSION_DJANGO": "share", "SESSION_DJANGO_SECRET_KEY": "django-insecure-0123456789", v: dsn})
		cfg, closeStore, err := Load(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		m, err := session.New(cfg)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		rec := httptest.NewRecorder()
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			session.FromRequest(r).Set("from", "sessionenv")
		})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		c := (&http.Response{Header: rec.Header()}).Cookies()
		if len(c) != 1 || !django.IsKey(c[0].Value) {
			t.Errorf("%s: the Manager did not save into Django's table: %v", v, rec.Header())
		} else if err := cfg.Django.Store.Delete(t.Context(), c[0].Value); err != nil {
			t.Error(err)
		}
		if err := closeStore(); err != nil {
			t.Error(err)
		}
	}
}
