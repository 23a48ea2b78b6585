//go:build !linux

package edge

import "net"

// rawWire is Linux's direct send (rawwire_linux.go); elsewhere the fan-out writes
// through net.Conn.Write.
type rawWire struct{}

func newRawWire(net.Conn) *rawWire { return nil }

func (*rawWire) write([]byte) error { panic("edge: rawWire without Linux") }
