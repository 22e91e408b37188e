//go:build race

package protocol

// raceEnabled: the race detector makes sync.Pool drop what it is given at
// random, so allocation counts are not meaningful.
const raceEnabled = true
