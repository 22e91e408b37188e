//go:build linux || darwin || freebsd

package conch

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// RFC 4254 §8 terminal mode opcodes we apply, by what they set.
var (
	modeChars = map[byte]int{
		1: unix.VINTR, 2: unix.VQUIT, 3: unix.VERASE, 4: unix.VKILL, 5: unix.VEOF,
		6: unix.VEOL, 7: unix.VEOL2, 8: unix.VSTART, 9: unix.VSTOP, 10: unix.VSUSP,
		12: unix.VREPRINT, 13: unix.VWERASE, 14: unix.VLNEXT, 18: unix.VDISCARD,
	}
	modeIflags = map[byte]uint64{
		30: unix.IGNPAR, 31: unix.PARMRK, 32: unix.INPCK, 33: unix.ISTRIP, 34: unix.INLCR,
		35: unix.IGNCR, 36: unix.ICRNL, 38: unix.IXON, 39: unix.IXANY, 40: unix.IXOFF,
		41: unix.IMAXBEL,
	}
	modeLflags = map[byte]uint64{
		50: unix.ISIG, 51: unix.ICANON, 53: unix.ECHO, 54: unix.ECHOE, 55: unix.ECHOK,
		56: unix.ECHONL, 57: unix.NOFLSH, 58: unix.TOSTOP, 59: unix.IEXTEN,
		60: unix.ECHOCTL, 61: unix.ECHOKE, 62: unix.PENDIN,
	}
	modeOflags = map[byte]uint64{
		70: unix.OPOST, 72: unix.ONLCR, 73: unix.OCRNL, 74: unix.ONOCR, 75: unix.ONLRET,
	}
)

func setBit[T ~uint32 | ~uint64](f *T, bit uint64, on bool) {
	if on {
		*f |= T(bit)
	} else {
		*f &^= T(bit)
	}
}

// applyModes sets the terminal modes of a pty-req (RFC 4254 §8: opcode
// bytes each followed by a uint32, up to TTY_OP_END) on tty, as sshd
// does; opcodes we do not know are skipped, and a malformed encoding
// ends the parse there.
func applyModes(tty *os.File, modes []byte) error {
	if len(modes) == 0 {
		return nil
	}
	fd := int(tty.Fd())
	t, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return err
	}
	for len(modes) >= 5 {
		op := modes[0]
		if op == 0 || op >= 160 {
			break
		}
		v := binary.BigEndian.Uint32(modes[1:5])
		modes = modes[5:]
		if c, ok := modeChars[op]; ok {
			if v > 255 {
				v = 0 // _POSIX_VDISABLE
			}
			t.Cc[c] = uint8(v)
		} else if b, ok := modeIflags[op]; ok {
			setBit(&t.Iflag, b, v != 0)
		} else if b, ok := modeLflags[op]; ok {
			setBit(&t.Lflag, b, v != 0)
		} else if b, ok := modeOflags[op]; ok {
			setBit(&t.Oflag, b, v != 0)
		}
	}
	return unix.IoctlSetTermios(fd, ioctlSetTermios, t)
}
