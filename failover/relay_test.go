package failover

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// jitterRelay is an impaired link for chaos tests: a UDP relay on loopback between the
// gateway and one pool that holds every datagram for a random 0–maxDelay before passing
// it on, both ways, and counts the SIP requests it sees twice (retransmissions).
//
// Why a relay of our own: the way to add delay on Linux is tc netem, and this kernel has
// no netem module, so a link with jitter is made in user space with real sockets. Loss
// is left to nftables in the kernel (chaos_net_test.go), as on a real link.
//
// Order: each direction of each flow keeps its datagrams in order — a datagram is sent
// no earlier than the one before it — as one real path does; jitter on a path delays a
// burst, it does not shuffle it (reordering needs parallel paths).
//
// Addresses: the relay rewrites the one Route naming it (rewriteRoute).
//
// Flows: like a NAT, the relay gives each client address its own socket towards the
// pool, so the pool sees one peer per client and what it sends back to that socket
// reaches the right client, delayed the same way. What the pool sends elsewhere (to a
// Via or Contact address) does not pass here. TCP, which sipgo uses for a request too
// big for UDP, is passed through unimpaired on the same port.
type jitterRelay struct {
	t        testing.TB
	pool     *net.UDPAddr
	maxDelay time.Duration
	conn     *net.UDPConn // clients send here
	tcp      net.Listener
	wg       sync.WaitGroup

	mu      sync.Mutex
	flows   map[string]*relayFlow // client address → its flow
	seen    map[string]bool       // method, Via branch and CSeq of every request seen
	retrans map[string]int        // method → requests seen again
	up      int                   // datagrams passed to the pool
	down    int                   // datagrams passed back
	tcpConn int
	closed  bool
	clients map[net.Conn]struct{} // TCP connections from clients, open
}

type relayFlow struct {
	client *net.UDPAddr
	conn   *net.UDPConn // towards the pool
	toPool *delayLine
	back   *delayLine
}

func startJitterRelay(t testing.TB, poolPort int, maxDelay time.Duration) *jitterRelay {
	t.Helper()
	// UDP and TCP on one number from outside the ephemeral range: a UDP port the kernel
	// picked could be an outgoing TCP connection's port already (the parallel tests'
	// processes make many), and the TCP listen failed with "address already in use".
	port := freePort(t)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	r := &jitterRelay{
		t: t, pool: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: poolPort}, maxDelay: maxDelay,
		conn: conn, tcp: tcp, flows: map[string]*relayFlow{}, seen: map[string]bool{}, retrans: map[string]int{},
	}
	r.wg.Go(r.serveUDP)
	r.wg.Go(r.serveTCP)
	t.Cleanup(r.close)
	return r
}

// Addr is where the gateway is told the pool is.
func (r *jitterRelay) Addr() string { return r.conn.LocalAddr().String() }

func (r *jitterRelay) serveUDP() {
	buf := make([]byte, 65536)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		msg := bytes.Clone(buf[:n])
		f := r.flow(from)
		if f == nil {
			return
		}
		r.note(msg)
		f.toPool.push(r.rewriteRoute(msg))
	}
}

// flow returns the client's flow, opening its socket towards the pool the first time.
func (r *jitterRelay) flow(client *net.UDPAddr) *relayFlow {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	if f := r.flows[client.String()]; f != nil {
		return f
	}
	// Not connected: the pool may send from another socket than its listener (its proxy
	// forwarding a request to a contact that is this flow's address).
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		r.t.Errorf("relay: socket towards the pool: %v", err)
		return nil
	}
	f := &relayFlow{client: client, conn: conn}
	f.toPool = r.newDelayLine(func(b []byte) {
		if _, err := conn.WriteToUDP(b, r.pool); err == nil {
			r.count(&r.up)
		}
	})
	f.back = r.newDelayLine(func(b []byte) {
		if _, err := r.conn.WriteToUDP(b, client); err == nil {
			r.count(&r.down)
		}
	})
	r.flows[client.String()] = f
	r.wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				if r.isClosed() {
					return
				}
				continue // an ICMP error from a pool that is down: keep the flow
			}
			f.back.push(bytes.Clone(buf[:n]))
		}
	})
	return f
}

func (r *jitterRelay) count(n *int) {
	r.mu.Lock()
	*n++
	r.mu.Unlock()
}

