package service

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestPermanent(t *testing.T) {
	wrap := func(e error) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", e)}
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{name: "nil", err: nil, want: false},
		{name: "closed by us", err: fmt.Errorf("accept: %w", net.ErrClosed), want: false},
		{name: "shut down", err: wrap(syscall.EINVAL), want: true},
		{name: "closed under us", err: wrap(syscall.EBADF), want: true},
		{name: "not a socket", err: syscall.ENOTSOCK, want: true},
		{name: "out of descriptors", err: wrap(syscall.EMFILE), want: false},
		{name: "aborted connection", err: wrap(syscall.ECONNABORTED), want: false},
		{name: "other", err: errors.New("boom"), want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Permanent(tc.err); got != tc.want {
				t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestFailWithoutReactor(t *testing.T) {
	var got error
	env := &Env{OnFail: func(err error) { got = err }}
	want := errors.New("boom")
	env.Fail(want)
	if got != want {
		t.Errorf("OnFail got %v, want %v", got, want)
	}
	(&Env{}).Fail(want) // no OnFail, no Logger: must not panic
}
