#!/usr/bin/env bash
# Property-based tests of every operation of openapi.yaml against `make run` on a free port: no 5xx, and
# every status, content type and body conforms to the spec. Seeded and bounded, so a run is repeatable.
# Usage: scripts/schemathesis.sh [max-examples]   (default 40; SCHEMATHESIS_SEED overrides the seed)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
examples=${1:-40}
seed=${SCHEMATHESIS_SEED:-20261125}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
PORT=$port setsid ./target/debug/serve >"$log" 2>&1 &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null || true; sleep 0.5; kill -KILL -- "-$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/bookings/my" && break; sleep 0.1; done

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection
.tools/venv/bin/st run openapi.yaml --url "http://127.0.0.1:$port" --max-examples "$examples" --seed "$seed" \
  --checks "$checks" --workers 1 --no-color
