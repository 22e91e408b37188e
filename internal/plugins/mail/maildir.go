package mail

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// deliveries numbers the messages this process writes, for unique names.
var deliveries atomic.Uint64

// makeMaildir creates dir/{tmp,new,cur} (mode 0700) where missing.
func makeMaildir(dir string) error {
	for _, sub := range []string{"", "tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("maildir %s: %w", dir, err)
		}
	}
	return nil
}

// isMaildir reports whether dir has the three Maildir subdirectories.
func isMaildir(dir string) bool {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// uniqueName is a Maildir file name: seconds.MmicrosPpidQcounterRrandom.host,
// the form Dovecot and Courier use, with '/' and ':' of the host escaped.
func uniqueName(host string) string {
	now := time.Now()
	var r [4]byte
	_, _ = rand.Read(r[:])
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return fmt.Sprintf("%d.M%dP%dQ%dR%s.%s", now.Unix(), now.Nanosecond()/1000,
		os.Getpid(), deliveries.Add(1), hex.EncodeToString(r[:]), host)
}

// syncDir fsyncs a directory, so a rename into it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// fsOps are the file system calls a delivery makes that can fail after
// the data is written (a full disk, no inode left for a link): the
// operating system's in the server, failing ones in tests.
type fsOps struct {
	sync   func(*os.File) error
	link   func(oldname, newname string) error
	rename func(oldname, newname string) error
}

// osFS is the operating system's file system calls.
var osFS = fsOps{sync: (*os.File).Sync, link: os.Link, rename: os.Rename}

// deliver writes header then body into each maildir in dirs, with the
// operating system's calls.
func deliver(dirs []string, host string, header []byte, body io.Reader) error {
	return osFS.deliver(dirs, host, header, body)
}

// errNoSpace is wrapped by delivery errors of a full disk or quota, which
// get SMTP's 452 rather than 451.
var errNoSpace = errors.New("insufficient storage")

// noSpace reports whether err is a full disk or an exhausted quota.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, errNoSpace)
}

// deliver writes header then body into the first maildir's tmp, fsynced,
// links it (or copies it, across file systems) into every other maildir's
// new, each fsynced, and renames it into the first one's new last: a
// rename needs no inode, so one recipient gets a message that fits even
// when the disk has no inode left for a second name. Nothing is left in
// new unless it is complete; on any error every file it made is removed
// and the error returned (the body's own error as it is, so a size limit
// keeps its code; a full disk wrapped with errNoSpace).
func (o fsOps) deliver(dirs []string, host string, header []byte, body io.Reader) (err error) {
	if len(dirs) == 0 {
		return errors.New("no mailbox")
	}
	defer func() {
		if err != nil && noSpace(err) && !errors.Is(err, errNoSpace) {
			err = fmt.Errorf("%w: %w", errNoSpace, err)
		}
	}()
	name := uniqueName(host)
	tmp := filepath.Join(dirs[0], "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	var made []string
	defer func() {
		if err != nil {
			for _, p := range made {
				_ = os.Remove(p)
			}
		}
		_ = os.Remove(tmp)
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	_, err = w.Write(header)
	lf := &lfWriter{w: w}
	if err == nil {
		_, err = io.Copy(lf, body)
		if err == nil {
			err = lf.flush()
		}
		if err != nil && lf.werr == nil {
			_ = f.Close()
			return err // the body's error: size limit, peer gone
		}
		if err != nil {
			err = lf.werr
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = o.sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("maildir: writing %s: %w", tmp, err)
	}
	// Dovecot's size fields: S= the file's size, W= the size with CRLF
	// line ends, which POP3 reports, so a listing need not read the files.
	size := int64(len(header)) + lf.n
	final := fmt.Sprintf("%s,S=%d,W=%d", name, size, size+int64(bytes.Count(header, []byte("\n")))+lf.lines)
	for _, dir := range dirs[1:] {
		dst := filepath.Join(dir, "new", final)
		if lerr := o.link(tmp, dst); lerr != nil {
			if noSpace(lerr) {
				return fmt.Errorf("maildir: delivering to %s: %w", dir, lerr)
			}
			// Another file system, or one without hard links: a copy.
			own := filepath.Join(dir, "tmp", name)
			if cerr := o.copyFile(tmp, own); cerr != nil {
				return fmt.Errorf("maildir: delivering to %s: %w", dir, cerr)
			}
			if rerr := o.rename(own, dst); rerr != nil {
				_ = os.Remove(own)
				return fmt.Errorf("maildir: delivering to %s: %w", dir, rerr)
			}
		}
		made = append(made, dst)
		if serr := syncDir(filepath.Join(dir, "new")); serr != nil {
			return fmt.Errorf("maildir: delivering to %s: %w", dir, serr)
		}
	}
	dst := filepath.Join(dirs[0], "new", final)
	if rerr := o.rename(tmp, dst); rerr != nil {
		return fmt.Errorf("maildir: delivering to %s: %w", dirs[0], rerr)
	}
	made = append(made, dst)
	if serr := syncDir(filepath.Join(dirs[0], "new")); serr != nil {
		return fmt.Errorf("maildir: delivering to %s: %w", dirs[0], serr)
	}
	return nil
}

// copyFile copies src to a new file dst, fsynced.
func (o fsOps) copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = o.sync(out)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
	}
	return err
}

// message is one message of a mailbox as POP3 sees it.
type message struct {
	path    string
	uid     string // the unique part of the file name (before ':')
	size    int64  // in octets as sent: with CRLF line ends
	deleted bool
}

// maxMessages bounds how many messages a POP3 session lists.
const maxMessages = 100000

// scanMaildir lists dir's new and cur messages, oldest first.
func scanMaildir(dir string) ([]*message, error) {
	type entry struct {
		m     *message
		mtime time.Time
	}
	var all []entry
	for _, sub := range []string{"cur", "new"} {
		des, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, fmt.Errorf("maildir %s: %w", dir, err)
		}
		for _, de := range des {
			if strings.HasPrefix(de.Name(), ".") || !de.Type().IsRegular() {
				continue
			}
			if len(all) >= maxMessages {
				break
			}
			p := filepath.Join(dir, sub, de.Name())
			fi, err := de.Info()
			if err != nil {
				continue // gone meanwhile
			}
			size, ok := nameSize(de.Name())
			if !ok {
				if size, err = wireSize(p); err != nil {
					continue
				}
			}
			uid, _, _ := strings.Cut(de.Name(), ":")
			all = append(all, entry{&message{path: p, uid: uidl(uid), size: size}, fi.ModTime()})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].mtime.Equal(all[j].mtime) {
			return all[i].mtime.Before(all[j].mtime)
		}
		return all[i].m.uid < all[j].m.uid
	})
	ms := make([]*message, len(all))
	for i, e := range all {
		ms[i] = e.m
	}
	return ms, nil
}

