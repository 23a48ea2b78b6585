#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 30s), one after
# another, and prints what each did: executions, new corpus entries, and any failure.
# A failing input is written by go test to <package>/testdata/fuzz/<Target>/ — commit it
# with the fix and it runs as a regression case in every `go test`.
#
#   FUZZTIME=20s ./scripts/fuzz.sh            every target, 20 s each
#   ./scripts/fuzz.sh ./pool FuzzVetMessage    one package, targets matching a pattern
#
# Some targets open sockets (a live pool, the park service): run it through
# scripts/loopback-only.sh, as `go tool task fuzz` does.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-30s}"
PARALLEL="${FUZZPARALLEL:-2}"
pkgs="${1:-./...}"
pattern="${2:-.}"
log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT
failed=0
printf 'machine: %s, %s cores; fuzztime %s per target, %s workers\n' "$(uname -srm)" "$(nproc)" "$FUZZTIME" "$PARALLEL"
printf '%-22s %-34s %12s %8s  %s\n' package target execs new result
for pkg in $(go list "$pkgs"); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  targets="$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | grep -E "$pattern" | sort -u)"
  for t in $targets; do
    out="$log/$t.txt"
    go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" -parallel "$PARALLEL" "$pkg" >"$out" 2>&1
    rc=$?
    execs="$(grep -o 'execs: [0-9]*' "$out" | tail -1 | awk '{print $2}')"
    newc="$(grep -o 'new interesting: [0-9]*' "$out" | tail -1 | awk '{print $3}')"
    result=ok
    if [ $rc -ne 0 ]; then
      result="FAILED (see below)"
      failed=1
    fi
    printf '%-22s %-34s %12s %8s  %s\n' "${pkg#github.com/parkway/parkway/}" "$t" "${execs:-?}" "${newc:-0}" "$result"
    if [ $rc -ne 0 ]; then
      grep -v '^fuzz: elapsed' "$out" | tail -40 | sed 's/^/    /'
    fi
  done
done
exit $failed
