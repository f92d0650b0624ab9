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
  stop_postgres
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

# The Python tools (moto, cargo-lambda with zig, cfn-lint, aws-sam-cli) in a virtualenv of the project's.
ensure_venv() {
  command -v python3 >/dev/null || die "python3 is needed to install moto, cargo-lambda and cfn-lint"
  local stamp="$VENV/.requirements"
  if [ -x "$VENV/bin/moto_server" ] && cmp -s "$ROOT/tests/requirements.txt" "$stamp"; then
    :
  else
    say "installing moto, cargo-lambda, cfn-lint and aws-sam-cli into .venv"
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

# Runs a command as the PostgreSQL owner: the server refuses to run as root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u cfn-pgtest -- "$@"
  else
    "$@"
  fi
}

# A throwaway PostgreSQL 15 cluster on loopback, shaped like RDS: TLS on, every statement
# logged, and an admin that is not a superuser but has CREATEDB and CREATEROLE.
# Exports PGHOST, PGPORT, PG_ADMIN_USER, PG_ADMIN_PASSWORD, PG_CA_FILE, PG_LOG_FILE, and the
# server's certificate and key (PG_SERVER_CERT, PG_SERVER_KEY) for the tests' impostor server.
start_postgres() {
  local bin=/usr/lib/postgresql/15/bin
  if [ ! -x "$bin/initdb" ]; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL 15 is missing: run 'sudo apt-get install postgresql-15' (no root here to do it)"
    say "installing PostgreSQL 15 from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null \
      || die "apt-get could not install postgresql-15"
  fi
  command -v openssl >/dev/null || die "openssl is needed to make the test cluster's certificates"
  local pg="$WORK/postgres"
  mkdir -p "$pg"
  if [ "$(id -u)" = 0 ]; then
    id cfn-pgtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin cfn-pgtest
    chmod 755 "$WORK"
  fi

  # A CA of our own and a server certificate for 127.0.0.1 / localhost, so verify-full can be tested.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=test cluster CA" \
    -keyout "$pg/ca.key" -out "$pg/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$pg/server.key" -out "$pg/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$pg/san.ext"
  openssl x509 -req -in "$pg/server.csr" -CA "$pg/ca.crt" -CAkey "$pg/ca.key" -CAcreateserial \
    -days 2 -extfile "$pg/san.ext" -out "$pg/server.crt" 2>/dev/null
  chmod 600 "$pg/server.key"
  [ "$(id -u)" = 0 ] && chown -R cfn-pgtest "$pg"

  local port
  port=$(free_port)
  as_pg "$bin/initdb" -D "$pg/data" -U postgres --auth-local=trust --auth-host=reject \
    >"$pg/initdb.log" 2>&1 || die "initdb failed (see $pg/initdb.log)"
  cat >>"$pg/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$pg'
ssl = on
ssl_cert_file = '$pg/server.crt'
ssl_key_file = '$pg/server.key'
password_encryption = 'scram-sha-256'
log_statement = 'all'
log_min_error_statement = 'error'
max_connections = 100
fsync = off
CONF
  cat >"$pg/data/pg_hba.conf" <<HBA
local all postgres trust
host all all 127.0.0.1/32 scram-sha-256
HBA
  say "starting PostgreSQL 15 on 127.0.0.1:$port (TLS, statements logged)"
  as_pg "$bin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w start >/dev/null \
    || die "PostgreSQL did not start (see $pg/server.log)"
  PG_STOP="$bin/pg_ctl -D $pg/data -m immediate stop"
  PG_SUPERUSER_PSQL="$bin/psql -q -h $pg -p $port -U postgres -d postgres -v ON_ERROR_STOP=1"

  PG_ADMIN_USER=platform_admin
  PG_ADMIN_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
  # Not logged: the admin's own password stays out of the server log.
  as_pg "$bin/psql" -q -h "$pg" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "SET log_statement = 'none'" \
    -c "CREATE ROLE $PG_ADMIN_USER LOGIN CREATEDB CREATEROLE PASSWORD '$PG_ADMIN_PASSWORD'" \
    -c "GRANT CREATE ON SCHEMA public TO PUBLIC" >/dev/null \
    || die "could not create the admin role"
  # As a cluster first made on PostgreSQL 14 or earlier and upgraded since: any role may
  # create objects in the admin database's public schema (tests plant functions there).
  export PGHOST=127.0.0.1 PGPORT=$port PG_ADMIN_USER PG_ADMIN_PASSWORD
  export PG_CA_FILE="$pg/ca.crt" PG_LOG_FILE="$pg/server.log"
  export PG_SERVER_CERT="$pg/server.crt" PG_SERVER_KEY="$pg/server.key"
}

# Sets the admin's password as the cluster's superuser (what RDS does with the cluster's
# MasterUserPassword), unlogged; the password comes in $1 and is quoted by psql.
pg_set_admin_password() {
  NEW_ADMIN_PASSWORD=$1 as_pg $PG_SUPERUSER_PSQL <<SQL >/dev/null
SET log_statement = 'none';
\getenv pw NEW_ADMIN_PASSWORD
ALTER ROLE $PG_ADMIN_USER PASSWORD :'pw';
SQL
}

stop_postgres() {
  if [ -n "${PG_STOP:-}" ]; then as_pg $PG_STOP >/dev/null 2>&1 || true; fi
}
