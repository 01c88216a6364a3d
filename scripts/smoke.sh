#!/usr/bin/env bash
# Smoke test of a running tasksvc: walks a new user through all six task
# endpoints, pagination, ETags with conditional requests, an idempotent
# retry, and the main error cases; prints one line per step, and exits
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

# call [-H 'Name: value']... METHOD URL [BODY]: one request with those
# headers; sets status and body, keeps the response headers.
call() {
  local args=(-sS -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' --max-time 10)
  while [ "${1-}" = "-H" ]; do
    args+=(-H "$2")
    shift 2
  done
  local method=$1 url=$2
  args+=(-X "$method")
  if [ $# -ge 3 ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$3")
  fi
  step=$((step + 1))
  body=""
  : >"$tmp/body" # curl leaves the file alone when an answer has no body (304)
  status=$(curl "${args[@]}" "$url") || fail "$method $url: curl failed"
  body=$(cat "$tmp/body")
  # prism marks an answer that disagrees with openapi.json.
  if [ -n "$(header sl-violations)" ]; then
    fail "$method $url: answer disagrees with openapi.json: $(header sl-violations)"
  fi
  [ -n "$(header X-Request-ID)" ] || fail "$method $url: answer without X-Request-ID"
}

# header NAME: the value of a response header of the last call.
header() {
  grep -i "^$1:" "$tmp/headers" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//' || true
}

# next_page: the URL in the last call's Link: <URL>; rel="next", if any.
next_page() {
  header Link | sed -n 's/^<\([^>]*\)>; rel="next"$/\1/p'
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

call -H "X-Request-ID: $user" GET "$base/healthz"
expect 200 "GET /healthz: the process runs" status ok
[ "$(header X-Request-ID)" = "$user" ] || fail "X-Request-ID = '$(header X-Request-ID)', want ours echoed: $user"
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

call POST "$tasks" '{"title": "Water the plants"}'
expect 201 "POST: a third task"
id3=$(field id)

# Pagination: pages of two, following the Link header.
call GET "$tasks?limit=2"
expect 200 "GET list?limit=2: first page, with a Link to the next" id "$id"
[ "$(count)" = 2 ] || fail "the first page has $(count) tasks, want 2"
next=$(next_page)
[ -n "$next" ] || fail "the first page has no Link rel=\"next\" (Link: '$(header Link)')"
call GET "$base$next"
expect 200 "GET the Link: the last page, without a Link" id "$id3"
[ "$(count)" = 1 ] || fail "the last page has $(count) tasks, want 1"
[ -z "$(header Link)" ] || fail "the last page has a Link: $(header Link)"
call GET "$tasks?completed=true&limit=10"
expect 200 "GET list?completed=true: none done yet"
[ "$(count)" = 0 ] || fail "$(count) completed tasks, want 0"

# ETags: a 304 for a copy that is current, a 412 for a write based on an
# old one.
call GET "$tasks/$id"
expect 200 "GET one: the task as created, with an ETag" id "$id" title "Buy groceries"
etag=$(header ETag)
[ -n "$etag" ] || fail "GET one without an ETag"
call -H "If-None-Match: $etag" GET "$tasks/$id"
expect 304 "GET one with If-None-Match: not modified, no body"
[ -z "$body" ] || fail "a 304 with a body"
[ "$(header ETag)" = "$etag" ] || fail "304 ETag = '$(header ETag)', want $etag"

call -H "If-Match: $etag" PUT "$tasks/$id" '{"title": "Buy groceries and flowers", "description": null}'
expect 200 "PUT with If-Match: title changed, description cleared" title "Buy groceries and flowers" description null is_completed false
etag2=$(header ETag)
[ -n "$etag2" ] && [ "$etag2" != "$etag" ] || fail "ETag after PUT = '$etag2', want a new one (was $etag)"
call -H "If-Match: $etag" PUT "$tasks/$id" '{"title": "a lost update"}'
expect 412 "PUT with the old ETag in If-Match: refused" detail "Precondition Failed: the task has changed since that ETag"
[ "$(header ETag)" = "$etag2" ] || fail "412 ETag = '$(header ETag)', want the current $etag2"
call GET "$tasks/$id"
expect 200 "GET one: the refused PUT changed nothing" title "Buy groceries and flowers"

call PATCH "$tasks/$id/complete"
expect 200 "PATCH complete: done" is_completed true
call PATCH "$tasks/$id/complete"
expect 200 "PATCH complete again: not done" is_completed false

# Idempotent retries: the same key and request are answered, not redone.
key="$user-rent"
call -H "Idempotency-Key: $key" POST "$tasks" '{"title": "Pay rent"}'
expect 201 "POST with an Idempotency-Key: created" title "Pay rent"
idk=$(field id)
[ -z "$(header Idempotent-Replayed)" ] || fail "a first answer marked Idempotent-Replayed"
call -H "Idempotency-Key: $key" POST "$tasks" '{"title": "Pay rent"}'
expect 201 "POST it again with the key (a retry): the same task, replayed" id "$idk"
[ "$(header Idempotent-Replayed)" = true ] || fail "Idempotent-Replayed = '$(header Idempotent-Replayed)', want true"
[ "$(header Location)" = "/api/$user/tasks/$idk" ] || fail "replayed Location = '$(header Location)'"
call GET "$tasks"
expect 200 "GET list: the retry made no second task"
[ "$(count)" = 4 ] || fail "list has $(count) tasks, want 4"
call -H "Idempotency-Key: $key" POST "$tasks" '{"title": "Pay rent twice"}'
expect 422 "POST another task with that key: 422 at the header" type value_error
grep -q '"idempotency-key"' <<<"$body" || fail "the 422 is not at the idempotency-key header"
call -H "Idempotency-Key: $key-done" PATCH "$tasks/$idk/complete"
expect 200 "PATCH complete with an Idempotency-Key: done" is_completed true
call -H "Idempotency-Key: $key-done" PATCH "$tasks/$idk/complete"
expect 200 "PATCH complete again with the key (a retry): still done, replayed" is_completed true
[ "$(header Idempotent-Replayed)" = true ] || fail "Idempotent-Replayed = '$(header Idempotent-Replayed)', want true"

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
expect 200 "GET /docs: Swagger UI"
grep -q 'swagger-ui-bundle.js' <<<"$body" || fail "/docs is not Swagger UI's page"

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
call GET "$etasks?limit=0"
expect 422 "GET list?limit=0: 422" type greater_than_equal
call GET "$etasks?limit=1001"
expect 422 "GET list?limit=1001: 422" type less_than_equal
call GET "$etasks?limit=ten"
expect 422 "GET list?limit=ten: 422" type int_parsing
call GET "$etasks?completed=maybe"
expect 422 "GET list?completed=maybe: 422" type bool_type
call GET "$etasks?after=not-a-cursor"
expect 422 "GET list?after=not-a-cursor: 422" type value_error
call -H "Idempotency-Key: two words" POST "$etasks" '{"title": "t"}'
expect 422 "POST with an Idempotency-Key that has a space: 422" type value_error

call GET "$tasks/changes"
expect 200 "GET changes: the current tasks, and a cursor" op upsert has_more false
cursor=$(field cursor)
call DELETE "$tasks/$id2"
expect 200 "DELETE the second task"
call GET "$tasks/changes?since=$cursor"
expect 200 "GET changes since that cursor: the delete" op delete id "$id2"
# The live stream from that cursor sends the delete at once; it goes on
# until curl stops after a second (directly: a validating proxy would wait
# for the stream to end).
step=$((step + 1))
events=$(curl -sN --max-time 1 -H "Last-Event-ID: $cursor" "$etasks/events" || true)
case "$events" in
*"event: delete"*"\"id\":\"$id2\""*) printf 'ok   %2d  200  %s\n' "$step" "GET events from that cursor: the delete, live" ;;
*) fail "GET events from that cursor: got '$events'" ;;
esac
call GET "$etasks/changes?since=not-a-cursor"
expect 422 "GET changes?since=not-a-cursor: 422" type value_error
call -H "If-Match: *" DELETE "$tasks/$id3"
expect 200 "DELETE the third task, If-Match: *"
call DELETE "$tasks/$idk"
expect 200 "DELETE the rent task: nothing left behind"
call GET "$tasks"
expect 200 "GET list: empty again"
[ "$(count)" = 0 ] || fail "list has $(count) tasks after the clean-up"

echo "smoke test passed: $step steps"
