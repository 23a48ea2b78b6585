package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestParseRange(t *testing.T) {
	for s, want := range map[string]Range{"24000-24099": {24000, 24099}, "1-65535": {1, 65535}, "7-7": {7, 7}} {
		got, err := ParseRange(s)
		if err != nil || got != want {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "24000", "24099-24000", "0-10", "1-65536", "a-b", "-5"} {
		if r, err := ParseRange(s); err == nil {
			t.Errorf("ParseRange(%q) = %v, want an error", s, r)
		}
	}
}

func TestOutsideAvoidsTheEphemeralRange(t *testing.T) {
	for _, c := range []struct{ ephemeral, want Range }{
		{Range{32768, 60999}, Range{20000, 32767}}, // Linux's default
		{Range{49152, 65535}, Range{20000, 49151}}, // IANA's
		{Range{15000, 60999}, Range{61000, 65535}}, // starts too low: above it
		{Range{1024, 65000}, Range{1024, 1024}},    // nearly everything: what is left below
	} {
		if got := outside(c.ephemeral); got != c.want {
			t.Errorf("outside(%v) = %v, want %v", c.ephemeral, got, c.want)
		}
	}
	d, e := Default(), ephemeral()
	if d.Min <= e.Max && e.Min <= d.Max && d.Max-d.Min > 0 {
		t.Errorf("Default() = %v overlaps the ephemeral range %v", d, e)
	}
}

func TestUDPAndTCPSkipsBusyAndSkippedPorts(t *testing.T) {
	// Two ports of a range: one held by a UDP socket, one skipped; the third is the answer.
	held, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := held.LocalAddr().(*net.UDPAddr).Port
	r := Range{Min: busy - 1, Max: busy + 1}
	for range 20 {
		port, err := UDPAndTCP("127.0.0.1", r, func(p int) bool { return p == busy-1 })
		if err != nil {
			// busy+1 itself may be taken by someone else on a shared machine
			t.Logf("no port: %v", err)
			continue
		}
		if port != busy+1 {
			t.Fatalf("UDPAndTCP picked %d from %v with %d busy and %d skipped", port, r, busy, busy-1)
		}
		l, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d was returned free but UDP cannot bind it: %v", port, err)
		}
		l.Close()
	}
	if _, err := UDPAndTCP("127.0.0.1", Range{busy, busy}, nil); err == nil {
		t.Errorf("UDPAndTCP found a free port in a range whose one port is busy")
	}
	if _, err := UDPAndTCP("127.0.0.1", Range{10, 5}, nil); err == nil {
		t.Errorf("UDPAndTCP took the bad range 10-5")
	}
}

func TestPickerNeverRepeats(t *testing.T) {
	// A range of five ports all free now: every one must come out once, then the Picker
	// says it has none left rather than hand one out again.
	lo := freeRun(t, 5)
	p := Picker{Range: Range{Min: lo, Max: lo + 4}}
	seen := map[int]bool{}
	for range 5 {
		port, err := p.Pick()
		if err != nil {
			t.Fatalf("pick %d of 5 in %d-%d: %v", len(seen)+1, lo, lo+4, err)
		}
		if seen[port] || port < lo || port > lo+4 {
			t.Fatalf("picked %d; already picked %v, range %d-%d", port, seen, lo, lo+4)
		}
		seen[port] = true
	}
	if port, err := p.Pick(); err == nil {
		t.Fatalf("picked %d again after all five", port)
	}
}

// freeRun is the first of n consecutive ports of Default() free for UDP and TCP now.
func freeRun(t *testing.T, n int) int {
	t.Helper()
	r := Default()
	for lo := r.Min + 1000; lo+n-1 <= r.Max; lo += n {
		free := true
		for p := lo; p < lo+n && free; p++ {
			free = Check("127.0.0.1", p) == nil
		}
		if free {
			return lo
		}
	}
	t.Fatalf("no %d consecutive free ports in %v", n, r)
	return 0
}
