#!/usr/bin/env bash
# Starts `make run` or `make dev` on a free port, runs the seed's scenarios, an asynchronous payment and
# an operator's walk (a show created, put on sale, booked and its sales read) and a paid booking
# cancelled and refunded against it (and, when HOLD_SECONDS is set, a hold that lapses), and stops it. `make dev` is stopped
# with SIGTERM, as a process manager stops it, and must leave no process of its own behind.
# Usage: scripts/smoke.sh run|dev
set -euo pipefail

mode=${1:?usage: scripts/smoke.sh run|dev}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)

case "$mode" in
  run) cmd=(./target/debug/serve) ;;
  dev) cmd=(make --no-print-directory dev) ;;
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

# Ready: `make run` when it answers; `make dev` when it says every function is built and answering.
ready() {
  case "$mode" in
    run) curl -s -o /dev/null "http://127.0.0.1:$port/bookings/my" ;;
    dev) grep -q '"ready: every function built and answering"' "$log" ;;
  esac
}
for _ in $(seq 1 1500); do
  if ready; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "smoke.sh: make $mode exited early" >&2; exit 1; }
  sleep 0.2
done
ready || { tail -n 40 "$log"; echo "smoke.sh: make $mode never became ready" >&2; exit 1; }
if ! scripts/seed-scenarios.sh "http://127.0.0.1:$port"; then
  tail -n 40 "$log"
  exit 1
fi
if ! scripts/async-payment-scenario.sh "http://127.0.0.1:$port"; then
  tail -n 40 "$log"
  exit 1
fi
if ! scripts/operator-scenario.sh "http://127.0.0.1:$port" || ! scripts/cancel-scenario.sh "http://127.0.0.1:$port"; then
  tail -n 40 "$log"
  exit 1
fi
if [[ -n ${HOLD_SECONDS:-} ]] && ! scripts/expiry-scenario.sh "http://127.0.0.1:$port"; then
  tail -n 40 "$log"
  exit 1
fi

if [[ $mode == dev ]]; then
  # Every process make dev started, however deep (cargo lambda watch gives each function a session of
  # its own): after SIGTERM, none may remain.
  descendants() {
    local table frontier=$1 next found=""
    table=$(ps -eo pid=,ppid=)
    while [[ -n $frontier ]]; do
      next=""
      for parent in $frontier; do
        next+=" $(awk -v p="$parent" '$2 == p {print $1}' <<<"$table")"
      done
      frontier=$(echo $next)
      found+=" $frontier"
    done
    echo $found
  }
  started=$(descendants "$pid")
  kill -TERM "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "smoke.sh: make dev ignored SIGTERM" >&2; exit 1; fi
  left=""
  for _ in $(seq 1 100); do
    left=$(for p in $started; do kill -0 "$p" 2>/dev/null && echo "$p"; done; pgrep -s "$pid" || true)
    [[ -z $left ]] && break
    sleep 0.1
  done
  if [[ -n $left ]]; then
    echo "smoke.sh: make dev left processes behind after SIGTERM:" >&2
    ps -o pid,sid,cmd -p "$(echo $left | tr ' ' ',')" >&2 || true
    exit 1
  fi
  echo "dev stop scenario: 1 passed (SIGTERM stopped make dev and the $(echo $started | wc -w) processes it started)"
fi
