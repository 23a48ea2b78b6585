package ngrelay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Client sends ng commands to one relay (this package's Server or
// rtpengine's --listen-ng) and waits for the reply to each. One command is
// in flight at a time.
type Client struct {
	conn   *net.UDPConn
	mu     sync.Mutex
	cookie int
	buf    []byte
}

// Dial makes a Client for the ng listener at addr.
func Dial(addr netip.AddrPort) (*Client, error) {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("ngrelay: dial %v: %w", addr, err)
	}
	return &Client{conn: conn, buf: make([]byte, 65536)}, nil
}

// Close closes the client's socket.
func (c *Client) Close() error { return c.conn.Close() }

// attemptTimeout is how long one try waits for its reply; a lost datagram
// (or a relay still starting) gets three more.
const attemptTimeout = 500 * time.Millisecond

// Do sends cmd and returns the reply dictionary; a reply whose result is
// "error" becomes an error carrying its error-reason.
func (c *Client) Do(ctx context.Context, cmd map[string]any) (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cookie++
	cookie := strconv.Itoa(c.cookie) + "_pw"
	pkt, err := encode(append([]byte(cookie), ' '), cmd)
	if err != nil {
		return nil, err
	}
	name, _ := cmd["command"].(string)
	for range 4 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := c.conn.Write(pkt); err != nil {
			return nil, fmt.Errorf("ngrelay: %s: %w", name, err)
		}
		deadline := time.Now().Add(attemptTimeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = c.conn.SetReadDeadline(deadline)
		for {
			n, err := c.conn.Read(c.buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // try again
				}
				continue // e.g. ICMP refused while the relay starts
			}
			got, body, ok := cutCookie(c.buf[:n])
			if !ok || got != cookie {
				continue // the late reply to an earlier try
			}
			res, err := decodeDict(body)
			if err != nil {
				return nil, fmt.Errorf("ngrelay: %s reply: %w", name, err)
			}
			if r, _ := res["result"].(string); r == "error" {
				reason, _ := res["error-reason"].(string)
				return nil, fmt.Errorf("ngrelay: %s: %s", name, reason)
			}
			return res, nil
		}
	}
	return nil, fmt.Errorf("ngrelay: %s: no reply from %v", name, c.conn.RemoteAddr())
}

// Ping checks the relay answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Do(ctx, map[string]any{"command": "ping"})
	return err
}

// Offer passes the caller's SDP and returns the SDP for the callee: the
// address the callee sends to.
func (c *Client) Offer(ctx context.Context, callID, fromTag, sdp string) (string, error) {
	return c.sdpCommand(ctx, map[string]any{"command": "offer", "call-id": callID, "from-tag": fromTag, "sdp": sdp})
}

// Answer passes the callee's SDP and returns the SDP for the caller.
func (c *Client) Answer(ctx context.Context, callID, fromTag, toTag, sdp string) (string, error) {
	return c.sdpCommand(ctx, map[string]any{"command": "answer", "call-id": callID, "from-tag": fromTag, "to-tag": toTag, "sdp": sdp})
}

// Delete ends the call.
func (c *Client) Delete(ctx context.Context, callID, fromTag string) error {
	_, err := c.Do(ctx, map[string]any{"command": "delete", "call-id": callID, "from-tag": fromTag})
	return err
}

func (c *Client) sdpCommand(ctx context.Context, cmd map[string]any) (string, error) {
	res, err := c.Do(ctx, cmd)
	if err != nil {
		return "", err
	}
	sdp, ok := res["sdp"].(string)
	if !ok {
		return "", fmt.Errorf("ngrelay: %s reply without sdp", cmd["command"])
	}
	return sdp, nil
}
