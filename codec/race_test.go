//go:build race

package codec

// raceEnabled is true under the race detector, which makes sync.Pool drop
// some of what it is given: counts of allocations do not hold there.
const raceEnabled = true
