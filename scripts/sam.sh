#!/usr/bin/env bash
# The functions under SAM on one machine, in Docker (scripts/docker.sh), over DynamoDB Local and moto
# (target/debug/sam-services, which also runs the stream and queue mappings through `sam local invoke`).
#   scripts/sam.sh local   `make sam-local`: sam build for this machine's architecture, then
#                          `sam local start-api` on PORT (default 3000) until stopped
#   scripts/sam.sh test    `make sam-test`: every sample event through `sam local invoke`, then the seed's
#                          two scenarios, an asynchronous payment (CVV 777, its notification through
#                          the queue, DeliverNotificationsFunction and the webhook) and an operator's
#                          walk (create, publish, book, sales) through
#                          `sam local start-api` on a free port
set -euo pipefail

mode=${1:?usage: scripts/sam.sh local|test}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/tools.sh
bridge=$(scripts/docker.sh | tail -n 1)
case "$(uname -m)" in
  x86_64) arch=x86_64 ;;
  *) arch=arm64 ;;
esac
# The venv first: cargo lambda finds Zig through its python3.
export PATH="$root/.tools/venv/bin:$root/.tools/sam/bin:$PATH"
export SAM_CLI_TELEMETRY=0 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
secret=whsec_local_development_only
params="Architecture=$arch PgWebhookSecret=$secret"
env_vars="$root/.tools/sam-env.json"
sam_flags=(--skip-pull-image --add-host host.docker.internal:host-gateway --env-vars "$env_vars"
  --parameter-overrides "$params")

cargo build --quiet -p ticketing-local --bin sam-services
# On this machine the functions build without the deployment profile's size tuning (fat LTO, one
# codegen unit, opt-level s), which would double the build; they behave the same.
CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=3 \
  sam build --parameter-overrides "$params" >/dev/null
if [[ $mode == local ]]; then
  port=${PORT:-3000}
else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

# The local services, in a session of their own so that stopping them stops everything they started.
services_log="$root/.tools/sam-services.log"
setsid ./target/debug/sam-services "$env_vars" "$bridge" "$params" "$port" >"$services_log" 2>&1 &
services=$!
api=""
stop() {
  if [[ -n $api ]]; then
    # SAM removes its warm containers on an interrupt, as on Ctrl-C.
    kill -INT -- "-$api" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$api" 2>/dev/null || break; sleep 0.1; done
  fi
  kill -TERM "$services" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$services" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$services" 2>/dev/null || true
  [[ -n $api ]] && kill -KILL -- "-$api" 2>/dev/null || true
  # Whatever container SAM still left of this run's functions.
  local left
  left=$(docker ps -aq --filter "ancestor=public.ecr.aws/lambda/provided:al2023-rapid-$arch" 2>/dev/null || true)
  [[ -z $left ]] || docker rm -f $left >/dev/null 2>&1 || true
}
trap stop EXIT
for _ in $(seq 1 600); do
  grep -q '"ready: the local services' "$services_log" && break
  kill -0 "$services" 2>/dev/null || { cat "$services_log"; echo "sam.sh: sam-services exited" >&2; exit 1; }
  sleep 0.2
done

start_api() {
  setsid sam local start-api --port "$1" --host 127.0.0.1 --warm-containers LAZY "${sam_flags[@]}" \
    >"$root/.tools/sam-api.log" 2>&1 &
  api=$!
  for _ in $(seq 1 600); do
    curl -s -o /dev/null "http://127.0.0.1:$1/bookings/my" && return 0
    kill -0 "$api" 2>/dev/null || { tail -n 40 "$root/.tools/sam-api.log"; echo "sam.sh: start-api exited" >&2; exit 1; }
    sleep 0.2
  done
  echo "sam.sh: start-api never answered" >&2
  exit 1
}

if [[ $mode == local ]]; then
  start_api "$port"
  echo "sam local start-api on http://127.0.0.1:$port (functions in Docker; logs in .tools/sam-api.log); Ctrl-C stops it" >&2
  wait "$api"
  exit 0
fi

# One sample event through `sam local invoke`; the function's answer.
invoke() {
  sam local invoke "$1" --event "$2" "${sam_flags[@]}" 2>/dev/null | tail -n 1
}
checked=0
check() {
  local what=$1 answer=$2 expect=$3
  if python3 -c "import json,sys; a=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)" "$answer" "$expect"; then
    echo "sam local invoke $what -> ok"
    checked=$((checked + 1))
  else
    echo "sam.sh: sam local invoke $what answered $answer, expected $expect" >&2
    exit 1
  fi
}
with_booking() { sed "s/REPLACE-WITH-A-BOOKING-ID/$1/" "$2" >"$3"; }
work=$(mktemp -d)
trap 'stop; rm -rf "$work"' EXIT

