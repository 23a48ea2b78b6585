package rtpload_test

import (
	"os/exec"
	"syscall"
)

// childOfTest has cmd killed when the benchmark's process dies: a relay
// or a real-time load generator must not outlive a benchmark that was killed
// (bench-anchors' step deadline, a hand on Ctrl-C).
func childOfTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
