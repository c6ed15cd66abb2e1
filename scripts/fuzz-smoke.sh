#!/usr/bin/env bash
# Fuzz smoke run (run by scripts/test.sh): every cargo-fuzz target in fuzz/ for 30 s, starting
# from its committed seeds (fuzz/corpus/TARGET: a minimised corpus plus every crash found so far).
# New inputs go to a scratch directory, so the committed seeds never change under a run.
#
# Environment:
#   KTG_FUZZ=auto (default)  run when the nightly toolchain and cargo-fuzz are installed
#   KTG_FUZZ=install         the same, installing cargo-fuzz first when it is missing (the
#                            default under CI=true: a CI run does not skip the smoke for want
#                            of a tool it can install)
#   KTG_FUZZ=0               never run
#   KTG_FUZZ_SECONDS=30      seconds per target
#
# Prints one line per target (or why nothing ran). Exit 1 when a target crashed: the input is in
# fuzz/artifacts/TARGET/ (commit it under fuzz/corpus/TARGET/ once fixed).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'fuzz: %s\n' "$*"; }

default=auto
[ "${CI:-}" != true ] || default=install
mode=${KTG_FUZZ:-$default}
secs=${KTG_FUZZ_SECONDS:-30}
case $secs in '' | *[!0-9]*) say "KTG_FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;; esac
case $mode in
  0) say "not run (KTG_FUZZ=0)"; exit 0 ;;
  auto | install) ;;
  *) say "KTG_FUZZ must be auto, install or 0, not '$mode'" >&2; exit 2 ;;
esac
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  say "not run: no nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  if [ "$mode" != install ]; then
    say "not run: cargo-fuzz is not installed (KTG_FUZZ=install installs it, about 2 minutes; or: cargo install cargo-fuzz --locked)"
    exit 0
  fi
  start=$SECONDS
  cargo install cargo-fuzz --locked
  say "cargo-fuzz installed in $((SECONDS - start)) s"
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
root=$(pwd)
start=$SECONDS
if ! cargo +nightly fuzz build; then
  say "FAILED: the fuzz targets do not build (see above)"
  exit 1
fi
say "targets built in $((SECONDS - start)) s"
failed=0
for target in $(cargo +nightly fuzz list); do
  mkdir -p "$scratch/$target"
  corpora=("$scratch/$target")
  seeds=$root/fuzz/corpus/$target
  if [ -d "$seeds" ]; then
    corpora+=("$seeds")
  else
    say "$target: no committed seeds in fuzz/corpus/$target; starting empty"
  fi
  if cargo +nightly fuzz run "$target" "${corpora[@]}" -- \
    -max_total_time="$secs" -timeout=25 -rss_limit_mb=4096 -max_len=65536 \
    >"$scratch/$target.log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs' "$scratch/$target.log" | tail -1 | grep -o '[0-9]*' || true)
    say "$target: ${runs:-?} runs in $secs s, no crash"
  else
    failed=1
    tail -40 "$scratch/$target.log" >&2
    say "$target: FAILED (see above; the input is in fuzz/artifacts/$target/)"
  fi
done
exit "$failed"
