package park

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func freePort(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}

// sipp runs one SIPp scenario (Debian's sip-tester) for one call.
func sipp(ctx context.Context, t *testing.T, bin, target, scenario string, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	args := append([]string{target, "-sf", scenario, "-m", "1", "-i", "127.0.0.1",
		"-p", freePort(t), "-mp", freePort(t), "-timeout", "40s", "-timeout_error", "-nostdin",
		"-trace_msg", "-trace_err"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = t.TempDir() // SIPp writes its logs to the working directory
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(cmd.Dir, "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", filepath.Base(l), b)
			}
		}
	})
	return cmd, &out
}

// TestSIPpPlainPhones parks a call from a SIPp phone that supports neither
// REFER nor Replaces and retrieves it with another: a real peer nobody here
// wrote. Skipped where SIPp is not installed.
func TestSIPpPlainPhones(t *testing.T) {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp (Debian sip-tester) not installed")
	}
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	events, cancel := s.Events()
	defer cancel()
	dir, err := filepath.Abs("testdata/sipp")
	if err != nil {
		t.Fatal(err)
	}
	parked, pout := sipp(ctx, t, bin, s.Addr(), dir+"/parked.xml")
	if err := parked.Start(); err != nil {
		t.Fatal(err)
	}
	e := nextEvent(t, ctx, events, StateParked)
	retr, rout := sipp(ctx, t, bin, s.Addr(), dir+"/retriever.xml", "-s", e.Call.Orbit)
	if err := retr.Run(); err != nil {
		t.Fatalf("retriever: %v\n%s", err, rout)
	}
	if err := parked.Wait(); err != nil {
		t.Fatalf("parked party: %v\n%s", err, pout)
	}
	r := nextEvent(t, ctx, events, StateRetrieved)
	t.Logf("retrieved: %s (%s)", r.Reason, r.Call.RetrievedBy)
	waitFor(t, ctx, "park idle", func() bool { return s.openStreams.Load() == 0 && len(s.Parked()) == 0 })
}
