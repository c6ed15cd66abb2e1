#!/usr/bin/env bash
# Load test of the admission webhook on loopback.
#
# Builds the release binary, generates certificates with `kubelet-tls-guard certs`, starts
# `serve` on 127.0.0.1 (ports chosen by the kernel, read back from the JSON log), then runs wrk
# with 32 keep-alive HTTP/1.1 connections posting the kubeadm kube-apiserver mirror-pod
# AdmissionReview (compact JSON, 5 KB, as the API server sends it; python3 compacts the fixture)
# to /validate for DURATION seconds (default 20), and h2load over h2 when it is
# installed. Reports requests/s, p99 latency and the server's peak RSS (VmHWM), then stops the
# server with SIGTERM and checks that it exits 0.
#
# Then the benchmark of record (issue 14): the floor (`examples/floor.rs`, bare hyper + rustls on
# the same certificate, answering serve's own answers as fixed bodies) and serve are measured
# alternately for ROUNDS rounds (default 3) with wrk, 1 thread and 32 keep-alive connections,
# FLOOR_DURATION seconds each (default 10): /validate with the mirror pod, and /mutate with a
# failing Deployment template. Prints the medians and serve/floor ratios.
#
# Usage: scripts/load-test.sh [DURATION_SECONDS]   (env: ROUNDS, FLOOR_DURATION)
# Installs wrk with apt-get when it is missing and this runs as root. Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-20}"
CONNECTIONS=32
THREADS="$(nproc 2>/dev/null || echo 2)"
[ "$THREADS" -gt "$CONNECTIONS" ] && THREADS="$CONNECTIONS"
# Posted in compact form (below), as the API server sends it.
REVIEW_FIXTURE="tests/fixtures/admission/kube-apiserver.mirror-pod.json"

command -v python3 >/dev/null 2>&1 || { echo "python3 is needed to compact the review" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing wrk..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is not installed (apt-get install wrk)" >&2
    exit 1
  fi
fi

echo "building the release binary..." >&2
cargo build --release --locked --bin kubelet-tls-guard --example floor >&2
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
BIN="${target_dir:-target}/release/kubelet-tls-guard"
FLOOR="${target_dir:-target}/release/examples/floor"
ROUNDS="${ROUNDS:-3}"
FLOOR_DURATION="${FLOOR_DURATION:-10}"
# The failing Deployment template: the compliant fixture without --kubelet-certificate-authority.
DEPLOYMENT="tests/fixtures/admission/kube-apiserver.deployment.json"

work="$(mktemp -d)"
server_pid=""
floor_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$floor_pid" ] && kill -0 "$floor_pid" 2>/dev/null; then
    kill -KILL "$floor_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The API server sends AdmissionReviews as compact JSON (Go's encoding/json); the fixtures are
# indented for people. Posting them indented would add 60 % to the body and make serve skip
# whitespace the API server never sends.
compact() {
  python3 -c 'import json, sys; json.dump(json.load(sys.stdin), sys.stdout, separators=(",", ":"), ensure_ascii=False)' \
    <"$1" >"$2"
}
REVIEW="$work/mirror-pod.json"
compact "$REVIEW_FIXTURE" "$REVIEW"

"$BIN" certs --out "$work/tls" --san 127.0.0.1 --san localhost --days 1 >/dev/null

# Info-level logs: one line per decision, as in production (sent to a file, not a terminal).
"$BIN" serve --mode enforce --log-format json \
  --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --tls-cert "$work/tls/tls.crt" --tls-key "$work/tls/tls.key" \
  2>"$work/server.log" &
server_pid=$!

addr="" ops_addr=""
for _ in $(seq 1 100); do
  line="$(grep -m1 '"message":"serving"' "$work/server.log" 2>/dev/null || true)"
  if [ -n "$line" ]; then
    addr="$(sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' <<<"$line")"
    ops_addr="$(sed -n 's/.*"ops_addr":"\([^"]*\)".*/\1/p' <<<"$line")"
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
case "$addr" in
  127.0.0.1:*) ;;
  *) echo "the server did not report a loopback address" >&2; cat "$work/server.log" >&2; exit 1 ;;
esac
url="https://$addr/validate"

# Sanity: the request is answered as expected before measuring.
curl -sS --noproxy '*' --cacert "$work/tls/ca.crt" -H 'Content-Type: application/json' \
  --data-binary "@$REVIEW" "$url" | grep -q '"allowed":true' ||
  { echo "the webhook did not answer the review" >&2; exit 1; }

cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("$REVIEW", "rb"))
wrk.body = f:read("*a")
f:close()
EOF

echo "wrk: $CONNECTIONS connections, $THREADS threads, ${DURATION}s, POST $REVIEW_FIXTURE (compact, $(wc -c <"$REVIEW") bytes) to $url" >&2
timeout $((DURATION + 30)) wrk --latency -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" \
  --timeout 10s -s "$work/post.lua" "$url" | tee "$work/wrk.out"

rps="$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")"
p99="$(awk '$1 == "99%" {print $2}' "$work/wrk.out")"
errors="$(grep -E 'Socket errors|Non-2xx' "$work/wrk.out" || true)"

h2_line=""
if command -v h2load >/dev/null 2>&1; then
  h2dur=$((DURATION / 2 > 5 ? DURATION / 2 : 5))
  echo "h2load: $CONNECTIONS connections over h2, ${h2dur}s" >&2
  if timeout $((h2dur + 30)) h2load -c "$CONNECTIONS" -m 4 -t "$THREADS" -D "$h2dur" \
    -H 'content-type: application/json' -d "$REVIEW" "$url" >"$work/h2load.out" 2>&1; then
    h2_line="$(grep -E '^finished in' "$work/h2load.out" || true)"
    h2_status="$(grep -E '^status codes:' "$work/h2load.out" || true)"
    h2_line="$h2_line; $h2_status"
  else
    h2_line="h2load failed: $(tail -3 "$work/h2load.out" | tr '\n' ' ')"
  fi
