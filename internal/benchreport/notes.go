package benchreport

// PathNotes are paragraphs printed under a path's table, keyed by the path (Paths): what
// a number measures where its row cannot say it all.
var PathNotes = map[string]string{
	Paths[1]: `From BenchmarkRelayProcesses (media/rtpload/bench_test.go): the load generator (cmd/rtpload)
and each relay run as processes of their own; a relay's CPU is its /proc utime+stime over the
load generator's measured window (after a 2 s warm-up, calls set up before it), divided by the
packets that arrived. Every target runs MEDIA_RELAY_REPEAT times at each count (3 by default), the
targets interleaved so the machine's drift hits all alike, and each row is the median of its
runs (before stop 24 a row was one run). Max calls needs every run at that count under 0.1 %
lost and 1 % late. The raw output (bench-out/relay.txt) has every run.

The rows "through the gateway" come from BenchmarkGatewayProcesses (media/webload/bench_test.go):
the two pools, the gateway, SIPp (answering every call as erin) and the load generator
(cmd/webload: each user signed in with a widget ticket over the gateway's own API, one pion
PeerConnection per call, 20 ms G.711 probes from one pacer) each run as a process of their own;
the far phone's RTP is echoed by the benchmark's process, whose socket has room for 80 ms of
1,000 calls (SIPp's own echo socket, 208 KiB, dropped probes whenever SIPp waited for a CPU).
A probe comes back through the gateway twice; it is lost if its echo has not arrived 1 s after
the 5 s window, late if its round trip is over 200 ms. The gateway's CPU is its /proc
utime+stime over the window; its memory per call is its RSS growth since before the first
sign-in, over the calls up. The steps add calls to those up and stop after one with ≥ 1 %
lost + late; bench-out/calls-load.txt has every step, with the pools', SIPp's and the load
generator's CPU beside the gateway's (all on the same CPUs).`,
	Paths[2]: `Both moments come from the same rounds of BenchmarkFanout (gateway/fanout_bench_test.go),
timed from the DR controller's call. **Arrived** — the goal's "pushed to the client" — is when
the state frame reached the client's socket, by the kernel's receive timestamp (SO_TIMESTAMPNS,
wall clock): on loopback it is stamped inside the gateway's send, so all of the gateway's work
is in it (and the clients' TCP receive path too, which real clients' machines would run). The
clients run in a child process on the same cores, so each round the swarm holds its reader
until the gateway's fan-out has returned and reads then: their reading, which real clients do
on their own CPUs, no longer takes the gateway's cores mid-fan-out (stop 21 and before let it
read as the states came: PARKWAY_FANOUT_HOLD=0). A slower gateway still shows one for one
(-cpu 1 puts the fan-out on one core and doubles it). **Read** is when the swarm's one epoll
reader had read the frame from the last socket and said so on its pipe: the fan-out, then that
reader's pass over every socket. The CPU rows are each process's getrusage per phase change.`,
}
