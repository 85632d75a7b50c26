//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package file

import "os"

// holdOpen says that a session file stays open while Update renames over
// it or Delete removes it. Here it does not: Windows refuses both on an
// open file, and there is no file lock to keep.
const holdOpen = false

// tryLockFile does nothing and succeeds: this system has no flock, so only
// the in-process lock per key orders Update and Delete.
func tryLockFile(*os.File) (bool, error) { return true, nil }
