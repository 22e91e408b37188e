package web

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listingEntry is one row of a directory listing (and its JSON form).
type listingEntry struct {
	Name    string    `json:"name"`
	URL     string    `json:"url"` // absolute path
	Href    string    `json:"-"`   // relative, "./" first so "a:b" is no scheme
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	IsDir   bool      `json:"is_dir"`
	Symlink bool      `json:"is_symlink"`
}

// listing is what the page template renders.
type listing struct {
	Path    string // the directory's request path, decoded
	Up      bool   // a link to the parent is shown
	Sort    string // name | size | time
	Desc    bool
	Entries []listingEntry
	Dirs    int
	Files   int
}

//go:embed listing.html
var listingHTML string

var listingTemplate = template.Must(template.New("listing").Funcs(template.FuncMap{
	"size": humanSize,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"sortURL": func(l *listing, col string) string {
		order := "asc"
		if l.Sort == col && !l.Desc {
			order = "desc"
		}
		return "?sort=" + col + "&order=" + order
	},
	"arrow": func(l *listing, col string) string {
		switch {
		case l.Sort != col:
			return ""
		case l.Desc:
			return " ↓"
		}
		return " ↑"
	},
}).Parse(listingHTML))

// maxListing bounds the entries read from one directory.
const maxListing = 100000

// serveListing answers a directory without an index file: an HTML page,
// or JSON for Accept: application/json. Hidden names and symlinks that
// leave the root are left out.
func (h *handler) serveListing(w *recorder, r *http.Request, s *site, name string) {
	d, err := s.root.Open(name)
	if err != nil {
		h.fileError(w, r, name, err)
		return
	}
	defer d.Close()
	dirents, err := d.ReadDir(maxListing)
	if err != nil && len(dirents) == 0 && !isEOF(err) {
		h.fileError(w, r, name, err)
		return
	}
	l := &listing{Path: r.URL.Path, Up: name != "."}
	base := r.URL.EscapedPath()
	for _, de := range dirents {
		if hidden(de.Name(), h.opts.Hidden) {
			continue
		}
		full := de.Name()
		if name != "." {
			full = name + "/" + de.Name()
		}
		var fi fs.FileInfo
		if de.Type()&fs.ModeSymlink != 0 {
			fi, err = s.root.Stat(full) // follows the link only inside the root
		} else {
			fi, err = de.Info()
		}
		if err != nil {
			continue
		}
		e := listingEntry{Name: de.Name(), Size: fi.Size(), ModTime: fi.ModTime(), IsDir: fi.IsDir(),
			Symlink: de.Type()&fs.ModeSymlink != 0}
		e.Href = (&url.URL{Path: "./" + e.Name}).EscapedPath()
		e.URL = base + e.Href[2:]
		if e.IsDir {
			e.Size = 0
			e.URL += "/"
			e.Href += "/"
			l.Dirs++
		} else {
			l.Files++
		}
		l.Entries = append(l.Entries, e)
	}
	q := r.URL.Query()
	l.Sort, l.Desc = q.Get("sort"), q.Get("order") == "desc"
	if l.Sort != "size" && l.Sort != "time" {
		l.Sort = "name"
	}
	sortEntries(l.Entries, l.Sort, l.Desc)

	hdr := w.Header()
	hdr["Vary"] = []string{"Accept"}
	hdr["Cache-Control"] = []string{"no-cache"}
	hdr["X-Content-Type-Options"] = hdrNoSniff
	if wantsJSON(r.Header.Get("Accept")) {
		hdr["Content-Type"] = hdrJSON
		if l.Entries == nil {
			l.Entries = []listingEntry{}
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(l.Entries)
		return
	}
	hdr["Content-Type"] = hdrTextHTML
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := listingTemplate.Execute(w, l); err != nil {
		h.log.Warn("rendering a listing", zapFile(name), zapErr(err))
	}
}

// sortEntries orders a listing: folders first, then by the column.
func sortEntries(es []listingEntry, by string, desc bool) {
	slices.SortStableFunc(es, func(a, b listingEntry) int {
		if a.IsDir != b.IsDir {
			if a.IsDir {
				return -1
			}
			return 1
		}
		var c int
		switch by {
		case "size":
			c = cmp.Compare(a.Size, b.Size)
		case "time":
			c = a.ModTime.Compare(b.ModTime)
		}
		if c == 0 {
			c = cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}
		if c == 0 {
			c = cmp.Compare(a.Name, b.Name)
		}
		if desc {
			c = -c
		}
		return c
	})
}

// wantsJSON reports whether an Accept header prefers JSON to HTML.
func wantsJSON(accept string) bool {
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// humanSize prints a byte count the way people read it: 512 B, 4.0 KiB.
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n) / 1024
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
