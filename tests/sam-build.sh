#!/usr/bin/env bash
# `sam build` of template.yaml, as a user deploying it runs it: three arm64 bootstraps built
# offline by cargo-lambda (zig cross-compiles; no Docker). A release build: about 15
# minutes on a 2-core machine from a clean tree.
set -euo pipefail
source "$(dirname "$0")/scripts/env.sh"
cd "$ROOT"
ensure_venv
say "sam build (release, arm64)"
started=$(date +%s)
sam build --beta-features
for f in AdminPasswordFunction ServiceDatabaseFunction AlbRulePriorityFunction; do
  bootstrap=".aws-sam/build/$f/bootstrap"
  [ -x "$bootstrap" ] || die "sam build made no $bootstrap"
  file "$bootstrap" 2>/dev/null | grep -q aarch64 || python3 - "$bootstrap" <<'PY' || die "$bootstrap is not an arm64 executable"
import sys
with open(sys.argv[1], "rb") as f:
    header = f.read(20)
# ELF, machine 0xB7 = AArch64
sys.exit(0 if header[:4] == b"\x7fELF" and header[18] == 0xB7 else 1)
PY
  printf '%s: %s bytes\n' "$bootstrap" "$(stat -c %s "$bootstrap")"
done
say "sam build took $(( $(date +%s) - started )) s"
