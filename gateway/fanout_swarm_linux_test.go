package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/parkway/parkway/signaling"
)

// runSwarm is the child side of BenchmarkFanout (TestMain runs it when PARKWAY_SWARM is
// set): it connects n websocket clients, prints "ready" once each has its first state,
// then for every phase read from stdin prints "armed", and "done" once every client has
// read a state with that phase; "ready" and "done" carry the CPU time the process has
// used so far, in nanoseconds. EOF on stdin closes the clients.
//
// "done" also says when the state arrived, as the kernel saw it: every client socket
// has SO_TIMESTAMPNS on, so each read comes with the wall-clock time (Unix ns) its
// newest segment was queued to the socket — on loopback, inside the gateway's send.
// The line is "done CPU LAST MEDIAN": LAST is the latest arrival of the round's state
// over all clients, MEDIAN the median client's. Unlike the moment the "done" line is
// read, they leave out how long the one reader below took to get to each socket.
//
// The clients cost as little as they can, since they share the machine's CPUs with
// the gateway they measure: after a plain HTTP upgrade and the auth frame, every
// socket goes into one epoll set served by one goroutine, which reads whatever is
// ready and scans the server's (unmasked) frames for the round's phase — no goroutine,
// no allocation and no JSON per message. A heartbeat ping is answered with a pong.
//
// A phase line "PHASE hold" asks the swarm to hold its reader once armed until a line
// "read" comes: BenchmarkFanout sends it when the gateway's fan-out has returned, so
// the clients' reading (≈ 65 ms of CPU a round at 10,000 clients) does not take the
// gateway's cores in the middle of its fan-out. Real clients read on their own
// machines; here their reading otherwise made the arrival times measure the two
// processes' CPU over two cores rather than the gateway's. The arrival stamps are
// still taken inside the gateway's send, so a slower gateway still shows one for one.
// A plain "PHASE" line reads as the states come (failover's BenchmarkClusterFanout).
func runSwarm() int {
	n, _ := strconv.Atoi(os.Getenv("PARKWAY_SWARM"))
	wsURL, token := os.Getenv("PARKWAY_SWARM_URL"), os.Getenv("PARKWAY_SWARM_TOKEN")
	if err := raiseNoFile(uint64(n + 512)); err != nil {
		fmt.Fprintln(os.Stderr, "swarm:", err)
		return 1
	}
	s, err := newSwarm(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "swarm:", err)
		return 1
	}
	defer s.close()
	authFrame, _ := signaling.Encode("a", &signaling.Auth{Token: token})
	first := s.arm(signaling.PhaseNormal, false)
	go s.serve()
	// Bounded concurrency: the listen backlog (somaxconn) is smaller than 10,000.
	sem := make(chan struct{}, 64)
	var dials sync.WaitGroup
	var failed error
	var mu sync.Mutex
	// PARKWAY_SWARM_URL may name several gateways, separated by spaces: the clients
	// are spread over them in turn (failover's BenchmarkClusterFanout).
	wsURLs := strings.Fields(wsURL)
	for i := range n {
		sem <- struct{}{}
		dials.Go(func() {
			defer func() { <-sem }()
			if err := s.dial(wsURLs[i%len(wsURLs)], authFrame); err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
		})
	}
	dials.Wait()
	if failed != nil {
		fmt.Fprintln(os.Stderr, "swarm: connect:", failed)
		return 1
	}
	<-first
	fmt.Println("ready", int64(cpuTime(0)))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		phase, hold := strings.CutSuffix(in.Text(), " hold")
		r := s.arm(signaling.Phase(phase), hold)
		fmt.Println("armed")
		if hold {
			if !in.Scan() {
				break
			}
			s.release() // "read"
		}
		<-r
		cpu := int64(cpuTime(0))
		last, median := s.arrivals()
		fmt.Println("done", cpu, last, median)
	}
	return 0
}

// epollSwarm is every client socket in one epoll set. Only serve touches conns once a
// socket is registered; arm and serve share the round under mu.
type epollSwarm struct {
	n     int
	epfd  int
	mu    sync.Mutex
	conns []*swarmConn // by file descriptor
	want  []byte       // `"phase":"outage"` as it appears in a state frame
	round int
	left  int
	done  chan struct{}
	// held, while not nil, keeps serve from reading until release closes it.
	held chan struct{}
	// arrived is when each client's socket got the round's state (the kernel's receive
	// timestamp, Unix ns), in the order they were read; 0 when a read carried none.
	arrived []int64
}

