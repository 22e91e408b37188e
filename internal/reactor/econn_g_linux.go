//go:build amd64 || arm64

package reactor

// curg identifies the calling goroutine: the address of the runtime's
// descriptor of it, constant for the goroutine's life and unique among
// the goroutines alive. It is never dereferenced; the event loops only
// compare it with their own, to know a Write made from one of their
// callbacks (see econn.deferrable).
func curg() uintptr
