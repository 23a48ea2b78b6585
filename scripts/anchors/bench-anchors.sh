#!/usr/bin/env bash
# `go tool task bench-anchors`: every performance path of issue 12 side by side with its
# anchor in one run, written to BENCHMARKS.md at the repository root (internal/benchreport
# maps each benchmark's numbers to a table row). Never part of `go tool task test`.
#
# Installs what is missing first: sip-tester and rtpengine-daemon (apt-get, as root) and
# Asterisk 22 (scripts/anchors/build-asterisk.sh, built once into a cache directory). A
# step that cannot run leaves a line "NOT MEASURED <benchmark>: <reason>" in its output,
# and the report says "not measured (reason)" for its rows.
#
# Environment (all optional):
#   BENCH_OUT      output directory: raw outputs, logs, profiles (default bench-out/, not in git)
#   BENCH_PATHS    which paths to run (default "park media fanout client failover")
#   BENCH_RATES    offered park + retrieve rates (default "100 300 600 1000")
#   BENCH_SECONDS  seconds of load at each rate: cycles = rate × seconds (default 5)
#   BENCH_WARMUP   N > 0: each park round is measured after N seconds of the same rate on the
#                  same pool (and the same Asterisk): a long-running process, past the pool's
#                  start-up admission ramp and, with N ≥ 40, past the 32 s a finished call's
#                  state is kept (its heap grown); the warm-up round's numbers stay in
#                  park-*.txt as fresh-* (default 0: a fresh process, as every run before
#                  session 24 measured)
#   BENCH_CPUS     CPU list the pool and Asterisk (and their SIPp) are confined to with
#                  taskset: the same CPU budget for both (default 0-1, or 0 on one CPU)
#   ASTERISK_SRC, PJPROJECT_SRC, PJPROJECT_TARBALL, PARKWAY_ASTERISK_CACHE: see build-asterisk.sh
#   PARKWAY_BENCH_TRACE=1  the park rounds keep every message of a round that failed a cycle:
#                  SIPp's message logs and the pool's pcap beside the profiles (pool/sipp_park_bench_test.go)
#   BENCH_STEP_TIMEOUT  seconds one benchmark step may run (default 900; the relay step twice
#                  that): then it gets SIGTERM, SIGKILL 30 s later, and its rows not yet printed
#                  say "not measured (timed out after N s)" — the rows it printed stay
#   MEDIA_RELAY_CALLS, _SECONDS, _REPEAT, _TARGETS, _REALTIME: the relay benchmark's (media/rtpload
#                  bench_test.go; here by default 100,500,1000,1500 calls, 6 s, 3 runs each,
#                  targets direct,plain,relay,relay-shared,rtpengine; the table shows each
#                  count's median); MEDIA_RELAY_REALTIME=1 runs the relays at nice -20, as
#                  the load generator runs when root — for a machine busy with other work
#   WEBLOAD_CALLS, WEBLOAD_SECONDS, WEBLOAD_WARMUP, WEBLOAD_STOP_ABOVE, WEBLOAD_ECHO: the benchmark
#                  through the gateway's (media/webload bench_test.go; here by default
#                  100,200,300,500,750,1000 calls, 5 s windows after 2 s, stopping after a step
#                  with >= 1 % lost + late)
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${BENCH_OUT:-$root/bench-out}"
paths="${BENCH_PATHS:-park media fanout client failover}"
rates="${BENCH_RATES:-100 300 600 1000}"
seconds="${BENCH_SECONDS:-5}"
warmup="${BENCH_WARMUP:-0}"
if [[ $(nproc) -ge 2 ]]; then cpus="${BENCH_CPUS:-0-1}"; else cpus="${BENCH_CPUS:-0}"; fi
rm -rf "$out"
mkdir -p "$out/bin" "$out/profiles"
say() { echo "bench-anchors: $*" >&2; }
want() { [[ " $paths " == *" $1 "* ]]; }

{
	echo "date: $(date -u '+%F %T UTC')"
	echo "uname: $(uname -srvmo)"
	echo "nproc: $(nproc)"
	echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' + uncommitted changes')"
	echo "park CPU budget: pool and Asterisk each run alone, with their SIPp, on CPUs $cpus (taskset)"
	echo "park load: $seconds s at each offered rate (cycles = rate × $seconds)"
	if ((warmup > 0)); then
		echo "park rounds: measured after $warmup s of the same rate on the same pool / Asterisk (BENCH_WARMUP=$warmup; the fresh process's numbers: fresh-* in park-*.txt)"
	else
		echo "park rounds: a freshly started pool / Asterisk each (BENCH_WARMUP=0): the pool's start-up admission ramp and first heap growth are in the numbers"
	fi
	echo "paths run: $paths (BENCH_PATHS; a path not run has no output in its table)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# --- install what is missing --------------------------------------------------------------
