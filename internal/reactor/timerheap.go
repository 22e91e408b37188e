package reactor

import "time"

// timerItem is what both drivers keep of a pending CallLater: when it is
// due, the order it was set in (timers due at the same instant run in the
// order they were set, as Twisted's do), and its place in a heap.
type timerItem struct {
	when time.Time
	seq  uint64
	i    int // index in the heap; -1 when not pending
}

type timed interface{ item() *timerItem }

// timerHeap orders pending timers by when they are due (container/heap).
type timerHeap[T timed] []T

func (h timerHeap[T]) Len() int { return len(h) }
func (h timerHeap[T]) Less(i, j int) bool {
	a, b := h[i].item(), h[j].item()
	return a.when.Before(b.when) || a.when.Equal(b.when) && a.seq < b.seq
}
func (h timerHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].item().i, h[j].item().i = i, j
}
func (h *timerHeap[T]) Push(x any) {
	t := x.(T)
	t.item().i = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap[T]) Pop() any {
	old := *h
	t := old[len(old)-1]
	var zero T
	old[len(old)-1] = zero
	*h = old[:len(old)-1]
	t.item().i = -1
	return t
}

// maxTimersPerTurn bounds the timers one driver turn runs, so timers that
// keep re-arming themselves at zero delay cannot starve the connection's
// I/O (or, on a loop, the other connections).
const maxTimersPerTurn = 64