created=$(invoke CreateBookingFunction events/create-booking.json)
check create-booking "$created" 'a["statusCode"] == 201'
booking=$(python3 -c 'import json,sys; print(json.loads(json.loads(sys.argv[1])["body"])["bookingId"])' "$created")
check list-my-bookings "$(invoke ListMyBookingsFunction events/list-my-bookings.json)" \
  "a['statusCode'] == 200 and json.loads(a['body'])[0]['bookingId'] == '$booking'"
check get-seat-map "$(invoke GetSeatMapFunction events/get-seat-map.json)" \
  'a["statusCode"] == 200 and len(json.loads(a["body"])["seats"]) == 200'
check "missing-token (list-my-bookings)" "$(invoke ListMyBookingsFunction events/missing-token.json)" \
  'a["statusCode"] == 401'
check "execute-payment (placeholder id)" "$(invoke ExecutePaymentFunction events/execute-payment.json)" \
  'a["statusCode"] == 404'
with_booking "$booking" events/execute-payment.json "$work/pay.json"
check execute-payment "$(invoke ExecutePaymentFunction "$work/pay.json")" \
  'a["statusCode"] == 200 and json.loads(a["body"])["finalStatus"] == "SUCCESS"'
check "receive-webhook (placeholder signature)" "$(invoke ReceiveWebhookFunction events/receive-webhook.json)" \
  'a["statusCode"] == 400'
check "expire-holds (no such booking)" "$(invoke ExpireHoldsFunction events/expire-holds.json)" \
  'a["batchItemFailures"] == []'
with_booking "$booking" events/expire-holds.json "$work/expire.json"
check "expire-holds (a paid booking)" "$(invoke ExpireHoldsFunction "$work/expire.json")" \
  'a["batchItemFailures"] == []'
check "schedule-expiries (a new booking's expiry sent)" "$(invoke ScheduleExpiriesFunction events/schedule-expiries.json)" \
  'a["batchItemFailures"] == []'
check "process-events (no such booking)" "$(invoke ProcessEventsFunction events/process-events.json)" \
  'len(a["batchItemFailures"]) == 1'
unpaid=$(invoke CreateBookingFunction events/create-booking.json)
with_booking "$(python3 -c 'import json,sys; print(json.loads(json.loads(sys.argv[1])["body"])["bookingId"])' "$unpaid")" \
  events/cancel-booking.json "$work/cancel.json"
check "cancel-booking (an unpaid booking: cancelled, nothing to refund)" "$(invoke CancelBookingFunction "$work/cancel.json")" \
  'a["statusCode"] == 200 and json.loads(a["body"]) ["refund"] is None'
check "manage-performances (create a draft)" "$(invoke ManagePerformancesFunction events/create-performance.json)" \
  'a["statusCode"] == 201 and json.loads(a["body"])["status"] == "draft"'
check "manage-performances (what is on sale)" "$(invoke ManagePerformancesFunction events/list-performances.json)" \
  'a["statusCode"] == 200 and [p["performanceId"] for p in json.loads(a["body"])["performances"]] == ["perf_001", "perf_002"]'

start_api "$port"
# Posted to the API's webhook through the relay: a notification for no booking is stored (the worker
# parks it), so it is delivered.
check "deliver-notifications" "$(invoke DeliverNotificationsFunction events/deliver-notifications.json)" \
  'a["batchItemFailures"] == []'
echo "sam invoke scenarios: $checked passed"

if ! scripts/seed-scenarios.sh "http://127.0.0.1:$port" ||
  ! ASYNC_WAIT_SECONDS=120 scripts/async-payment-scenario.sh "http://127.0.0.1:$port" ||
  ! ASYNC_WAIT_SECONDS=120 scripts/operator-scenario.sh "http://127.0.0.1:$port" ||
  ! ASYNC_WAIT_SECONDS=120 scripts/cancel-scenario.sh "http://127.0.0.1:$port"; then
  tail -n 40 "$root/.tools/sam-api.log"
  tail -n 20 "$services_log"
  exit 1
fi
