package test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// watchApp is an application whose dns service reads a hosts file and
// whose web service serves a root --watch must leave alone.
const watchApp = `
admin:
  listen: tcp:0:interface=127.0.0.1
%s
services:
  - name: names
    type: dns
    listen: udp:0:interface=127.0.0.1
    hosts_file: %s
    ttl: %d
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
`

// hostsLines is a hosts file of n names.
func hostsLines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "127.0.0.%d host%d.test\n", i, i)
	}
	return b.String()
}

// verdicts counts the reload verdicts the server has logged.
func verdicts(s *server) (ok, failed int) {
	for _, l := range strings.Split(s.output(), "\n") {
		switch {
		case strings.Contains(l, "reload succeeded"):
			ok++
		case strings.Contains(l, "reload failed"):
			failed++
		}
	}
	return ok, failed
}

// expectReload waits for the n-th successful reload after edit and checks
// the watcher saw the change within a second, and, with hosts > 0, that
// the reload read a hosts file of that many names.
func expectReload(t *testing.T, s *server, n, hosts int, edit func()) {
	t.Helper()
	before := strings.Count(s.output(), "watched files changed")
	began := time.Now()
	edit()
	eventually(t, 5*time.Second, fmt.Sprintf("the watcher to see edit #%d", n), func() bool {
		return strings.Count(s.output(), "watched files changed") > before
	})
	if took := time.Since(began); took > time.Second {
		t.Errorf("edit #%d: the watcher took %s to react (want ≤ 1s)", n, took)
	}
	eventually(t, 10*time.Second, fmt.Sprintf("reload #%d", n), func() bool {
		ok, _ := verdicts(s)
		return ok >= n
	})
	if ok, failed := verdicts(s); ok != n || failed != 0 {
		t.Fatalf("after edit #%d: %d reloads succeeded, %d failed; want %d, 0:\n%s", n, ok, failed, n, s.output())
	}
	if hosts > 0 {
		// An unchanged service re-reads its files in place; a changed one
		// (a new ttl) is replaced, and its successor reads them anew.
		lines := strings.Split(s.output(), "\n")
		found := false
		for i := len(lines) - 1; i >= 0; i-- {
			if strings.Contains(lines[i], "reloaded zones and hosts file") || strings.Contains(lines[i], "serving hosts file") {
				found = strings.Contains(lines[i], fmt.Sprintf(`"hosts": %d}`, hosts)) ||
					strings.Contains(lines[i], fmt.Sprintf(`"names": %d}`, hosts))
				break
			}
		}
		if !found {
			t.Fatalf("edit #%d: the last reload did not read %d hosts:\n%s", n, hosts, s.output())
		}
	}
}

