package ftp

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/afero"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/service"
)

var (
	loginsOpts = prometheus.CounterOpts{Name: "twistd_ftp_logins_total",
		Help: "FTP logins, by service and result (ok, failed)."}
	filesOpts = prometheus.CounterOpts{Name: "twistd_ftp_files_total",
		Help: "FTP files transferred, by service and direction (download, upload)."}
	bytesOpts = prometheus.CounterOpts{Name: "twistd_ftp_bytes_total",
		Help: "FTP data-connection bytes of file transfers, by service and direction."}
)

// data is what a reload replaces: the users and the certificate.
type data struct {
	users *htpasswd.File // nil: no password file
	tls   *tls.Config    // nil: no AUTH TLS
}

// counters are the service's FTP metrics, resolved to their labels.
type counters struct {
	loginOK, loginFailed prometheus.Counter
	filesDown, filesUp   prometheus.Counter
	bytesDown, bytesUp   prometheus.Counter
	stats                *service.Stats
}

// driver is the library's MainDriver: it authenticates and gives each
// session its confined file system.
type driver struct {
	cfg      *config
	settings *ftpserver.Settings
	log      *zap.Logger
	data     atomic.Pointer[data]
	ro, rw   afero.Fs
	c        *counters
	fails    *failures
	site     string // the SITE prefix of the control filter's replies

	mu       sync.Mutex
	sessions map[ftpserver.ClientContext]*session
	stopping bool
}

// session is what the driver keeps of one control connection.
type session struct {
	transfers atomic.Int32 // files open for a transfer now
	mu        sync.Mutex
	closers   []func() error // what the session opened
}

func (d *driver) GetSettings() (*ftpserver.Settings, error) { return d.settings, nil }

func (d *driver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping {
		// ftpserverlib sends this with its own code (500): the text is
		// what tells a client taken during a stop or a reload to retry.
		return stoppingReply, errStopping
	}
	s := &session{}
	d.sessions[cc] = s
	cc.SetExtra(s)
	return d.cfg.banner, nil
}

func (d *driver) ClientDisconnected(cc ftpserver.ClientContext) {
	d.mu.Lock()
	delete(d.sessions, cc)
	d.mu.Unlock()
	if s, _ := cc.Extra().(*session); s != nil {
		s.mu.Lock()
		closers := s.closers
		s.closers = nil
		s.mu.Unlock()
		for _, c := range closers {
			_ = c()
		}
	}
}

// closeIdle starts the stop: no new sessions, and every session not in
// the middle of a file transfer is closed. It returns how many are left.
func (d *driver) closeIdle() int {
	d.mu.Lock()
	d.stopping = true
	var idle []ftpserver.ClientContext
	for cc, s := range d.sessions {
		if s.transfers.Load() == 0 {
			idle = append(idle, cc)
			delete(d.sessions, cc)
		}
	}
	left := len(d.sessions)
	d.mu.Unlock()
	for _, cc := range idle {
		_ = cc.Close()
	}
	return left
}

func (d *driver) isAnonymous(user string) bool {
	if !d.cfg.anonymous {
		return false
	}
	if dt := d.data.Load(); dt.users != nil {
		if dt.users.Has(user) {
			return false
		}
	}
	return user == d.cfg.userAnonymous || user == "ftp"
}

// PreAuthUser implements MainDriverExtensionUserVerifier: it asks for
// TLS before a password is sent where the configuration wants it.
func (d *driver) PreAuthUser(cc ftpserver.ClientContext, user string) error {
	if d.data.Load().tls == nil {
		return nil
	}
	switch d.cfg.requireTLS {
	case tlsAlways:
		return cc.SetTLSRequirement(ftpserver.MandatoryEncryption)
	case tlsPasswords:
		if !d.isAnonymous(user) {
			return cc.SetTLSRequirement(ftpserver.MandatoryEncryption)
		}
	}
	return cc.SetTLSRequirement(ftpserver.ClearOrEncrypted)
}

var (
	errLogin    = errors.New("login incorrect")
	errTooMany  = errors.New("too many failed logins from your address; try later")
	errStopping = errors.New("the service is stopping")
)

// stoppingReply is the greeting of a session refused while stopping.
const stoppingReply = "Service stopping, try again"

func (d *driver) AuthUser(cc ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	peer := peerIP(cc.RemoteAddr())
	if d.fails.blocked(peer) {
		d.c.loginFailed.Inc()
		d.log.Info("login refused: too many failures", zap.String("peer", cc.RemoteAddr().String()), zap.String("user", user))
		return nil, errTooMany
	}
	s, _ := cc.Extra().(*session)
	if s == nil {
		return nil, errStopping
	}
	if d.login(user, pass) {
		fs, err := d.fsFor(user, s)
		if err != nil {
			d.log.Error("login: the user's home", zap.String("user", user), zap.Error(err))
			return nil, errors.New("your home directory is not available")
		}
		d.c.loginOK.Inc()
		d.log.Info("login", zap.String("peer", cc.RemoteAddr().String()), zap.String("user", user),
			zap.Bool("writable", d.writable(user)))
		return &countingFs{Fs: fs, c: d.c, s: s, idle: d.cfg.idle, site: d.site}, nil
	}
	d.c.loginFailed.Inc()
	d.fails.add(peer)
	d.log.Info("login failed", zap.String("peer", cc.RemoteAddr().String()), zap.String("user", user))
	// As vsftpd's delay_failed_login: a guesser waits for every answer.
	// The library then ends the session (stricter than vsftpd's
	// max_login_fails=3), so a guesser pays a connection per try too.
	time.Sleep(d.cfg.failDelay)
	return nil, errLogin
}

