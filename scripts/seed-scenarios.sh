#!/usr/bin/env bash
# The seed's two scenarios, as curl commands, against a running API:
#   1. book 2 seats of perf_001, pay with CVV 120 -> the booking becomes confirmed
#   2. book 2 seats of perf_001, pay with CVV 442 -> DECLINE_2, the booking becomes failed
# Usage: scripts/seed-scenarios.sh [base-url]   (default http://127.0.0.1:${PORT:-3000})
set -euo pipefail

base=${1:-http://127.0.0.1:${PORT:-3000}}
user=user_test_001

field() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(eval("v"+sys.argv[1]))' "$1"; }
fail() { echo "seed-scenarios: $*" >&2; exit 1; }

scenario() {
  local cvv=$1 expected_final=$2 expected_status=$3
  local created booking paid
  created=$(curl -sS -X POST "$base/bookings" \
    -H 'Content-Type: application/json' -H "x-user-id: $user" \
    -d '{"performanceId": "perf_001", "quantity": 2, "paymentMethod": "CREDIT_CARD"}')
  echo "POST /bookings -> $created"
  [[ $(field '["totalAmount"]' <<<"$created") == 60000 ]] || fail "unexpected booking: $created"
  booking=$(field '["bookingId"]' <<<"$created")

  paid=$(curl -sS -X POST "$base/payments/execute" \
    -H 'Content-Type: application/json' -H "x-user-id: $user" \
    -d "{\"bookingId\": \"$booking\", \"paymentMethodToken\": \"tok_visa_creditCard\", \"cvv\": \"$cvv\"}")
  echo "POST /payments/execute -> $paid"
  [[ $(field '["finalStatus"]' <<<"$paid") == "$expected_final" ]] || fail "unexpected payment result: $paid"

  local status="" mine
  for _ in $(seq 1 200); do
    mine=$(curl -sS "$base/bookings/my" -H "x-user-id: $user")
    status=$(python3 -c 'import json,sys; print(next((b["status"] for b in json.load(sys.stdin) if b["bookingId"]==sys.argv[1]), ""))' "$booking" <<<"$mine")
    [[ $status == "$expected_status" ]] && break
    sleep 0.1
  done
  echo "GET /bookings/my -> $booking is $status"
  [[ $status == "$expected_status" ]] || fail "booking $booking is '$status', expected $expected_status"
}

scenario 120 SUCCESS confirmed
scenario 442 FAILURE failed
echo "seed scenarios: 2 passed, 0 failed"
