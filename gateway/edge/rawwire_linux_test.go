package edge

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpPair is a connected loopback pair: the accepted side (as the upgrade hands it
// over) and the dialled one.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// A raw send bigger than the socket takes waits for the peer to read (EAGAIN, then the
// netpoller), and holds net's write lock throughout: a Write on the same connection
// meanwhile — what coder/websocket does for a pong — lands wholly before or after it.
func TestRawWireWaitsForRoomAndKeepsWritesWhole(t *testing.T) {
	server, client := tcpPair(t)
	w := newRawWire(server)
	if w == nil {
		t.Fatal("no raw writer for a TCP connection")
	}
	big := bytes.Repeat([]byte{'a'}, 8<<20) // far more than loopback's socket buffers
	small := bytes.Repeat([]byte{'b'}, 1000)
	var writes sync.WaitGroup
	errs := make(chan error, 2)
	writes.Go(func() { errs <- w.write(big) })
	writes.Go(func() {
		time.Sleep(time.Millisecond) // most often inside the big send, which is blocked
		_, err := server.Write(small)
		errs <- err
	})
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := make([]byte, len(big)+len(small))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("reading both writes: %v", err)
	}
	writes.Wait()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	i := bytes.IndexByte(got, 'b')
	if i != 0 && i != len(big) {
		t.Fatalf("the small write starts at byte %d of %d: inside the raw send", i, len(got))
	}
	if !bytes.Equal(got[i:i+len(small)], small) {
		t.Fatal("the small write was split")
	}
}

// A peer that has gone makes the raw send fail with an error (MSG_NOSIGNAL: no SIGPIPE),
// and a connection closed under a blocked send ends it — what the write watchdog does.
func TestRawWireFailsOnGoneOrClosedConnections(t *testing.T) {
	server, client := tcpPair(t)
	w := newRawWire(server)
	client.Close()
	var err error
	for range 100 { // the first sends may still be accepted before the reset comes back
		if err = w.write([]byte("state")); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("sends to a closed peer kept succeeding")
	}

	server, _ = tcpPair(t) // the peer never reads
	w = newRawWire(server)
	done := make(chan error, 1)
	go func() { done <- w.write(make([]byte, 64<<20)) }()
	time.Sleep(10 * time.Millisecond)
	server.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked send ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a send blocked on a full socket did not end when the connection was closed")
	}
}

func TestRawWireOnlyForPlainTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if newRawWire(a) != nil {
		t.Fatal("a raw writer for a connection that is not TCP")
	}
}
