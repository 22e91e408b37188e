// Package growstack grows the main goroutine's stack once, at the start of
// package initialisation, to the size start-up ends up needing anyway.
//
// A goroutine's stack starts at 8 KiB and doubles whenever a call does not
// fit. Each doubling copies the stack and, to adjust the pointers in it,
// looks up every frame's stack map and SP table in the binary's pclntab;
// those tables are spread over the whole section, so the look-ups fault in
// 64 KiB windows of the binary that nothing else reads. Start-up (package
// initialisers, protobuf's descriptors, cobra, yaml) grows the main
// goroutine's stack three times, to 64 KiB, with deep stacks to walk: 19
// such windows, against 6 for growing it here, a few frames deep. Idle
// RSS went from 12.6 to 12.2 MB.
//
// The package imports nothing, so Go initialises it among the first, just
// after the runtime and before the packages whose initialisers grow the
// stack (GODEBUG=inittrace=1 shows the order). Import
// it for its side effect, from package main only.
package growstack

func init() { _ = grow(0) }

// frame is the size of grow's frame: with the little in use below it, the
// runtime makes the stack 64 KiB.
const frame = 40 << 10

// grow needs a frame of that size. Zeroing it writes 40 KiB of the new
// stack, most of which start-up fills anyway (it needs more than 32 KiB).
//
//go:noinline
func grow(i int) byte {
	var buf [frame]byte
	return buf[i]
}
