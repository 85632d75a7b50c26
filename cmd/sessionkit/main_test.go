package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/postgres"
	"github.com/sessionkit/session/server/redis"
	"github.com/sessionkit/session/server/sqlite"
)

// bin is the command, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionkit-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "sessionkit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// exe runs the command with args, an environment of env alone (plus
// PATH) and stdin, and returns what it did.
func exe(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return result{0, stdout.String(), stderr.String()}
	case errors.As(err, &exit):
		return result{exit.ExitCode(), stdout.String(), stderr.String()}
	}
	t.Fatalf("running %s: %v", bin, err)
	return result{}
}

// want fails the test unless r exited with code and its outputs contain
// the given texts ("out:" for standard output, else standard error).
func (r result) want(t *testing.T, code int, texts ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, w := range texts {
		out, text := r.stderr, w
		if s, ok := strings.CutPrefix(w, "out:"); ok {
			out, text = r.stdout, s
		}
		if !strings.Contains(out, text) {
			t.Errorf("output does not contain %q\nstdout: %s\nstderr: %s", text, r.stdout, r.stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	exe(t, nil, "").want(t, exitUsage, "usage: sessionkit COMMAND", "Exit status")
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		r := exe(t, nil, "", args...)
		r.want(t, exitOK, "out:keygen", "out:decode", "out:clear-expired", "out:migrate", "out:ping", "out:Exit status")
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			exe(t, nil, "", args...).want(t, exitOK, "out:usage: sessionkit "+c.name, "out:Exit status")
		}
	}
	exe(t, nil, "", "frobnicate").want(t, exitUsage, `unknown command "frobnicate"`)
	exe(t, nil, "", "help", "frobnicate").want(t, exitUsage, `unknown command "frobnicate"`)
	exe(t, nil, "", "keygen", "-nosuch").want(t, exitUsage, "flag provided but not defined: -nosuch", "usage: sessionkit keygen")
	exe(t, nil, "", "ping", "extra").want(t, exitUsage, `unexpected argument "extra"`)
}

func TestKeygen(t *testing.T) {
	r := exe(t, nil, "", "keygen")
	r.want(t, exitOK)
	key := strings.TrimSuffix(r.stdout, "\n")
	if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) != 32 || strings.ContainsAny(key, " \t\n") {
		t.Fatalf("keygen printed %q: want the base64 of 32 bytes on one line", r.stdout)
	}
	if again := exe(t, nil, "", "keygen").stdout; again == r.stdout {
		t.Error("two keys are the same")
	}
	// The key is what the configuration reads, in the variable and in a
	// file written from the output as it is.
	t.Setenv("SESSION_SECRET_KEY", key)
	cfg, err := session.ConfigFromEnv()
	if err != nil || string(cfg.SecretKey) != key {
		t.Fatalf("SESSION_SECRET_KEY from keygen: %q, %v", cfg.SecretKey, err)
	}
	if _, err := session.New(cfg); err != nil {
		t.Fatalf("session.New with the key: %v", err)
	}
	os.Unsetenv("SESSION_SECRET_KEY")
	path := filepath.Join(t.TempDir(), "key")
	os.WriteFile(path, []byte(r.stdout), 0o600)
	t.Setenv("SESSION_SECRET_KEY_FILE", path)
	if cfg, err := session.ConfigFromEnv(); err != nil || string(cfg.SecretKey) != key {
		t.Fatalf("SESSION_SECRET_KEY_FILE with keygen's output: %q, %v", cfg.SecretKey, err)
	}

	r = exe(t, nil, "", "keygen", "-bytes", "64")
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout)); err != nil || len(b) != 64 {
		t.Errorf("keygen -bytes 64: %q", r.stdout)
	}
	exe(t, nil, "", "keygen", "-bytes", "16").want(t, exitUsage, "-bytes 16: want 32 to 1024")
	exe(t, nil, "", "keygen", "now").want(t, exitUsage, `unexpected argument "now"`)
}

