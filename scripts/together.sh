#!/usr/bin/env bash
# Runs commands at the same time and waits for all of them: every line each prints is
# prefixed with its name, its time is printed when it ends, and the script fails (after
# all have ended, so every failure is shown) if any of them failed, naming which.
#   usage: together.sh NAME='COMMAND' ...
set -uo pipefail
pids=() names=()
for arg in "$@"; do
  name=${arg%%=*}
  cmd=${arg#*=}
  (
    start=$SECONDS
    bash -c "$cmd" 2>&1 | sed -u "s/^/[$name] /"
    rc=${PIPESTATUS[0]}
    echo "[$name] exit $rc after $((SECONDS - start)) s"
    exit "$rc"
  ) &
  pids+=($!)
  names+=("$name")
done
failed=()
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
