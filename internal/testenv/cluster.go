package testenv

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// PrivateCluster is a Redis Cluster that one test starts for itself with
// scripts/redis-cluster.sh start-private, so that it can kill its nodes
// without disturbing the tests that share the main cluster.
type PrivateCluster struct {
	t    testing.TB
	vars map[string]string // the NAME=value lines start-private printed
}

// StartPrivateRedisCluster starts a private cluster, removed when the test
// ends. Like RedisClusterURL, it skips the test, or fails it, when there is
// no main cluster; it also skips it when the main cluster was not started
// by the scripts (a developer's own, named by SESSION_TEST_REDIS_CLUSTER_URL
// alone), and fails it when it was but the scripts' commands are missing
// from the environment.
func StartPrivateRedisCluster(t testing.TB) *PrivateCluster {
	t.Helper()
	RedisClusterURL(t)
	if os.Getenv("REDIS_CLUSTER_KILL_MASTER_CMD") == "" {
		if os.Getenv("REDIS_CLUSTER_RUNDIR") != "" {
			t.Fatal("REDIS_CLUSTER_KILL_MASTER_CMD is not set; run `make test`")
		}
		t.Skip("the Redis cluster is not ours (no REDIS_CLUSTER_KILL_MASTER_CMD): run `make test`, which starts one and can start more")
	}
	script, err := moduleFile("scripts/redis-cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script, "start-private")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	c := &PrivateCluster{t: t, vars: map[string]string{}}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			c.vars[k] = v
		}
	}
	if dir := c.vars["REDIS_CLUSTER_RUNDIR"]; dir != "" {
		t.Cleanup(func() {
			cmd := exec.Command("bash", script, "remove")
			cmd.Env = append(os.Environ(), "REDIS_CLUSTER_RUNDIR="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("removing the private cluster: %v\n%s", err, out)
			}
		})
	}
	if err != nil {
		t.Fatalf("%s start-private: %v\n%s", script, err, stderr.Bytes())
	}
	for _, k := range []string{RedisClusterURLVar, "REDIS_CLUSTER_KILL_MASTER_CMD", "REDIS_CLUSTER_WAIT_REPLACED_CMD", "REDIS_CLUSTER_START_NODE_CMD"} {
		if c.vars[k] == "" {
			t.Fatalf("%s start-private printed no %s:\n%s", script, k, out)
		}
	}
	return c
}

// URL returns the private cluster's URL, in the form of
// SESSION_TEST_REDIS_CLUSTER_URL.
func (c *PrivateCluster) URL() string { return c.vars[RedisClusterURLVar] }

// Var returns the value of a variable that start-private printed, such as
// REDIS_CLUSTER_KILL_MASTER_CMD (see scripts/redis-cluster.sh).
func (c *PrivateCluster) Var(name string) string { return c.vars[name] }

// Run runs the one-line command in the variable name (see Var) with args,
// and returns its standard output, trimmed. It fails the test if the
// command fails.
func (c *PrivateCluster) Run(name string, args ...string) string {
	c.t.Helper()
	line := strings.Join(append([]string{c.vars[name]}, args...), " ")
	cmd := exec.Command("bash", "-c", line)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("%s: %v\n%s", line, err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}

// moduleFile returns the path of name, relative to the root of this
// module, found from the working directory up (a test runs in its
// package's directory).
func moduleFile(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/sessionkit/session\n")) {
			return filepath.Join(dir, name), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: the root of module github.com/sessionkit/session is not above the working directory")
		}
		dir = parent
	}
}
