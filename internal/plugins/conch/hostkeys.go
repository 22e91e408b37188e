package conch

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// hostKeyFiles are the host keys kept in the data directory, named as
// OpenSSH names them, each generated when missing.
var hostKeyFiles = []struct {
	name string
	gen  func() (any, error)
}{
	{"ssh_host_ed25519_key", func() (any, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}},
	{"ssh_host_rsa_key", func() (any, error) { return rsa.GenerateKey(rand.Reader, 3072) }},
}

// maxKeyFile bounds what is read of a host key file.
const maxKeyFile = 64 << 10

// loadHostKeys reads the host keys in dir, generating (and writing, mode
// 0600, with the .pub beside) the missing ones; dir is made 0700 if it
// does not exist.
func loadHostKeys(dir string) ([]ssh.Signer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var signers []ssh.Signer
	for _, f := range hostKeyFiles {
		path := filepath.Join(dir, f.name)
		s, err := readHostKey(path)
		if errors.Is(err, fs.ErrNotExist) {
			s, err = writeHostKey(path, f.gen)
		}
		if err != nil {
			return nil, err
		}
		signers = append(signers, s)
	}
	return signers, nil
}

func readHostKey(path string) (ssh.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxKeyFile {
		return nil, fmt.Errorf("%s: not a key file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o: a private key must not be readable by others (chmod 600)", path, st.Mode().Perm())
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func writeHostKey(path string, gen func() (any, error)) (ssh.Signer, error) {
	key, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", path, err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", path, err)
	}
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", path, err)
	}
	// Written beside and renamed, so a crash never leaves half a key.
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(pem.EncodeToMemory(block))
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	_ = os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(s.PublicKey()), 0o644)
	return s, nil
}
