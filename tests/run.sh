#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, and the integration tests that drive
# the compiled functions through the Lambda Runtime API against moto (and PostgreSQL).
set -euo pipefail
source "$(dirname "$0")/scripts/env.sh"
cd "$ROOT"

command -v cargo >/dev/null || die "cargo is needed (a Rust toolchain, e.g. from rustup)"
ensure_venv

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "cargo doc: the framework's documentation, every public item of it"
RUSTDOCFLAGS="-D warnings" cargo doc -p cfn-custom-resource --no-deps --quiet

say "cfn-lint: template.yaml and the example stacks"
cfn-lint template.yaml tests/stacks/*.yaml
say "template.yaml grants each function exactly what its code calls"
python -m unittest discover -s tests -p '*_test.py'

say "building the functions"
cargo build --workspace --bins --quiet

start_moto
start_postgres
say "cargo test"
cargo test --workspace --quiet
say "all tests passed"
