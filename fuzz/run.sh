#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a bounded time each; see fuzz/README.md.
#   fuzz/run.sh                       # all targets, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 fuzz/run.sh module_zip
# Needs nightly Rust and cargo-fuzz (`rustup toolchain install nightly`, `cargo install cargo-fuzz`).
# New inputs that reach new code go to fuzz/work/<target>/ (not committed; the committed seeds in
# fuzz/corpus/<target>/ are only read); a crash stops the run and
# leaves its input in fuzz/artifacts/<target>/: make it a regression test and a corpus file.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
status=0
for t in "${targets[@]}"; do
  echo "== $t (${seconds}s)"
  # -rss_limit_mb: a parser must stay small; -max_len bounds inputs (zips need room).
  mkdir -p "work/$t"
  if ! cargo +nightly fuzz run "$t" "work/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1 2>&1 |
      grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY|Done)|panicked|artifact_prefix'; then
    :
  fi
  if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    echo "FAILED: $t (see fuzz/artifacts/$t/)"
    status=1
  fi
done
exit "$status"
