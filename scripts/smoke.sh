#!/usr/bin/env bash
# Starts `make run` or `make dev` on a free port, runs the seed's scenarios and an asynchronous payment
# against it (and, when HOLD_SECONDS is set, a hold that lapses), and stops it.
# Usage: scripts/smoke.sh run|dev
set -euo pipefail

mode=${1:?usage: scripts/smoke.sh run|dev}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)

case "$mode" in
  run) cmd=(./target/debug/serve) ;;
  dev) cmd=(./target/debug/dev) ;;
  *) echo "smoke.sh: run or dev, not $mode" >&2; exit 2 ;;
esac

# Its own session, so that stopping it stops everything it started.
PORT=$port setsid "${cmd[@]}" >"$log" 2>&1 &
pid=$!
stop() {
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$log"
}
trap stop EXIT

for _ in $(seq 1 600); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/bookings/my"; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "smoke.sh: make $mode exited early" >&2; exit 1; }
  sleep 0.2
done
if ! scripts/seed-scenarios.sh "http://127.0.0.1:$port"; then
  tail -n 40 "$log"
  exit 1
fi
if ! scripts/async-payment-scenario.sh "http://127.0.0.1:$port"; then
  tail -n 40 "$log"
  exit 1
fi
if [[ -n ${HOLD_SECONDS:-} ]] && ! scripts/expiry-scenario.sh "http://127.0.0.1:$port"; then
  tail -n 40 "$log"
  exit 1
fi
