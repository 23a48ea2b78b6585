package park

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/parkway/parkway/internal/freeport"
	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/transfer"
	"github.com/parkway/parkway/siptest"
)

// freePort is a loopback port for a SIPp run, outside the kernel's ephemeral range so no
// other test's port-0 socket takes it between this pick and SIPp binding it.
func freePort(t *testing.T) string {
	port, err := freeport.UDPAndTCP("127.0.0.1", freeport.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(port)
}

// sipp runs a SIPp scenario (Debian's sip-tester) on port (a free one if
// ""), towards target (none for a UAS), for one call unless extra says -m.
func sipp(ctx context.Context, t *testing.T, bin, target, port, scenario string, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	if port == "" {
		port = freePort(t)
	}
	var args []string
	if target != "" {
		args = append(args, target)
	}
	args = append(args, "-sf", scenario, "-i", "127.0.0.1", "-p", port, "-mp", freePort(t),
		"-timeout", "40s", "-timeout_error", "-nostdin", "-trace_msg", "-trace_err")
	if !slices.Contains(extra, "-m") {
		args = append(args, "-m", "1")
	}
	args = append(args, extra...)
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
	bin := sippOrSkip(t)
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	events, cancel := s.Events()
	defer cancel()
	dir, err := filepath.Abs("testdata/sipp")
	if err != nil {
		t.Fatal(err)
	}
	parked, pout := sipp(ctx, t, bin, s.Addr(), "", dir+"/parked.xml")
	if err := parked.Start(); err != nil {
		t.Fatal(err)
	}
	e := nextEvent(t, ctx, events, parkwire.StateParked)
	retr, rout := sipp(ctx, t, bin, s.Addr(), "", dir+"/retriever.xml", "-s", e.Call.Orbit)
	if err := retr.Run(); err != nil {
		t.Fatalf("retriever: %v\n%s", err, rout)
	}
	if err := parked.Wait(); err != nil {
		t.Fatalf("parked party: %v\n%s", err, pout)
	}
	r := nextEvent(t, ctx, events, parkwire.StateRetrieved)
	t.Logf("retrieved: %s (%s)", r.Reason, r.Call.RetrievedBy)
	waitFor(t, ctx, "park idle", func() bool { return s.openStreams.Load() == 0 && len(s.Parked()) == 0 })
}

// TestSIPpParkedByRefer parks a SIPp answering phone by REFER to the park
// service (the SIPp phone only answers INVITEs and re-INVITEs), then a SIPp
// retriever picks it up.
func TestSIPpParkedByRefer(t *testing.T) {
	bin := sippOrSkip(t)
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	events, cancel := s.Events()
	defer cancel()
	dir, err := filepath.Abs("testdata/sipp")
	if err != nil {
		t.Fatal(err)
	}
	uasPort := freePort(t)
	uas, uout := sipp(ctx, t, bin, "", uasPort, dir+"/uas.xml", "-m", "2")
	if err := uas.Start(); err != nil {
		t.Fatal(err)
	}
	alice := siptest.NewPhone(t, siptest.PhoneOptions{User: "alice"})
	ab, err := alice.Call(ctx, "sip:uas@127.0.0.1:"+uasPort) // retransmits until SIPp is up
	if err != nil {
		t.Fatalf("call SIPp: %v\n%s", err, uout)
	}
	rep := ab.Replaces()
	sub, err := alice.ReferOut(ctx, uri(s, parkwire.ParkUser), transfer.FormatReferTo(ab.RemoteTarget(), &rep))
	if err != nil {
		t.Fatal(err)
	}
	if code, err := sub.TransferResult(ctx); code != 200 {
		t.Fatalf("park by REFER: %d %v", code, err)
	}
	_ = ab.Hangup(ctx) // SIPp does not honour Replaces, so the parker leaves itself
	e := nextEvent(t, ctx, events, parkwire.StateParked)
	retr, rout := sipp(ctx, t, bin, s.Addr(), "", dir+"/retriever.xml", "-s", e.Call.Orbit)
	if err := retr.Run(); err != nil {
		t.Fatalf("retriever: %v\n%s", err, rout)
	}
	if err := uas.Wait(); err != nil {
		t.Fatalf("parked SIPp: %v\n%s", err, uout)
	}
	nextEvent(t, ctx, events, parkwire.StateRetrieved)
	waitFor(t, ctx, "park idle", func() bool { return s.openStreams.Load() == 0 && len(s.Parked()) == 0 })
}

// sippOrSkip finds SIPp: where it is missing the test is skipped with a note, unless
// PARKWAY_REQUIRE_SIPP=1 makes that a failure (siptest.SIPpPath).
func sippOrSkip(t *testing.T) string {
	t.Helper()
	return siptest.SIPpPath(t)
}
