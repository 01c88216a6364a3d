#!/usr/bin/env bash
# Smoke test of a running tasksvc: walks a new user through all six task
# endpoints and the main error cases, prints one line per step, and exits
# non-zero at the first surprise.
#
# Usage: scripts/smoke.sh [BASE_URL [ERRORS_URL]]
#
#   BASE_URL    the service; default http://localhost:8000. Every step that
#               sends a valid request goes here, so a validating proxy (CI
#               puts prism in front of the service) checks those answers.
#   ERRORS_URL  where the steps that send invalid requests go; default
#               BASE_URL. A validating proxy answers invalid requests itself
#               without forwarding them, so CI points this at the service.
#
# Each run uses a user id of its own and deletes what it created, so it can
# run against a shared database. Needs bash and curl; uses jq if installed
# (set SMOKE_NO_JQ=1 to use the grep/sed fallback anyway).
set -euo pipefail

if [ "${1-}" = "-h" ] || [ "${1-}" = "--help" ]; then
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  exit 0
fi
base=${1:-http://localhost:8000}
base=${base%/}
errors=${2:-$base}
errors=${errors%/}
user="smoke-$(date +%s)-$$-$RANDOM"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step=0
status="" body=""

fail() {
  printf 'FAIL %2d  %s\n' "$step" "$*"
  [ -z "$body" ] || printf '         body: %.400s\n' "$body"
  exit 1
}

# call METHOD URL [BODY]: one request; sets status and body, keeps headers.
call() {
  local method=$1 url=$2
  local args=(-sS -X "$method" -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' --max-time 10)
  if [ $# -ge 3 ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$3")
  fi
  step=$((step + 1))
  body=""
  status=$(curl "${args[@]}" "$url") || fail "$method $url: curl failed"
  body=$(cat "$tmp/body")
  # prism marks an answer that disagrees with openapi.json.
  if [ -n "$(header sl-violations)" ]; then
    fail "$method $url: answer disagrees with openapi.json: $(header sl-violations)"
  fi
}

# header NAME: the value of a response header of the last call.
header() {
  grep -i "^$1:" "$tmp/headers" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//' || true
}

# field KEY: the first value of KEY in the last body, depth first (strings
# unquoted, other values as JSON); count: the length of a top-level array.
if [ -z "${SMOKE_NO_JQ-}" ] && command -v jq >/dev/null 2>&1; then
  field() {
    jq -r --arg k "$1" 'first(.. | objects | select(has($k)) | .[$k]) | if type == "string" then . else tojson end' <<<"$body"
  }
  count() { jq 'length' <<<"$body"; }
else
  field() {
    local m
    m=$(grep -o "\"$1\": *\(\"[^\"]*\"\|[^,}]*\)" <<<"$body" | head -n 1 || true)
    m=${m#*:}
    m=${m#"${m%%[! ]*}"}
    m=${m#\"}
    printf '%s\n' "${m%\"}"
  }
  count() { grep -o '"id":"' <<<"$body" | wc -l | tr -d ' '; }
fi

# expect STATUS WHAT [KEY VALUE]...: checks the last call, prints its line.
expect() {
  local want=$1 what=$2
  shift 2
  [ "$status" = "$want" ] || fail "$what: status $status, want $want"
  while [ $# -ge 2 ]; do
    local got
    got=$(field "$1")
    [ "$got" = "$2" ] || fail "$what: $1 = '$got', want '$2'"
    shift 2
  done
  printf 'ok   %2d  %s  %s\n' "$step" "$status" "$what"
}

tasks="$base/api/$user/tasks"
echo "smoke test of $base (invalid requests to $errors), user $user"

call GET "$base/healthz"
expect 200 "GET /healthz: the process runs" status ok
call GET "$base/readyz"
expect 200 "GET /readyz: the store answers" status ready

call GET "$tasks"
expect 200 "GET list: a new user has no tasks"
[ "$(count)" = 0 ] || fail "list of a new user has $(count) tasks"

call POST "$tasks" '{"title": "Buy groceries", "description": "Milk, eggs, bread"}'
expect 201 "POST: task created" title "Buy groceries" description "Milk, eggs, bread" is_completed false user_id "$user"
id=$(field id)
[ "$(header Location)" = "/api/$user/tasks/$id" ] || fail "Location = '$(header Location)', want /api/$user/tasks/$id"

call POST "$tasks" '{"title": "Call mum"}'
expect 201 "POST: second task, no description" description null
id2=$(field id)

call GET "$tasks"
expect 200 "GET list: both tasks, oldest first" id "$id"
[ "$(count)" = 2 ] || fail "list has $(count) tasks, want 2"

call GET "$tasks/$id"
expect 200 "GET one: the task as created" id "$id" title "Buy groceries"

call PUT "$tasks/$id" '{"title": "Buy groceries and flowers", "description": null}'
expect 200 "PUT: title changed, description cleared" title "Buy groceries and flowers" description null is_completed false

call PATCH "$tasks/$id/complete"
expect 200 "PATCH complete: done" is_completed true
call PATCH "$tasks/$id/complete"
expect 200 "PATCH complete again: not done" is_completed false

call DELETE "$tasks/$id"
expect 200 "DELETE: gone" message "Task deleted successfully"
call GET "$tasks/$id"
expect 404 "GET the deleted task: not found" detail "Task not found"
call DELETE "$tasks/$id"
expect 404 "DELETE it again: not found" detail "Task not found"

call GET "$base/openapi.json"
expect 200 "GET /openapi.json: the API description"
case $(field openapi) in 3.1.*) ;; *) fail "openapi = '$(field openapi)', want 3.1.x" ;; esac
call GET "$base/docs"
expect 200 "GET /docs: the API reference page"
grep -q '<html' <<<"$body" || fail "/docs is not an HTML page"

# Invalid requests, straight to the service.
etasks="$errors/api/$user/tasks"
call GET "$etasks/not-a-uuid"
expect 422 "GET a task id that is no UUID: 422" type uuid_parsing
call POST "$etasks" '{"description": "no title"}'
expect 422 "POST without a title: 422" type missing
call POST "$etasks" '{"title": "   "}'
expect 422 "POST a white-space title: 422" type value_error
call POST "$etasks" '{"title": '
expect 422 "POST malformed JSON: 422" type json_invalid
call PUT "$etasks/$id2" '{"title": null}'
expect 422 "PUT a null title: 422" type string_type
call DELETE "$etasks"
expect 405 "DELETE the list: 405" detail "Method Not Allowed"
[ "$(header Allow)" = "GET, HEAD, POST" ] || fail "Allow = '$(header Allow)', want 'GET, HEAD, POST'"
call GET "$errors/api/$user/nope"
expect 404 "GET an unknown path: 404" detail "Not Found"

call DELETE "$tasks/$id2"
expect 200 "DELETE the second task: nothing left behind"
call GET "$tasks"
expect 200 "GET list: empty again"
[ "$(count)" = 0 ] || fail "list has $(count) tasks after the clean-up"

echo "smoke test passed: $step steps"
