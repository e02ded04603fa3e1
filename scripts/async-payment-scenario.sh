#!/usr/bin/env bash
# An asynchronous payment: CVV 777 answers PROCESSING (isSuccess null), the booking stays pending, and the
# simulated gateway later delivers a signed payment_intent.succeeded webhook; the booking ends confirmed.
# Usage: scripts/async-payment-scenario.sh [base-url]; ASYNC_WAIT_SECONDS (default 30) bounds the wait.
set -euo pipefail

base=${1:-http://127.0.0.1:${PORT:-3000}}
user=user_async_001
field() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(json.dumps(eval("v"+sys.argv[1])))' "$1"; }
status_of() {
  curl -sS "$base/bookings/my" -H "x-user-id: $user" |
    python3 -c 'import json,sys; print(next((b["status"] for b in json.load(sys.stdin) if b["bookingId"]==sys.argv[1]), ""))' "$1"
}

created=$(curl -sS -X POST "$base/bookings" -H 'Content-Type: application/json' -H "x-user-id: $user" \
  -d '{"performanceId": "perf_001", "quantity": 1, "paymentMethod": "CREDIT_CARD"}')
booking=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bookingId"])' <<<"$created")
paid=$(curl -sS -X POST "$base/payments/execute" -H 'Content-Type: application/json' -H "x-user-id: $user" \
  -d "{\"bookingId\": \"$booking\", \"paymentMethodToken\": \"tok_visa_creditCard\", \"cvv\": \"777\"}")
echo "POST /payments/execute -> $paid"
[[ $(field '["finalStatus"]' <<<"$paid") == '"PROCESSING"' && $(field '["pgMockData"]["isSuccess"]' <<<"$paid") == null ]] ||
  { echo "async-payment-scenario: expected PROCESSING with isSuccess null" >&2; exit 1; }
[[ $(status_of "$booking") == pending ]] || { echo "async-payment-scenario: the booking should still be pending" >&2; exit 1; }

status=""
for _ in $(seq 1 $((${ASYNC_WAIT_SECONDS:-30} * 10))); do
  status=$(status_of "$booking")
  [[ $status == confirmed ]] && break
  sleep 0.1
done
echo "GET /bookings/my -> $booking is $status"
[[ $status == confirmed ]] || { echo "async-payment-scenario: the webhook never confirmed the booking" >&2; exit 1; }
echo "async payment scenario: 1 passed, 0 failed"