apt_missing=()
command -v sipp >/dev/null || apt_missing+=(sip-tester)
command -v rtpengine >/dev/null || [[ -x /usr/sbin/rtpengine ]] || apt_missing+=(rtpengine-daemon)
if ((${#apt_missing[@]})); then
	if [[ $(id -u) -eq 0 ]]; then
		say "installing ${apt_missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >"$out/apt.log" 2>&1 ||
			{ apt-get update -qq >>"$out/apt.log" 2>&1 &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >>"$out/apt.log" 2>&1; } ||
			say "apt-get failed (see $out/apt.log)"
	else
		say "missing ${apt_missing[*]} and not root: install them with apt-get"
	fi
fi

asterisk="" asterisk_why=""
if want park; then
	say "Asterisk (built once, then reused from the cache)"
	start=$(date +%s)
	if asterisk="$("$root/scripts/anchors/build-asterisk.sh" 2>"$out/build-asterisk.log" | tail -1)" && [[ -x "$asterisk" ]]; then
		say "asterisk: $asterisk ($(($(date +%s) - start)) s)"
	else
		asterisk=""
		asterisk_why="Asterisk build failed: $(grep -v '^\s*$' "$out/build-asterisk.log" | tail -1 | tr -d '|') (log: $out/build-asterisk.log)"
		say "$asterisk_why"
	fi
fi

step_timeout="${BENCH_STEP_TIMEOUT:-900}"
# gotest NAME PKG BENCHREGEX [test flags...]: compiles PKG's tests and runs the benchmarks
# in the package directory (where their testdata is), inside the loopback-only namespace,
# output in $out/NAME.txt. A run that fails before printing a benchmark leaves its reason.
# The step gets $limit seconds (default $step_timeout): then SIGTERM to its whole process
# group (timeout(1): the test binary and the relays and load generators it started), SIGKILL
# 30 s later, and a NOT MEASURED line for its benchmark, which gives every row it did not
# print that reason — it cannot hang the task.
gotest() {
	local name=$1 pkg=$2 regex=$3
	shift 3
	local bin="$out/bin/${pkg//\//_}.test"
	if [[ ! -x "$bin" ]] && ! go test -c -o "$bin" "./$pkg" >"$out/$name.txt" 2>&1; then
		echo "NOT MEASURED ${regex//[\^\$]/}: tests of $pkg do not build" >>"$out/$name.txt"
		return
	fi
	local secs=${limit:-$step_timeout}
	say "$name: $pkg -bench $regex $* (at most $secs s)"
	(cd "$pkg" && timeout -s TERM -k 30 "$secs" "${prefix[@]}" "$root/scripts/loopback-only.sh" "$bin" -test.run '^$' -test.bench "$regex" \
		-test.v -test.timeout 40m -test.outputdir "$out/profiles" "$@") >"$out/$name.txt" 2>&1
	local rc=$?
	if ((rc == 124 || rc == 137)); then
		echo "NOT MEASURED ${regex//[\^\$]/}: timed out after $secs s" >>"$out/$name.txt"
		say "$name: timed out after $secs s (exit $rc)"
	elif ((rc != 0)) && ! grep -q -e '^--- FAIL' -e '^Benchmark.*[0-9] ns/op' "$out/$name.txt"; then
		echo "NOT MEASURED ${regex//[\^\$]/}: exit status $rc before any result (see $out/$name.txt)" >>"$out/$name.txt"
	fi
	grep -E '^(Benchmark\S+\s+[0-9]+\s|--- (FAIL|SKIP)|NOT MEASURED)' "$out/$name.txt" >&2 || true
}

inputs=()
if want park; then
	for rate in $rates; do
		n=$((rate * seconds))
		prefix=(env PARKWAY_BENCH_RATES="$rate" PARKWAY_BENCH_SECONDS="$seconds" PARKWAY_BENCH_WARMUP="$warmup" PARKWAY_REQUIRE_SIPP=1 taskset -c "$cpus")
		gotest "park-pool-$rate" pool '^BenchmarkSIPpParkRetrieve$' -test.benchtime 1x
		inputs+=("$out/park-pool-$rate.txt@rate=$rate")
		if [[ -n "$asterisk" ]]; then
			prefix=(env PARKWAY_BENCH_RATE="$rate" PARKWAY_BENCH_WARMUP="$warmup" PARKWAY_ASTERISK="$asterisk" PARKWAY_REQUIRE_SIPP=1 taskset -c "$cpus")
			gotest "park-asterisk-$rate" internal/parkanchor '^BenchmarkAsteriskParkRetrieve$' -test.benchtime "${n}x"
		else
			echo "NOT MEASURED BenchmarkAsteriskParkRetrieve: $asterisk_why" >"$out/park-asterisk-$rate.txt"
		fi
		inputs+=("$out/park-asterisk-$rate.txt@rate=$rate")
	done
fi
prefix=(env PARKWAY_REQUIRE_SIPP=1)
if want media; then
	mkdir -p "$out/profiles/relay"
	# Three runs of each target at each count, interleaved, and BENCHMARKS.md shows their
	# medians: one run at 100 calls is ≈ 0.5 s of relay CPU, and one disturbed run moved
	# its row by half (0.40× and 0.64× in two quiet runs of stop 23). The counts and
	# targets are the ones the table reads (no 250, no relay-goroutines), so three
	# repeats take ≈ twice the time one took before.
	prefix=(env MEDIA_RELAY_CALLS="${MEDIA_RELAY_CALLS:-100,500,1000,1500}" MEDIA_RELAY_SECONDS="${MEDIA_RELAY_SECONDS:-6}"
		MEDIA_RELAY_REPEAT="${MEDIA_RELAY_REPEAT:-3}" MEDIA_RELAY_TARGETS="${MEDIA_RELAY_TARGETS:-direct,plain,relay,relay-shared,rtpengine}"
		MEDIA_RELAY_PROFILES="$out/profiles/relay")
	limit=$((2 * step_timeout)) gotest relay media/rtpload '^BenchmarkRelayProcesses$' -test.benchtime 1x
	inputs+=("$out/relay.txt")
	# through the whole gateway, stepping up until it loses more than 1 % (or the last step):
	# the pools, the gateway, SIPp and the load generator (cmd/webload) each a process
	prefix=(env PARKWAY_REQUIRE_SIPP=1 WEBLOAD_CALLS="${WEBLOAD_CALLS:-100,200,300,500,750,1000}" WEBLOAD_SECONDS="${WEBLOAD_SECONDS:-5}")
	gotest calls-load media/webload '^BenchmarkGatewayProcesses$' -test.benchtime 1x
	inputs+=("$out/calls-load.txt")
fi
if want fanout; then
	gotest fanout gateway '^BenchmarkFanout$' -test.benchtime 50x -test.cpuprofile "$out/profiles/fanout.cpu.prof"
	inputs+=("$out/fanout.txt")
fi
if want failover; then
	gotest failover failover '^BenchmarkOutagePushed$' -test.benchtime 20x
	inputs+=("$out/failover.txt")
fi
if want client; then
	say "client: go tool task build, then the Playwright load spec"
	if go tool task build >"$out/client-build.log" 2>&1; then
		[[ -e playwright/node_modules ]] || ./scripts/install-test-deps.sh >>"$out/client-build.log" 2>&1
		# 5 cold + warm pairs for the medians (the suite loads one: playwright/tests/runs.ts)
		PARKWAY_LOAD_RUNS="${PARKWAY_LOAD_RUNS:-5}" ./scripts/e2e.sh tests/load.spec.ts -g 'page load' --reporter=line >"$out/client.txt" 2>&1 ||
			echo "NOT MEASURED PlaywrightLoad: the load spec failed (see $out/client.txt)" >>"$out/client.txt"
	else
		echo "NOT MEASURED PlaywrightLoad: go tool task build failed (see $out/client-build.log)" >"$out/client.txt"
	fi
	grep -E '^(page load|main\.wasm:|NOT MEASURED)' "$out/client.txt" >&2 || true
	inputs+=("$out/client.txt")
	# Traced loads apart from the measured ones (tracing costs CPU): where the main thread's
	# CPU went, for BENCHMARKS.md's "why" of a missed start-up goal. Only that line is read.
	if [[ -e playwright/node_modules ]]; then
		PARKWAY_LOAD_TRACE=1 PARKWAY_LOAD_RUNS=3 ./scripts/e2e.sh tests/load.spec.ts -g 'page load' --reporter=line >"$out/client-traced.txt" 2>&1 || true
		grep -E '^main-thread CPU to ready by what it ran' "$out/client-traced.txt" >"$out/client-cpu-by-task.txt" || true
		inputs+=("$out/client-cpu-by-task.txt")
	fi
fi

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
go run ./cmd/benchreport -machine "$out/machine.txt" -o "$root/BENCHMARKS.md" -profiles "$out/profiles" "${inputs[@]}" &&
	say "wrote BENCHMARKS.md (raw outputs and profiles in $out)"