func (r *jitterRelay) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// note counts a request seen before: same method, top Via branch and CSeq.
func (r *jitterRelay) note(msg []byte) {
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	method, _, _ := strings.Cut(lines[0], " ")
	if method == "" || strings.HasPrefix(method, "SIP/") {
		return // a response
	}
	var branch, cseq string
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v":
			if branch == "" {
				if _, b, ok := strings.Cut(value, "branch="); ok {
					branch, _, _ = strings.Cut(b, ";")
				}
			}
		case "cseq":
			cseq = strings.TrimSpace(value)
		}
	}
	key := method + " " + branch + " " + cseq
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		r.retrans[method]++
	}
	r.seen[key] = true
}

// rewriteRoute makes a Route naming the relay name the pool. The gateway sends every
// request to a pool with the pool's address as a loose Route (its outbound proxy), and
// a pool forwards a request whose Route is not its own address — here, back to the
// relay, in a loop. On a real link the address is the pool's own; this is the one
// header the relay touches (headers are outside Content-Length).
func (r *jitterRelay) rewriteRoute(msg []byte) []byte {
	return bytes.ReplaceAll(msg, []byte("<sip:"+r.Addr()+";lr>"), []byte("<sip:"+r.pool.String()+";lr>"))
}

// Report says what passed and what was retransmitted, by method.
func (r *jitterRelay) Report() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	methods := make([]string, 0, len(r.retrans))
	total := 0
	for m, n := range r.retrans {
		methods = append(methods, fmt.Sprintf("%s %d", m, n))
		total += n
	}
	sort.Strings(methods)
	return fmt.Sprintf("%d datagrams to the pool, %d back, %d distinct requests, %d retransmitted (%s), %d TCP connections",
		r.up, r.down, len(r.seen), total, strings.Join(methods, ", "), r.tcpConn)
}

// Retransmitted is how many requests the relay saw again.
func (r *jitterRelay) Retransmitted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	total := 0
	for _, n := range r.retrans {
		total += n
	}
	return total
}

func (r *jitterRelay) serveTCP() {
	for {
		c, err := r.tcp.Accept()
		if err != nil {
			return
		}
		r.count(&r.tcpConn)
		r.mu.Lock()
		if r.clients == nil {
			r.clients = map[net.Conn]struct{}{}
		}
		r.clients[c] = struct{}{}
		r.mu.Unlock()
		r.wg.Go(func() {
			defer func() {
				r.mu.Lock()
				delete(r.clients, c)
				r.mu.Unlock()
				c.Close()
			}()
			p, err := net.Dial("tcp", r.pool.String())
			if err != nil {
				return
			}
			defer p.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(p, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, p); done <- struct{}{} }()
			<-done
		})
	}
}

// resetTCP resets every TCP connection a client has open through the relay, which goes
// on listening and passing new ones: to the client, the pool dropped its connection
// while it still serves.
func (r *jitterRelay) resetTCP() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.clients)
	for c := range r.clients {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		delete(r.clients, c)
	}
	return n
}

// tcpClients is how many TCP connections clients have open through the relay.
func (r *jitterRelay) tcpClients() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.clients)
}

func (r *jitterRelay) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	flows := r.flows
	r.mu.Unlock()
	r.conn.Close()
	r.tcp.Close()
	for _, f := range flows {
		f.conn.Close()
		f.toPool.close()
		f.back.close()
	}
	r.wg.Wait()
}

// delayLine sends datagrams after a random delay each, in the order they came.
type delayLine struct {
	q      chan timedDatagram
	last   time.Time // when the previous datagram is due; only push touches it
	max    time.Duration
	mu     sync.Mutex
	closed bool
}

type timedDatagram struct {
	due time.Time
	b   []byte
}

func (r *jitterRelay) newDelayLine(send func([]byte)) *delayLine {
	d := &delayLine{q: make(chan timedDatagram, 4096), max: r.maxDelay}
	r.wg.Go(func() {
		for m := range d.q {
			if w := time.Until(m.due); w > 0 {
				time.Sleep(w)
			}
			send(m.b)
		}
	})
	return d
}

func (d *delayLine) push(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	due := time.Now().Add(rand.N(d.max + 1))
	if due.Before(d.last) {
		due = d.last // in order: never before the one ahead of it
	}
	d.last = due
	select {
	case d.q <- timedDatagram{due, b}:
	default: // a full queue drops, as a router's would
	}
}

func (d *delayLine) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	close(d.q)
}
