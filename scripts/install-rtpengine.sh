#!/usr/bin/env bash
# Installs rtpengine (Debian 12's rtpengine-daemon: userspace forwarding; the
# kernel module is not loaded here) when it is missing, for the media relay
# benchmarks (media/rtpload). Prints the binary's path. Needs root for apt-get;
# waits for another apt-get holding the dpkg lock instead of failing.
set -euo pipefail
if ! command -v rtpengine >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-rtpengine: rtpengine is missing and apt-get needs root" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends rtpengine-daemon >&2
  # The package enables a system service; the benchmarks start their own.
  systemctl disable --now rtpengine-daemon >/dev/null 2>&1 || true
fi
command -v rtpengine