// uidl makes a unique-id listing of a file name: RFC 1939 allows 0x21 to
// 0x7E, at most 70 characters.
func uidl(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if c := name[i]; c > 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strconv.FormatUint(uint64(c), 16))
		}
	}
	s := b.String()
	if len(s) > 70 {
		s = s[len(s)-70:]
	}
	return s
}

// nameSize reads the W= (size with CRLF line ends) field of a Maildir
// file name, as Dovecot and we write it.
func nameSize(name string) (int64, bool) {
	base, _, _ := strings.Cut(name, ":")
	i := strings.LastIndex(base, ",W=")
	if i < 0 {
		return 0, false
	}
	v := base[i+3:]
	if j := strings.IndexByte(v, ','); j >= 0 {
		v = v[:j]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

// wireSize is the size of the file at p with every bare LF counted as CRLF.
func wireSize(p string) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	var prev byte
	buf := make([]byte, 32<<10)
	for {
		k, err := f.Read(buf)
		for _, c := range buf[:k] {
			if c == '\n' && prev != '\r' {
				n++
			}
			n++
			prev = c
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// lfWriter stores a message with the LF line ends of Maildir: each CRLF
// the wire carries is written as LF; a lone CR is kept.
type lfWriter struct {
	w     io.Writer
	cr    bool  // the last byte written to us was a CR, held back
	werr  error // the first error of w (a full disk), told apart from the reader's
	buf   []byte
	n     int64 // bytes written to w
	lines int64 // LFs written to w
}

func (l *lfWriter) Write(p []byte) (int, error) {
	n := len(p)
	out := l.buf[:0]
	if l.cr {
		if len(p) > 0 && p[0] != '\n' {
			out = append(out, '\r')
		}
		l.cr = false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\r' {
			if i+1 == len(p) {
				l.cr = true
				break
			}
			if p[i+1] == '\n' {
				continue
			}
		}
		out = append(out, c)
	}
	l.buf = out
	l.n += int64(len(out))
	l.lines += int64(bytes.Count(out, []byte{'\n'}))
	if _, err := l.w.Write(out); err != nil {
		l.werr = err
		return 0, err
	}
	return n, nil
}

// flush writes a CR held back at the end.
func (l *lfWriter) flush() error {
	if l.cr {
		l.cr = false
		l.n++
		if _, err := l.w.Write([]byte{'\r'}); err != nil {
			l.werr = err
			return err
		}
	}
	return nil
}
