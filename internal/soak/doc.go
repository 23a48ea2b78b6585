// Package soak watches long-running Parkway processes and draws what it saw: it samples
// each process's resident memory, heap-like data segment, threads and open files from
// /proc (and, where a process serves Prometheus /metrics, its goroutines and Go heap),
// writes the samples as CSV and plots them over time as PNG line charts with a plotter
// of its own (image/png and a built-in 3×5 pixel font: no plotting dependency).
//
// The soak run itself (`go tool task soak`: real pools and gateway, SIPp and pion
// browsers, pool kills and failbacks) is failover's TestSoak; this package is the part
// of it that is not about Parkway: sampling, CSV and plots.
package soak
