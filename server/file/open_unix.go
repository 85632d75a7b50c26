//go:build unix

package file

import (
	"os"
	"syscall"
)

// openFlags open a session file for reading without following a symbolic
// link in its place (O_NOFOLLOW) and without blocking on a FIFO or device
// (O_NONBLOCK; open checks the file's type before reading).
const openFlags = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// noFollow says that openFlags keep open from following a symbolic link.
const noFollow = true
