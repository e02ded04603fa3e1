#!/usr/bin/env bash
# A way back: book two seats and pay; once confirmed, cancel: the booking is cancelled, its seats are on
# sale again, and its refund moves from pending to succeeded in GET /bookings/my.
# Usage: scripts/cancel-scenario.sh [base-url]; ASYNC_WAIT_SECONDS (default 30) bounds each wait.
set -euo pipefail

base=${1:-http://127.0.0.1:${PORT:-3000}}
user=user_cancel_001
field() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(json.dumps(eval("v"+sys.argv[1])))' "$1"; }
fail() { echo "cancel-scenario: $*" >&2; exit 1; }
mine() {
  curl -sS "$base/bookings/my" -H "x-user-id: $user" |
    python3 -c 'import json,sys; print(json.dumps(next((b for b in json.load(sys.stdin) if b["bookingId"]==sys.argv[1]), {})))' "$1"
}
wait_for() {
  local expr=$1 want=$2 seen=""
  for _ in $(seq 1 $((${ASYNC_WAIT_SECONDS:-30} * 10))); do
    seen=$(mine "$booking" | field "$expr" 2>/dev/null || true)
    [[ $seen == "$want" ]] && return 0
    sleep 0.1
  done
  fail "the booking's $expr stayed $seen, not $want"
}

created=$(curl -sS -X POST "$base/bookings" -H 'Content-Type: application/json' -H "x-user-id: $user" \
  -d '{"performanceId": "perf_001", "quantity": 2, "paymentMethod": "CREDIT_CARD"}')
booking=$(field '["bookingId"]' <<<"$created" | tr -d '"')
seats=$(field '["seatIds"]' <<<"$created")
curl -sS -X POST "$base/payments/execute" -H 'Content-Type: application/json' -H "x-user-id: $user" \
  -d "{\"bookingId\": \"$booking\", \"paymentMethodToken\": \"tok_visa_creditCard\", \"cvv\": \"120\"}" >/dev/null
wait_for '["status"]' '"confirmed"'

cancelled=$(curl -sS -X POST "$base/bookings/$booking/cancel" -H "x-user-id: $user")
echo "POST /bookings/$booking/cancel -> $cancelled"
[[ $(field '["status"]' <<<"$cancelled") == '"cancelled"' && $(field '["refund"]["amount"]' <<<"$cancelled") == 60000 ]] ||
  fail "expected cancelled with a refund of 60000: $cancelled"
wait_for '["refund"]["status"]' '"succeeded"'
echo "GET /bookings/my -> $booking is cancelled, its refund succeeded"
map=$(curl -sS "$base/performances/perf_001/seats" -H "x-user-id: $user")
python3 -c 'import json,sys; m={s["seatId"]: s["state"] for s in json.loads(sys.argv[1])["seats"]}; sys.exit(0 if all(m[s]=="available" for s in json.loads(sys.argv[2])) else 1)' \
  "$map" "$seats" || fail "the seats $seats are not on sale again"
again=$(curl -sS -X POST "$base/bookings/$booking/cancel" -H "x-user-id: $user")
[[ $(field '["error"]["code"]' <<<"$again") == '"BOOKING_NOT_CANCELLABLE"' ]] || fail "cancelled twice: $again"
echo "cancel scenario: 1 passed, 0 failed"