// renameOver writes content to a temporary file beside path and renames
// it over path, as vim (backupcopy=no), sed -i and most editors save.
func renameOver(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Each way of saving a file is seen, for the application file and for a
// data file it names: truncate-and-write, rename over, sed -i, and a
// changed ttl in the application file itself.
func TestWatchEditingStyles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hi\n")
	hosts := writeFile(t, dir, "hosts", hostsLines(1))
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(watchApp, "", "./hosts", 60))
	s := start(t, dir, nil, "-n", "--pidfile=", "--watch", "-c", app)

	expectReload(t, s, 1, 2, func() { // truncate and write in place (echo > file, most IDEs)
		if err := os.WriteFile(hosts, []byte(hostsLines(2)), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	expectReload(t, s, 2, 3, func() { renameOver(t, hosts, hostsLines(3)) })
	expectReload(t, s, 3, 4, func() {
		if out, err := exec.Command("sed", "-i", "$a 127.0.0.4 host4.test", hosts).CombinedOutput(); err != nil {
			t.Fatalf("sed -i: %v %s", err, out)
		}
	})
	expectReload(t, s, 4, 0, func() { renameOver(t, app, fmt.Sprintf(watchApp, "", "./hosts", 120)) })
	// An append (>>) to the hosts file, after the reloads: still watched.
	expectReload(t, s, 5, 5, func() {
		f, err := os.OpenFile(hosts, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, "127.0.0.5 host5.test")
		f.Close()
	})
	// The watched set follows the file: a reload that names a data file
	// in a new directory watches it from then on.
	moved := writeFile(t, dir, "data/hosts", hostsLines(6))
	expectReload(t, s, 6, 6, func() { renameOver(t, app, fmt.Sprintf(watchApp, "", "./data/hosts", 120)) })
	expectReload(t, s, 7, 7, func() { renameOver(t, moved, hostsLines(7)) })
}

// A Kubernetes ConfigMap volume: the files are links through ..data, a
// link to a timestamped directory, and an update swaps ..data by renaming
// a new link over it. The swap reloads; so does the next one, after the
// watched set was recomputed.
func TestWatchConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hi\n")
	cm := filepath.Join(dir, "cm")
	generation := func(n, hostCount, ttl int) {
		g := filepath.Join(cm, fmt.Sprintf("..2026_12_03_%02d", n))
		writeFile(t, g, "hosts", hostsLines(hostCount))
		writeFile(t, g, "app.yaml", fmt.Sprintf(watchApp, "", "./hosts", ttl))
		tmp := filepath.Join(cm, "..data_tmp")
		if err := os.Symlink(filepath.Base(g), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(cm, "..data")); err != nil {
			t.Fatal(err)
		}
		if n > 1 {
			if err := os.RemoveAll(filepath.Join(cm, fmt.Sprintf("..2026_12_03_%02d", n-1))); err != nil {
				t.Fatal(err)
			}
		}
	}
	generation(1, 1, 60)
	for _, f := range []string{"app.yaml", "hosts"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(cm, f)); err != nil {
			t.Fatal(err)
		}
	}
	// The web root sits beside the ConfigMap, as a volume of its own.
	if err := os.Symlink(filepath.Join(dir, "public"), filepath.Join(cm, "public")); err != nil {
		t.Fatal(err)
	}
	s := start(t, dir, nil, "-n", "--pidfile=", "--watch", "-c", filepath.Join(cm, "app.yaml"))
	expectReload(t, s, 1, 2, func() { generation(2, 2, 60) })  // hosts changed
	expectReload(t, s, 2, 3, func() { generation(3, 3, 90) })  // both changed
	expectReload(t, s, 3, 0, func() { generation(4, 3, 120) }) // the file alone
	expectReload(t, s, 4, 4, func() { generation(5, 4, 120) }) // hosts alone, again
}

// A broken edit keeps the running configuration and says why in the log
// and /status; the file is still watched, so fixing it reloads.
func TestWatchBrokenEditKeepsOld(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hi\n")
	writeFile(t, dir, "hosts", hostsLines(1))
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(watchApp, "", "./hosts", 60))
	s := start(t, dir, nil, "-n", "--pidfile=", "--watch", "-c", app)
	base := "http://" + s.addrs()[0]

	renameOver(t, app, fmt.Sprintf(watchApp, "", "./no-such-hosts", 60))
	eventually(t, 5*time.Second, "the refused reload", func() bool {
		_, failed := verdicts(s)
		return failed == 1
	})
	st := getStatus(t, base)
	if st.LastReload == nil || st.LastReload.Result != "failed" || !strings.Contains(st.LastReload.Error, "app.yaml:9:") ||
		!strings.Contains(st.LastReload.Error, "no-such-hosts") {
		t.Fatalf("/status last_reload after a broken edit: %+v", st.LastReload)
	}
	if len(st.Services) != 2 || st.Services[0].State != "running" {
		t.Fatalf("services after a refused reload: %+v", st.Services)
	}
	if !strings.Contains(s.output(), "still running the previous configuration") {
		t.Fatalf("the log does not say the old configuration runs on:\n%s", s.output())
	}
	// The data file of the running configuration is still watched: its
	// change reloads, which the broken file refuses again, as SIGHUP would...
	renameOver(t, filepath.Join(dir, "hosts"), hostsLines(2))
	eventually(t, 5*time.Second, "the second refused reload", func() bool {
		_, failed := verdicts(s)
		return failed == 2
	})
	// ...and so is the file: the fix is taken.
	expectReloadAfterFailure(t, s, 1, func() { renameOver(t, app, fmt.Sprintf(watchApp, "", "./hosts", 90)) })
	if st := getStatus(t, base); st.LastReload == nil || st.LastReload.Result != "ok" {
		t.Fatalf("/status after the fix: %+v", st.LastReload)
	}
}

