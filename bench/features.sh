#!/usr/bin/env bash
# Round trips to PostgreSQL per HTTP request with each of the features
# beyond the basic six endpoints in use (conditional requests, idempotency
# keys, pages), counted by bench/delayproxy between the service and a
# scratch database.
#
#   bench/features.sh [-n 50]
#
# Each scenario sends -n sequential requests after a warm-up on the same
# pool, and divides the proxy's round-trip count by -n. Needs psql, curl and
# a local PostgreSQL where PGUSER (default postgres at 127.0.0.1:5432) may
# create databases. Every process started is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

n=50
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=$2; shift 2 ;;
    *) echo "usage: bench/features.sh [-n requests]" >&2; exit 2 ;;
  esac
done

pghost=${PGHOST:-127.0.0.1} pgport=${PGPORT:-5432} pguser=${PGUSER:-postgres}
work=$(mktemp -d)
db="tasksvc_features_$RANDOM$RANDOM"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql -q -h "$pghost" -p "$pgport" -U "$pguser" -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql -q -h "$pghost" -p "$pgport" -U "$pguser" -d postgres -c "CREATE DATABASE $db" >/dev/null
go build -o "$work/tasksvc" .
go build -o "$work/delayproxy" ./bench/delayproxy

# wait_for FILE REGEX: the first match of REGEX's group 1 in FILE, waiting
# up to 10 s for the line to appear.
wait_for() {
  for _ in $(seq 100); do
    v=$(sed -nE "s/$2/\1/p" "$1" | head -n 1)
    [ -n "$v" ] && { echo "$v"; return; }
    sleep 0.1
  done
  echo "no match for $2 in $1:" >&2; cat "$1" >&2; exit 1
}

"$work/delayproxy" -listen 127.0.0.1:0 -target "$pghost:$pgport" -delay 0s -stats 127.0.0.1:0 >"$work/proxy.out" 2>&1 &
pids+=("$!")
proxy=$(wait_for "$work/proxy.out" '.*listen=(\S+).*')
stats=$(wait_for "$work/proxy.out" '.*stats=(\S+).*')

DATABASE_URL="postgres://$pguser@$proxy/$db?sslmode=disable" PORT=0 "$work/tasksvc" 2>"$work/service.log" &
pids+=("$!")
svc="http://127.0.0.1:$(wait_for "$work/service.log" '.*msg=listening addr=\S*:([0-9]+).*')"

round_trips() { curl -s "http://$stats/stats" | sed -nE 's/.*"round_trips":([0-9]+).*/\1/p'; }

# call METHOD PATH [curl args…]: one request; prints the status.
call() {
  local method=$1 path=$2
  shift 2
  curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" "$@" "$svc$path"
}
header() { sed -nE "s/^$1: (.*)\r$/\1/Ip" "$work/headers"; }
json_field() { sed -nE "s/.*\"$1\":\"([^\"]*)\".*/\1/p" "$work/body"; }

user="features"
for i in $(seq 300); do call POST "/api/$user/tasks" -d "{\"title\": \"task $i\"}" >/dev/null; done
call POST "/api/$user/tasks" -d '{"title": "target"}' >/dev/null
id=$(json_field id)

# measure NAME EXPECTED_STATUS SETUP_FN REQUEST_FN: runs SETUP_FN then
# REQUEST_FN n times, counting only REQUEST_FN's round trips.
printf '%-44s %7s %7s\n' "request" "status" "RT/req"
measure() {
  local name=$1 want=$2 setup=$3 request=$4 total=0 before after status
  $setup; $request >/dev/null # warm-up
  for _ in $(seq "$n"); do
    $setup
    before=$(round_trips)
    status=$($request)
    after=$(round_trips)
    if [ "$status" != "$want" ]; then
      echo "$name: status $status, want $want" >&2
      cat "$work/body" >&2
      exit 1
    fi
    total=$((total + after - before))
  done
  printf '%-44s %7s %7s\n' "$name" "$want" "$(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.2f", t / n }')"
}

none() { :; }
etag=""
fresh_etag() { call GET "/api/$user/tasks/$id" >/dev/null; etag=$(header ETag); }
key=""
new_key() { key="k-$RANDOM$RANDOM$RANDOM"; }

get_plain() { call GET "/api/$user/tasks/$id"; }
get_304() { call GET "/api/$user/tasks/$id" -H "If-None-Match: $etag"; }
put_if_match() { call PUT "/api/$user/tasks/$id" -H "If-Match: $etag" -d '{"title": "target"}'; }
put_stale() { call PUT "/api/$user/tasks/$id" -H 'If-Match: "stale"' -d '{"title": "target"}'; }
toggle_if_match() { call PATCH "/api/$user/tasks/$id/complete" -H "If-Match: $etag"; }
post_plain() { call POST "/api/other/tasks" -d '{"title": "t"}'; }
post_key() { call POST "/api/other/tasks" -H "Idempotency-Key: $key" -d '{"title": "t"}'; }
toggle_key() { call PATCH "/api/$user/tasks/$id/complete" -H "Idempotency-Key: $key"; }
list_all() { call GET "/api/$user/tasks"; }
list_page() { call GET "/api/$user/tasks?limit=100"; }
next_page=""
first_page() { call GET "/api/$user/tasks?limit=100" >/dev/null; next_page=$(header Link | sed -nE 's/^<([^>]+)>.*/\1/p'); }
list_next() { call GET "$next_page"; }
list_completed() { call GET "/api/$user/tasks?completed=false&limit=50"; }

measure "GET one" 200 none get_plain
measure "GET one, If-None-Match current (304)" 304 fresh_etag get_304
measure "PUT, If-Match current" 200 fresh_etag put_if_match
measure "PUT, If-Match stale (412)" 412 none put_stale
measure "PATCH complete, If-Match current" 200 fresh_etag toggle_if_match
measure "POST" 201 none post_plain
measure "POST, new Idempotency-Key" 201 new_key post_key
measure "POST, replayed Idempotency-Key" 201 none post_key
measure "PATCH complete, new Idempotency-Key" 200 new_key toggle_key
measure "PATCH complete, replayed Idempotency-Key" 200 none toggle_key
measure "GET list, all (302 tasks)" 200 none list_all
measure "GET list, ?limit=100" 200 none list_page
measure "GET list, next page (Link)" 200 first_page list_next
measure "GET list, ?completed=false&limit=50" 200 none list_completed
