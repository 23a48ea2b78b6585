#!/usr/bin/env bash
# Runs the Playwright suite against bin/parkway, inside a loopback-only network namespace
# when root (see loopback-only.sh), so no browser test can send a packet off 127.0.0.0/8.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../playwright"
PARKWAY_BIN="$(cd .. && pwd)/bin/parkway"
export PARKWAY_BIN
exec "$here/loopback-only.sh" ./node_modules/.bin/playwright test "$@"
