#!/bin/sh
# gateway-secrets.sh DIR: writes the secrets configs/gateway.yaml names — admin.token,
# embed.key and session.key, 32 random bytes each, base64 — into DIR with mode 600.
# An existing file is kept: rerunning it never signs anyone out or changes a token.
set -eu
dir=${1:?usage: gateway-secrets.sh DIR (e.g. configs/secrets)}
umask 077
mkdir -p "$dir"
for name in admin.token embed.key session.key; do
  [ -s "$dir/$name" ] && { echo "kept    $dir/$name"; continue; }
  head -c 32 /dev/urandom | base64 >"$dir/$name"
  echo "created $dir/$name"
done
