#!/usr/bin/env bash
# Builds goward in release mode and runs the benchmark (benches/proxy.rs) once; see
# bench/README.md. Settings come from the environment: BENCH_RUNS, BENCH_MODULES, BENCH_BIG_MIB,
# BENCH_CLIENTS, BENCH_GOSUMDB (key|off), BENCH_FILLERS.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "bench/run.sh: the go command is required" >&2; exit 2; }

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked
# Measure exactly the binary `cargo build --release` made: building the bench target enables the
# dev-dependencies' extra tokio features and re-links target/release/goward with them.
cp "$target_dir/release/goward" "$target_dir/release/goward-bench"
export GOWARD_TEST_BIN="$PWD/$target_dir/release/goward-bench"
case "$target_dir" in /*) export GOWARD_TEST_BIN="$target_dir/release/goward-bench" ;; esac
# Builds the bench target (bench profile = release) and runs it.
exec cargo bench --locked --bench proxy
