package test

import (
	"errors"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs with opts (size=..., nr_inodes=...) on dir,
// unmounted at the end of the test (after any server started later has
// stopped: cleanups run last first). Skips when mounting is refused.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
}

// mailOnDisk runs `twistd mail` whose localhost domain lives on a tmpfs
// mounted with opts; users alice and bob.
func mailOnDisk(t *testing.T, opts string) (smtpAddr, emails string) {
	t.Helper()
	dir := t.TempDir()
	emails = filepath.Join(dir, "emails")
	mountTmpfs(t, emails, opts)
	s := start(t, dir, nil, "-n", "--pidfile=", "mail", "-E", "-H", "localhost", "-d", "localhost=emails",
		"-s", "tcp:0:interface=127.0.0.1", "--no-pop3", "-u", "alice=secret", "-u", "bob=secret")
	return s.addrs()[0], emails
}

// sendMail sends body to rcpts over SMTP and returns the reply code of the
// first refusal (0 when the message was accepted).
func sendMail(t *testing.T, addr string, rcpts []string, body string) int {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code := func(err error) int {
		var te *textproto.Error
		if errors.As(err, &te) {
			return te.Code
		}
		t.Fatalf("smtp: %v", err)
		return 0
	}
	if err := c.Mail("sender@example.com"); err != nil {
		return code(err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return code(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return code(err)
	}
	if _, err := w.Write([]byte(body)); err != nil {
		t.Fatalf("writing DATA: %v", err)
	}
	if err := w.Close(); err != nil {
		return code(err)
	}
	_ = c.Quit()
	return 0
}

// wantBoxes checks how many messages each user's new holds and that every
// tmp is empty.
func wantBoxes(t *testing.T, emails string, want map[string]int) {
	t.Helper()
	for user, n := range want {
		if got := files(t, filepath.Join(emails, user, "new")); len(got) != n {
			t.Fatalf("%s/new: want %d messages, have %v", user, n, got)
		}
		if got := files(t, filepath.Join(emails, user, "tmp")); len(got) != 0 {
			t.Fatalf("%s/tmp not cleaned: %v", user, got)
		}
	}
}

// A message bigger than the free space gets 452 (RFC 5321's insufficient
// system storage), leaves nothing behind, and a small one works after.
func TestGapsMailDiskFullGets452(t *testing.T) {
	t.Parallel()
	addr, emails := mailOnDisk(t, "size=256k")
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("z", 998)+"\r\n", 1024) // 1 MiB
	if code := sendMail(t, addr, []string{"alice@localhost"}, big); code != 452 {
		t.Fatalf("a message bigger than the disk: want 452, got %d", code)
	}
	wantBoxes(t, emails, map[string]int{"alice": 0})
	if code := sendMail(t, addr, []string{"alice@localhost"}, "Subject: small\r\n\r\nfits\r\n"); code != 0 {
		t.Fatalf("a small message after the full disk: refused with %d", code)
	}
	wantBoxes(t, emails, map[string]int{"alice": 1})
}

// The file system has room for the data but no inode for a second name:
// the error comes at link time, after the data was written and fsynced.
// One recipient still gets the message (a rename needs no inode); two get
// 452 and neither has it.
func TestGapsMailNoInodeAtLinkTime(t *testing.T) {
	t.Parallel()
	addr, emails := mailOnDisk(t, "size=1m,nr_inodes=32")
	// Use every inode but one.
	var fill []string
	for i := 0; ; i++ {
		p := filepath.Join(emails, "fill"+itoa(i))
		f, err := os.Create(p)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		f.Close()
		fill = append(fill, p)
	}
	if len(fill) == 0 {
		t.Fatal("no inode to spare on the tmpfs")
	}
	if err := os.Remove(fill[len(fill)-1]); err != nil {
		t.Fatal(err)
	}
	msg := "Subject: linked\r\n\r\nto two\r\n"
	if code := sendMail(t, addr, []string{"alice@localhost", "bob@localhost"}, msg); code != 452 {
		t.Fatalf("two recipients, no inode for the second name: want 452, got %d", code)
	}
	wantBoxes(t, emails, map[string]int{"alice": 0, "bob": 0})
	if code := sendMail(t, addr, []string{"alice@localhost"}, msg); code != 0 {
		t.Fatalf("one recipient, one inode free: refused with %d", code)
	}
	wantBoxes(t, emails, map[string]int{"alice": 1, "bob": 0})
}
