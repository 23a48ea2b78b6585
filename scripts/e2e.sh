#!/usr/bin/env bash
# Runs the Playwright suite against bin/parkway. As root it runs inside a fresh network
# namespace that has only the loopback interface (unshare -n), so no test can send a
# packet anywhere but 127.0.0.0/8.
set -euo pipefail
cd "$(dirname "$0")/../playwright"
PARKWAY_BIN="$(cd .. && pwd)/bin/parkway"
export PARKWAY_BIN
if [ "$(id -u)" = 0 ] && [ -z "${PARKWAY_NETNS:-}" ]; then
  exec unshare -n env PARKWAY_NETNS=1 bash -c 'ip link set lo up && exec ./node_modules/.bin/playwright test "$@"' -- "$@"
fi
exec ./node_modules/.bin/playwright test "$@"
