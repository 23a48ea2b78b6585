#!/usr/bin/env bash
# Prints every package of the module (exactly `go list ./...`), the slowest tests first,
# for `go tool task unit`: go test starts packages in the order it is given them, -p at a
# time, so with ./... (alphabetical) pool/ and park/ started last and ran alone at the end
# while the small packages queued one by one behind the long ones. Longest first, the
# long packages overlap each other and the small ones fill the slots they leave.
# The list below is ordering only: a package missing from it still runs (after them),
# and a name in it that no longer exists is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
# Slowest first, as measured with go test -race -json -p 3 and 4 on 2 cores (seconds; load 4–19,
# issue #12): failover 83–94, gateway 59–66, pool 43–47, gateway/ua 34–39, cluster 18–20
# (41–46 before its tests ran in parallel), park 15–19, media/rtpload 14, gateway/dr 12
# (19–21 before), media 11–13, cmd/parkway 10–24, then every other package in under 5 s
# (most of it the race link); media/webload (session 27: two pool processes, a gateway and SIPp
# for one test) 10-15 s of it at load 15-50.
slow=(failover gateway pool gateway/ua cluster park media/rtpload gateway/dr media media/webload cmd/parkway metrics siptest)
mod=$(go list -m)
all=$(go list ./...)
first=()
for p in "${slow[@]}"; do
  if grep -qxF "$mod/$p" <<<"$all"; then first+=("$mod/$p"); fi
done
printf '%s\n' "${first[@]}"
grep -vxF -f <(printf '%s\n' "${first[@]}") <<<"$all" || true
