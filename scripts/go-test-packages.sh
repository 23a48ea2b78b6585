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
# Slowest first, as measured with go test -race -json on 2 cores (seconds, loaded machine):
# failover 109, gateway 89, pool 80, gateway/ua 47, cluster 45, cmd/parkway 38, park 21,
# gateway/dr 20, media 15, metrics 9, media/rtpload 7, siptest 6.
slow=(failover gateway pool gateway/ua cluster cmd/parkway park gateway/dr media metrics media/rtpload siptest)
mod=$(go list -m)
all=$(go list ./...)
first=()
for p in "${slow[@]}"; do
  if grep -qxF "$mod/$p" <<<"$all"; then first+=("$mod/$p"); fi
done
printf '%s\n' "${first[@]}"
grep -vxF -f <(printf '%s\n' "${first[@]}") <<<"$all" || true
