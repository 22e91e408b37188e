package cli

import (
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/twistd-go/twistd/internal/earlyinit"
	"github.com/twistd-go/twistd/internal/process"
	"github.com/twistd-go/twistd/internal/reactor"
)

// The process-wide runtime knobs live here, and only here; library
// packages take what they need as options (reactor.Options.CPUs).
//
//   - Stack pre-growth (earlyinit, at package initialisation). A
//     goroutine's stack starts at 8 KiB and doubles whenever a call does
//     not fit; each doubling copies the stack and looks up every frame's
//     stack map in the binary's pclntab, faulting in 64 KiB windows of the
//     binary that nothing else reads. Start-up grows the main goroutine's
//     stack three times, to 64 KiB, with deep stacks to walk: 19 such
//     windows, against 6 for growing it once, first. Idle RSS went from
//     12.6 to 12.2 MB.
//   - Heap-profile sampling (earlyinit; enableHeapProfile). Each sampled
//     allocation walks its call stack through the pclntab: with sampling
//     on from the start, initialisation alone faulted in 0.3–0.4 MB of the
//     binary for a profile nobody could fetch. It stays off until the
//     admin endpoint serves /debug/pprof/.
//   - GOMAXPROCS (tuneRuntime). The epoll reactor runs one event loop per
//     CPU the process was given; a busy loop keeps its P through its
//     raw, non-blocking polls, as a C server's threads keep their CPU, so
//     the runtime gets one more P per loop and goroutines (timers,
//     signals, TLS connections, the admin endpoint) never wait for a busy
//     loop. An idle loop waits in a blocking system call and holds none
//     (0 wake-ups a second idle, bench/idle.sh).
//   - Returning memory (returnMemory). Parsing zone files leaves garbage
//     several times the size of the data: a 100,000-record zone holds
//     ~30 MB resident after a FreeOSMemory instead of ~85 MB at the
//     collector's leisure. Done once the process is ready (before, it
//     held the sockets back: the forced collection and the trim below
//     took ~5 ms of a 18–20 ms start at load 3.5, exec to the port
//     accepting, old and new builds interleaved) and after each reload.
//   - Trimming the text (process.TrimText). Start-up runs code once that
//     serving never runs again: every package's initialiser, the flag,
//     file and zone parsers. Its pages stay mapped, faulted in 64 KiB at a
//     time: an idle echo daemon held 14.5 MB, 10.5 MB of them our own
//     executable's code and constants. Dropping those mappings once ready
//     and after each reload leaves 5–8 MB (4.7 MB since the drop waits
//     for ready: the services' start no longer faults pages back in
//     after it); the pages stay in the page
//     cache and what serving needs comes back with minor faults.
//   - The collector during bulk transfers (bulkGC, service.Env.Bulk).
//     golang.org/x/crypto/ssh copies every packet it decrypts into a
//     fresh allocation (40 KiB for each 32 KiB of an SFTP upload, 93% of
//     what the process allocates then), and the live heap is the few
//     packets in flight: at GOGC 100 and its 4 MB minimum heap the
//     collector ran about 560 times per GiB uploaded, and its marking,
//     sweeping and the pages the scavenger gave back and the next packets
//     faulted in again took a third of the process's CPU. While an SFTP
//     session runs, GOGC is bulkGCPercent: the server process's CPU per
//     512 MiB uploaded (bench/sftp.sh's transfer, one session) fell from
//     3.49-3.60 s to 2.35-2.41 s (800: 1.93-2.30 s, for twice the heap).
//     It is not the process's setting for good: at GOGC 400 the RSS of
//     a process holding 10,000 idle web connections (bench/web/run.sh's
//     idle section) grew by about 2 MB, and start-up's by up to 6 MB.
//     When the last session ends, GOGC goes back (a higher GOGC of the
//     environment is left alone) and the garbage is returned at once.
//   - A helper's runtime (helperEnv, service.Env.HelperEnv): conch's SFTP
//     child, twistd's executable started again to serve one session,
//     gets GOMAXPROCS 1 and GOGC 400 in its environment. Measured with
//     bench/sftp.sh, 256 MiB, 3 rounds, beside the 1 MiB pipes and the
//     packetWriter, the child's CPU per GiB moved went from 3.4-3.9 s to
//     1.7-2.4 s downloading and from 4.4-6.7 s to 2.0-4.7 s uploading:
//     one P, as OpenSSH's sftp-server is one thread (pkg/sftp hands each
//     packet from its reader to a worker to the sender, and with two Ps
//     each hand-off woke another thread: futex and context switches were
//     a quarter of the child's profile); the collector at GOGC 400, as
//     the live heap is the few packets in flight, so the heap stays
//     within megabytes and is collected a fifth as often. (pkg/sftp's
//     allocator, which reuses the packet buffers instead of allocating
//     32 KiB per packet, is conch's own option.)

// cpus is how many CPUs the process was given, read before GOMAXPROCS changes.
func cpus() int { return earlyinit.CPUs() }

// tuneRuntime sets GOMAXPROCS for the reactor the process runs.
func tuneRuntime(reactorName string) {
	if reactorName == reactor.Epoll && runtime.GOMAXPROCS(0) < 2*cpus() {
		runtime.GOMAXPROCS(2 * cpus())
	}
}

// enableHeapProfile turns heap-profile sampling on, for /debug/pprof/.
func enableHeapProfile() { earlyinit.EnableHeapProfile() }

// returnMemory gives the garbage of building or reloading services back
// to the system now.
func returnMemory() {
	debug.FreeOSMemory()
	process.TrimText()
}

// helperEnv is the runtime of a helper process (see above).
func helperEnv() []string { return []string{"GOMAXPROCS=1", "GOGC=400"} }

// bulkGCPercent is GOGC while a bulk transfer runs (see above).
const bulkGCPercent = 400

// bulkGC raises GOGC while bulk transfers run, for Env.Bulk.
type bulkGC struct {
	mu      sync.Mutex
	running int // transfers begun and not ended
	before  int // GOGC before the first of them
	// set is debug.SetGCPercent, and release debug.FreeOSMemory, but
	// for tests.
	set     func(int) int
	release func()
}

func newBulkGC() *bulkGC {
	return &bulkGC{set: debug.SetGCPercent, release: debug.FreeOSMemory}
}

// start begins a bulk transfer and returns its end.
func (b *bulkGC) start() (end func()) {
	b.mu.Lock()
	if b.running == 0 {
		b.before = b.set(bulkGCPercent)
		if b.before < 0 || b.before > bulkGCPercent {
			b.set(b.before) // GOGC=off, or already higher
		}
	}
	b.running++
	b.mu.Unlock()
	var once sync.Once
	return func() { once.Do(b.end) }
}

// end ends one transfer; after the last, GOGC is what it was and the
// transfers' garbage goes back to the system.
func (b *bulkGC) end() {
	b.mu.Lock()
	b.running--
	last := b.running == 0
	if last {
		b.set(b.before)
	}
	b.mu.Unlock()
	if last {
		b.release()
	}
}
