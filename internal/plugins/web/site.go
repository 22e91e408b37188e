package web

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"syscall"

	"go.uber.org/zap"
)

// site is one document root: the default path or a virtual host's.
type site struct {
	dir   string
	root  *os.Root // confines every open and stat to dir, symlinks included
	cache *fileCache
}

// Cache bounds per site: files up to 256 KiB are held in memory, 64 MiB
// and 16384 entries at most.
const (
	cacheMaxFile  = 256 << 10
	cacheMaxBytes = 64 << 20
	cacheMaxItems = 16384
)

func openSite(dir string, t *types) (*site, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	return &site{dir: dir, root: root, cache: newFileCache(root, t, cacheMaxFile, cacheMaxBytes, cacheMaxItems)}, nil
}

func (s *site) close() error { return errors.Join(s.cache.close(), s.root.Close()) }

// statusOf maps an error from the root to a status: 404 for missing names
// and for names that leave the root (a symlink pointing out of it), 403
// for permissions, 500 for the rest (logged by the caller).
func statusOf(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP),
		errors.Is(err, syscall.ENAMETOOLONG):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	case escapes(err):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// escapes reports whether err is os.Root refusing a path that leaves it.
func escapes(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent"
}

// serve answers a GET or HEAD for name (from cleanPath) on this site.
func (h *handler) serveStatic(w *recorder, r *http.Request, s *site, name string, dirSlash bool) {
	fi, err := s.root.Stat(name)
	if err != nil && len(h.opts.IgnoreExt) > 0 && !dirSlash && errors.Is(err, fs.ErrNotExist) {
		for _, ext := range h.opts.IgnoreExt {
			if efi, eerr := s.root.Stat(name + ext); eerr == nil && efi.Mode().IsRegular() {
				name, fi, err = name+ext, efi, nil
				break
			}
		}
	}
	if err != nil {
		h.fileError(w, r, name, err)
		return
	}
	if fi.IsDir() {
		h.serveDir(w, r, s, name, dirSlash)
		return
	}
	if dirSlash || !fi.Mode().IsRegular() { // "file.txt/", devices, FIFOs, sockets
		h.fail(w, r, http.StatusNotFound)
		return
	}
	h.serveFile(w, r, s, name, fi)
}

// fileError answers a failed stat or open, logging what is not plainly a
// missing file.
func (h *handler) fileError(w *recorder, r *http.Request, name string, err error) {
	code := statusOf(err)
	if code == http.StatusInternalServerError || code == http.StatusForbidden {
		h.log.Warn("cannot serve file", zapFile(name), zapErr(err))
	} else if escapes(err) {
		h.log.Info("refused a path leaving the root", zapFile(name), zap.String("remote", r.RemoteAddr))
	}
	h.fail(w, r, code)
}

// serveDir answers a directory: redirect to the slash, index file, listing or 404.
func (h *handler) serveDir(w *recorder, r *http.Request, s *site, name string, dirSlash bool) {
	if !dirSlash && name != "." {
		target := r.URL.EscapedPath() + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		h.fail(w, r, http.StatusMovedPermanently)
		return
	}
	for _, index := range h.opts.Index {
		in := index
		if name != "." {
			in = name + "/" + index
		}
		fi, err := s.root.Stat(in)
		if err == nil && fi.Mode().IsRegular() {
			h.serveFile(w, r, s, in, fi)
			return
		}
	}
	if !h.opts.Listing {
		h.fail(w, r, http.StatusNotFound)
		return
	}
	h.serveListing(w, r, s, name)
}
