#!/usr/bin/env bash
# CI: the README's first command on a fresh clone, exactly as the README prints it, then the
# README's tour against it, a stop with SIGTERM, a second start, and a check that the instance
# carries on where it stopped. Usage: bash scripts/fresh-clone.sh (from anywhere in a checkout).
#
# The clone reuses this checkout's build folder (CARGO_TARGET_DIR) so nothing compiles twice.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
pgid=""
cleanup() {
    if [ -n "$pgid" ]; then kill -TERM -- "-$pgid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

git clone -q "$here" "$work/jixiao"
cd "$work/jixiao"
# The first line of the first sh block under "## Two commands", without its comment.
first=$(awk '/^## Two commands/ { s = 1 } s && /^```sh/ { getline; print; exit }' README.md | sed 's/[[:space:]]*#.*$//')
[ -n "$first" ] || { echo "fresh-clone: no command found under '## Two commands' in README.md" >&2; exit 1; }
echo "fresh-clone: running the README's first command in a fresh clone: $first"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
URL=http://127.0.0.1:8080

# Starts the README's command in a process group of its own; waits until /healthz answers.
start() {
    setsid bash -c "$first" >>"$work/server.log" 2>&1 &
    pgid=$!
    for _ in $(seq 1800); do
        if curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null; then return 0; fi
        if ! kill -0 "$pgid" 2>/dev/null; then
            echo "fresh-clone: the server exited before it answered /healthz:" >&2
            tail -40 "$work/server.log" >&2
            exit 1
        fi
        sleep 1
    done
    echo "fresh-clone: no answer on /healthz after 30 minutes" >&2; tail -40 "$work/server.log" >&2; exit 1
}
# SIGTERM to the server (and the shell that started it); waits until every process has exited.
stop() {
    kill -TERM -- "-$pgid"
    for _ in $(seq 120); do
        if ! pgrep -g "$pgid" >/dev/null; then pgid=""; return 0; fi
        sleep 0.5
    done
    echo "fresh-clone: the server did not stop within 60 s of SIGTERM" >&2; exit 1
}

start
echo "fresh-clone: the server answers; the tour"
bash scripts/tour.sh

echo "fresh-clone: stop with SIGTERM, start again"
stop
grep -q "admin token" "$work/server.log" || { echo "fresh-clone: the first start printed no admin token" >&2; exit 1; }
lines_before=$(wc -l < "$work/server.log")
start
tail -n +"$((lines_before + 1))" "$work/server.log" | grep -q "nothing loaded" \
    || { echo "fresh-clone: the second start did not find the demo county it made" >&2; tail -20 "$work/server.log" >&2; exit 1; }

# It carries on: the rest of the tour's panel scores the review after the restart, and the
# workers move the case on to its target review.
T=data/demo-tokens.txt
token() { awk -v r="$1" '$1 == r { print $4; exit }' "$T"; }
A=$(token admin); F=$(token finance); D=$(token department)
api() { curl -sS --fail-with-body -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "${@:3}" "$URL/api/v1$2"; }
py() { python3 -c "import json, sys; d = json.load(sys.stdin); $1"; }
# The tour's case: the department's ex-ante case with a review already done.
CASE=$(api "$D" '/cases?stage=pre_assessment' | py 'print(next(c["id"] for c in d["items"] if c["phase"] == "awaiting_reviews"))')
seats=$(api "$F" "/cases/$CASE" | py 'print(" ".join(str(t["id"]) + ":" + str(t["assignee_id"]) for t in d["open_tasks"] if t["form"] == "ex_ante_assessment"))')
[ "$(echo "$seats" | wc -w)" = 4 ] || { echo "fresh-clone: expected 4 open reviews on case $CASE after the tour, found: $seats" >&2; exit 1; }
for seat in $seats; do
    task=${seat%%:*}; user=${seat##*:}
    t=$(api "$A" "/admin/users/$user/tokens" -X POST -d '{"label": "fresh-clone check"}' | py 'print(d["token"])')
    api "$t" "/tasks/$task/complete" -X POST \
        -d '{"scores": {"立项必要性": 18, "投入经济性": 17, "绩效目标合理性": 17, "实施方案可行性": 18, "筹资合规性": 18}, "comment": "同意"}' >/dev/null
done
for _ in $(seq 120); do
    stage=$(api "$F" "/cases/$CASE" | py 'print(d["stage"])')
    [ "$stage" = target_review ] && break
    sleep 1
done
[ "$stage" = target_review ] || { echo "fresh-clone: case $CASE did not move on after the restart (stage $stage)" >&2; exit 1; }
echo "fresh-clone: after the restart the panel finished and case $CASE went on to its target review"
stop
echo "fresh-clone: passed"
