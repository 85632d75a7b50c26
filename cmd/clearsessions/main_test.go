package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/file"
	"github.com/sessionkit/session/server/mysql"
	"github.com/sessionkit/session/server/redis"
)

const (
	liveKey    = "livesession0000000000000000000000"
	expiredKey = "expiredsession000000000000000000"
)

// build compiles the command into dir and returns its path.
func build(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build clearsessions: %v", err)
	}
	bin := filepath.Join(dir, "clearsessions")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// exe runs bin with args and an environment of env alone (plus PATH), and
// returns its exit status, stdout and stderr.
func exe(t *testing.T, bin string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("running %s: %v", bin, err)
	return 0, "", ""
}

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
		t.Errorf("live session after clearsessions: %q, %v", b, err)
	}
	// Create succeeds only if the key is absent: the expired entry is
	// really gone, not merely unreadable.
	if err := st.Create(ctx, expiredKey, []byte("again"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("the expired session is still stored: Create: %v", err)
	}
}

func TestClearsessions(t *testing.T) {
	bin := build(t, t.TempDir())

	t.Run("file store", func(t *testing.T) {
		dir := t.TempDir()
		st, err := file.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		seed(t, st)
		env := map[string]string{"SESSION_STORE": "file", "SESSION_FILE_PATH": dir}

		code, stdout, stderr := exe(t, bin, env)
		if code != 0 || stdout != "deleted 1 expired sessions\n" || stderr != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 0, \"deleted 1 expired sessions\\n\", nothing", code, stdout, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, file.Prefix+expiredKey)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the expired session's file: %v, want it removed", err)
		}
		if _, err := os.Stat(filepath.Join(dir, file.Prefix+liveKey)); err != nil {
			t.Errorf("the live session's file: %v", err)
		}
		checkOnlyLiveLeft(t, st)

		// Nothing left to delete: the expired key now holds a live session.
		code, stdout, _ = exe(t, bin, env, "-timeout", "30s")
		if code != 0 || stdout != "deleted 0 expired sessions\n" {
			t.Errorf("second run: exit %d, stdout %q; want 0, \"deleted 0 expired sessions\\n\"", code, stdout)
		}
	})

	t.Run("no store", func(t *testing.T) {
		code, stdout, stderr := exe(t, bin, nil)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "SESSION_STORE is not set") || !strings.Contains(stderr, "cookie engine") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1 and an error about the cookie engine", code, stdout, stderr)
		}
	})

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"memory store", map[string]string{"SESSION_STORE": "memory"}, nil, 1, "server.Cleanup"},
		{"unknown store", map[string]string{"SESSION_STORE": "memcached"}, nil, 1, "want one of memory, file, mysql, redis, cached"},
		{"cached without backing", map[string]string{"SESSION_STORE": "cached", "SESSION_CACHE_STORE": "memory"}, nil, 1, "SESSION_BACKING_STORE"},
		{"file without path", map[string]string{"SESSION_STORE": "file"}, nil, 1, "SESSION_FILE_PATH"},
		{"missing directory", map[string]string{"SESSION_STORE": "file", "SESSION_FILE_PATH": "/nonexistent/sessions"}, nil, 1, "does not exist"},
		{"bad timeout", nil, []string{"-timeout", "soon"}, 2, "invalid value"},
		{"zero timeout", nil, []string{"-timeout", "0s"}, 2, "want a positive duration"},
		{"extra argument", nil, []string{"now"}, 2, `unexpected argument "now"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := exe(t, bin, tc.env, tc.args...)
			if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and an error containing %q", code, stdout, stderr, tc.code, tc.want)
			}
		})
	}

	t.Run("timeout", func(t *testing.T) {
		dir := t.TempDir()
		code, _, stderr := exe(t, bin, map[string]string{"SESSION_STORE": "file", "SESSION_FILE_PATH": dir}, "-timeout", "1ns")
		if code != 1 || !strings.Contains(stderr, "deadline exceeded") || !strings.Contains(stderr, "-timeout 1ns") {
			t.Errorf("exit %d, stderr %q; want 1 and a deadline error naming -timeout", code, stderr)
		}
	})

	t.Run("cached store", func(t *testing.T) {
		dir := t.TempDir()
		st, err := file.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		seed(t, st)
		env := map[string]string{"SESSION_STORE": "cached", "SESSION_CACHE_STORE": "memory", "SESSION_BACKING_STORE": "file", "SESSION_FILE_PATH": dir}
		code, stdout, stderr := exe(t, bin, env)
		if code != 0 || stdout != "deleted 1 expired sessions\n" || stderr != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 0, \"deleted 1 expired sessions\\n\", nothing", code, stdout, stderr)
		}
		checkOnlyLiveLeft(t, st)
	})

	t.Run("redis store", func(t *testing.T) {
		url := testenv.RedisURL(t)
		prefix := testenv.Unique("sessionkit-test:clearsessions:") + ":"
		st, err := redis.Open(url, redis.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		seed(t, st)
		defer st.Delete(context.Background(), liveKey)
		defer st.Delete(context.Background(), expiredKey)
		code, stdout, stderr := exe(t, bin, map[string]string{"SESSION_STORE": "redis", "SESSION_REDIS_URL": url, "SESSION_REDIS_PREFIX": prefix})
		if want := "nothing to clear: Redis drops each session by itself at its expiry\n"; code != 0 || stdout != want || stderr != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 0, %q, nothing", code, stdout, stderr, want)
		}
		checkOnlyLiveLeft(t, st)
	})

	t.Run("mysql store", func(t *testing.T) {
		dsn := testenv.MySQLDSN(t)
		table := testenv.Unique("clearsessions_test_")
		st, err := mysql.Open(dsn, mysql.Config{Table: table})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		defer st.DB().Exec("DROP TABLE IF EXISTS `" + table + "`")
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		seed(t, st)
		code, stdout, stderr := exe(t, bin, map[string]string{"SESSION_STORE": "mysql", "SESSION_MYSQL_DSN": dsn, "SESSION_MYSQL_TABLE": table})
		if code != 0 || stdout != "deleted 1 expired sessions\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 0, \"deleted 1 expired sessions\\n\"", code, stdout, stderr)
		}
		checkOnlyLiveLeft(t, st)
	})
}
