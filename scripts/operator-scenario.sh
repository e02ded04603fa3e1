#!/usr/bin/env bash
# An operator's walk: create a show with two sections (a draft nobody can book), put it on sale, see it
# listed; a customer books two VIP seats and pays; the sales figures show them sold at the VIP price.
# Usage: scripts/operator-scenario.sh [base-url]; ASYNC_WAIT_SECONDS (default 30) bounds the wait.
set -euo pipefail

base=${1:-http://127.0.0.1:${PORT:-3000}}
show="show_$(date +%s%N | tail -c 9)"
user=user_operator_walk
op=(-H 'x-user-id: operator_001' -H 'x-user-roles: operator' -H 'Content-Type: application/json')
field() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(json.dumps(eval("v"+sys.argv[1])))' "$1"; }
fail() { echo "operator-scenario: $*" >&2; exit 1; }

created=$(curl -sS -X POST "$base/performances" "${op[@]}" -d "{
  \"performanceId\": \"$show\", \"title\": \"Swan Lake\", \"venue\": \"Grand Hall\",
  \"startsAt\": \"2099-12-31T19:00:00Z\", \"salesOpenAt\": \"2026-01-01T00:00:00Z\",
  \"salesCloseAt\": \"2099-12-31T18:00:00Z\", \"currency\": \"KRW\", \"maxSeatsPerBooking\": 4,
  \"sections\": [{\"name\": \"VIP\", \"price\": 100000, \"rows\": [{\"row\": \"A\", \"seats\": 10}]},
                 {\"name\": \"R\", \"price\": 50000, \"rows\": [{\"row\": \"B\", \"seats\": 20}]}]}")
echo "POST /performances -> $(field '["status"]' <<<"$created") $(field '["totalSeats"]' <<<"$created") seats"
[[ $(field '["status"]' <<<"$created") == '"draft"' ]] || fail "expected a draft: $created"
book() {
  curl -sS -X POST "$base/bookings" -H 'Content-Type: application/json' -H "x-user-id: $user" \
    -d "{\"performanceId\": \"$show\", \"quantity\": 2, \"paymentMethod\": \"CREDIT_CARD\", \"section\": \"VIP\"}"
}
refused=$(book)
[[ $(field '["error"]["code"]' <<<"$refused") == '"PERFORMANCE_NOT_ON_SALE"' ]] || fail "a draft was bookable: $refused"

published=$(curl -sS -X PATCH "$base/performances/$show" "${op[@]}" -d '{"status": "on_sale"}')
[[ $(field '["status"]' <<<"$published") == '"on_sale"' ]] || fail "not published: $published"
listed=$(curl -sS "$base/performances?limit=100")
python3 -c 'import json,sys; sys.exit(0 if any(p["performanceId"]==sys.argv[1] for p in json.loads(sys.argv[2])["performances"]) else 1)' \
  "$show" "$listed" || fail "not listed: $listed"
echo "PATCH /performances/$show {status: on_sale} -> listed"

booked=$(book)
echo "POST /bookings (VIP) -> $booked"
[[ $(field '["totalAmount"]' <<<"$booked") == 200000 ]] || fail "expected 2 VIP seats at 100000: $booked"
booking=$(field '["bookingId"]' <<<"$booked" | tr -d '"')
paid=$(curl -sS -X POST "$base/payments/execute" -H 'Content-Type: application/json' -H "x-user-id: $user" \
  -d "{\"bookingId\": \"$booking\", \"paymentMethodToken\": \"tok_visa_creditCard\", \"cvv\": \"123\"}")
[[ $(field '["finalStatus"]' <<<"$paid") == '"SUCCESS"' ]] || fail "payment: $paid"

sales=""
for _ in $(seq 1 $((${ASYNC_WAIT_SECONDS:-30} * 10))); do
  sales=$(curl -sS "$base/performances/$show/sales" "${op[@]}")
  [[ $(field '["total"]["sold"]' <<<"$sales") == 2 ]] && break
  sleep 0.1
done
echo "GET /performances/$show/sales -> $(field '["total"]' <<<"$sales")"
[[ $(field '["total"]["grossAmount"]' <<<"$sales") == 200000 && $(field '["sections"][0]["sold"]' <<<"$sales") == 2 ]] ||
  fail "the sales do not show the confirmed booking: $sales"
echo "operator scenario: 1 passed, 0 failed"