type swarmConn struct {
	fd      int
	pending []byte // the start of a frame not yet read in full
	counted int    // the round this client last counted in
}

// arrivals is the round's latest and median arrival (Unix ns); both 0 when a read came
// without a receive timestamp. The caller waits for the round's done first.
func (s *epollSwarm) arrivals() (last, median int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.arrived) == 0 || slices.Contains(s.arrived, 0) {
		return 0, 0
	}
	slices.Sort(s.arrived) // nearly sorted already: read in the order they came
	return s.arrived[len(s.arrived)-1], s.arrived[(len(s.arrived)-1)/2]
}

func newSwarm(n int) (*epollSwarm, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &epollSwarm{n: n, epfd: epfd}, nil
}

func (s *epollSwarm) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if c != nil {
			syscall.Close(c.fd)
		}
	}
	syscall.Close(s.epfd)
}

// arm starts a round: done is closed once all n clients have read phase p. With hold,
// nothing is read until release.
func (s *epollSwarm) arm(p signaling.Phase, hold bool) (done chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hold && s.held == nil {
		s.held = make(chan struct{})
	}
	s.want = []byte(`"phase":"` + string(p) + `"`)
	s.round++
	s.left = s.n
	s.done = make(chan struct{})
	s.arrived = s.arrived[:0]
	return s.done
}

// release lets serve read again after arm held it.
func (s *epollSwarm) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != nil {
		close(s.held)
		s.held = nil
	}
}

// dial opens one websocket: TCP, the HTTP upgrade, the auth frame; then its socket
// goes to the epoll set (a dup in blocking mode is made non-blocking again).
func (s *epollSwarm) dial(wsURL string, authFrame []byte) error {
	u, err := url.Parse(wsURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host)
	br := bufio.NewReaderSize(conn, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("upgrade answered %s", resp.Status)
	}
	if br.Buffered() > 0 {
		return errors.New("data after the upgrade before auth")
	}
	if _, err := conn.Write(maskedText(authFrame)); err != nil {
		return err
	}
	f, err := conn.(*net.TCPConn).File()
	if err != nil {
		return err
	}
	fd := int(f.Fd())
	// f's finalizer would close fd: take our own dup and let f go.
	nfd, err := syscall.Dup(fd)
	f.Close()
	if err != nil {
		return err
	}
	if err := syscall.SetNonblock(nfd, true); err != nil {
		syscall.Close(nfd)
		return err
	}
	if err := syscall.SetsockoptInt(nfd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		syscall.Close(nfd)
		return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	s.mu.Lock()
	if nfd >= len(s.conns) {
		s.conns = append(s.conns, make([]*swarmConn, nfd+1-len(s.conns))...)
	}
	s.conns[nfd] = &swarmConn{fd: nfd}
	s.mu.Unlock()
	return syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_ADD, nfd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(nfd)})
}

// maskedText is a client's text frame (RFC 6455 §5.2): clients must mask, and a zero
// mask keeps the payload as it is.
func maskedText(payload []byte) []byte {
	h := []byte{0x81, 0x80 | 126, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[2:], uint16(len(payload)))
	return append(h, payload...)
}

