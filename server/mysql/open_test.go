package mysql

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/sessionkit/session/internal/testenv"
	"github.com/sessionkit/session/server"
)

// TestOpenChecksTheServer checks Open's errors: a DSN without tcp(...)
// says how to write it, and a server that does not answer is named, with
// the user but not the password; and that Ping works on a live server.
func TestOpenChecksTheServer(t *testing.T) {
	_, err := Open("sess:s3cret@127.0.0.1:3306/app", Config{})
	if err == nil || !strings.Contains(err.Error(), "tcp(127.0.0.1:3306)") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open with host:port for tcp(host:port) = %v", err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err = Open("sess:s3cret@tcp("+addr+")/app", Config{})
	if !errors.Is(err, server.ErrUnavailable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), `"sess"`) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open of a closed port = %v; want an error naming %s and the user, not the password", err, addr)
	}
	s, err := Open(testenv.MySQLDSN(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
