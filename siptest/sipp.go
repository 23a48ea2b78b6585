package siptest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SIPpPath finds sipp (Debian's sip-tester). Where it is missing the test is skipped
// with a note, unless PARKWAY_REQUIRE_SIPP=1 (set by `go tool task test`, which
// installs it): then a missing SIPp is a failure, so CI can never pass without the
// real peer.
func SIPpPath(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("PARKWAY_REQUIRE_SIPP") == "1" {
			t.Fatal("sipp not found and PARKWAY_REQUIRE_SIPP=1: install Debian's sip-tester (apt-get install -y sip-tester)")
		}
		t.Skip("sipp not found: install Debian's sip-tester (apt-get install -y sip-tester) to run the SIPp scenarios")
	}
	return path
}

// SIPpInjection writes a SIPp injection file, name.csv in dir, of one line of fields
// ([field0]…) read sequentially, and returns its path.
func SIPpInjection(t testing.TB, dir, name string, fields ...string) string {
	t.Helper()
	path := filepath.Join(dir, name+".csv")
	if err := os.WriteFile(path, []byte("SEQUENTIAL\n"+strings.Join(fields, ";")+";\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SIPpRun is one sipp process, run in its own directory, where it writes its logs.
type SIPpRun struct {
	Name string
	Dir  string

	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
	err  error
	over bool // done has been received: err is the exit
}

// StartSIPp runs bin (from [SIPpPath]) with args in dir, its output collected. It is
// killed when the test ends unless it has exited by then.
func StartSIPp(t testing.TB, bin, name, dir string, args ...string) *SIPpRun {
	t.Helper()
	s := &SIPpRun{Name: name, Dir: dir, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start sipp %s: %v", name, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if !s.over {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// Exited reports, without waiting, whether sipp has exited, and how.
func (s *SIPpRun) Exited() (bool, error) {
	if !s.over {
		select {
		case s.err = <-s.done:
			s.over = true
		default:
		}
	}
	return s.over, s.err
}

// Wait waits until sipp exits, or ctx ends (false: sipp is still running).
func (s *SIPpRun) Wait(ctx context.Context) (bool, error) {
	if !s.over {
		select {
		case s.err = <-s.done:
			s.over = true
		case <-ctx.Done():
		}
	}
	return s.over, s.err
}

// Kill kills sipp.
func (s *SIPpRun) Kill() { _ = s.cmd.Process.Kill() }

// Output is what sipp printed; call it once sipp has exited.
func (s *SIPpRun) Output() string { return s.out.String() }

// CPU is the user and system CPU time sipp used; 0 until it has exited (Wait).
func (s *SIPpRun) CPU() time.Duration {
	if !s.over || s.cmd.ProcessState == nil {
		return 0
	}
	return s.cmd.ProcessState.UserTime() + s.cmd.ProcessState.SystemTime()
}

// Pid is sipp's process id.
func (s *SIPpRun) Pid() int { return s.cmd.Process.Pid }