// serve reads every ready socket until the epoll set is closed.
//
// The reads are made with syscall.RawSyscall: the sockets are non-blocking, and a
// goroutine that does nothing but system calls otherwise has the runtime's sysmon
// retaking its P every 20 µs (≈ 11 % of the swarm's CPU in the profile), CPU the
// gateway being measured would not get.
func (s *epollSwarm) serve() {
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(16)) // one SCM_TIMESTAMPNS: a struct timespec
	iov := syscall.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	msg := &syscall.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	for {
		// Poll first, and sleep in epoll_wait only when nothing is ready. A reader
		// asleep in epoll_wait is woken by each send that makes a socket ready, and on
		// loopback that wake-up runs inside the gateway's send system call: a cost a
		// client on another machine would bear, here ≈ 10 % of the gateway's CPU per
		// client (the profile's sock_def_readable). So after a batch that did not fill
		// events the reader naps for swarmPace instead, letting the batch grow; the
		// arrival timestamps do not depend on when it reads.
		k, err := syscall.EpollWait(s.epfd, events, 0)
		if err == nil && k == 0 {
			k, err = syscall.EpollWait(s.epfd, events, -1)
		}
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		s.mu.Lock()
		if held := s.held; held != nil {
			// Held (arm): what epoll_wait said is ready stays ready (level-triggered).
			s.mu.Unlock()
			<-held
			s.mu.Lock()
		}
		for _, ev := range events[:k] {
			c := s.conns[ev.Fd]
			if c == nil {
				continue
			}
			for {
				msg.SetControllen(len(oob))
				r, _, errno := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(c.fd), uintptr(unsafe.Pointer(msg)), 0)
				m := int(r)
				if errno != 0 || m <= 0 {
					if errno == 0 && m == 0 { // closed by the gateway
						syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
					}
					break
				}
				s.frames(c, buf[:m], receiveTime(oob[:msg.Controllen]))
				if m < len(buf) {
					break
				}
			}
		}
		s.mu.Unlock()
		if k < len(events) && swarmPace > 0 {
			time.Sleep(swarmPace)
		}
	}
}

// swarmPace is how long the reader naps after a batch that did not fill its events
// (see serve): the most it adds to the read latency, never to the arrival times.
var swarmPace = func() time.Duration {
	d, err := time.ParseDuration(os.Getenv("PARKWAY_SWARM_PACE"))
	if err != nil {
		return 250 * time.Microsecond
	}
	return d
}()

// receiveTime is the SCM_TIMESTAMPNS a read's control message carries (Unix ns), or 0.
// It parses the one message by hand: syscall.ParseSocketControlMessage allocates.
func receiveTime(oob []byte) int64 {
	const hdr = syscall.SizeofCmsghdr
	if len(oob) < hdr+16 {
		return 0
	}
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	if h.Level != syscall.SOL_SOCKET || h.Type != syscall.SCM_TIMESTAMPNS {
		return 0
	}
	sec := int64(binary.NativeEndian.Uint64(oob[hdr:]))
	nsec := int64(binary.NativeEndian.Uint64(oob[hdr+8:]))
	return sec*1e9 + nsec
}

var pingType = []byte(`"type":"ping"`)

// pong answers the gateway's heartbeat ping (a signaling message, not a websocket
// control frame) with a pong of the same seq, as the softphone does. The frame is
// tiny and the socket's send buffer empty, so one non-blocking write takes it; a
// failed one is left to the gateway's heartbeat timeout, which then counts the session
// as gone (BenchmarkFanout checks that none went).
func pong(fd int, ping []byte) {
	var seq uint64
	if i := bytes.Index(ping, []byte(`"seq":`)); i >= 0 {
		for _, d := range ping[i+len(`"seq":`):] {
			if d < '0' || d > '9' {
				break
			}
			seq = seq*10 + uint64(d-'0')
		}
	}
	f, err := signaling.Encode("", &signaling.Pong{Seq: seq})
	if err != nil {
		return
	}
	_, _ = syscall.Write(fd, maskedText(f))
}

// frames scans the bytes read from c for whole frames, keeping a partial one; at is
// when the read's newest segment reached the socket.
func (s *epollSwarm) frames(c *swarmConn, b []byte, at int64) {
	if len(c.pending) > 0 {
		b = append(c.pending, b...)
		c.pending = nil
	}
	for len(b) >= 2 {
		size, hdr := int(b[1]&0x7f), 2
		switch size {
		case 126:
			if len(b) < 4 {
				c.pending = append([]byte(nil), b...)
				return
			}
			size, hdr = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				c.pending = append([]byte(nil), b...)
				return
			}
			size, hdr = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if len(b) < hdr+size {
			break
		}
		if b[0]&0x0f == 1 && bytes.Contains(b[hdr:hdr+size], pingType) {
			pong(c.fd, b[hdr:hdr+size])
		} else if b[0]&0x0f == 1 && c.counted != s.round && bytes.Contains(b[hdr:hdr+size], s.want) {
			c.counted = s.round
			s.arrived = append(s.arrived, at)
			if s.left--; s.left == 0 {
				close(s.done)
			}
		}
		b = b[hdr+size:]
	}
	if len(b) > 0 {
		c.pending = append([]byte(nil), b...)
	}
}
