#!/usr/bin/env bash
# Builds goward in release mode and runs the benchmark (benches/proxy.rs); see bench/README.md.
# Extra settings come from the environment: BENCH_RUNS, BENCH_MODULES, BENCH_BIG_MIB,
# BENCH_CLIENTS, BENCH_GOSUMDB (key|off), BENCH_FILLERS.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "bench/run.sh: the go command is required" >&2; exit 2; }

cargo build --release --locked
cargo bench --locked --bench proxy --no-run
# The bench profile inherits release: this is the binary cargo just built.
export GOWARD_TEST_BIN="$PWD/target/release/goward"
exec cargo bench --locked --bench proxy
