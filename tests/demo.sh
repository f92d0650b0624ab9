#!/usr/bin/env bash
# Takes each function through Create, Update and Delete as CloudFormation would: the real
# binaries run under `cargo lambda watch`, events go in with `cargo lambda invoke`, and the
# responses CloudFormation would see are printed (secrets masked). Everything runs on
# loopback and stops when the demo ends.
set -euo pipefail
source "$(dirname "$0")/scripts/env.sh"
cd "$ROOT"

command -v cargo >/dev/null || die "cargo is needed (a Rust toolchain, e.g. from rustup)"
ensure_venv
say "building the functions"
cargo build --workspace --bins --quiet
start_moto
start_postgres

RESPONSE_PORT=$(free_port)
export RESPONSE_BASE="http://127.0.0.1:$RESPONSE_PORT"
"$ROOT/target/debug/cfn-response-endpoint" "$RESPONSE_PORT" >"$WORK/responses.log" 2>"$WORK/endpoint.log" &
PIDS+=($!)
wait_for_port "$RESPONSE_PORT" "the response endpoint"

INVOKE_PORT=$(free_port)
say "starting cargo lambda watch on 127.0.0.1:$INVOKE_PORT"
cargo lambda watch --quiet --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
  --env-var "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL,AWS_ENDPOINT_URL_CLOUDFORMATION=$RESPONSE_BASE,AWS_REGION=us-east-1,AWS_ACCESS_KEY_ID=testing,AWS_SECRET_ACCESS_KEY=testing,AWS_LAMBDA_LOG_FORMAT=JSON,ALLOWED_RESPONSE_HOSTS=127.0.0.1,ALLOWED_STACK_NAMES=orders-platform,CLUSTER_PROFILE_PATH=/orders-platform/clusters,LEDGER_TABLE=orders-platform-priorities" \
  >"$WORK/functions.log" 2>&1 &
PIDS+=($!)
wait_for_port "$INVOKE_PORT" "cargo lambda watch"

export STACK_ID="arn:aws:cloudformation:us-east-1:123456789012:stack/orders-platform/$(python3 -c 'import uuid; print(uuid.uuid4())')"

# step TITLE FUNCTION TYPE LOGICAL_ID PROPERTIES [PHYSICAL_ID [OLD_PROPERTIES]]
# As CloudFormation sends it: the stand-in (beside the response endpoint) is told first, so
# that DescribeStackResource shows the resource in progress. FORGED=1: a direct invoke that
# CloudFormation knows nothing of.
step() {
  local title=$1 function=$2; shift 2
  local before event
  before=$(wc -l <"$WORK/responses.log")
  event="$WORK/event.json"
  python3 "$ROOT/tests/scripts/event.py" "$@" >"$event"
  if [ -z "${FORGED:-}" ]; then
    python3 "$ROOT/tests/scripts/event.py" --sent "$event" || die "the CloudFormation stand-in did not take the event"
  fi
  printf '\n\033[1m--- %s\033[0m\n' "$title"
  cargo lambda invoke "$function" --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
    --data-file "$event" >/dev/null || die "cargo lambda invoke failed (see $WORK/functions.log)"
  for _ in $(seq 1 50); do
    [ "$(wc -l <"$WORK/responses.log")" -gt "$before" ] && break
    sleep 0.1
  done
  sleep 0.3
  tail -n +"$((before + 1))" "$WORK/responses.log"
}

