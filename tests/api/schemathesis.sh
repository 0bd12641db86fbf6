#!/usr/bin/env bash
# The served OpenAPI document, fuzzed by schemathesis: no 5xx and no response that breaks the documented schema.
# Usage: tests/api/schemathesis.sh PATH_TO_REMIT_BINARY PATH_TO_SCHEMATHESIS [MAX_EXAMPLES]
# Seeds the demo trust into a fresh SQLite file, serves it on a free loopback port, and runs as two people: an
# assistant practitioner (clinical routes) and the administrator (staff and audit routes).
set -euo pipefail
remit="$(realpath "$1")"
st="$2"
examples="${3:-25}"
work="$(mktemp -d -t remit-schemathesis-XXXXXX)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export REMIT_DATABASE_URL="sqlite://$work/remit.db"
"$remit" demo --seed-only >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$remit" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health')" 2>/dev/null; then break; fi
  sleep 0.1
done
for user in alex.ap admin; do
  token="$("$remit" token create --staff "$user" | awk '{print $NF}')"
  echo "== schemathesis as $user"
  "$st" run "http://127.0.0.1:$port/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,content_type_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$examples" --seed 20261125 --workers 2 \
    --suppress-health-check all --no-color --report-dir "$work/report-$user"
done