const (
	key1 = "the first test key of thirty-two bytes or more"
	key2 = "the second test key also thirty-two bytes long"
)

type cartItem struct {
	SKU string  `json:"sku"`
	Qty int     `json:"qty"`
	Pri float64 `json:"price"`
}

// cookieFrom runs one request through a Manager of cfg that stores
// values, and returns its session cookie's value and the session ID.
func cookieFrom(t *testing.T, cfg session.Config, values map[string]any) (value, id string) {
	t.Helper()
	m, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Update(values)
		id = s.ID()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for _, c := range rec.Result().Cookies() {
		return c.Value, id
	}
	t.Fatalf("no cookie: %d %s", rec.Code, rec.Body)
	return "", ""
}

// decodedOut parses decode's output.
func decodedOut(t *testing.T, r result) decoded {
	t.Helper()
	var d decoded
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("decode printed %q: %v (stderr %s)", r.stdout, err, r.stderr)
	}
	return d
}

func TestDecode(t *testing.T) {
	env := map[string]string{"SESSION_SECRET_KEY": key1}
	values := map[string]any{"user": "ada", "n": 3, "cart": []cartItem{{"SKU-1", 2, 9.5}}, "raw": []byte{1, 2}}
	value, id := cookieFrom(t, session.Config{SecretKey: []byte(key1)}, values)

	for name, r := range map[string]result{
		"argument":   exe(t, env, "", "decode", value),
		"stdin":      exe(t, env, value+"\n", "decode"),
		"stdin -":    exe(t, env, value, "decode", "-"),
		"NAME=VALUE": exe(t, env, "", "decode", "sessionid="+value),
	} {
		r.want(t, exitOK)
		d := decodedOut(t, r)
		if d.Kind != "data" || d.VerifiedWith != "SESSION_SECRET_KEY" || d.Encryption != "encrypted" || d.Serializer != "msgpack" || d.Compression == "" || d.ID != id || d.Expired {
			t.Errorf("%s: header %+v", name, d)
		}
		if d.Created == nil || d.Expires == nil || !d.Expires.After(*d.Created) || time.Since(*d.Created) > time.Minute {
			t.Errorf("%s: created %v, expires %v", name, d.Created, d.Expires)
		}
		cart, _ := json.Marshal(d.Values["cart"])
		if d.Values["user"] != "ada" || d.Values["n"] != 3.0 || string(cart) != `[{"price":9.5,"qty":2,"sku":"SKU-1"}]` || d.Values["raw"] != "AQI=" {
			t.Errorf("%s: values %v", name, d.Values)
		}
		if d.Types["n"] != "int64" || d.Types["raw"] != "[]uint8" || d.Types["cart"] != "[]interface {}" {
			t.Errorf("%s: types %v", name, d.Types)
		}
	}

	t.Run("fallback key, signed only, json", func(t *testing.T) {
		old, _ := cookieFrom(t, session.Config{SecretKey: []byte(key1), SignOnly: true, Serializer: "json"}, values)
		r := exe(t, map[string]string{"SESSION_SECRET_KEY": key2, "SESSION_SECRET_KEY_FALLBACKS": key1}, "", "decode", old)
		r.want(t, exitOK)
		if d := decodedOut(t, r); d.VerifiedWith != "SESSION_SECRET_KEY_FALLBACKS[1]" || d.Encryption != "signed only" || d.Serializer != "json" {
			t.Errorf("header %+v", d)
		}
	})

	t.Run("errors", func(t *testing.T) {
		exe(t, map[string]string{"SESSION_SECRET_KEY": key2}, "", "decode", value).want(t, exitFailed, "does not verify")
		exe(t, map[string]string{"SESSION_SECRET_KEY": key1, "SESSION_COOKIE_NAME": "sid"}, "", "decode", value).want(t, exitFailed, "does not verify", "another cookie name")
		exe(t, env, "", "decode", "not-a-session").want(t, exitFailed, "malformed")
		exe(t, env, "", "decode", strings.Repeat("A", 64)).want(t, exitFailed, "does not verify")
		exe(t, nil, "", "decode", value).want(t, exitConfig, "SESSION_SECRET_KEY (or SESSION_SECRET_KEY_FILE) is not set")
		exe(t, map[string]string{"SESSION_SECRET_KEY": "short"}, "", "decode", value).want(t, exitConfig, "SESSION_SECRET_KEY", "at least 32 bytes")
		exe(t, map[string]string{"SESSION_SECRET_KEY": key1, "SESSION_SERIALIZER": "pickle"}, "", "decode", value).want(t, exitConfig, "SESSION_SERIALIZER")
		exe(t, env, "", "decode", value, value).want(t, exitUsage, "give one value")
		exe(t, env, "", "decode", "-store-key", "UPPER", value).want(t, exitUsage, "-store-key")
		exe(t, env, "", "decode").want(t, exitUsage, "no value")
	})

	t.Run("expired", func(t *testing.T) {
		past := time.Now().Add(-48 * time.Hour)
		old, _ := cookieFrom(t, session.Config{SecretKey: []byte(key1), CookieAge: time.Hour, Now: func() time.Time { return past }}, values)
		r := exe(t, env, "", "decode", old)
		r.want(t, exitFailed, "the session expired at")
		if d := decodedOut(t, r); !d.Expired || d.Values["user"] != "ada" {
			t.Errorf("an expired session: %+v", d)
		}
	})

	t.Run("server engine, file store", func(t *testing.T) {
		dir := t.TempDir()
		st, err := file.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		ref, id := cookieFrom(t, session.Config{SecretKey: []byte(key1), Engine: session.EngineServer, Store: st}, values)
		if len(ref) != 64 {
			t.Fatalf("a server-engine cookie of %d characters", len(ref))
		}
		r := exe(t, env, "", "decode", ref)
		r.want(t, exitOK)
		d := decodedOut(t, r)
		if d.Kind != "reference" || d.Format != "compact" || d.VerifiedWith != "SESSION_SECRET_KEY" || d.Session != nil {
			t.Errorf("header %+v", d)
		}
		// The store key is the one the Manager stored the session under.
		blob, err := st.Load(context.Background(), d.StoreKey)
		if err != nil {
			t.Fatalf("the store has nothing under the printed store key %q: %v", d.StoreKey, err)
		}

		fileEnv := map[string]string{"SESSION_SECRET_KEY": key1, "SESSION_STORE": "file", "SESSION_FILE_PATH": dir}
		r = exe(t, fileEnv, "", "decode", "-load", ref)
		r.want(t, exitOK)
		if d := decodedOut(t, r); d.Session == nil || d.Session.Kind != "data" || d.Session.ID != id || d.Session.Values["user"] != "ada" {
			t.Errorf("decode -load: %+v", d.Session)
		}
		exe(t, env, "", "decode", "-load", ref).want(t, exitConfig, "SESSION_STORE")

		r = exe(t, env, string(blob), "decode", "-store-key", d.StoreKey)
		r.want(t, exitOK)
		if d := decodedOut(t, r); d.Kind != "data" || d.ID != id || d.Values["user"] != "ada" {
			t.Errorf("decode -store-key: %+v", d)
		}
		// A blob is bound to its store key.
		exe(t, env, string(blob), "decode", "-store-key", strings.Repeat("a", 64)).want(t, exitFailed, "does not verify")
		exe(t, env, "", "decode", "-load", "-store-key", d.StoreKey, string(blob)).want(t, exitUsage, "-load and -store-key")

		// Once the session is gone, -load says so.
		st.Delete(context.Background(), d.StoreKey)
		exe(t, fileEnv, "", "decode", "-load", ref).want(t, exitFailed, "the store has no session under")
	})

	t.Run("server engine, redis store", func(t *testing.T) {
		url := testenv.RedisURL(t)
		prefix := testenv.Unique("sessionkit-test:decode:") + ":"
		st, err := redis.Open(url, redis.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ref, id := cookieFrom(t, session.Config{SecretKey: []byte(key1), Engine: session.EngineServer, Store: st}, values)
		r := exe(t, map[string]string{"SESSION_SECRET_KEY": key1, "SESSION_STORE": "redis", "SESSION_REDIS_URL": url, "SESSION_REDIS_PREFIX": prefix}, "", "decode", "-load", ref)
		r.want(t, exitOK)
		d := decodedOut(t, r)
		defer st.Delete(context.Background(), d.StoreKey)
		if d.Session == nil || d.Session.ID != id || d.Session.Values["user"] != "ada" {
			t.Errorf("decode -load from Redis: %+v", d.Session)
		}
	})
}

const (
	liveKey    = "livesession0000000000000000000000"
	expiredKey = "expiredsession000000000000000000"
)

// seed writes one live and one expired session through st.
func seed(t *testing.T, st server.Store) {
	t.Helper()
	ctx := context.Background()
	if err := st.Create(ctx, liveKey, []byte("live"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Create live: %v", err)
	}
	if err := st.Create(ctx, expiredKey, []byte("expired"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatalf("Create expired: %v", err)
	}
}

// checkOnlyLiveLeft checks that the expired session is gone and the live
// one is intact.
func checkOnlyLiveLeft(t *testing.T, st server.Store) {
	t.Helper()
	ctx := context.Background()
	if b, err := st.Load(ctx, liveKey); err != nil || string(b) != "live" {
		t.Errorf("live session after clear-expired: %q, %v", b, err)
	}
	// Create succeeds only if the key is absent: the expired entry is
	// really gone, not merely unreadable.
	if err := st.Create(ctx, expiredKey, []byte("again"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("the expired session is still stored: Create: %v", err)
	}
}

// mysqlStore opens a store on a table of its own, dropped at the end,
// and returns it with the variables that name it.
func mysqlStore(t *testing.T, migrate bool) (*mysql.Store, map[string]string) {
	t.Helper()
	dsn := testenv.MySQLDSN(t)
	table := testenv.Unique("sessionkit_test_")
	st, err := mysql.Open(dsn, mysql.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.DB().Exec("DROP TABLE IF EXISTS `" + table + "`, `" + table + mysql.UsersSuffix + "`")
		st.Close()
	})
	if migrate {
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return st, map[string]string{"SESSION_STORE": "mysql", "SESSION_MYSQL_DSN": dsn, "SESSION_MYSQL_TABLE": table}
}

// tableExists reports whether the store's table is there.
func tableExists(t *testing.T, st *mysql.Store) bool {
	t.Helper()
	var n int
	err := st.DB().QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", st.Table()).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// postgresStore opens a store on a table of its own, dropped at the end,
// and returns it with the variables that name it.
func postgresStore(t *testing.T, migrate bool) (*postgres.Store, map[string]string) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	table := testenv.Unique("sessionkit_test_")
	st, err := postgres.Open(dsn, postgres.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Pool().Exec(context.Background(), `DROP TABLE IF EXISTS "`+table+`", "`+table+postgres.UsersSuffix+`"`)
		st.Close()
	})
	if migrate {
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return st, map[string]string{"SESSION_STORE": "postgres", "SESSION_POSTGRES_DSN": dsn, "SESSION_POSTGRES_TABLE": table}
}

// sqliteStore opens a store on a new file, and returns it with the
// variables that name it.
func sqliteStore(t *testing.T, migrate bool) (*sqlite.Store, map[string]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := sqlite.Open(path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if migrate {
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return st, map[string]string{"SESSION_STORE": "sqlite", "SESSION_SQLITE_PATH": path}
}

func TestClearExpired(t *testing.T) {
	t.Run("file store", func(t *testing.T) {
		dir := t.TempDir()
		st, _ := file.New(dir)
		seed(t, st)
		env := map[string]string{"SESSION_STORE": "file", "SESSION_FILE_PATH": dir}
		r := exe(t, env, "", "clear-expired")
		if r.code != 0 || r.stdout != "deleted 1 expired sessions\n" || r.stderr != "" {
			t.Fatalf("%+v; want 0, \"deleted 1 expired sessions\\n\", nothing", r)
		}
		if _, err := os.Stat(filepath.Join(dir, file.Prefix+expiredKey)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the expired session's file: %v, want it removed", err)
		}
		checkOnlyLiveLeft(t, st)
		exe(t, env, "", "clear-expired", "-timeout", "30s").want(t, exitOK, "out:deleted 0 expired sessions\n")
	})
	t.Run("cached store", func(t *testing.T) {
		dir := t.TempDir()
		st, _ := file.New(dir)
		seed(t, st)
		exe(t, map[string]string{"SESSION_STORE": "cached", "SESSION_CACHE_STORE": "memory", "SESSION_BACKING_STORE": "file", "SESSION_FILE_PATH": dir}, "", "clear-expired").
			want(t, exitOK, "out:deleted 1 expired sessions\n")
		checkOnlyLiveLeft(t, st)
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no store", nil, nil, exitConfig, "SESSION_STORE is not set"},
		{"memory store", map[string]string{"SESSION_STORE": "memory"}, nil, exitConfig, "server.Cleanup"},
		{"unknown store", map[string]string{"SESSION_STORE": "memcached"}, nil, exitConfig, "want one of memory, file, mysql, postgres, sqlite, redis, cached"},
		{"cached without backing", map[string]string{"SESSION_STORE": "cached", "SESSION_CACHE_STORE": "memory"}, nil, exitConfig, "SESSION_BACKING_STORE"},
		{"file without path", map[string]string{"SESSION_STORE": "file"}, nil, exitConfig, "SESSION_FILE_PATH"},
		{"missing directory", map[string]string{"SESSION_STORE": "file", "SESSION_FILE_PATH": "/nonexistent/sessions"}, nil, exitConfig, "does not exist"},
		{"bad variable", map[string]string{"SESSION_STORE": "file", "SESSION_COOKIE_AGE": "soon"}, nil, exitConfig, "SESSION_COOKIE_AGE"},
		{"unreachable MySQL", map[string]string{"SESSION_STORE": "mysql", "SESSION_MYSQL_DSN": "u:hunter2@tcp(127.0.0.1:1)/db"}, nil, exitFailed, "SESSION_MYSQL_DSN"},
		{"bad timeout", nil, []string{"-timeout", "soon"}, exitUsage, "invalid value"},
		{"zero timeout", nil, []string{"-timeout", "0s"}, exitUsage, "want a positive duration"},
		{"extra argument", nil, []string{"now"}, exitUsage, `unexpected argument "now"`},
		{"timeout", map[string]string{"SESSION_STORE": "file", "SESSION_FILE_PATH": os.TempDir()}, []string{"-timeout", "1ns"}, exitFailed, "-timeout 1ns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := exe(t, tc.env, "", append([]string{"clear-expired"}, tc.args...)...)
			r.want(t, tc.code, tc.want)
			if r.stdout != "" || strings.Contains(r.stderr, "hunter2") {
				t.Errorf("stdout %q, stderr %q: want no output, and no password", r.stdout, r.stderr)
			}
		})
	}
	t.Run("redis store", func(t *testing.T) {
		url := testenv.RedisURL(t)
		prefix := testenv.Unique("sessionkit-test:clear:") + ":"
		st, err := redis.Open(url, redis.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		seed(t, st)
		defer st.Delete(context.Background(), liveKey)
		defer st.Delete(context.Background(), expiredKey)
		r := exe(t, map[string]string{"SESSION_STORE": "redis", "SESSION_REDIS_URL": url, "SESSION_REDIS_PREFIX": prefix}, "", "clear-expired")
		r.want(t, exitOK, "out:nothing to clear: Redis drops each session by itself at its expiry\n")
		checkOnlyLiveLeft(t, st)
	})
	// The SQL stores, each with its table and without it.
	for name, open := range map[string]func(*testing.T, bool) (server.Store, map[string]string){
		"mysql":    func(t *testing.T, m bool) (server.Store, map[string]string) { return mysqlStore(t, m) },
		"postgres": func(t *testing.T, m bool) (server.Store, map[string]string) { return postgresStore(t, m) },
		"sqlite":   func(t *testing.T, m bool) (server.Store, map[string]string) { return sqliteStore(t, m) },
	} {
		t.Run(name+" store", func(t *testing.T) {
			st, env := open(t, true)
			seed(t, st)
			exe(t, env, "", "clear-expired").want(t, exitOK, "out:deleted 1 expired sessions\n")
			checkOnlyLiveLeft(t, st)
		})
		t.Run(name+" without its table", func(t *testing.T) {
			_, env := open(t, false)
			exe(t, env, "", "clear-expired").want(t, exitFailed, "run sessionkit migrate")
		})
	}
	t.Run("django table", func(t *testing.T) {
		st, env := mysqlStore(t, true)
		testenv.DjangoPython(t) // the table below is made like the one Django's migration made
		db := st.DB()
		table := testenv.Unique("django_session_test_")
		if _, err := db.Exec("CREATE TABLE `" + table + "` LIKE django_session"); err != nil {
			t.Fatalf("a table like Django's django_session (scripts/django.sh's django_setup migrates it): %v", err)
		}
		t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS `" + table + "`") })
		plantDjango := func(k string, exp time.Time) {
			t.Helper()
			if _, err := db.Exec("INSERT INTO `"+table+"` (session_key, session_data, expire_date) VALUES (?, 'e30:1:x', ?)", k, exp.UTC()); err != nil {
				t.Fatal(err)
			}
		}
		djangoKeys := func() []string {
			t.Helper()
			rows, err := db.Query("SELECT session_key FROM `" + table + "` ORDER BY session_key")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var keys []string
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			return keys
		}
		const live, expired, expired2 = "aliveliveliveliveliveliveliveliv", "expiredexpiredexpiredexpiredexpi", "expired2expired2expired2expired2"
		plantDjango(live, time.Now().Add(time.Hour))
		plantDjango(expired, time.Now().Add(-time.Minute))
		seed(t, st)
		env["SESSION_DJANGO"] = "migrate"
		env["SESSION_DJANGO_SECRET_KEY"] = "django-insecure-0123456789abcdefghijklmnopqrstuvwxyz"
		env["SESSION_DJANGO_TABLE"] = table // SESSION_DJANGO_MYSQL_DSN: SESSION_MYSQL_DSN's database
		exe(t, env, "", "clear-expired").want(t, exitOK, "out:deleted 1 expired sessions\ndeleted 1 expired Django sessions from "+table+"\n")
		checkOnlyLiveLeft(t, st)
		if got := djangoKeys(); !slices.Equal(got, []string{live}) {
			t.Errorf("Django's rows after clear-expired: %q, want only the live one", got)
		}

		// Only Django's table: the cookie engine, no SESSION_STORE.
		plantDjango(expired2, time.Now().Add(-time.Second))
		delete(env, "SESSION_STORE")
		r := exe(t, env, "", "clear-expired")
		r.want(t, exitOK, "out:deleted 1 expired Django sessions from "+table+"\n")
		if strings.Contains(r.stdout, "deleted 1 expired sessions") {
			t.Errorf("stdout %q: no store was named", r.stdout)
		}
		if got := djangoKeys(); !slices.Equal(got, []string{live}) {
			t.Errorf("Django's rows after the second clear-expired: %q, want only the live one", got)
		}
		// Django's cached_db engine keeps its sessions in the same table.
		plantDjango(expired2, time.Now().Add(-time.Second))
		env["SESSION_DJANGO_ENGINE"] = "django.contrib.sessions.backends.cached_db"
		exe(t, env, "", "clear-expired").want(t, exitOK, "out:deleted 1 expired Django sessions from "+table+"\n")
		if got := djangoKeys(); !slices.Equal(got, []string{live}) {
			t.Errorf("Django's rows after clear-expired with cached_db: %q, want only the live one", got)
		}
		env["SESSION_DJANGO_TABLE"] = "django_session; DROP TABLE x"
		exe(t, env, "", "clear-expired").want(t, exitConfig, "SESSION_DJANGO_TABLE")
	})
	t.Run("unreachable postgres", func(t *testing.T) {
		r := exe(t, map[string]string{"SESSION_STORE": "postgres", "SESSION_POSTGRES_DSN": "postgres://u:hunter2@127.0.0.1:1/db"}, "", "clear-expired")
		r.want(t, exitFailed, "SESSION_POSTGRES_DSN", "127.0.0.1:1")
		if strings.Contains(r.stderr, "hunter2") {
			t.Errorf("stderr %q reveals the password", r.stderr)
		}
	})
}

// TestReportDeleted: what clear-expired prints when DeleteExpired fails
// part way: the rows it deleted before the error, and the error, which
// wraps the store's; nothing claims a count when none was deleted.
func TestReportDeleted(t *testing.T) {
	failure := errors.New("connection reset")
	for _, tc := range []struct {
		n      int64
		err    error
		stdout string
	}{
		{3, nil, "deleted 3 expired sessions\n"},
		{0, nil, "deleted 0 expired sessions\n"},
		{3, failure, "deleted 3 expired sessions before an error\n"},
		{0, failure, ""},
	} {
		var out strings.Builder
		err := reportDeleted(&env{stdout: &out}, "expired sessions", tc.n, tc.err)
		if out.String() != tc.stdout {
			t.Errorf("%d deleted, error %v: stdout %q, want %q", tc.n, tc.err, out.String(), tc.stdout)
		}
		if tc.err == nil && err != nil {
			t.Errorf("%d deleted, no error: %v", tc.n, err)
		}
		if tc.err != nil && (!errors.Is(err, tc.err) || !strings.Contains(err.Error(), "deleting expired sessions")) {
			t.Errorf("%d deleted, error %v: returned %v, want it wrapped with what was being deleted", tc.n, tc.err, err)
		}
	}
}

func TestMigrate(t *testing.T) {
	exe(t, nil, "", "migrate").want(t, exitConfig, "SESSION_STORE is not set")
	exe(t, map[string]string{"SESSION_STORE": "file", "SESSION_FILE_PATH": t.TempDir()}, "", "migrate").
		want(t, exitOK, "out:nothing to create: the file store needs no table")
	t.Run("mysql", func(t *testing.T) {
		st, env := mysqlStore(t, false)
		for range 2 { // and again, on the table that is there
			exe(t, env, "", "migrate").want(t, exitOK, "out:table "+st.Table()+" is ready")
			if !tableExists(t, st) {
				t.Fatal("no table after migrate")
			}
		}
	})
	t.Run("mysql behind a redis cache", func(t *testing.T) {
		url := testenv.RedisURL(t)
		st, env := mysqlStore(t, false)
		env["SESSION_STORE"], env["SESSION_CACHE_STORE"], env["SESSION_BACKING_STORE"], env["SESSION_REDIS_URL"] = "cached", "redis", "mysql", url
		exe(t, env, "", "migrate").want(t, exitOK, "out:table "+st.Table()+" is ready")
		if !tableExists(t, st) {
			t.Fatal("no table after migrate")
		}
	})
}

func TestMigrateSQLStores(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		st, env := postgresStore(t, false)
		for range 2 {
			exe(t, env, "", "migrate").want(t, exitOK, "out:table "+st.Table()+" is ready")
		}
		if err := st.Create(context.Background(), liveKey, []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("the table migrate made does not work: %v", err)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		st, env := sqliteStore(t, false)
		env["SESSION_SQLITE_TABLE"] = "web_sessions"
		exe(t, env, "", "migrate").want(t, exitOK, "out:table web_sessions is ready")
		s2, err := sqlite.Open(st.Path(), sqlite.Config{Table: "web_sessions"})
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if err := s2.Create(context.Background(), liveKey, []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("the table migrate made does not work: %v", err)
		}
	})
}

func TestPing(t *testing.T) {
	exe(t, nil, "", "ping").want(t, exitConfig, "SESSION_STORE is not set")
	exe(t, map[string]string{"SESSION_STORE": "file", "SESSION_FILE_PATH": t.TempDir()}, "", "ping").want(t, exitOK, "out:file: ok (")
	exe(t, map[string]string{"SESSION_STORE": "memory"}, "", "ping").want(t, exitOK, "out:memory (in this process only): ok")
	exe(t, map[string]string{"SESSION_STORE": "redis", "SESSION_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0?max_retries=-1"}, "", "ping").
		want(t, exitFailed, "SESSION_REDIS_URL", "does not answer")
	t.Run("mysql", func(t *testing.T) {
		st, env := mysqlStore(t, false)
		exe(t, env, "", "ping").want(t, exitFailed, "out:mysql, table "+st.Table()+": FAILED", "out:run sessionkit migrate")
		st.Migrate(context.Background())
		exe(t, env, "", "ping").want(t, exitOK, "out:mysql, table "+st.Table()+": ok (")
	})
	t.Run("redis", func(t *testing.T) {
		url := testenv.RedisURL(t)
		exe(t, map[string]string{"SESSION_STORE": "redis", "SESSION_REDIS_URL": url}, "", "ping").want(t, exitOK, "out:redis, prefix sessionkit:: ok (")
	})
	t.Run("redis cluster", func(t *testing.T) {
		url := testenv.RedisClusterURL(t)
		exe(t, map[string]string{"SESSION_STORE": "redis", "SESSION_REDIS_CLUSTER_URL": url}, "", "ping").want(t, exitOK, "out:redis cluster, prefix sessionkit:: ok (")
	})
	t.Run("postgres", func(t *testing.T) {
		st, env := postgresStore(t, false)
		exe(t, env, "", "ping").want(t, exitFailed, "out:postgres, table "+st.Table()+": FAILED", "out:run sessionkit migrate")
		st.Migrate(context.Background())
		exe(t, env, "", "ping").want(t, exitOK, "out:postgres, table "+st.Table()+": ok (")
	})
	t.Run("sqlite", func(t *testing.T) {
		st, env := sqliteStore(t, false)
		exe(t, env, "", "ping").want(t, exitFailed, "out:sqlite, "+st.Path()+", table sessions: FAILED", "out:run sessionkit migrate")
		st.Migrate(context.Background())
		exe(t, env, "", "ping").want(t, exitOK, "out:sqlite, "+st.Path()+", table sessions: ok (")
	})
	t.Run("redis in front of mysql", func(t *testing.T) {
		url := testenv.RedisURL(t)
		st, env := mysqlStore(t, true)
		env["SESSION_STORE"], env["SESSION_CACHE_STORE"], env["SESSION_BACKING_STORE"], env["SESSION_REDIS_URL"] = "cached", "redis", "mysql", url
		exe(t, env, "", "ping").want(t, exitOK, "out:cache: redis, prefix sessionkit:cache:: ok (", "out:backing store: mysql, table "+st.Table()+": ok (")
		// A cache that is down: the cached store would serve from MySQL,
		// but ping tells.
		env["SESSION_REDIS_URL"] = "redis://127.0.0.1:1/0?max_retries=-1"
		exe(t, env, "", "ping").want(t, exitFailed, "out:cache: redis, prefix sessionkit:cache:: FAILED", "out:backing store: mysql, table "+st.Table()+": ok (")
	})
}
