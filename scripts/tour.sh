#!/usr/bin/env bash
# A tour of the API on the demo county: run it beside `cargo run --release -- serve --demo`,
# from the same folder. Each step checks its answer; the tour stops at the first surprise.
set -euo pipefail
URL=${JIXIAO_URL:-http://127.0.0.1:8080}
T=${JIXIAO_DEMO_TOKENS:-data/demo-tokens.txt}        # written by the demo: role username password token name
token() { awk -v r="$1" '$1 == r { print $4; exit }' "$T"; }
A=$(token admin); F=$(token finance); D=$(token department); P=$(token third_party)
api() { curl -sS --fail-with-body -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "${@:3}" "$URL/api/v1$2"; }
py() { python3 -c "import json, sys; d = json.load(sys.stdin); $1"; }   # reads the answer as d
step() { printf '\n== %s\n' "$*"; }

step "the workers place the demo's cases in their first stages (a minute at most after the start)"
for _ in $(seq 120); do
  PENDING=$(curl -sS --fail -H "Authorization: Bearer $A" "$URL/metrics" | awk '$1 == "jixiao_pending_case_inputs" { print $2 }')
  [ "$PENDING" = 0 ] && break
  sleep 1
done
[ "$PENDING" = 0 ] || { echo "inputs still pending after 120 s: $PENDING" >&2; exit 1; }
echo "every case input applied"

step "who am I: the department's user"
api "$D" /me | py 'assert d["role"] == "department", d; print(d["username"], d["display_name"])'

step "the department's inbox: only its own open tasks"
api "$D" '/tasks?status=open&limit=5' | py 'assert d["items"], "empty inbox"; print(len(d["items"]), "shown:", [t["form"] for t in d["items"]])'

step "the bureau sees the 21 ex-ante assessments of the county; the department only its own"
api "$F" '/cases?stage=pre_assessment' | py 'assert d["total"] == 21, d["total"]; print(d["total"], "cases")'
CASE=$(api "$D" '/cases?stage=pre_assessment' | py 'assert 0 < d["total"] < 21, d["total"]; print(next(c["id"] for c in d["items"] if c["phase"] == "awaiting_submission"))')
api "$D" "/cases/$CASE" | py 'print("its first case awaiting the report:", d["id"], d["project_code"], d["project_name"])'

step "the department submits the case's ex-ante report"
TASK=$(api "$D" "/tasks?case_id=$CASE&status=open" | py 'print(d["items"][0]["id"])')
api "$D" "/tasks/$TASK/complete" -X POST -d '{"summary": "立项必要、投入经济、目标合理、方案可行、筹资合规。", "conclusion": "予以支持"}' \
  | py 'assert d["status"] == "completed", d; print("task", d["id"], d["status"])'

step "a panel is drawn for it (1 department + 1 finance + 3 experts): the bureau's view of the case"
for _ in $(seq 60); do
  SEATS=$(api "$F" "/cases/$CASE" | py 'print(sum(1 for t in d["open_tasks"] if t["form"] == "ex_ante_assessment"))')
  [ "$SEATS" = 5 ] && break
  sleep 1
done
[ "$SEATS" = 5 ] || { echo "no panel of five after 60 s (seats: $SEATS)" >&2; exit 1; }
api "$F" "/cases/$CASE" | py 'print("stage", d["stage"], "status", d["status"], "|", len(d["history"]), "events, the last", d["history"][-1]["kind"])'

step "an expert's inbox shows the review (every expert of the sector is in $T)"
EXPERT= ; REVIEW=
for E in $(awk '$1 == "expert" { print $4 }' "$T"); do
  REVIEW=$(api "$E" "/tasks?case_id=$CASE&status=open" | py 'print(next((t["id"] for t in d["items"] if t["form"] == "ex_ante_assessment"), ""))')
  if [ -n "$REVIEW" ]; then EXPERT=$E; break; fi
done
[ -n "$EXPERT" ] || { echo "no expert in $T has the review of case $CASE" >&2; exit 1; }
api "$EXPERT" /me | py 'print(d["username"], d["display_name"], "reviews case", '"$CASE"')'

step "the expert scores it: five dimensions × 20 points"
api "$EXPERT" "/tasks/$REVIEW/complete" -X POST \
  -d '{"scores": {"立项必要性": 18, "投入经济性": 17, "绩效目标合理性": 17, "实施方案可行性": 18, "筹资合规性": 18}, "comment": "论证充分"}' \
  | py 'assert d["status"] == "completed", d; print("review", d["id"], d["status"])'

step "the third party's key evaluation, commissioned by the bureau"
api "$P" /key-evaluations | py 'assert d["items"], "no key evaluation"; k = d["items"][0]; print("key evaluation", k["id"], "of", k["subject"], "stage", k["stage"])'

step "the published workflows (admin)"
api "$A" /workflows | py 'ids = {w["workflow_id"] for w in d["items"]}; assert "county-annual-cycle" in ids, ids; print(sorted(ids))'

step "cases per stage, for Prometheus"
curl -sS --fail -H "Authorization: Bearer $A" "$URL/metrics" | grep '^jixiao_cases' | head -8
echo
echo "tour: every step answered as expected"
