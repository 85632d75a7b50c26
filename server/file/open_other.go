//go:build !unix

package file

import "os"

// openFlags open a session file for reading. The system has no O_NOFOLLOW,
// so open checks afterwards that the name is not a symbolic link.
const openFlags = os.O_RDONLY

// noFollow says that openFlags do not keep open from following a symbolic
// link.
const noFollow = false
