//go:build !amd64 && !arm64

package reactor

// curg is 0 where the goroutine cannot be told cheaply: no loop knows its
// own, so every Write goes to the socket at once, as from any goroutine.
func curg() uintptr { return 0 }
