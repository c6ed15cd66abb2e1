#!/usr/bin/env bash
# The project's test command (README, CI): installs what a fresh machine lacks, then checks
# formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in curl openssl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" ca-certificates >/dev/null
  else
    echo "note: ${missing[*]} not installed; the tests that drive them will say they skipped" >&2
  fi
fi
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done

# One full run gains nothing from incremental state, which would double the debug target's size.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# The real etcd + kube-apiserver of tests/apiserver_*.rs (tests/apiserver/, issue 9). Without Go
# those tests skip, which fails under CI=true.
# The official tarball's place, for a shell whose PATH lacks it.
command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || PATH=$PATH:/usr/local/go/bin
if command -v go >/dev/null 2>&1; then
  start=$SECONDS
  ./scripts/build-apiserver.sh
  echo "build-apiserver: $((SECONDS - start)) s"
else
  echo "note: go is not installed: kube-apiserver and etcd cannot be built, so the tests against a real API server will say they skipped" >&2
fi
# Keep cargo's own output (every binary, even after a failure), then close with one line that
# totals every test binary, skips included, and names each skip (scripts/test-summary.sh).
log=$(mktemp)
KTG_SKIP_LOG=$(mktemp)
export KTG_SKIP_LOG
trap 'rm -f "$log" "$KTG_SKIP_LOG"' EXIT
status=0
cargo test --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
# A 30 s smoke run per fuzz target (scripts/fuzz-smoke.sh says whether it ran, and why not).
./scripts/fuzz-smoke.sh || { fuzz=$?; [ "$status" != 0 ] || status=$fuzz; }
final=0
./scripts/test-summary.sh "$status" "$log" "$KTG_SKIP_LOG" || final=$?
exit "$final"
