package server_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// Remove expired sessions from inside the serving process, every ten
// minutes, until the process is told to stop. With several processes
// sharing one store (MySQL, a shared directory) one of them is enough; a
// cron job running `sessionkit clear-expired` does the same from outside.
func ExampleCleanup() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	store := memory.New() // or a file or mysql store
	go server.Cleanup(ctx, store, 10*time.Minute, func(err error) {
		log.Printf("removing expired sessions: %v", err)
	})

	// ... build a session.Manager on store and serve until ctx is done ...
}
