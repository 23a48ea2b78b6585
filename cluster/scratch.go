package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// An embedded node without a data directory keeps its streams in memory, but JetStream
// still wants a directory, and a clustered node writes its Raft logs there. It is made
// under the system's temporary directory and removed on Close; a gateway that is killed
// (SIGKILL, a crash, a power cut) never closes, and its directory stayed behind for good —
// about 200 KB a clustered gateway, forty of them a run of the test suite.
//
// So each such directory holds a lock file that its node keeps locked (flock) for as long
// as it runs, and a node that starts removes the directories whose lock nobody holds any
// more. The kernel drops a dead process's locks, so a directory whose lock can be taken
// belongs to nobody. The lock file gets the owner's process ID only once it is locked,
// and only a lock file that has one is taken for an abandoned directory: a directory a
// starting node has just made, before it locked it, is left alone.

const (
	scratchPrefix = "parkway-nats-"
	scratchLock   = ".owner"
)

// scratch is an embedded node's temporary directory and the lock that says it is in use.
type scratch struct {
	dir  string
	lock *os.File
}

// newScratch removes abandoned scratch directories, then makes and locks a new one.
func newScratch() (*scratch, error) {
	reclaimScratch(os.TempDir())
	dir, err := os.MkdirTemp("", scratchPrefix)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, scratchLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		// Blocking: another node's reclaimScratch may hold it for the moment it looks.
		if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err == nil {
			_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return &scratch{dir: dir, lock: f}, nil
}

// remove deletes the directory, then lets go of its lock.
func (s *scratch) remove() {
	os.RemoveAll(s.dir)
	s.lock.Close()
}

// reclaimScratch removes the scratch directories under parent that no running node
// holds. Errors are ignored: at worst a directory stays, as it did before.
func reclaimScratch(parent string) (removed []string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, scratchPrefix+"*"))
	for _, dir := range dirs {
		if abandoned(dir) {
			if os.RemoveAll(dir) == nil {
				removed = append(removed, dir)
			}
		}
	}
	return removed
}

// abandoned reports whether dir's lock file names an owner and can be locked, that is
// whether its owner has exited. It holds the lock only while it looks.
func abandoned(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, scratchLock), os.O_RDWR, 0)
	if err != nil {
		return false // not one of ours, or made before lock files (left alone)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false // errors.Is(err, syscall.EWOULDBLOCK): its node is running
	}
	var b [32]byte
	n, _ := f.Read(b[:])
	return n > 0 // nothing written: a node starting this very moment, about to lock it
}
