// Package freeport picks ports for listeners that must get their port back when they
// restart: a demo pool stopped and started again, a pool process killed and run again.
//
// A port the kernel handed out for port 0 lies in its ephemeral range
// (net.ipv4.ip_local_port_range on Linux), the same range every outgoing connection and
// every UDP socket bound to port 0 draws from: while the listener is down, any of those
// may take its port, and the restart fails with "address already in use". The ports
// picked here lie outside that range, where only a program that names the port itself
// can bind it.
package freeport
