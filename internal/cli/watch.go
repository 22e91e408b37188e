package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/internal/config"
)

// watchDebounce is how long the watched files must stay quiet before a
// change reloads: an editor's save (write a temporary file, rename it
// over, fix its mode) or a truncate-then-write is one reload.
const watchDebounce = 200 * time.Millisecond

// mtimeSlack is how far a file's modification time may lag the clock:
// the kernel stamps it from a clock that ticks every few milliseconds. A
// file newly watched after a reload and modified within it of the
// reload's start counts as changed during the reload (at worst one more
// reload, of the same files).
const mtimeSlack = 20 * time.Millisecond

// watcher is --watch (process: {watch: true}): it reloads the application
// when its file, or a file it names (zones, hosts files, htpasswd, TLS keys
// and certificates; not a web root), changes, by queueing a SIGHUP among
// the process's signals, so a watched change takes exactly the path of
// `twistd reload`.
//
// It watches the directories holding those files, not the files, so that
// an editor's rename over the file, a truncate-and-write and a symbolic
// link swapped in the directory (a Kubernetes ConfigMap's ..data) are all
// seen; a change is a change of what the path leads to (device, inode,
// size, modification and change times), so an unrelated file in the same
// directory changes nothing. fsnotify blocks in the kernel: no timer
// runs while nothing changes.
type watcher struct {
	log    *zap.Logger
	fs     *fsnotify.Watcher
	chroot string // paths of files are host paths; inside a chroot, found in the jail

	// signals is the process's signals (reactor.Options.Signals), and
	// where a change queues its SIGHUP.
	signals chan os.Signal

	mu sync.Mutex
	// targets are the watched files, by the path this process finds
	// them at, with the state each was in when last reloaded.
	targets map[string]fileState
	// dirs are the watched directories, each with the targets whose
	// path, or whose path once links resolved, lies in it.
	dirs map[string][]string

	debounce *time.Timer
	done     chan struct{}
	wg       sync.WaitGroup
}

// fileState is what a path leads to; the zero value is "missing".
type fileState struct {
	exists   bool
	resolved string
	dev, ino uint64
	size     int64
	mtime    int64
}

func statFile(path string) fileState {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fileState{}
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return fileState{}
	}
	st := fileState{exists: true, resolved: resolved, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), uint64(sys.Ino) //nolint:unconvert // int32 on darwin
	}
	return st
}

