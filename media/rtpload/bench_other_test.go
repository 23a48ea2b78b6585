//go:build !linux

package rtpload_test

import "os/exec"

func childOfTest(*exec.Cmd) {}
