package web

import (
	"strings"
	"testing"
	"time"
)

func TestListingPageEscapes(t *testing.T) {
	mt := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", 2*3600))
	l := &listing{Path: "/a&b/<c>/", Up: true, Sort: "size", Desc: true, Dirs: 1, Files: 1, Entries: []listingEntry{
		{Name: "sub", Href: "./sub/", IsDir: true, ModTime: mt},
		{Name: `x"y'z+<w>.txt`, Href: "./x%22y'z+%3Cw%3E.txt", Size: 1536, ModTime: mt},
	}}
	var b strings.Builder
	if err := writeListing(&b, l); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<title>Index of /a&amp;b/&lt;c&gt;/</title>",
		"<h1>Index of /a&amp;b/&lt;c&gt;/</h1>\n<p class=\"summary\">1 folder, 1 file</p>",
		`<th class="name"><a href="?sort=name&amp;order=asc">Name</a></th>`,
		`<th class="size"><a href="?sort=size&amp;order=asc">Size ↓</a></th>`,
		"<tbody>\n<tr><td class=\"name\"><a class=\"entry\" href=\"../\">",
		`<a class="entry" href="./sub/"><svg class="dir"`,
		"<span>sub/</span></a></td>\n<td class=\"size\">—</td>",
		`<a class="entry" href="./x%22y&#39;z+%3Cw%3E.txt"><svg class="file"`,
		"<span>x&#34;y&#39;z+&lt;w&gt;.txt</span></a></td>\n<td class=\"size\">1.5 KiB</td>",
		`<time datetime="2025-03-04T03:06:07Z">2025-03-04 03:06</time>`,
		"</tr>\n</tbody>\n</table>\n</main>\n</body>\n</html>\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
	if strings.Contains(page, "<w>") {
		t.Errorf("listing:\n%s", page)
	}
}

func TestListingPageEmpty(t *testing.T) {
	var b strings.Builder
	if err := writeListing(&b, &listing{Path: "/", Sort: "name"}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, "0 folders, 0 files") || !strings.Contains(page, "Name ↑</a>") ||
		!strings.Contains(page, "<tbody>\n</tbody>") || strings.Contains(page, "Parent folder") {
		t.Errorf("listing:\n%s", page)
	}
}
