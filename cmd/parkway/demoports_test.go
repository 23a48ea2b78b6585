package main

import (
	"strings"
	"testing"

	"github.com/parkway/parkway/internal/freeport"
)

// --pool-ports bounds where the demo's pools listen; by default outside the kernel's
// ephemeral ports, and a malformed range is refused naming the flag.
func TestDemoPoolPortsFlag(t *testing.T) {
	f, err := parseDemoFlags(nil)
	if err != nil || f.poolPorts != freeport.Default() {
		t.Fatalf("default: %v %v, want %v", f.poolPorts, err, freeport.Default())
	}
	f, err = parseDemoFlags([]string{"--pool-ports", "24000-24099"})
	if err != nil || f.poolPorts != (freeport.Range{Min: 24000, Max: 24099}) {
		t.Fatalf("--pool-ports 24000-24099: %v %v", f.poolPorts, err)
	}
	for _, bad := range []string{"24099-24000", "24000", "x-y"} {
		if _, err := parseDemoFlags([]string{"--pool-ports", bad}); err == nil || !strings.Contains(err.Error(), "--pool-ports") {
			t.Errorf("--pool-ports %q: %v, want a refusal naming the flag", bad, err)
		}
	}
}
