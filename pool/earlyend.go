package pool

import (
	"bytes"
	"hash/maphash"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Ending UDP server transactions at their final answer (issue #12).
//
// sipgo keeps a UDP server transaction 64×T1 = 32 s after its final answer (Timer J for
// a non-INVITE, Timer L after an INVITE's 2xx, RFC 6026), with the whole parsed request,
// the last response and their timers: ≈ 60 KB a park cycle, ≈ 2 GB held at 1,000 cycles
// a second, and the page faults of a heap growing to hold it were a quarter of the pool's
// CPU. What those 32 s are for needs far less (RFC 3261 §17.2.2, RFC 6026 §8.7):
//
//   - a non-INVITE's retransmission is answered with the final answer again: the pool
//     keeps that answer's bytes (finishedTxs) and ends the transaction. The read filter
//     answers a retransmission from them before sipgo sees it (serve, when one slips in
//     while its transaction ends).
//   - an INVITE's 2xx goes out statelessly by its Via and the transaction ends before
//     Accepted, whose Timer L sipgo never stops (so ending it later would free nothing);
//     a retransmission of the INVITE is absorbed by the filter, as Accepted would. The
//     2xx's own retransmissions come end to end from the callee (onStrayResponse).
//
// An INVITE answered with a non-2xx keeps its transaction (it must take the ACK and
// resend the answer until then), and so does everything over TCP and TLS, where sipgo
// keeps no non-INVITE transaction after its answer anyway.

// endingTx is the server transaction the pool's handlers answer through.
type endingTx struct {
	sip.ServerTransaction
	n     *node
	req   *sip.Request
	key   uint64
	ended atomic.Bool
}

// endsEarly reports whether req's server transaction ends at its final answer: UDP, not
// ACK or CANCEL, and a branch that names the transaction (RFC 3261 magic cookie).
func endsEarly(req *sip.Request) bool {
	return req.Transport() == "UDP" && !req.IsAck() && !req.IsCancel() &&
		strings.HasPrefix(viaBranch(req), sip.RFC3261BranchMagicCookie)
}

// Respond sends res; a final answer ends the transaction, remembered in finishedTxs.
func (t *endingTx) Respond(res *sip.Response) error {
	if res.IsProvisional() || t.ended.Load() {
		return t.ServerTransaction.Respond(res)
	}
	if t.req.IsInvite() {
		if !res.IsSuccess() {
			if src, err := netip.ParseAddrPort(t.req.Source()); err == nil {
				t.n.noteRejectedInvite(viaBranch(t.req), src) // its ACK is the transaction's
			}
			return t.ServerTransaction.Respond(res) // Completed: waits for its ACK
		}
		// Remembered before the transaction goes, so that a retransmission read from
		// then on is absorbed rather than starting a new transaction.
		t.n.finished.add(t.key, nil, time.Now())
		t.ended.Store(true)
		t.ServerTransaction.Terminate()
		// Sent by its Via from here: through sipgo's transport layer it is looked up
		// again and built in a buffer of its own.
		if sent, err := t.n.sendResponse(res); sent {
			return err
		}
		return t.n.srv.WriteResponse(res)
	}
	// Built once: the bytes kept for a retransmission are the bytes sent, here rather
	// than by the transaction, which would build them again and start Timer J only for
	// Terminate to stop it (issue #12's profile).
	data := wireBytes(res)
	t.n.finished.add(t.key, data, time.Now())
	to, ok := udpDestination(res)
	if !ok || len(data) > sip.UDPMTUSize-200 {
		// Not an address (sipgo resolves it), or too large (sipgo refuses it).
		err := t.ServerTransaction.Respond(res)
		t.ended.Store(true)
		t.ServerTransaction.Terminate()
		return err
	}
	t.ended.Store(true)
	t.ServerTransaction.Terminate()
	return t.n.sendUDP(data, to)
}

// sendResponse sends res over the node's UDP socket to udpDestination; false when it
// cannot (no such address, or too large for UDP: sipgo's transport layer decides).
func (n *node) sendResponse(res *sip.Response) (bool, error) {
	to, ok := udpDestination(res)
	if !ok {
		return false, nil
	}
	b := wireBufs.Get().(*bytes.Buffer)
	defer wireBufs.Put(b)
	b.Reset()
	res.StringWrite(b)
	if b.Len() > sip.UDPMTUSize-200 {
		return false, nil
	}
	return true, n.sendUDP(b.Bytes(), to)
}

// udpDestination is where res goes, by its top Via (received and rport, RFC 3581) as
// sipgo sends it, when that is an IP address and port: the pool's UDP socket sends it
// without sipgo's transport layer.
func udpDestination(res *sip.Response) (netip.AddrPort, bool) {
	to, err := netip.ParseAddrPort(res.Destination())
	// Unmapped: an IPv4 socket refuses ::ffff:a.b.c.d, an IPv6 one maps a.b.c.d itself.
	return netip.AddrPortFrom(to.Addr().Unmap(), to.Port()), err == nil && to.Port() != 0
}

// wireBytes is res as sent, in a slice of exactly its size: kept 32 s, a growing
// buffer's spare capacity would be kept too.
func wireBytes(res *sip.Response) []byte {
	b := wireBufs.Get().(*bytes.Buffer)
	b.Reset()
	res.StringWrite(b)
	data := bytes.Clone(b.Bytes())
	wireBufs.Put(b)
	return data
}

var wireBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// viaBranch is req's top Via branch ("" without one).
func viaBranch(req *sip.Request) string {
	if v := req.Via(); v != nil {
		b, _ := v.Params.Get("branch")
		return b
	}
	return ""
}

// serve is every request's handler: handle, through an endingTx where the transaction
// ends early.
func (n *node) serve(req *sip.Request, tx sip.ServerTransaction) {
	if tx == nil || !endsEarly(req) {
		n.handle(req, tx)
		return
	}
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		n.handle(req, tx)
		return
	}
	key := finishedKey(viaBranch(req), string(req.Method), src)
	if n.replay(key, net.UDPAddrFromAddrPort(src)) {
		// A retransmission read while its transaction was ending (the filter found
		// nothing yet, sipgo no transaction any more).
		tx.Terminate()
		return
	}
	n.handle(req, &endingTx{ServerTransaction: tx, n: n, req: req, key: key})
}

// retransmitted reports whether a UDP request read by the filter (method, top Via branch,
// from src) belongs to a transaction that ended early, and answers it again if it was a
// non-INVITE: then the filter drops it.
func (n *node) retransmitted(method, branch string, src net.Addr) bool {
	if method == string(sip.ACK) || method == string(sip.CANCEL) || !strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) {
		return false
	}
	ap, ok := addrPort(src)
	if !ok {
		return false
	}
	return n.replay(finishedKey(branch, method, ap), src)
}

