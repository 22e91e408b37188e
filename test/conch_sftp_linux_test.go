package test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestConchSFTPChildPipes: when root, the SFTP child reads and writes
// pipes of 1 MiB (F_SETPIPE_SZ), not the kernel's default 64 KiB, so a
// bulk transfer wakes each side once a megabyte rather than every two
// packets; and the session keeps answering small requests at once
// (a packet held back by the child's writer would hang this client).
func TestConchSFTPChildPipes(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the SFTP child runs only when twistd is root")
	}
	needOpenSSH(t, "sftp")
	f := startConch(t)
	cmd := exec.Command("sftp", append(sshOpts(f.key, f.port, "-P"), "-b", "-", f.user+"@127.0.0.1")...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outW, outW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	defer func() {
		in.Close()
		_ = cmd.Wait()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Each request answered before the next is sent.
	expect := func(cmdline, want string) {
		t.Helper()
		fmt.Fprintln(in, cmdline)
		deadline := time.After(15 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("%s: sftp ended before %q", cmdline, want)
				}
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("%s: no %q within 15s", cmdline, want)
			}
		}
	}
	dir := filepath.Join(f.dir, "d0")
	expect("mkdir "+dir, "mkdir")
	for i := range 20 {
		next := filepath.Join(f.dir, fmt.Sprintf("d%d", i+1))
		expect("rename "+dir+" "+next, "rename")
		dir = next
		expect("pwd", "Remote working directory")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("%s after the renames: %v", dir, err)
	}

	kids := childrenOf(t, f.srv.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("twistd's children: %v, want the one SFTP child", kids)
	}
	// The child's runtime settings, chosen by internal/cli/knobs.go.
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(kids[0]), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Split(string(environ), "\x00")
	for _, want := range []string{"GOMAXPROCS=1", "GOGC=400"} {
		if !slices.Contains(vars, want) {
			t.Errorf("the SFTP child's environment lacks %s: %q", want, vars)
		}
	}
	for _, fd := range []string{"0", "1"} {
		p, err := os.OpenFile(filepath.Join("/proc", strconv.Itoa(kids[0]), "fd", fd), os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		n, err := unix.FcntlInt(p.Fd(), unix.F_GETPIPE_SZ, 0)
		p.Close()
		if err != nil {
			t.Fatalf("the child's fd %s: F_GETPIPE_SZ: %v", fd, err)
		}
		if n != 1<<20 {
			t.Errorf("the child's fd %s is a pipe of %d bytes, want 1 MiB", fd, n)
		}
	}
}
