#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with schemathesis: the server (a debug
# build) runs the demo county on the embedded default in a temporary data folder, on a free
# port, with the other paths at their relative defaults (run from the checkout); schemathesis
# calls every documented operation with the admin's token, a bounded number of examples each,
# and fails on any server error, any answer that breaks the document, or any other check below.
#
#   bash scripts/fuzz-api.sh            # JIXIAO_FUZZ_API_EXAMPLES (default 100) examples per operation
#
# Needs `st` (schemathesis 4) on PATH, or SCHEMATHESIS=/path/to/st; .ci/run installs it.
set -euo pipefail
cd "$(dirname "$0")/.."

ST="${SCHEMATHESIS:-st}"
EXAMPLES="${JIXIAO_FUZZ_API_EXAMPLES:-100}"
command -v "$ST" >/dev/null || { echo "fuzz-api: schemathesis ('$ST') is not installed (pip install schemathesis)" >&2; exit 1; }

cargo build --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/jixiao"

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
server=""
stop() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$server" 2>/dev/null || break; sleep 1; done
    kill -KILL "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

"$bin" serve --demo --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 600); do
  curl -sf "$url/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "fuzz-api: the server exited:" >&2; tail -40 "$work/server.log" >&2; exit 1; }
  sleep 1
done
curl -sf "$url/readyz" >/dev/null || { echo "fuzz-api: no answer on /readyz after 600 s" >&2; tail -40 "$work/server.log" >&2; exit 1; }
admin=$(awk '$1 == "admin" { print $4; exit }' "$work/data/demo-tokens.txt")
[ -n "$admin" ] || { echo "fuzz-api: no admin token in the demo's credentials" >&2; exit 1; }

# Every check runs but positive_data_acceptance: data valid by the schema may still be refused,
# rightly, by the rules that follow it (an id that names nothing is 404, a name with a control
# character or a fiscal year without projects 422, a case that is not blocked 409).
# Revoking a user's tokens may revoke the admin's own (user 1): that operation runs alone, last.
revoke="DELETE /api/v1/admin/users/{id}/tokens"
run() {
  "$ST" --config-file scripts/fuzz-api.toml run "$url/api/openapi.json" \
    -H "Authorization: Bearer $admin" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" \
    --seed "${JIXIAO_FUZZ_API_SEED:-1}" \
    --request-timeout 30 \
    --workers 2 \
    --no-color "$@"
}
status=0
run --exclude-name "$revoke" || status=$?
[ "$status" != 0 ] || run --include-name "$revoke" || status=$?
if [ "$status" != 0 ]; then
  echo "fuzz-api: schemathesis failed (exit $status); the server's log ends:" >&2
  tail -20 "$work/server.log" >&2
fi
exit "$status"