// login checks a user and returns the file system the session gets.
func (d *driver) login(user, pass string) bool {
	if d.isAnonymous(user) {
		return true
	}
	users := d.data.Load().users
	return users != nil && users.Check(user, pass)
}

func (d *driver) writable(user string) bool {
	return d.cfg.writable[user] || d.cfg.writable["*"] && !d.isAnonymous(user)
}

// fsFor returns the file system of a user's session: the root, or the
// user's home below it (a root of its own, closed with the session),
// read-only unless the user is writable.
func (d *driver) fsFor(user string, s *session) (afero.Fs, error) {
	home, ok := d.cfg.homes[user]
	if !ok {
		if d.writable(user) {
			return d.rw, nil
		}
		return d.ro, nil
	}
	r, err := d.rw.(*rootFs).root.OpenRoot(rel(home))
	if err != nil {
		return nil, err
	}
	fs := &rootFs{root: r}
	s.mu.Lock()
	s.closers = append(s.closers, fs.Close)
	s.mu.Unlock()
	if d.writable(user) {
		return fs, nil
	}
	return afero.NewReadOnlyFs(fs), nil
}

func (d *driver) GetTLSConfig() (*tls.Config, error) {
	if dt := d.data.Load(); dt.tls != nil {
		return dt.tls, nil
	}
	return nil, errors.New("TLS is not configured (give a certificate and a private key)")
}

var (
	_ ftpserver.MainDriver                      = (*driver)(nil)
	_ ftpserver.MainDriverExtensionUserVerifier = (*driver)(nil)
)

func peerIP(a net.Addr) string { return policy.PeerKey(a) }

// countingFs counts the files and bytes a session transfers.
type countingFs struct {
	afero.Fs
	c    *counters
	s    *session
	idle time.Duration
	site string // the prefix of the control filter's own replies
}

// Site implements ftpserver.ClientDriverExtensionSite: the replies the
// control filter asks for, and no SITE commands.
func (f *countingFs) Site(param string) *ftpserver.AnswerCommand { return siteReply(f.site, param) }

func (f *countingFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	file, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if fi, serr := file.Stat(); serr == nil && fi.IsDir() {
		return file, nil
	}
	f.s.transfers.Add(1)
	return &countingFile{File: file, c: f.c, s: f.s, idle: f.idle, upload: flag&(os.O_WRONLY|os.O_RDWR) != 0}, nil
}

// countingFile is a file being transferred.
type countingFile struct {
	afero.File
	c      *counters
	s      *session
	idle   time.Duration
	upload bool
	n      atomic.Int64
	once   sync.Once
}

func (f *countingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.n.Add(int64(n))
	return n, err
}

func (f *countingFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.n.Add(int64(n))
	return n, err
}

// stallChunk is how much of a file moves between two renewals of the
// data connection's deadline: a transfer moving less than this within
// idle_timeout is stalled and ends (vsftpd's data_connection_timeout).
const stallChunk = 1 << 20

// WriteTo lets a download use the kernel's sendfile where the data
// connection allows it, counts the bytes, and ends a download the client
// stopped reading.
func (f *countingFile) WriteTo(w io.Writer) (int64, error) {
	var src io.Reader = struct{ io.Reader }{f.File}
	if of, ok := f.File.(*os.File); ok {
		if n, handled, err := f.sendFile(w, of); handled {
			return n, err
		}
		src = of
	}
	var deadline func(time.Time) error
	if dl, ok := w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		deadline = dl.SetWriteDeadline
	}
	return f.copyChunks(w, src, deadline)
}

// ReadFrom lets an upload be spliced into the file, counts it, and ends
// an upload the client stopped sending.
func (f *countingFile) ReadFrom(r io.Reader) (int64, error) {
	var dst io.Writer = struct{ io.Writer }{f.File}
	if of, ok := f.File.(*os.File); ok {
		dst = of
	}
	var deadline func(time.Time) error
	if dl, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
		deadline = dl.SetReadDeadline
	}
	return f.copyChunks(dst, r, deadline)
}

// copyChunks copies src to dst a stallChunk at a time, moving the data
// connection's deadline (if it has one) idle ahead before each, so a
// transfer ends when the client stops, not when it is merely long; the
// bytes are counted as they go.
func (f *countingFile) copyChunks(dst io.Writer, src io.Reader, deadline func(time.Time) error) (int64, error) {
	var total int64
	for {
		if deadline != nil {
			_ = deadline(time.Now().Add(f.idle))
		}
		n, err := io.CopyN(dst, src, stallChunk)
		total += n
		f.n.Add(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (f *countingFile) Close() error {
	f.once.Do(func() {
		n := f.n.Load()
		if f.upload {
			f.c.filesUp.Inc()
			f.c.bytesUp.Add(float64(n))
			f.c.stats.BytesReceived.Add(n)
		} else {
			f.c.filesDown.Inc()
			f.c.bytesDown.Add(float64(n))
			f.c.stats.BytesSent.Add(n)
		}
		f.c.stats.Requests.Add(1)
		f.s.transfers.Add(-1)
	})
	return f.File.Close()
}

// failures counts failed logins per peer address, so that a peer guessing
// passwords over many sessions is refused for a while: a bucket of max
// failures a peer, refilling at max per window (bounded memory).
type failures struct{ b *policy.PeerBuckets }

// maxTrackedPeers bounds the peers remembered.
const maxTrackedPeers = 10000

func newFailures(max int, window time.Duration) *failures {
	return &failures{policy.NewPeerBuckets(policy.PeerBucketsConfig{
		Rate: policy.Rate{N: float64(max), Per: window}, MaxPeers: maxTrackedPeers})}
}

func (f *failures) blocked(peer string) bool { return f.b.Wait(peer) > 0 }

func (f *failures) add(peer string) { f.b.Spend(peer) }
