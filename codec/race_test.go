//go:build race

package codec

// raceEnabled is true under the race detector, which makes sync.Pool drop
// items at random: allocation counts do not hold there.
const raceEnabled = true