fi


# --- serve versus the floor, alternately (the benchmark of record) ---
MUTATE_REVIEW="$work/failing-deployment.json"
grep -v -- '"--kubelet-certificate-authority=' "$DEPLOYMENT" >"$work/failing-deployment.indented.json"
compact "$work/failing-deployment.indented.json" "$MUTATE_REVIEW"
curl -sS --noproxy '*' --cacert "$work/tls/ca.crt" -H 'Content-Type: application/json' \
  --data-binary "@$REVIEW" "$url" >"$work/validate.answer"
curl -sS --noproxy '*' --cacert "$work/tls/ca.crt" -H 'Content-Type: application/json' \
  --data-binary "@$MUTATE_REVIEW" "https://$addr/mutate" >"$work/mutate.answer"
grep -q '"patch"' "$work/mutate.answer" ||
  { echo "the /mutate review did not produce a patch" >&2; exit 1; }
"$FLOOR" "$work/tls/tls.crt" "$work/tls/tls.key" \
  "/validate=$work/validate.answer" "/mutate=$work/mutate.answer" >"$work/floor.out" 2>&1 &
floor_pid=$!
floor_addr=""
for _ in $(seq 1 100); do
  floor_addr="$(sed -n 's/^listening \(127\.0\.0\.1:[0-9]*\)$/\1/p' "$work/floor.out" 2>/dev/null)"
  [ -n "$floor_addr" ] && break
  kill -0 "$floor_pid" 2>/dev/null || { cat "$work/floor.out" >&2; exit 1; }
  sleep 0.1
done
[ -n "$floor_addr" ] || { echo "the floor did not start" >&2; exit 1; }

sed "s|$REVIEW|$MUTATE_REVIEW|" "$work/post.lua" >"$work/post-mutate.lua"

# One wrk run: prints "RPS P99_MS".
measure() { # base_addr path script
  timeout $((FLOOR_DURATION + 30)) wrk --latency -t 1 -c "$CONNECTIONS" -d "${FLOOR_DURATION}s" \
    --timeout 10s -s "$3" "https://$1$2" >"$work/m.out"
  if grep -qE 'Socket errors|Non-2xx' "$work/m.out"; then
    echo "wrk reported errors against $1$2:" >&2
    cat "$work/m.out" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ {r = $2}
       $1 == "99%" {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                    m = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v}
       END {printf "%s %.3f\n", r, m}' "$work/m.out"
}
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

: >"$work/rounds"
for round in $(seq 1 "$ROUNDS"); do
  for ep in validate mutate; do
    lua="$work/post.lua"
    [ "$ep" = mutate ] && lua="$work/post-mutate.lua"
    read -r s_rps s_p99 <<<"$(measure "$addr" "/$ep" "$lua")"
    read -r f_rps f_p99 <<<"$(measure "$floor_addr" "/$ep" "$lua")"
    echo "round $round /$ep: serve $s_rps req/s p99 ${s_p99} ms; floor $f_rps req/s p99 ${f_p99} ms" >&2
    echo "$ep $s_rps $s_p99 $f_rps $f_p99" >>"$work/rounds"
  done
done
kill -TERM "$floor_pid" 2>/dev/null || true
wait "$floor_pid" 2>/dev/null || true
floor_pid=""

floor_summary=""
for ep in validate mutate; do
  s_rps="$(awk -v e="$ep" '$1 == e {print $2}' "$work/rounds" | median)"
  s_p99="$(awk -v e="$ep" '$1 == e {print $3}' "$work/rounds" | median)"
  f_rps="$(awk -v e="$ep" '$1 == e {print $4}' "$work/rounds" | median)"
  f_p99="$(awk -v e="$ep" '$1 == e {print $5}' "$work/rounds" | median)"
  ratio="$(awk -v s="$s_rps" -v f="$f_rps" 'BEGIN {printf "%.2f", (f > 0 ? s / f : 0)}')"
  floor_summary+="$(printf '/%-8s serve %9s req/s (p99 %s ms)  floor %9s req/s (p99 %s ms)  ratio %sx' \
    "$ep" "$s_rps" "$s_p99" "$f_rps" "$f_p99" "$ratio")"$'\n'
done

hwm="$(awk '/^VmHWM:/ {print $2, $3}' "/proc/$server_pid/status")"
metrics="$(curl -sS --noproxy '*' "http://$ops_addr/metrics" || true)"
served="$(grep -E '^kubelet_tls_guard_admission_requests_total\{' <<<"$metrics" |
  awk '{s += $NF} END {print s + 0}')"

kill -TERM "$server_pid"
code=0
for _ in $(seq 1 300); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "the server did not exit within 30 s of SIGTERM" >&2
  exit 1
fi
wait "$server_pid" || code=$?
server_pid=""

echo
echo "== load test summary =="
echo "requests/s (wrk, HTTP/1.1, $CONNECTIONS conns):  $rps"
echo "p99 latency (wrk):                         $p99"
[ -n "$errors" ] && echo "wrk errors:                                $errors"
[ -n "$h2_line" ] && echo "h2load (h2):                               $h2_line"
echo "admission requests counted by the server:  $served"
echo "server peak RSS (VmHWM):                   $hwm"
echo "server exit code after SIGTERM:            $code"
echo "serve versus floor, medians of $ROUNDS alternating rounds (wrk -t1 -c$CONNECTIONS, ${FLOOR_DURATION}s each):"
printf '%s' "$floor_summary"
[ "$code" = 0 ]