python3 - <<'PY'
import boto3
kms = boto3.client("kms")
for alias in ("alias/orders-platform", "alias/orders-service"):
    key = kms.create_key(Description=f"demo key {alias}")["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    print(f"KMS key {alias}: {key['Arn']}")
PY

ssm_value() {
  python3 -c 'import sys, boto3; print(boto3.client("ssm").get_parameter(Name=sys.argv[1], WithDecryption=True)["Parameter"]["Value"])' "$1"
}

ADMIN=/orders-platform/rds/admin-password
A1="{\"ParameterName\": \"$ADMIN\", \"KmsKeyId\": \"alias/orders-platform\", \"RotationToken\": \"2026-11\"}"
A2="{\"ParameterName\": \"$ADMIN\", \"KmsKeyId\": \"alias/orders-platform\", \"RotationToken\": \"2026-12\"}"

export RESOURCE_TYPE=Custom::AdminPassword
step "admin-password: Create" admin-password Create AdminPassword "$A1"
step "admin-password: Create redelivered (adopts its own parameter)" admin-password Create AdminPassword "$A1"
step "admin-password: a bad property is a clear FAILED" admin-password Create OtherPassword \
  '{"ParameterName": "/orders-platform/rds/other", "PasswordLength": "5"}'
FORGED=1 step "admin-password: a direct invoke CloudFormation is not sending (a rotation) gets no answer and changes nothing" \
  admin-password Update AdminPassword "$A2" "$ADMIN" "$A1"
grep -o '"reason":"CloudFormation shows[^"]*' "$WORK/functions.log" | tail -1 | sed 's/^"reason":"/refused: /'

say "the cluster takes its master password from the parameter (Fn::GetAtt AdminPassword.Password)"
pg_set_admin_password "$(ssm_value "$ADMIN")"

say "the platform registers the cluster's profile (an AWS::SSM::Parameter in the database stack)"
CLUSTER=/orders-platform/clusters/main
python3 - "$CLUSTER" "$PGPORT" "$PG_ADMIN_USER" "$ADMIN" "$PG_CA_FILE" <<'PY'
import json, sys, boto3
name, port, user, admin, ca = sys.argv[1:]
profile = {"Host": "127.0.0.1", "Port": int(port), "AdminUsername": user,
           "AdminPasswordParameterName": admin, "SslMode": "verify-full",
           "CaCertificates": open(ca).read(), "AllowedStackNames": ["orders-*"]}
boto3.client("ssm").put_parameter(Name=name, Type="String", Value=json.dumps(profile))
print(f"{name}: {json.dumps({k: v for k, v in profile.items() if k != 'CaCertificates'})}")
PY

DB="{\"Cluster\": \"$CLUSTER\", \"DatabaseName\": \"orders\",
  \"PasswordParameterName\": \"/orders-platform/orders/db-password\", \"KmsKeyId\": \"alias/orders-service\",
  \"OnDelete\": \"Drop\""
DB1="$DB, \"RotationToken\": \"1\"}"
DB2="$DB, \"RotationToken\": \"2\"}"
DB_ID="orders@$CLUSTER/orders#/orders-platform/orders/db-password"

export RESOURCE_TYPE=Custom::ServiceDatabase
step "service-database: Create (database orders, role orders, TLS verify-full)" service-database Create OrdersDatabase "$DB1"
say "the orders role logs in with the password from SSM"
PGPASSWORD=$(ssm_value /orders-platform/orders/db-password) psql -X -A -t \
  "host=127.0.0.1 port=$PGPORT user=orders dbname=orders sslmode=verify-full sslrootcert=$PG_CA_FILE" \
  -c "SELECT 'connected as ' || current_user || ' to ' || current_database() || ', TLS ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
step "service-database: Update with a new RotationToken (ALTER ROLE, new parameter version)" \
  service-database Update OrdersDatabase "$DB2" "$DB_ID" "$DB1"
step "service-database: a hostile DatabaseName is refused" service-database Create EvilDatabase \
  "{\"Cluster\": \"$CLUSTER\", \"DatabaseName\": \"orders\\\"; DROP DATABASE postgres; --\", \"PasswordParameterName\": \"/orders-platform/evil/db-password\"}"
step "service-database: a service naming its own Host is refused" service-database Create EvilDatabase \
  "{\"Cluster\": \"$CLUSTER\", \"Host\": \"evil.example\", \"DatabaseName\": \"evil\", \"PasswordParameterName\": \"/orders-platform/evil/db-password\"}"
step "service-database: Delete (OnDelete: Drop)" service-database Delete OrdersDatabase "$DB2" "$DB_ID"

say "a load balancer with a listener and rules at priorities 1, 2 and 10"
LISTENER=$(python3 - <<'PY'
import boto3
ec2, elb = boto3.client("ec2"), boto3.client("elbv2")
subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
lb = elb.create_load_balancer(Name="orders-platform", Subnets=subnets)["LoadBalancers"][0]
fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]
listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                               DefaultActions=fixed)["Listeners"][0]["ListenerArn"]
for p in (1, 2, 10):
    elb.create_rule(ListenerArn=listener, Priority=p, Actions=fixed,
                    Conditions=[{"Field": "path-pattern", "Values": [f"/legacy{p}/*"]}])
