#!/usr/bin/env bash
# Installs what `go tool task test` needs on a fresh Debian machine with Go: Chromium,
# SIPp, nftables and Node.js (Playwright's runner, and the js/wasm test host) from Debian's
# packages — only as root; otherwise it says what is missing — and the Playwright npm
# packages. Idempotent: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v sipp >/dev/null || missing+=(sip-tester)
command -v unshare >/dev/null || missing+=(util-linux)
command -v ip >/dev/null || missing+=(iproute2)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v nft >/dev/null || [ -x /usr/sbin/nft ] || missing+=(nftables)   # chaos tests and the ICE-restart spec drop packets with it
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} — install them with apt-get (needs root)" >&2
    exit 1
  fi
fi

if [ -L playwright/node_modules ]; then
  # Another checkout's packages (a worktree's link to the main one's): npm ci would empty
  # the directory the link points to — that checkout's and every other linked one's — and
  # a fresh checkout's package-lock.json is always newer than the packages it links to.
  if [ ! -d playwright/node_modules/@playwright/test ]; then
    echo "playwright/node_modules links to $(readlink playwright/node_modules), which has no @playwright/test: run npm ci there, or remove the link" >&2
    exit 1
  fi
elif [ ! -d playwright/node_modules/@playwright/test ] || [ playwright/package-lock.json -nt playwright/node_modules/.package-lock.json ]; then
  (cd playwright && npm ci --no-audit --no-fund)
fi