// replay answers a retransmission of the finished transaction key again (its 2xx'd
// INVITE: absorbs it) and reports whether there was one.
func (n *node) replay(key uint64, to net.Addr) bool {
	res, ok := n.finished.get(key, time.Now())
	if ok && res != nil {
		if err := n.sendUDPTo(res, to); err != nil {
			n.log.Debug("answering a retransmission failed", "error", err)
		}
	}
	return ok
}

// finishedKeep is how long an ended transaction is remembered: 64×T1, Timer J and L.
const finishedKeep = 32 * time.Second

// finishedGens generations of finishedKeep/(finishedGens−1) each: an entry lives at
// least finishedKeep and, while requests keep coming, at most a generation more.
const finishedGens = 5

// finishedTxs remembers the UDP server transactions that ended at their final answer
// (see the top of this file), by a hash of branch, method and source: a non-INVITE's
// final answer as sent (a few hundred bytes where sipgo's transaction held kilobytes),
// or nil for an INVITE answered 2xx.
type finishedTxs struct {
	mu    sync.Mutex
	gens  [finishedGens]map[uint64][]byte
	cur   int       // the generation added to
	start time.Time // when cur began
}

var finishedSeed = maphash.MakeSeed()

// finishedKey hashes a request's top Via branch, method and source address.
func finishedKey(branch, method string, src netip.AddrPort) uint64 {
	return txHash(finishedSeed, branch, method, src)
}

// txHash hashes what names a request's transaction at the pool with seed: its top Via
// branch, method and source address.
func txHash(seed maphash.Seed, branch, method string, src netip.AddrPort) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(branch)
	h.WriteByte(0)
	h.WriteString(method)
	a := src.Addr().As16()
	h.Write(a[:])
	h.WriteByte(byte(src.Port() >> 8))
	h.WriteByte(byte(src.Port()))
	return h.Sum64()
}

// rotateLocked starts a new generation, dropping the oldest, for each generation's span
// passed since cur began. Every add rotates first, so an entry of a generation came
// before its span ended, and is dropped finishedGens−1 spans later at the earliest.
func (f *finishedTxs) rotateLocked(now time.Time) {
	const span = finishedKeep / (finishedGens - 1)
	if f.gens[f.cur] == nil {
		f.gens[f.cur], f.start = map[uint64][]byte{}, now
		return
	}
	for i := 0; i < finishedGens && now.Sub(f.start) >= span; i++ {
		size := len(f.gens[f.cur])
		f.cur = (f.cur + 1) % finishedGens
		f.gens[f.cur] = make(map[uint64][]byte, size)
		f.start = f.start.Add(span)
	}
	if now.Sub(f.start) >= span {
		f.start = now // every generation was dropped
	}
}

func (f *finishedTxs) add(key uint64, res []byte, now time.Time) {
	f.mu.Lock()
	f.rotateLocked(now)
	f.gens[f.cur][key] = res
	f.mu.Unlock()
}

func (f *finishedTxs) get(key uint64, now time.Time) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rotateLocked(now)
	for i := range f.gens {
		if res, ok := f.gens[i][key]; ok {
			return res, true
		}
	}
	return nil, false
}
