package cluster

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A gateway killed with SIGKILL leaves its scratch directory; the next node to start
// removes it, and never one whose owner still runs. The owner here is a real process
// (this test binary run again), killed as a crash would kill it.
func TestScratchOfAKilledNodeIsReclaimed(t *testing.T) {
	parent := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScratchOwnerProcess$")
	cmd.Env = append(os.Environ(), "PARKWAY_SCRATCH_OWNER=1", "TMPDIR="+parent)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if dir, ok := strings.CutPrefix(sc.Text(), "scratch "); ok {
				lines <- dir
				return
			}
		}
		close(lines)
	}()
	var dir string
	select {
	case d, ok := <-lines:
		if !ok {
			t.Fatal("the owner process exited without making its scratch directory")
		}
		dir = d
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for the owner process to make its scratch directory")
	}

	if got := reclaimScratch(parent); len(got) != 0 {
		t.Fatalf("removed %v while its owner was running", got)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the running owner's directory: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if got := reclaimScratch(parent); !slices.Equal(got, []string{dir}) {
		t.Fatalf("after the owner was killed, removed %v, want [%s]", got, dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the killed owner's directory is still there: %v", err)
	}
}

// TestScratchOwnerProcess is the owner process of the test above: it makes a scratch
// directory, says where, and waits to be killed (it gives up after 30 s, so it never
// outlives a test that failed).
func TestScratchOwnerProcess(t *testing.T) {
	if os.Getenv("PARKWAY_SCRATCH_OWNER") != "1" {
		t.Skip("run by TestScratchOfAKilledNodeIsReclaimed as its owner process")
	}
	s, err := newScratch()
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("scratch " + s.dir + "\n")
	time.Sleep(30 * time.Second)
}

// Only a directory with an owner written in its lock file, and that lock free, is
// taken for abandoned: not one made before lock files, a node's that is starting, or
// anything else under the temporary directory.
func TestReclaimScratchLeavesWhatIsNotAbandoned(t *testing.T) {
	parent := t.TempDir()
	mk := func(name, lock string) string {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if lock != "-" {
			if err := os.WriteFile(filepath.Join(dir, scratchLock), []byte(lock), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	dead := mk(scratchPrefix+"dead", "4242\n")
	kept := []string{
		mk(scratchPrefix+"old", "-"),     // made before lock files
		mk(scratchPrefix+"starting", ""), // lock file made, owner not written yet
		mk("other-dir", "4242\n"),        // not ours
	}
	running := mk(scratchPrefix+"running", "4243\n")
	f, err := os.Open(filepath.Join(running, scratchLock))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, running)

	if got := reclaimScratch(parent); !slices.Equal(got, []string{dead}) {
		t.Fatalf("removed %v, want only [%s]", got, dead)
	}
	for _, dir := range kept {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s: %v", filepath.Base(dir), err)
		}
	}
}

// A node's own directory goes with Close, and its lock with it.
func TestScratchRemovedOnClose(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	n, err := Start(Config{Name: "scratch-test"})
	if err != nil {
		t.Fatal(err)
	}
	dir := n.scratch.dir
	if _, err := os.Stat(filepath.Join(dir, scratchLock)); err != nil {
		t.Fatalf("a running node's lock file: %v", err)
	}
	n.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("after Close the directory is still there: %v", err)
	}
}
