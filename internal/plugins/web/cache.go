package web

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stamp identifies one version of a file: any write changes its ctime, a
// replacement its inode. A cached entry is used only while the file's
// stamp (one stat per request) is the one it was built from.
type stamp struct {
	size           int64
	mtime, ctime   int64 // nanoseconds
	ino, dev, mode uint64
}

func stampOf(fi fs.FileInfo) stamp {
	st := stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: uint64(fi.Mode())}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ctime = ctimeNano(sys)
		st.ino, st.dev = sys.Ino, uint64(sys.Dev) //nolint:unconvert // Dev's type varies by platform
	}
	return st
}

// entry is what a file's responses need, computed once per version: its
// validators, its headers as ready-made values and, for small files, its
// bytes (and their gzip encoding, made on first demand).
type entry struct {
	stamp   stamp
	size    int64
	modTime time.Time
	ctype   string
	// Header values, shared read-only by every response (cap == len, so
	// an Add elsewhere copies instead of writing into them).
	hdrCType, hdrETag, hdrLastMod, hdrLength []string
	data                                     []byte // nil: serve from the file
	cname                                    []byte // the name, NUL-terminated, for freshStamp

	fast fastSlot // the fast path's rendered response

	gzOnce sync.Once
	gz     *entry // the gzip encoding of data; nil if it does not pay
}

// etag is a strong validator from the file's version.
func etagOf(st stamp) string {
	b := make([]byte, 0, 48)
	b = append(b, '"')
	b = strconv.AppendInt(b, st.mtime, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, st.size, 36)
	b = append(b, '-')
	b = strconv.AppendUint(b, st.ino, 36)
	b = append(b, '"')
	return string(b)
}

func newEntry(st stamp, modTime time.Time, ctype, etag string, data []byte) *entry {
	return &entry{
		stamp: st, size: st.size, modTime: modTime, ctype: ctype, data: data,
		hdrCType:   []string{ctype},
		hdrETag:    []string{etag},
		hdrLastMod: []string{modTime.UTC().Format(http.TimeFormat)},
		hdrLength:  []string{strconv.FormatInt(st.size, 10)},
	}
}

// fileCache holds the entries of one site's files, bounded in bytes and
// in count; it is safe for concurrent use. The zero value is not usable:
// use newFileCache.
type fileCache struct {
	root      *os.Root
	dir       *os.File // the root directory, for freshStamp; nil where it is not used
	dirfd     int      // dir's descriptor
	types     *types
	maxFile   int64 // files up to this size are kept in memory
	maxBytes  int64
	maxItems  int
	mu        sync.RWMutex
	items     map[string]*entry
	heldBytes int64
}

func newFileCache(root *os.Root, t *types, maxFile, maxBytes int64, maxItems int) *fileCache {
	c := &fileCache{root: root, types: t, maxFile: maxFile, maxBytes: maxBytes, maxItems: maxItems,
		items: make(map[string]*entry)}
	if canFreshStat {
		if d, err := root.Open("."); err == nil {
			c.dir, c.dirfd = d, int(d.Fd()) // on error, fresh stats through the root
		}
	}
	return c
}

// close releases the directory fresh stats in.
func (c *fileCache) close() error {
	if c.dir == nil {
		return nil
	}
	return c.dir.Close()
}

// errChanged is a file that changed while it was being read.
var errChanged = errors.New("file changed while being read")

// get returns the entry of the regular file name whose stat is fi,
// reading the file when the cache holds no entry of that version.
func (c *fileCache) get(name string, fi fs.FileInfo) (*entry, error) {
	st := stampOf(fi)
	if e := c.lookup(name, st); e != nil {
		return e, nil
	}
	e, cacheable, err := c.build(name, fi, st)
	if err != nil {
		return nil, err
	}
	if cacheable {
		e.cname = append([]byte(name), 0)
		c.put(name, e)
	}
	return e, nil
}

// fresh returns the cached entry of the regular file name when it is
// still the file's current version, and nil otherwise; it never reads
// the file, and where freshStamp works it allocates nothing. The event
// loop answers from it alone: a miss goes to a goroutine, whose get
// warms it.
func (c *fileCache) fresh(name string) *entry {
	if c.dir == nil {
		fi, err := c.root.Stat(name)
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		return c.lookup(name, stampOf(fi))
	}
	c.mu.RLock()
	e := c.items[name]
	c.mu.RUnlock()
	if e == nil || e.cname == nil {
		return nil
	}
	st, ok := freshStamp(c.dirfd, e.cname)
	// A mode change moves ctime too, so the mode need not be compared.
	if st.mode = e.stamp.mode; !ok || st != e.stamp {
		return nil
	}
	return e
}

func (c *fileCache) lookup(name string, st stamp) *entry {
	c.mu.RLock()
	e := c.items[name]
	c.mu.RUnlock()
	if e != nil && e.stamp == st {
		return e
	}
	return nil
}

// build reads what the entry of name needs. It is not cacheable when the
// file changed under it.
func (c *fileCache) build(name string, fi fs.FileInfo, st stamp) (*entry, bool, error) {
	ctype := c.types.byName(name)
	small := st.size <= c.maxFile
	if !small && ctype != "" {
		return newEntry(st, fi.ModTime(), ctype, etagOf(st), nil), true, nil
	}
	f, err := c.root.Open(name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("stat %s: %w", name, err)
	}
	if ost := stampOf(ofi); ost != st {
		st, fi = ost, ofi
		if !ofi.Mode().IsRegular() {
			return nil, false, errChanged
		}
		small = st.size <= c.maxFile
	}
	var data, head []byte
	if small {
		data = make([]byte, st.size)
		if _, err := io.ReadFull(f, data); err != nil {
			return nil, false, fmt.Errorf("read %s: %w", name, err)
		}
		head = data
	} else {
		head = make([]byte, 512)
		n, err := io.ReadFull(f, head)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, false, fmt.Errorf("read %s: %w", name, err)
		}
		head = head[:n]
	}
	if ctype == "" {
		ctype = http.DetectContentType(head)
	}
	cacheable := true
	if afi, err := f.Stat(); err != nil || stampOf(afi) != st {
		cacheable = false
	}
	return newEntry(st, fi.ModTime(), ctype, etagOf(st), data), cacheable, nil
}

// put stores e under name, dropping arbitrary entries while over budget.
func (c *fileCache) put(name string, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.items[name]; old != nil {
		c.heldBytes -= int64(len(old.data))
	}
	c.items[name] = e
	c.heldBytes += int64(len(e.data))
	for k, v := range c.items {
		if c.heldBytes <= c.maxBytes && len(c.items) <= c.maxItems {
			break
		}
		if k == name {
			continue
		}
		c.heldBytes -= int64(len(v.data))
		delete(c.items, k)
	}
}

// reset forgets every entry.
func (c *fileCache) reset() {
	c.mu.Lock()
	c.items = make(map[string]*entry)
	c.heldBytes = 0
	c.mu.Unlock()
}