// newWatcher makes the watcher of a process chrooted into chroot ("" for
// none) and the signal channel the reactor takes in its place; it
// watches nothing until refresh.
func newWatcher(log *zap.Logger, chroot string) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{log: log, fs: fw, chroot: chroot, signals: make(chan os.Signal, 16),
		targets: map[string]fileState{}, dirs: map[string][]string{}, done: make(chan struct{})}
	w.debounce = time.NewTimer(time.Hour)
	w.debounce.Stop()
	signal.Notify(w.signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

// close stops watching; the signal channel closes, after nothing can send on it.
func (w *watcher) close() {
	close(w.done)
	w.fs.Close()
	w.wg.Wait()
	signal.Stop(w.signals)
	close(w.signals)
}

// watchedFiles are the host paths the application's file names for
// --watch: the file itself (not for a one-liner) and its data files.
func watchedFiles(file *config.File) []string {
	var out []string
	if file.Path != commandLine {
		if abs, err := filepath.Abs(file.Path); err == nil {
			out = append(out, abs)
		}
	}
	for _, u := range file.Paths {
		if u.Read {
			out = append(out, u.Path)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// refresh makes the watched set that of file, as loaded now (at start,
// after each reload, failed or not). A file watched before keeps the
// state it had, so a change made while the reload ran still counts; so
// does one to a file watched only from now on, when it was modified
// after since (the reload's start): the reload may have read it before
// the change, which no watch saw (zero since: none).
func (w *watcher) refresh(file *config.File, since time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	targets := make(map[string]fileState)
	for _, host := range watchedFiles(file) {
		local, err := config.InChroot(w.chroot, host)
		if err != nil {
			continue // outside the jail: no reload can read it anyway
		}
		if st, ok := w.targets[local]; ok {
			targets[local] = st
		} else if st = statFile(local); st.exists && !since.IsZero() && st.mtime >= since.Add(-mtimeSlack).UnixNano() {
			targets[local] = fileState{resolved: local} // unlike any file's: changed
		} else {
			targets[local] = st
		}
	}
	dirs := make(map[string][]string)
	for t := range targets {
		dirs[filepath.Dir(t)] = append(dirs[filepath.Dir(t)], t)
		if r, err := filepath.EvalSymlinks(t); err == nil && filepath.Dir(r) != filepath.Dir(t) {
			dirs[filepath.Dir(r)] = append(dirs[filepath.Dir(r)], t)
		}
	}
	for d := range w.dirs {
		if _, keep := dirs[d]; !keep {
			_ = w.fs.Remove(d)
		}
	}
	for d := range dirs {
		if _, had := w.dirs[d]; had {
			continue
		}
		if err := w.fs.Add(d); err != nil {
			w.log.Warn("--watch cannot watch a directory", zap.String("dir", d), zap.Error(err))
			delete(dirs, d)
		}
	}
	w.targets, w.dirs = targets, dirs
	w.log.Debug("watching", zap.Strings("files", sortedKeys(targets)), zap.Strings("dirs", sortedKeys(dirs)))
	// A change made while the reload ran, after it read the file.
	if changed := w.changedLocked(sortedKeys(targets)); len(changed) > 0 {
		w.debounce.Reset(watchDebounce)
	}
}

// changedLocked returns which of paths lead elsewhere than recorded.
func (w *watcher) changedLocked(paths []string) []string {
	var out []string
	for _, t := range paths {
		if old, ok := w.targets[t]; ok && statFile(t) != old {
			out = append(out, t)
		}
	}
	return out
}

func (w *watcher) loop() {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.event(ev)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.debounce.Reset(watchDebounce) // events were lost: look again
				continue
			}
			w.log.Warn("--watch", zap.Error(err))
		case <-w.debounce.C:
			w.fire()
		}
	}
}

// event looks at what one directory event did to the targets there. A
// write to another file in the directory (a log) is not looked at; a
// name created, renamed or removed might be a link on a target's way.
func (w *watcher) event(ev fsnotify.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dir, name := filepath.Dir(ev.Name), filepath.Base(ev.Name)
	targets := w.dirs[dir]
	if len(targets) == 0 {
		return
	}
	named := false
	for _, t := range targets {
		if filepath.Base(t) == name {
			named = true
		}
	}
	if !named && !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Rename) && !ev.Has(fsnotify.Remove) {
		return
	}
	if len(w.changedLocked(targets)) > 0 {
		w.debounce.Reset(watchDebounce)
	}
}

// fire queues the reload for the changes that have settled.
func (w *watcher) fire() {
	w.mu.Lock()
	changed := w.changedLocked(sortedKeys(w.targets))
	for _, t := range changed {
		w.targets[t] = statFile(t)
	}
	w.mu.Unlock()
	if len(changed) == 0 {
		return
	}
	w.log.Info("watched files changed; reloading", zap.Strings("files", changed))
	select {
	case w.signals <- syscall.SIGHUP:
	case <-w.done:
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// watchSignals is the signal channel the reactor takes: the watcher's
// with --watch, else nil (the reactor's own).
func (p *proc) watchSignals() <-chan os.Signal {
	if p.watch == nil {
		return nil
	}
	return p.watch.signals
}

// watchRefresh points the watcher at the files the running application
// names. It runs before the reactor binds, so that no change made once
// the process is ready can be missed; under --chroot, where the paths
// change meaning, once the process is ready, in the jail.
func (p *proc) watchRefresh(since time.Time) {
	if p.watch == nil {
		return
	}
	p.watchStarted = true
	p.mu.Lock()
	file := p.file
	p.mu.Unlock()
	p.watch.refresh(file, since)
}

// watchReady is the Ready hook's part: the first refresh under --chroot.
func (p *proc) watchReady() {
	if !p.watchStarted {
		p.watchRefresh(time.Time{})
	}
}

// reloadWatched is the reload (SIGHUP, or a watched change), after which
// the watched set is that of the application now running: the new file's
// after a reload, the old one's, plus the file itself, after a refusal.
func (p *proc) reloadWatched(ctx context.Context) error {
	began := time.Now()
	err := p.reload(ctx)
	p.watchRefresh(began)
	return err
}
