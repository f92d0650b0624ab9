# Shared by tests/run.sh, tests/demo.sh and tests/bench.sh: installs what is missing,
# starts services on free loopback ports, and stops them on exit.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV="$ROOT/.venv"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cfn-custom-resources.XXXXXX")
PIDS=()

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until something listens on 127.0.0.1:$1, or fails naming $2.
wait_for_port() {
  local port=$1 what=$2 i
  for i in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$what did not start on port $port (see $WORK)"
}

# The Python tools (moto, cargo-lambda with zig, cfn-lint) in a virtualenv of the project's.
ensure_venv() {
  command -v python3 >/dev/null || die "python3 is needed to install moto, cargo-lambda and cfn-lint"
  local stamp="$VENV/.requirements"
  if [ -x "$VENV/bin/moto_server" ] && cmp -s "$ROOT/tests/requirements.txt" "$stamp"; then
    :
  else
    say "installing moto, cargo-lambda and cfn-lint into .venv"
    python3 -m venv "$VENV" || die "could not create a virtualenv (on Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/tests/requirements.txt" \
      || die "pip could not install tests/requirements.txt"
    cp "$ROOT/tests/requirements.txt" "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

# A moto server for SSM, KMS and ELBv2; exports AWS_ENDPOINT_URL and test credentials.
start_moto() {
  local port
  port=$(free_port)
  say "starting moto on 127.0.0.1:$port"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
  PIDS+=($!)
  wait_for_port "$port" "moto"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
}
