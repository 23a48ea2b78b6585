package pool

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestStoppedNodeSendsNothingFromItsPort: a forward that runs after the pool stopped (a
// handler still under way) is refused, and above all does not make sipgo bind a new
// socket on the pool's port for it, which would keep the pool from starting there again.
func TestStoppedNodeSendsNothingFromItsPort(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	n := p.node
	la := n.udp.LocalAddr().(*net.UDPAddr)
	// Somewhere on loopback nothing listens: the request's destination.
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dst := sink.LocalAddr().String()
	sink.Close()

	// A forward as forwardCopy makes it: from the pool's listening socket.
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1"})
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: la.IP.String(), Port: la.Port, Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	req.AppendHeader(via)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "pool", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", "t1")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1"}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Call-ID", "sendgate-"+strconv.FormatInt(time.Now().UnixNano(), 36)))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	req.SetTransport("UDP")
	req.SetDestination(dst)
	req.Laddr = sip.Addr{IP: la.IP, Port: la.Port, Hostname: la.IP.String()}

	p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if tx, err := n.transactionRequest(ctx, req); !errors.Is(err, errStopped) {
		if tx != nil {
			tx.Terminate()
		}
		t.Fatalf("a forward after stop: %v; want errStopped", err)
	}
	if err := n.writeRequest(req); !errors.Is(err, errStopped) {
		t.Fatalf("a stateless forward after stop: %v; want errStopped", err)
	}
	// The pool's port is free for the pool to start on again.
	again, err := net.ListenUDP("udp", la)
	if err != nil {
		t.Fatalf("the stopped pool's UDP port %v is taken: %v", la, err)
	}
	again.Close()
}
