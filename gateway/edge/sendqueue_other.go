//go:build !linux

package edge

import "net"

// sendQueueEmpty cannot look at the kernel's send queue here: every state is left to
// the session's writer (fanout.go).
func sendQueueEmpty(net.Conn) bool { return false }