// expectReloadAfterFailure waits for the n-th successful reload, counting
// the refusals before it.
func expectReloadAfterFailure(t *testing.T, s *server, n int, edit func()) {
	t.Helper()
	edit()
	eventually(t, 5*time.Second, fmt.Sprintf("successful reload #%d", n), func() bool {
		ok, _ := verdicts(s)
		return ok >= n
	})
}

// Nothing reloads for a change --watch does not watch: another file in the
// same directory (written, created, renamed, removed), a file in the web
// root. Then a watched change is one reload.
func TestWatchIgnoresUnrelatedFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hi\n")
	writeFile(t, dir, "hosts", hostsLines(1))
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(watchApp, "", "./hosts", 60))
	s := start(t, dir, nil, "-n", "--pidfile=", "--watch", "-c", app)

	other := writeFile(t, dir, "notes.txt", "one\n")
	renameOver(t, other, "two\n")
	writeFile(t, dir, "hosts.bak", hostsLines(9))
	if err := os.Remove(filepath.Join(dir, "hosts.bak")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "public/index.html", "changed\n")
	writeFile(t, dir, "public/new.html", "new\n")
	// No poll can show that nothing happens: give a reload, if any, 3
	// debounce periods to show itself.
	time.Sleep(600 * time.Millisecond)
	if ok, failed := verdicts(s); ok+failed != 0 {
		t.Fatalf("an unwatched change reloaded (%d ok, %d failed):\n%s", ok, failed, s.output())
	}
	expectReload(t, s, 1, 2, func() { renameOver(t, filepath.Join(dir, "hosts"), hostsLines(2)) })
}

// process: {watch: true} in the file turns watching on, as --watch does.
func TestWatchFromProcessSection(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hi\n")
	hosts := writeFile(t, dir, "hosts", hostsLines(1))
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(watchApp, "process: {watch: true}", "./hosts", 60))
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	expectReload(t, s, 1, 3, func() { renameOver(t, hosts, hostsLines(3)) })
}

// Certificates, TLS keys and htpasswd files are watched too: a renewed
// certificate (certbot renames the new files in) is served after the
// reload it triggers.
func TestWatchCertificatesAndHtpasswd(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hi\n")
	writeFile(t, dir, "public/private/index.html", "secret\n")
	selfSigned(t, filepath.Join(dir, "tls"))
	htpasswd := writeFile(t, dir, "auth/htpasswd", "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: site
    type: web
    listen: "ssl:0:privateKey=tls/key.pem:certKey=tls/cert.pem:interface=127.0.0.1"
    path: ./public
    basic_auth: {realm: staff, htpasswd: ./auth/htpasswd, paths: [/private/]}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "--watch", "-c", app)
	served := func() []byte {
		c, err := tls.Dial("tcp", s.addrs()[0], &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	first := served()
	expectReload(t, s, 1, 0, func() {
		fresh := t.TempDir()
		key, cert := selfSigned(t, fresh)
		for _, f := range [][2]string{{key, "key.pem"}, {cert, "cert.pem"}} {
			data, err := os.ReadFile(f[0])
			if err != nil {
				t.Fatal(err)
			}
			renameOver(t, filepath.Join(dir, "tls", f[1]), string(data))
		}
	})
	eventually(t, 5*time.Second, "the renewed certificate", func() bool { return !bytes.Equal(served(), first) })
	expectReload(t, s, 2, 0, func() {
		if err := os.WriteFile(htpasswd, []byte("bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nalice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
}
