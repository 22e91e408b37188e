package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"html"
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

// listing is what the page shows.
type listing struct {
	Path    string // the directory's request path, decoded
	Up      bool   // a link to the parent is shown
	Sort    string // name | size | time
	Desc    bool
	Entries []listingEntry
	Dirs    int
	Files   int
}

// writeListing writes the HTML page of a listing, by hand rather than
// with html/template (see package htmlesc for why), escaping every value
// as html/template would.
func writeListing(w io.Writer, l *listing) error {
	esc := html.EscapeString
	var b strings.Builder
	b.Grow(len(listingStyle) + 2048 + 640*len(l.Entries))
	b.WriteString(listingHead + "<title>Index of " + esc(l.Path) + "</title>\n" + listingStyle + "\n</head>\n<body>\n<main>\n")
	b.WriteString("<h1>Index of " + esc(l.Path) + "</h1>\n")
	b.WriteString(`<p class="summary">` + strconv.Itoa(l.Dirs) + " folder" + plural(l.Dirs) + ", " +
		strconv.Itoa(l.Files) + " file" + plural(l.Files) + "</p>\n<table>\n<thead><tr>\n")
	for _, c := range [...]struct{ col, class, title string }{{"name", "name", "Name"}, {"size", "size", "Size"}, {"time", "time", "Modified"}} {
		b.WriteString(`<th class="` + c.class + `"><a href="` + html.EscapeString(l.sortURL(c.col)) + `">` + c.title + esc(l.arrow(c.col)) + "</a></th>\n")
	}
	b.WriteString("</tr></thead>\n<tbody>")
	if l.Up {
		b.WriteString("\n" + `<tr><td class="name"><a class="entry" href="../">` + dirIcon +
			`<span>Parent folder</span></a></td><td class="size"></td><td class="time"></td></tr>`)
	}
	for _, e := range l.Entries {
		b.WriteString("\n<tr>\n" + `<td class="name"><a class="entry" href="` + html.EscapeString(e.Href) + `">`)
		if e.IsDir {
			b.WriteString(dirIcon + "<span>" + esc(e.Name) + "/</span></a></td>\n" + `<td class="size">—</td>` + "\n")
		} else {
			b.WriteString(fileIcon + "<span>" + esc(e.Name) + "</span></a></td>\n" + `<td class="size">` + esc(humanSize(e.Size)) + "</td>\n")
		}
		b.WriteString(`<td class="time"><time datetime="` + esc(e.ModTime.UTC().Format(time.RFC3339)) + `">` +
			esc(e.ModTime.UTC().Format("2006-01-02 15:04")) + "</time></td>\n</tr>")
	}
	b.WriteString("\n</tbody>\n</table>\n</main>\n</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// sortURL is the link of a column's header: sort by it, ascending, or
// descending if it already sorts ascending.
func (l *listing) sortURL(col string) string {
	order := "asc"
	if l.Sort == col && !l.Desc {
		order = "desc"
	}
	return "?sort=" + col + "&order=" + order
}

// arrow marks the column the listing is sorted by.
func (l *listing) arrow(col string) string {
	switch {
	case l.Sort != col:
		return ""
	case l.Desc:
		return " ↓"
	}
	return " ↑"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

const (
	listingHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
`
	dirIcon  = `<svg class="dir" viewBox="0 0 24 24" aria-hidden="true"><path d="M10 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-8l-2-2z"/></svg>`
	fileIcon = `<svg class="file" viewBox="0 0 24 24" aria-hidden="true"><path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/><path d="M14 3v5h5"/></svg>`
)

// listingStyle is the page's style sheet: light and dark, no external assets.
const listingStyle = `<style>
:root { --fg: #1f2328; --muted: #656d76; --bg: #ffffff; --line: #d0d7de; --row: #f6f8fa; --link: #0969da; --dir: #c28a00; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #8d96a0; --bg: #0d1117; --line: #30363d; --row: #161b22; --link: #4493f8; --dir: #d4a72c; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 960px; margin: 0 auto; padding: 24px 16px 48px; }
h1 { font-size: 1.35rem; font-weight: 600; margin: 0 0 4px; word-break: break-all; }
p.summary { margin: 0 0 16px; color: var(--muted); font-size: .9rem; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th, td { padding: 8px 10px; text-align: left; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; vertical-align: middle; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
th a { color: inherit; text-decoration: none; }
th a:hover { color: var(--link); }
tbody tr:hover { background: var(--row); }
th.size { width: 6.5rem; } th.time { width: 11rem; }
td.size, th.size { text-align: right; font-variant-numeric: tabular-nums; }
td.time { color: var(--muted); font-variant-numeric: tabular-nums; }
a.entry { color: var(--link); text-decoration: none; display: flex; align-items: center; gap: 8px; max-width: 100%; }
a.entry:hover span { text-decoration: underline; }
a.entry span { overflow: hidden; text-overflow: ellipsis; }
svg { flex: none; width: 18px; height: 18px; }
svg.dir { fill: var(--dir); } svg.file { fill: none; stroke: var(--muted); stroke-width: 1.6; }
@media (max-width: 600px) {
  main { padding: 16px 8px 32px; }
  th.time, td.time { display: none; }
  th.size { width: 5.5rem; }
  th, td { padding: 10px 6px; }
}
</style>`

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
	if err := writeListing(w, l); err != nil {
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
