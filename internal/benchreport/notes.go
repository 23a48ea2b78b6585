package benchreport

// PathNotes are paragraphs printed under a path's table, keyed by the path (Paths): what
// a number measures where its row cannot say it all.
var PathNotes = map[string]string{
	Paths[2]: `Both moments come from the same rounds of BenchmarkFanout (gateway/fanout_bench_test.go),
timed from the DR controller's call. **Arrived** — the goal's "pushed to the client" — is when
the state frame reached the client's socket, by the kernel's receive timestamp (SO_TIMESTAMPNS,
wall clock): on loopback it is stamped inside the gateway's send, so all of the gateway's work
is in it. **Read** is when the swarm's one epoll reader had read the frame from the last
socket and said so on its pipe: it adds that reader's queue (and its naps of at most 250 µs
between batches). The clients run in a child process on the same cores as the gateway, so both
are upper bounds for the gateway alone; the CPU rows are each process's getrusage per phase
change.`,
}
