package htmlesc

import (
	"html/template"
	"strings"
	"testing"
)

// The reference is html/template itself: a test binary may use it.
var (
	textTmpl = template.Must(template.New("t").Parse(`<p title="{{.}}">{{.}}</p><title>{{.}}</title>`))
	urlTmpl  = template.Must(template.New("u").Parse(`<a href="{{.}}">`))
)

func want(t testing.TB, tmpl *template.Template, s string) string {
	t.Helper()
	var b strings.Builder
	if err := tmpl.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func check(t testing.TB, s string) {
	t.Helper()
	e := Text(s)
	if got, w := `<p title="`+e+`">`+e+`</p><title>`+e+`</title>`, want(t, textTmpl, s); got != w {
		t.Errorf("Text(%q):\n got %s\nwant %s", s, got, w)
	}
	if got, w := `<a href="`+URL(s)+`">`, want(t, urlTmpl, s); got != w {
		t.Errorf("URL(%q):\n got %s\nwant %s", s, got, w)
	}
}

var corpus = []string{
	"", "plain", "<script>alert(1)</script>", `a "quoted" 'name'`, "a&b", "1+1", "nul\x00byte",
	"bad\xffutf8", "é ünïcödé ↑ 日本", "./a b.txt", "./%3Cscript%3E.txt", "./50%", "./%zz", "./%4", "./%41",
	"?sort=name&order=asc", "javascript:alert(1)", "JavaScript:x", "http://x/y?z#w", "HTTPS://x", "mailto:a@b",
	"data:text/html,x", "./a:b", "/abs/path/", "../", "./it's (a) file!", "tab\there\nnewline", "\x7f\x01",
}

func TestMatchesHTMLTemplate(t *testing.T) {
	for _, s := range corpus {
		check(t, s)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range corpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { check(t, s) })
}