print(listener)
PY
)
say "the priority ledger: a DynamoDB table keyed by listener and priority (template.yaml's PriorityLedger)"
python3 - <<'PY'
import boto3
boto3.client("dynamodb").create_table(
    TableName="orders-platform-priorities", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "Listener", "AttributeType": "S"},
                          {"AttributeName": "Priority", "AttributeType": "N"}],
    KeySchema=[{"AttributeName": "Listener", "KeyType": "HASH"},
               {"AttributeName": "Priority", "KeyType": "RANGE"}])
PY
ledger() {
  python3 - "$LISTENER" <<'PY'
import sys, boto3
items = boto3.client("dynamodb").query(
    TableName="orders-platform-priorities", KeyConditionExpression="Listener = :l",
    ExpressionAttributeValues={":l": {"S": sys.argv[1]}})["Items"]
print("ledger:", [(i["Priority"]["N"], i["Owner"]["S"].split("/")[1] + " " + i["Owner"]["S"].split("logical-id=")[1]) for i in items] or "empty")
PY
}
P1="{\"ListenerArn\": \"$LISTENER\", \"Count\": \"2\"}"
P2="{\"ListenerArn\": \"$LISTENER\", \"Count\": \"1\"}"
export RESOURCE_TYPE=Custom::AlbRulePriority
step "alb-rule-priority: Create, two priorities above the highest rule" alb-rule-priority Create OrdersPriority "$P1"
STACK_ID_ORDERS=$STACK_ID
export STACK_ID="arn:aws:cloudformation:us-east-1:123456789012:stack/payments/$(python3 -c 'import uuid; print(uuid.uuid4())')"
step "alb-rule-priority: another stack's Create gets the next one" alb-rule-priority Create PaymentsPriority "$P2"
step "alb-rule-priority: a catch-all rule (Placement: Last) gets the highest free priority" \
  alb-rule-priority Create CatchAllPriority "{\"ListenerArn\": \"$LISTENER\", \"Placement\": \"Last\"}"
ledger
export STACK_ID=$STACK_ID_ORDERS
step "alb-rule-priority: Update to Count 1 keeps the first, releases the other" \
  alb-rule-priority Update OrdersPriority "$P2" "$LISTENER#OrdersPriority" "$P1"
step "alb-rule-priority: MinPriority above MaxPriority is a clear FAILED" alb-rule-priority Create BadPriority \
  "{\"ListenerArn\": \"$LISTENER\", \"MinPriority\": \"500\", \"MaxPriority\": \"400\"}"
step "alb-rule-priority: Delete releases the ledger entry" \
  alb-rule-priority Delete OrdersPriority "$P2" "$LISTENER#OrdersPriority"
ledger

export RESOURCE_TYPE=Custom::AdminPassword
step "admin-password: Update with a new RotationToken (new version)" admin-password Update AdminPassword "$A2" "$ADMIN" "$A1"
step "admin-password: Delete" admin-password Delete AdminPassword "$A2" "$ADMIN"

python3 - <<'PY'
import boto3
names = [p["Name"] for p in boto3.client("ssm").describe_parameters()["Parameters"]]
print(f"\nparameters left in SSM: {names or 'none'}")
PY
if grep -q "REJECTED" "$WORK/responses.log"; then
  die "CloudFormation would have rejected a response (see above)"
fi
say "demo finished; everything it started is stopped"
