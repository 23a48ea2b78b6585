//go:build !linux

package gateway

import (
	"fmt"
	"os"
)

// runSwarm is BenchmarkFanout's client process, which uses Linux's epoll.
func runSwarm() int {
	fmt.Fprintln(os.Stderr, "swarm: BenchmarkFanout's clients need Linux (epoll)")
	return 1
}
