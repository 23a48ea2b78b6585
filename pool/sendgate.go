package pool

import (
	"context"
	"errors"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// errStopped is a send refused because the node is stopping.
var errStopped = errors.New("pool: stopping")

// sendGate keeps the node's requests from being sent once stop has begun. A forward
// names the pool's listening socket as its source (forwardCopy's Laddr, so answers come
// back to the port in our Via), and sipgo, finding no open socket at that address once
// the listener has closed, binds a new one there: a forward racing stop (a handler still
// running when the pool stops) would take the pool's own port, and the pool could not
// listen on it again when started. stop closes the gate before the listeners, after
// every send already under way has returned.
type sendGate struct {
	mu     sync.RWMutex
	closed bool
}

// send runs f, which sends a request, unless the gate is closed; f runs with the gate
// held open, so it must not wait on anything that stop waits for.
func (g *sendGate) send(f func() error) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return errStopped
	}
	return f()
}

// close refuses every later send, once the sends under way have returned.
func (g *sendGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// transactionRequest is n.client.TransactionRequest through the node's send gate.
func (n *node) transactionRequest(ctx context.Context, req *sip.Request) (tx sip.ClientTransaction, err error) {
	err = n.sends.send(func() error {
		tx, err = n.client.TransactionRequest(ctx, req, noBuild)
		return err
	})
	return tx, err
}

// writeRequest is n.client.WriteRequest (no transaction) through the node's send gate.
func (n *node) writeRequest(req *sip.Request) error {
	return n.sends.send(func() error { return n.client.WriteRequest(req, noBuild) })
}
