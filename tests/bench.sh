#!/usr/bin/env bash
# Benchmarks (numbers, not pass/fail): each function's start-up to first poll, one Create,
# peak RSS, on this machine's x86_64 release build; and the zipped arm64 bootstrap that
# `cargo lambda build --release --arm64` makes for deployment. Two release builds: allow
# about 25 minutes from a clean tree.
set -euo pipefail
source "$(dirname "$0")/scripts/env.sh"
cd "$ROOT"
ensure_venv

FUNCTIONS=(admin-password service-database alb-rule-priority)

say "release build (x86_64, to measure here), with a hello-world lambda_runtime binary as the floor"
cargo build --release --quiet "${FUNCTIONS[@]/#/--bin=}" --bin=hello-lambda
cargo build --quiet -p integration-tests --bin bench
say "release build (arm64, as deployed)"
cargo lambda build --release --arm64 --output-format zip --quiet "${FUNCTIONS[@]/#/--bin=}"

start_moto
start_postgres
for f in "${FUNCTIONS[@]}"; do
  "$ROOT/target/debug/bench" "$ROOT/target/release/$f" "$f" "$ROOT/target/release/hello-lambda"
  zip="$ROOT/target/lambda/$f/bootstrap.zip"
  python3 -c 'import os,sys; n=os.path.getsize(sys.argv[2]); print(f"{sys.argv[1]}: zipped arm64 bootstrap  {n/1048576:.2f} MB ({n} bytes)")' "$f" "$zip"
done
