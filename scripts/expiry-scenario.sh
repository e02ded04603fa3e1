#!/usr/bin/env bash
# A hold that lapses: book two seats, pay nothing, and wait for the booking to read `expired` with no other
# request touching the performance; then a late payment gets 409 HOLD_EXPIRED.
# Usage: HOLD_SECONDS=<the server's hold> scripts/expiry-scenario.sh [base-url]
set -euo pipefail

base=${1:-http://127.0.0.1:${PORT:-3000}}
hold=${HOLD_SECONDS:?set HOLD_SECONDS to the hold of the server}
user=user_expiry_001

created=$(curl -sS -X POST "$base/bookings" -H 'Content-Type: application/json' -H "x-user-id: $user" \
  -d '{"performanceId": "perf_002", "quantity": 2, "paymentMethod": "CREDIT_CARD"}')
echo "POST /bookings -> $created"
booking=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bookingId"])' <<<"$created")

status_of() {
  curl -sS "$base/bookings/my" -H "x-user-id: $user" |
    python3 -c 'import json,sys; print(next((b["status"] for b in json.load(sys.stdin) if b["bookingId"]==sys.argv[1]), ""))' "$1"
}

status=""
tries=$(((hold + 20) * 10))
for _ in $(seq 1 "$tries"); do
  status=$(status_of "$booking")
  [[ $status == expired ]] && break
  sleep 0.1
done
echo "GET /bookings/my -> $booking is $status"
[[ $status == expired ]] || { echo "expiry-scenario: the booking never expired" >&2; exit 1; }

late=$(curl -sS -w '\n%{http_code}' -X POST "$base/payments/execute" \
  -H 'Content-Type: application/json' -H "x-user-id: $user" \
  -d "{\"bookingId\": \"$booking\", \"paymentMethodToken\": \"tok_visa_creditCard\", \"cvv\": \"120\"}")
code=${late##*$'\n'}
echo "late POST /payments/execute -> $code ${late%$'\n'*}"
[[ $code == 409 && $late == *HOLD_EXPIRED* ]] || { echo "expiry-scenario: a late payment was not refused with HOLD_EXPIRED" >&2; exit 1; }
echo "expiry scenario: 1 passed, 0 failed"
