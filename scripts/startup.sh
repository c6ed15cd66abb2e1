#!/usr/bin/env bash
# Time from `serve` start to `/readyz` 200 with given certificates, and its idle RSS, over
# ROUNDS runs (default 5). Loopback only. Usage: scripts/startup.sh [path/to/kubelet-tls-guard]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/release/kubelet-tls-guard}
[ -x "$bin" ] || cargo build --release --locked
rounds=${ROUNDS:-5}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$bin" certs --out "$work/certs" --san localhost >/dev/null
for i in $(seq "$rounds"); do
  port=$((20000 + RANDOM % 20000))
  start=$(date +%s%N)
  "$bin" serve --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$((port + 1))" \
    --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" >/dev/null 2>&1 &
  pid=$!
  ready=
  for _ in $(seq 5000); do
    if curl -sf -o /dev/null "http://127.0.0.1:$((port + 1))/readyz"; then
      ready=$(( ($(date +%s%N) - start) / 1000 ))
      break
    fi
  done
  [ -n "$ready" ] || { echo "round $i: not ready" >&2; exit 1; }
  sleep 0.5
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  printf 'round %d: ready in %d.%03d ms (curl polling included), idle RSS %d kB\n' \
    "$i" $((ready / 1000)) $((ready % 1000)) "$rss"
done
