package conch

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestDefaultCiphersLeaveOutOnlySlowChaCha20(t *testing.T) {
	d := defaultCiphers()
	if got := slices.Contains(d, ssh.CipherChaCha20Poly1305); got == slowChaCha20() {
		t.Fatalf("defaults %v: chacha20-poly1305 offered = %v on a machine where it is slow = %v", d, got, slowChaCha20())
	}
	for _, c := range ssh.SupportedAlgorithms().Ciphers {
		if c != ssh.CipherChaCha20Poly1305 && !slices.Contains(d, c) {
			t.Errorf("defaults %v lack %s", d, c)
		}
	}
}

func TestParseCiphers(t *testing.T) {
	def := defaultCiphers()
	without := func(c string) []string {
		return slices.DeleteFunc(slices.Clone(def), func(s string) bool { return s == c })
	}
	for _, tc := range []struct {
		spec string
		want []string
		err  string
	}{
		{spec: "aes128-gcm@openssh.com", want: []string{"aes128-gcm@openssh.com"}},
		{spec: "aes256-ctr, aes128-ctr,aes256-ctr", want: []string{"aes256-ctr", "aes128-ctr"}},
		{spec: "+chacha20-poly1305@openssh.com", want: append(without(ssh.CipherChaCha20Poly1305), ssh.CipherChaCha20Poly1305)},
		{spec: "^aes256-ctr", want: append([]string{"aes256-ctr"}, without("aes256-ctr")...)},
		{spec: "-aes128-ctr", want: without("aes128-ctr")},
		{spec: "-" + strings.Join(def, ","), err: "removes every cipher"},
		{spec: "aes128-cbc", err: `cipher "aes128-cbc": not one of aes128-gcm@openssh.com`},
		{spec: "3des-cbc,aes128-ctr", err: `cipher "3des-cbc"`},
		{spec: "+", err: "give at least one"},
		{spec: " , ", err: "give at least one"},
	} {
		got, err := parseCiphers(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseCiphers(%q) = %v, %v; want an error with %q", tc.spec, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseCiphers(%q) = %v, %v; want %v", tc.spec, got, err, tc.want)
		}
	}
}
