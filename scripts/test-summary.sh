#!/usr/bin/env bash
# The closing summary of scripts/test.sh, from cargo test's output and the skip log that
# tests/support/skip.rs appends to ($KTG_SKIP_LOG, one `BINARY::TEST: reason` line per skip).
#
#   scripts/test-summary.sh CARGO_STATUS CARGO_LOG SKIP_LOG
#
# Prints `N passed, N failed, N skipped`, then one line per skip naming the test and why:
# skipped = tests libtest ignored + tests that recorded a skip (libtest counted those as passed,
# so they are taken out of `passed`). A test that recorded a skip and then failed is a failure.
# Exits with CARGO_STATUS; under CI=true a recorded skip (a missing tool or corpus) makes it
# non-zero too. `#[ignore]`d tests (e.g. the e2e against a real cluster) are named but do not fail
# CI: they need what CI never has, and run only when asked for (`-- --ignored`).
set -euo pipefail
status=$1 log=$2 skips=$3
[ -f "$skips" ] || skips=/dev/null

summary=$(awk '
  FILENAME == ARGV[1] {
    if ($0 ~ /^ *Running /) {
      # "Running tests/install.rs (target/debug/deps/install-0a1b2c3d)" -> install
      bin = $0; sub(/.*\(/, "", bin); sub(/\).*/, "", bin); sub(/.*\//, "", bin)
      sub(/-[0-9a-f]+$/, "", bin)
    } else if ($0 ~ /^test .* \.\.\. FAILED$/) {
      name = $0; sub(/^test /, "", name); sub(/ \.\.\. FAILED$/, "", name)
      failed[bin "::" name] = 1
    } else if ($0 ~ /^test .* \.\.\. ignored/) {
      name = $0; sub(/^test /, "", name); sub(/ \.\.\. ignored.*$/, "", name)
      why = $0; sub(/^.* \.\.\. ignored(, )?/, "", why)
      ignored[++n_ign] = bin "::" name ": ignored" (why != "" ? ": " why : "")
    } else if ($0 ~ /^test result:/) {
      for (i = 2; i <= NF; i++) {
        if ($(i) ~ /^passed/) passed += $(i - 1)
        if ($(i) ~ /^failed/) failed_n += $(i - 1)
        if ($(i) ~ /^ignored/) ignored_n += $(i - 1)
      }
    }
    next
  }
  $0 != "" && !($0 in line_seen) {
    line_seen[$0] = 1
    key = $0; sub(/: .*$/, "", key)
    if (key in failed) next
    if (!(key in test_seen)) { test_seen[key] = 1; n_skip++ }
    reasons[++n_reason] = $0
  }
  END {
    # First line: the number of tests that recorded a skip, for the exit status below.
    print n_skip + 0
    printf "%d passed, %d failed, %d skipped\n", passed - n_skip, failed_n, ignored_n + n_skip
    for (i = 1; i <= n_ign; i++) print "  skipped: " ignored[i]
    for (i = 1; i <= n_reason; i++) print "  skipped: " reasons[i]
  }
' "$log" "$skips")
recorded=${summary%%$'\n'*}
echo "${summary#*$'\n'}"
if [ "$status" = 0 ] && [ "${CI:-}" = true ] && [ "${recorded:-0}" -gt 0 ]; then
  echo "CI=true: $recorded test(s) skipped for a missing tool or input; CI must run everything" >&2
  status=1
fi
exit "$status"
