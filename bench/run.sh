#!/usr/bin/env bash
# bench/run.sh: the tasksvc benchmark. Usage and the meaning of
# every column: bench/README.md, or bench/run.sh -h.
#
# What it does, in order:
#   1. builds the service, bench/delayproxy and bench/benchtool;
#   2. creates a scratch database tasksvc_bench_<random> (dropped on exit)
#      and starts the service on it (or uses -url);
#   3. seeds through the API: a pool of 50 users x 20 tasks and a user with
#      exactly 1,000 tasks; links the pool into the pgbench id cycle;
#   4. per endpoint and client count: wrk against the service, then pgbench
#      -M extended and -M prepared with the service's own statements (the
#      ceiling), each with CPU time per process group from /proc;
#   5. a second service instance behind bench/delayproxy (1 ms each way):
#      single-client latency of every endpoint and what goes over the wire
#      per request (round trips, protocol messages);
#   6. the streamed-list memory test (a user with 100,000 tasks) with the
#      list query's EXPLAIN (ANALYZE, BUFFERS);
#   7. start-up time to the first answered request on the memory store;
#   8. prints the tables.
#
# How the shared cores are accounted for. wrk, the service and PostgreSQL
# share the machine's 2 cores in the service run; pgbench and PostgreSQL in
# the ceiling run. Both load generators run single-threaded (wrk -t1,
# pgbench -j1) at the same number of connections, so each side has one
# client process. The throughput ratio therefore charges the service for
# the CPU it takes from PostgreSQL, which is what the ratio is about, and the
# client's own cost is on both sides. Because the two clients are not
# equally cheap and the machine is shared with other work, each run also
# reports CPU time per request of the service, of PostgreSQL (the scratch
# database's backends, plus the postmaster and WAL writer etc.) and of the
# client, read from /proc/PID/stat (utime+stime), and the cores used by
# anything else during the run ("other", from /proc/stat). "cpu ratio" is
# the throughput ratio those CPU costs predict when the cores are the limit:
# (PostgreSQL + pgbench per transaction) / (service + PostgreSQL + wrk per
# request). It is much less sensitive to other load than req/s; if "other"
# is not near 0, the req/s figures of that row were disturbed.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [options]
  -duration 10s      measured time per run (whole seconds)
  -warmup 2s         wrk warm-up before each measured service run
  -clients 8,64      concurrent clients (wrk connections, pgbench clients)
  -endpoints LIST    of create,get,list,toggle,update,mix (default: all)
  -delay 1ms         one-way delay of the proxy pass
  -n 200             requests per endpoint in the single-client proxy pass
  -starts 7          start-ups to time on the memory store
  -url URL           use a running server instead of starting one
  -dburl URL         the database that server uses (enables pgbench, proxy
                     and memory steps with -url; bench data is written there)
  -pid PID           that server's process id (enables CPU and RSS columns)
  -skip LIST         of load,ceiling,proxy,memory,startup
  -proxy-log FILE    keep the proxy's per-message log of the proxy pass
Environment: PGHOST, PGPORT, PGUSER (default 127.0.0.1, 5432, postgres) for
the scratch database; the server must allow that user to create databases.
EOF
}

DURATION=10s WARMUP=2s CLIENTS=8,64 ENDPOINTS=create,get,list,toggle,update,mix
DELAY=1ms SINGLE_N=200 STARTS=7 URL="" DBURL="" SVC_PID="" SKIP="" PROXY_LOG=""
while [ $# -gt 0 ]; do
  case "$1" in
    -duration) DURATION=$2 ;;
    -warmup) WARMUP=$2 ;;
    -clients) CLIENTS=$2 ;;
    -endpoints) ENDPOINTS=$2 ;;
    -delay) DELAY=$2 ;;
    -n) SINGLE_N=$2 ;;
    -starts) STARTS=$2 ;;
    -url) URL=${2%/} ;;
    -dburl) DBURL=$2 ;;
    -pid) SVC_PID=$2 ;;
    -skip) SKIP=$2 ;;
    -proxy-log) PROXY_LOG=$2 ;;
    -h | -help | --help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
  shift 2
done

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }
skipped() { [[ ",$SKIP," == *",$1,"* ]]; }
seconds() { # 10s or 10 -> 10
  local s=${1%s}
  [[ $s =~ ^[0-9]+$ ]] && [ "$s" -gt 0 ] || die "durations are whole seconds, like 10s (got $1)"
  echo "$s"
}
DUR_S=$(seconds "$DURATION")
WARM_S=$(seconds "$WARMUP")

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing: $2"; }
need go "install Go 1.26 or later"
need curl "apt-get update && apt-get install -y curl"
need psql "apt-get update && apt-get install -y postgresql-client"
skipped load || need wrk "apt-get update && apt-get install -y wrk"
skipped ceiling || need pgbench "apt-get update && apt-get install -y postgresql-15 (Debian ships pgbench in the server package)"

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
RUN=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
PFX="bench-$RUN-"               # user ids of this run
LIST_USER="${PFX}list-1000"
BIG_USER="${PFX}big-100k"
# The request bodies; pgbench gets the same values (-D below).
CREATE_TITLE="Buy groceries" CREATE_DESC="Milk, eggs, bread"
UPDATE_TITLE="Buy groceries and bread" UPDATE_DONE=true
CREATE_BODY="{\"title\":\"$CREATE_TITLE\",\"description\":\"$CREATE_DESC\"}"
UPDATE_BODY="{\"title\":\"$UPDATE_TITLE\",\"is_completed\":$UPDATE_DONE}"

tmp=$(mktemp -d -t tasksvc-bench.XXXXXX)
PIDS=()          # every background process this script started
SCRATCH_DB=""    # set once created
HELPERS=""       # set once the bench_* helpers exist in the database
cleanup() {
  local rc=$?
  set +e
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [ -n "$SCRATCH_DB" ]; then
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null 2>&1 ||
      echo "run.sh: could not drop database $SCRATCH_DB; drop it by hand" >&2
  elif [ -n "$HELPERS" ]; then # -dburl: remove the helpers, leave the tasks
    psql -X -q -d "$DBURL" -c "DROP TABLE IF EXISTS bench_pool, bench_fresh; DROP FUNCTION IF EXISTS bench_uuid7(bigint)" \
      >/dev/null 2>&1
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop_pid PID: SIGTERM, up to 15 s for a graceful exit, then SIGKILL.
stop_pid() {
  local pid=$1
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
forget_pid() { # drop a stopped process from PIDS
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# wait_for_line FILE PATTERN PID: until FILE has a line matching PATTERN.
wait_for_line() {
  for _ in $(seq 1500); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { tail -n 20 "$1" >&2; die "process $3 exited (log above)"; }
    sleep 0.02
  done
  tail -n 20 "$1" >&2
  die "timed out waiting for '$2' in $1"
}

# start_service LOG DATABASE_URL: starts the service binary on a free port
# in an empty directory (no .env); sets STARTED_PID and STARTED_URL.
start_service() {
  local log=$1 dburl=$2
  (cd "$tmp/run" && exec env DATABASE_URL="$dburl" PORT=0 MAX_TASKS_PER_USER=0 "$tmp/tasksvc") 2>>"$log" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  wait_for_line "$log" 'msg=listening' "$STARTED_PID"
  local port
  port=$(grep -m1 'msg=listening' "$log" | sed -E 's/.*addr=[^ ]*:([0-9]+).*/\1/')
  STARTED_URL="http://127.0.0.1:$port"
}

psql_db() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d "$DBURL" "$@"; }
kv() { # kv KEY LINE: the value of KEY=VALUE in LINE
  sed -nE "s/.*(^|[ ])$1=([^ ]*).*/\2/p" <<<"$2"
}
rss_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f", k / 1024 }'; }

# timed CMD...: runs CMD, stdout to $tmp/out, stderr to $tmp/err; sets
# TIMED_RC and CHILD_CPU (the user+system seconds CMD used, from `times`).
timed() {
  local out
  out=$(
    rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    echo "$rc"
    times
  )
  TIMED_RC=$(sed -n 1p <<<"$out")
  CHILD_CPU=$(sed -n 3p <<<"$out" | awk 'function s(x, a) { split(x, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] }
    { printf "%.3f", s($1) + s($2) }')
}

# cpu_start / cpu_stop: CPU time per process group over a run (benchtool cpu).
cpu_start() {
  "$tmp/benchtool" cpu -svc "${SVC_PID:-0}" -db "$DBNAME" >"$tmp/cpu.out" 2>&1 &
  CPU_PID=$!
  PIDS+=("$CPU_PID")
  wait_for_line "$tmp/cpu.out" 'CPU ready' "$CPU_PID"
}
cpu_stop() {
  kill -TERM "$CPU_PID"
  wait "$CPU_PID" || true
  forget_pid "$CPU_PID"
  CPU_LINE=$(grep '^CPU wall' "$tmp/cpu.out" || echo "")
}

# ---------------------------------------------------------------------------
note "building (in $tmp)"
mkdir -p "$tmp/run" "$tmp/pgb"
(cd "$root" && go build -o "$tmp/tasksvc" . && go build -o "$tmp/delayproxy" ./bench/delayproxy &&
  go build -o "$tmp/benchtool" ./bench/benchtool) || die "build failed"
if ! "$tmp/benchtool" pgbench-scripts -src "$root" -dir "$tmp/pgb" >"$tmp/scripts.out"; then
  note "WARNING: cannot make the pgbench scripts from the service's SQL constants (above): no ceiling"
  SKIP="$SKIP,ceiling"
fi

if [ -z "$URL" ]; then
  SCRATCH_DB="tasksvc_bench_$RUN"
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $SCRATCH_DB" ||
    die "cannot create the scratch database (PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER)"
  DBURL="postgres://$PGUSER@$PGHOST:$PGPORT/$SCRATCH_DB?sslmode=disable"
  note "scratch database $SCRATCH_DB; starting the service"
  start_service "$tmp/svc.log" "$DBURL"
  SVC_PID=$STARTED_PID URL=$STARTED_URL
fi
DBNAME=""
if [ -n "$DBURL" ]; then
  DBNAME=$(sed -E 's|^[a-z]+://[^/]*/([^?]*).*|\1|' <<<"$DBURL")
else
  note "no -dburl: skipping the ceiling, the proxy pass and the memory test"
  SKIP="$SKIP,ceiling,proxy,memory"
fi
curl -fsS -o /dev/null "$URL/healthz" || die "no service answers at $URL"

note "seeding through the API at $URL"
"$tmp/benchtool" seed -url "$URL" -out "$tmp" -prefix "$PFX" -list-user "$LIST_USER" -list-tasks 1000 \
  -pool-users 50 -pool-tasks 20 >"$tmp/seed.out" || die "seeding failed"
POOL_SIZE=$(wc -l <"$tmp/pool.tsv")

if [ -n "$DBURL" ]; then
  HELPERS=1
  # The pgbench id cycle (see bench/benchtool/sql.go): each pool task's
  # description holds the id of the next task of the same user, in a random
  # order; bench_pool numbers the pool for the clients' random starts.
  psql_db -v pfx="$PFX" <<'SQL'
CREATE OR REPLACE FUNCTION bench_uuid7(ms bigint) RETURNS uuid LANGUAGE sql AS $$
  SELECT (lpad(to_hex(ms), 12, '0') || '7' || substr(md5(random()::text), 1, 3)
          || substr('89ab', 1 + floor(random() * 4)::int, 1) || substr(md5(random()::text), 1, 15))::uuid
$$;
DROP TABLE IF EXISTS bench_pool;
CREATE TABLE bench_pool AS
  SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM task WHERE user_id LIKE :'pfx' || 'pool-%';
ALTER TABLE bench_pool ADD PRIMARY KEY (n);
WITH r AS (
  SELECT id, user_id, row_number() OVER (PARTITION BY user_id ORDER BY random()) AS k,
         count(*) OVER (PARTITION BY user_id) AS cnt
  FROM task WHERE user_id LIKE :'pfx' || 'pool-%'
), nx AS (
  SELECT a.id, b.id AS next FROM r a JOIN r b ON b.user_id = a.user_id AND b.k = a.k % a.cnt + 1
)
UPDATE task t SET description = nx.next::text FROM nx WHERE t.id = nx.id;
VACUUM ANALYZE task;
SQL
fi

declare -A R # results, keyed by "field/endpoint/clients"

# run_load EP C: warm-up, then the measured wrk run against the service.
run_load() {
  local ep=$1 c=$2
  export BENCH_MODE=$ep BENCH_POOL="$tmp/pool.tsv" BENCH_LIST_USER="$LIST_USER" \
    BENCH_CREATE_BODY="$CREATE_BODY" BENCH_UPDATE_BODY="$UPDATE_BODY" BENCH_RESULT="$tmp/wrk.result"
  wrk -t1 -c"$c" -d"${WARM_S}s" --timeout 10s -s "$here/wrk.lua" "$URL" >/dev/null ||
    die "wrk warm-up failed"
  [ -n "$SVC_PID" ] && { echo 5 >"/proc/$SVC_PID/clear_refs"; } 2>/dev/null || true # reset VmHWM
  rm -f "$tmp/wrk.result"
  cpu_start
  timed wrk -t1 -c"$c" -d"${DUR_S}s" --timeout 10s -s "$here/wrk.lua" "$URL"
  cpu_stop
  [ "$TIMED_RC" = 0 ] && [ -f "$tmp/wrk.result" ] || { cat "$tmp/err" >&2; die "wrk failed"; }
  local line req dur
  line=$(cat "$tmp/wrk.result")
  req=$(kv requests "$line") dur=$(kv duration_us "$line")
  R[rps/$ep/$c]=$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
  R[p50/$ep/$c]=$(awk -v v="$(kv p50_us "$line")" 'BEGIN { printf "%.2f", v / 1000 }')
  R[p99/$ep/$c]=$(awk -v v="$(kv p99_us "$line")" 'BEGIN { printf "%.2f", v / 1000 }')
  R[err/$ep/$c]=$(($(kv status_errors "$line") + $(kv socket_errors "$line")))
  R[rss/$ep/$c]=$(mib "$([ -n "$SVC_PID" ] && rss_kib "$SVC_PID" VmHWM)")
  cpu_row svc "$ep" "$c" "$req" "$CHILD_CPU"
}

# cpu_row SIDE EP C COUNT CLIENT_CPU: per-request CPU figures from CPU_LINE.
cpu_row() {
  local side=$1 ep=$2 c=$3 n=$4 client=$5
  local svcus pgus clus other
  [ -n "$CPU_LINE" ] && [ "$n" -gt 0 ] || return 0
  read -r svcus pgus clus other <<<"$(awk -v n="$n" -v cl="$client" \
    -v wall="$(kv wall_s "$CPU_LINE")" -v svc="$(kv svc_s "$CPU_LINE")" -v pg="$(kv pg_s "$CPU_LINE")" \
    -v aux="$(kv pgaux_s "$CPU_LINE")" -v busy="$(kv busy_s "$CPU_LINE")" \
    'BEGIN { o = (busy - svc - pg - aux - cl) / wall; if (o < 0) o = 0
             printf "%.0f %.0f %.0f %.2f", svc * 1e6 / n, (pg + aux) * 1e6 / n, cl * 1e6 / n, o }')"
  R[$side.svcus/$ep/$c]=$svcus R[$side.pgus/$ep/$c]=$pgus R[$side.clus/$ep/$c]=$clus R[$side.other/$ep/$c]=$other
}

# pgbench_args EP C TXCOUNT: sets PGB_ARGS, pgbench's script and variable
# options for endpoint EP at C clients, and fills bench_fresh with enough
# fresh ids for create (TXCOUNT transactions at most, over all clients).
pgbench_args() {
  local ep=$1 c=$2 max=$3
  case $ep in
    get | toggle | update | list | create) PGB_ARGS=(-f "$tmp/pgb/$ep.sql") ;;
    list-small) PGB_ARGS=(-f "$tmp/pgb/listsmall.sql") ;;
    mix) PGB_ARGS=(-f "$tmp/pgb/get.sql@60" -f "$tmp/pgb/listsmall.sql@15" -f "$tmp/pgb/create.sql@10"
      -f "$tmp/pgb/toggle.sql@10" -f "$tmp/pgb/update.sql@5") ;;
    *) PGB_ARGS=() && return 0 ;;
  esac
  PGB_ARGS+=(-D chain=0 -D poolsize="$POOL_SIZE" -D listuser="$LIST_USER"
    -D newtitle="$UPDATE_TITLE" -D setdesc=false -D newdesc=- -D newdone="$UPDATE_DONE"
    -D ctitle="$CREATE_TITLE" -D cdesc="$CREATE_DESC" -D k=0 -D blk=0 -D nclients="$c")
  if [ "$ep" = create ] || [ "$ep" = mix ]; then
    local rows=$((c * ((max + 64 * c - 1) / (64 * c) + 2)))
    psql_db -v rows="$rows" -f "$tmp/pgb/fresh.sql" >/dev/null || die "cannot fill bench_fresh"
  fi
}

# run_ceiling EP C MODE: pgbench with the service's statements.
run_ceiling() {
  local ep=$1 c=$2 mode=$3
  # pgbench's -T counts from before it connects, and one thread opens the
  # connections one after the other (on a busy machine, 40 ms each has been
  # seen), so it gets the warm-up plus a second per 16 clients on top; tps
  # leaves the connecting out.
  local t=$((DUR_S + WARM_S + (c + 15) / 16))
  pgbench_args "$ep" "$c" $((40000 * t)) # ids for up to 40,000 inserts/s
  cpu_start
  timed pgbench -n -M "$mode" -c "$c" -j 1 -T "$t" "${PGB_ARGS[@]}" "$DBURL"
  cpu_stop
  local tps tx conn
  tps=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\)/\1/p' "$tmp/out")
  tx=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$tmp/out")
  conn=$(sed -nE 's/^initial connection time = ([0-9.]+) ms/\1/p' "$tmp/out")
  if [ -n "$conn" ] && awk -v c="$conn" -v t="$t" -v d="$DUR_S" 'BEGIN { exit !(t - c / 1000 < 0.8 * d) }'; then
    note "pgbench -M $mode $ep -c $c: connecting took ${conn} ms, so only $(awk -v c="$conn" -v t="$t" 'BEGIN { printf "%.1f", t - c / 1000 }') s were measured"
  fi
  if [ "$TIMED_RC" != 0 ] || [ -z "$tps" ]; then
    echo "pgbench -M $mode $ep -c $c failed (exit $TIMED_RC):" >&2
    grep -v '^pgbench: error: client [0-9]* aborted' "$tmp/err" | tail -n 4 >&2
    grep -m1 "aborted" "$tmp/err" >&2 || tail -n 30 "$tmp/out" >&2
    R[$mode/$ep/$c]=ERR
    return 0
  fi
  R[$mode/$ep/$c]=$(printf '%.0f' "$tps")
  [ "$mode" = extended ] && cpu_row pgb "$ep" "$c" "${tx:-0}" "$CHILD_CPU"
  return 0
}

IFS=, read -ra EPS <<<"$ENDPOINTS"
IFS=, read -ra CS <<<"$CLIENTS"
for ep in "${EPS[@]}"; do
  case $ep in create | get | list | toggle | update | mix) ;; *) die "unknown endpoint $ep" ;; esac
  for c in "${CS[@]}"; do
    if ! skipped load; then
      note "$ep, $c clients: service (wrk -t1 -c$c, ${WARM_S}s warm-up, ${DUR_S}s)"
      run_load "$ep" "$c"
    fi
    if ! skipped ceiling; then
      note "$ep, $c clients: pgbench -M extended and -M prepared (-c$c -j1, ${DUR_S}s)"
      run_ceiling "$ep" "$c" extended
      run_ceiling "$ep" "$c" prepared
    fi
  done
done

# ---------------------------------------------------------------------------
# The single-client pass through the delay proxy.
SINGLE_EPS=(get create list list-small toggle update delete)
if ! skipped proxy; then
  note "delay proxy ($DELAY each way): single client, $SINGLE_N requests per endpoint"
  # The proxy stands in for the database's host:port in the URL; it can
  # only count what it can read, so the URL must not ask for TLS.
  dbhost=$(sed -E 's#^[a-z]+://([^@/]*@)?([^/?]*).*#\2#' <<<"$DBURL")
  [[ $dbhost == *:* ]] || dbhost="$dbhost:5432"
  "$tmp/delayproxy" -listen 127.0.0.1:0 -target "$dbhost" -delay "$DELAY" -stats 127.0.0.1:0 \
    -log "$PROXY_LOG" >"$tmp/proxy.out" 2>&1 &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  wait_for_line "$tmp/proxy.out" 'delayproxy listen=' "$PROXY_PID"
  pline=$(grep -m1 'delayproxy listen=' "$tmp/proxy.out")
  paddr=$(kv listen "$pline") saddr=$(kv stats "$pline")
  PROXY_DBURL=$(sed -E "s#^([a-z]+://([^@/]*@)?)[^/?]*#\1$paddr#" <<<"$DBURL")
  start_service "$tmp/svc-proxy.log" "$PROXY_DBURL"
  PROXY_SVC_PID=$STARTED_PID
  for ep in "${SINGLE_EPS[@]}"; do
    n=$SINGLE_N
    [ "$ep" = list ] && n=$(((SINGLE_N + 3) / 4))
    line=$("$tmp/benchtool" single -url "$STARTED_URL" -stats "http://$saddr/stats" -endpoint "$ep" -n "$n" \
      -pool "$tmp/pool.tsv" -list-user "$LIST_USER" -create-body "$CREATE_BODY" -update-body "$UPDATE_BODY") ||
      die "single-client pass of $ep failed"
    R[single/$ep]=$line
    # The floor: the same statement from pgbench -c1 through the same proxy.
    pgbench_args "$ep" 1 "$n"
    if [ ${#PGB_ARGS[@]} -gt 0 ] && ! skipped ceiling; then
      rm -f "$tmp"/pgblog.*
      if pgbench -n -M extended -c 1 -j 1 -t "$n" -l --log-prefix="$tmp/pgblog" "${PGB_ARGS[@]}" "$PROXY_DBURL" \
        >"$tmp/out" 2>"$tmp/err"; then
        R[floor/$ep]=$(awk '{ print $3 }' "$tmp"/pgblog.* | sort -n |
          awk '{ a[NR] = $1 } END { printf "%.3f", a[int((NR + 1) / 2)] / 1000 }')
      else
        tail -n 3 "$tmp/err" >&2
      fi
    fi
  done
  stop_pid "$PROXY_SVC_PID"
  forget_pid "$PROXY_SVC_PID"
  stop_pid "$PROXY_PID"
  forget_pid "$PROXY_PID"
fi

# ---------------------------------------------------------------------------
# Memory: a user with 100,000 tasks, listed once by a fresh instance.
MEM_LINE="" EXPLAIN=""
if ! skipped memory; then
  note "memory test: 100,000 tasks for one user"
  psql_db -v big="$BIG_USER" <<'SQL'
INSERT INTO task (id, user_id, title, description, is_completed, created_at, updated_at)
SELECT gen_random_uuid(), :'big', 'Task number ' || g || ' of the very long list',
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'Milk, eggs, bread and a few more words ' || g END,
       g % 2 = 0, ts, ts
FROM generate_series(1, 100000) AS g,
     LATERAL (SELECT now() - (100000 - g) * interval '1 millisecond' AS ts) AS t;
VACUUM ANALYZE task;
SQL
  start_service "$tmp/svc-mem.log" "$DBURL"
  MEM_PID=$STARTED_PID
  small_user=$(head -n1 "$tmp/pool.tsv" | cut -f1)
  for _ in 1 2 3; do curl -fsS -o /dev/null "$STARTED_URL/api/$small_user/tasks"; done # pool and code warm
  rss0=$(rss_kib "$MEM_PID" VmRSS) hwm0=$(rss_kib "$MEM_PID" VmHWM)
  curl_out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$STARTED_URL/api/$BIG_USER/tasks")
  hwm1=$(rss_kib "$MEM_PID" VmHWM)
  read -r code size secs <<<"$curl_out"
  MEM_LINE=$(printf 'status %s, %s bytes in %.0f ms; RSS before %s MiB (peak before %s MiB), peak after %s MiB: delta %s MiB (target < 16 MiB)' \
    "$code" "$size" "$(awk -v s="$secs" 'BEGIN { print s * 1000 }')" "$(mib "$rss0")" "$(mib "$hwm0")" "$(mib "$hwm1")" \
    "$(mib $((hwm1 - rss0)))")
  stop_pid "$MEM_PID"
  forget_pid "$MEM_PID"
  # PREPARE without parameter types, as the service's Parse leaves them to
  # the server; EXECUTE plans with the value, as the unnamed statement does.
  if list_sql=$("$tmp/benchtool" sql -src "$root" -name listAllTasksSQL); then
    EXPLAIN=$(psql_db -v big="$BIG_USER" -At <<SQL
PREPARE bench_list AS $list_sql;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_list(:'big', NULL);
SQL
    )
  fi
fi

STARTUP_LINE=""
if ! skipped startup; then
  note "start-up time on the memory store ($STARTS starts)"
  STARTUP_LINE=$("$tmp/benchtool" startup -bin "$tmp/tasksvc" -n "$STARTS") || die "start-up test failed"
fi

# ---------------------------------------------------------------------------
# The tables.
v() { echo "${R[$1]:--}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'; }
# The latency goal: 1.3 x (the round trip, 2 x the delay, + 1 ms).
TARGET_MS=-
[[ $DELAY =~ ^([0-9.]+)ms$ ]] && TARGET_MS=$(awk -v d="${BASH_REMATCH[1]}" 'BEGIN { printf "%.2f", 1.3 * (2 * d + 1) }')
single() { # single FIELD EP
  local line=${R[single/$2]:-}
  [ -n "$line" ] || { echo -; return; }
  local val
  val=$(kv "$1" "$line")
  echo "${val:--}"
}
verdict() { # verdict P50 TARGET: the ratio to the target, and whether it is met
  awk -v p="$1" -v t="$2" 'BEGIN { if (p == "-" || t == "-") print "-"; else printf "%.2f %s", p / t, (p + 0 <= t + 0) ? "ok" : "MISS" }'
}

echo
echo "tasksvc benchmark $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r); ${DUR_S}s runs after ${WARM_S}s warm-up;"
echo "service built from $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo '+changes'); PostgreSQL $(psql -X -At -d postgres -c 'SHOW server_version' 2>/dev/null)"
echo
FMT='%-10s %7s %7s %7s %7s %6s | %8s %5s %8s %5s | %7s | %6s %7s %7s %-9s %7s\n'
printf '%-49s | %-29s | %7s | %s\n' "service under load (wrk -t1)" "ceiling: pgbench tps, ratio" "" "1 client via the delay proxy: service, then pgbench"
printf "$FMT" endpoint clients 'req/s' 'p50 ms' 'p99 ms' errors extended ratio prepared ratio 'RSS MiB' 'RT/req' 'p50 ms' target 'ratio' 'p50 ms'
row() { # row EP C
  local ep=$1 c=$2 t p50
  if [ "$ep" = list ]; then t=10.00; else t=$TARGET_MS; fi
  p50=$(single p50_ms "$ep")
  printf "$FMT" \
    "$ep" "$c" "$(v "rps/$ep/$c")" "$(v "p50/$ep/$c")" "$(v "p99/$ep/$c")" "$(v "err/$ep/$c")" \
    "$(v "extended/$ep/$c")" "$(ratio "$(v "rps/$ep/$c")" "$(v "extended/$ep/$c")")" \
    "$(v "prepared/$ep/$c")" "$(ratio "$(v "rps/$ep/$c")" "$(v "prepared/$ep/$c")")" \
    "$(v "rss/$ep/$c")" "$(single rt_per_req "$ep")" "$p50" "$([ "$ep" = mix ] && echo - || echo "$t")" \
    "$([ "$ep" = mix ] && echo "" || verdict "$p50" "$t")" "$(v "floor/$ep")"
}
for ep in "${EPS[@]}"; do
  for c in "${CS[@]}"; do row "$ep" "$c"; done
done
for ep in "${SINGLE_EPS[@]}"; do
  [[ " ${EPS[*]} " == *" $ep "* ]] || [ -z "${R[single/$ep]:-}" ] || row "$ep" -
done

if ! skipped proxy; then
  echo
  echo "Wire, per request (single client through the proxy, warm pool; frontend P=Parse B=Bind D=Describe"
  echo "E=Execute S=Sync Q=Query C=Close; backend 1=ParseComplete 2=BindComplete T=RowDescription"
  echo "D=DataRow C=CommandComplete Z=ReadyForQuery n=NoData t=ParameterDescription):"
  printf '%-10s %6s %7s %-22s %-26s %6s %7s\n' endpoint 'RT/req' 'sends' 'frontend msgs' 'backend msgs' 'conns+' cancels
  for ep in "${SINGLE_EPS[@]}"; do
    printf '%-10s %6s %7s %-22s %-26s %6s %7s\n' "$ep" "$(single rt_per_req "$ep")" "$(single bursts_per_req "$ep")" \
      "$(single client_msgs "$ep")" "$(single server_msgs "$ep")" "$(single conns_opened "$ep")" "$(single cancels "$ep")"
  done
fi

if ! skipped load; then
  echo
  echo "CPU per request in µs (utime+stime from /proc): service run (svc, pg, wrk) and pgbench -M extended run"
  echo "(pg, pgbench); other = cores used by anything else meanwhile; cpu ratio = (pg+pgbench)/(svc+pg+wrk):"
  printf '%-10s %7s | %6s %6s %6s %6s | %6s %7s %6s | %9s\n' endpoint clients svc pg wrk other pg pgbench other 'cpu ratio'
  for ep in "${EPS[@]}"; do
    for c in "${CS[@]}"; do
      printf '%-10s %7s | %6s %6s %6s %6s | %6s %7s %6s | %9s\n' "$ep" "$c" \
        "$(v "svc.svcus/$ep/$c")" "$(v "svc.pgus/$ep/$c")" "$(v "svc.clus/$ep/$c")" "$(v "svc.other/$ep/$c")" \
        "$(v "pgb.pgus/$ep/$c")" "$(v "pgb.clus/$ep/$c")" "$(v "pgb.other/$ep/$c")" \
        "$(awk -v a="$(v "pgb.pgus/$ep/$c")" -v b="$(v "pgb.clus/$ep/$c")" -v s="$(v "svc.svcus/$ep/$c")" \
          -v p="$(v "svc.pgus/$ep/$c")" -v w="$(v "svc.clus/$ep/$c")" \
          'BEGIN { if (a == "-" || s == "-" || s + p + w == 0) print "-"; else printf "%.2f", (a + b) / (s + p + w) }')"
    done
  done
fi

echo
[ -n "$MEM_LINE" ] && echo "Streamed list, user with 100,000 tasks: $MEM_LINE"
[ -n "$STARTUP_LINE" ] && echo "Start-up to first GET /api/u/tasks on the memory store: median $(kv median_ms "$STARTUP_LINE") ms (target < 100 ms; all: $(kv all_ms "$STARTUP_LINE") ms)"
if [ -n "$EXPLAIN" ]; then
  echo
  echo "EXPLAIN (ANALYZE, BUFFERS) of listTasksSQL for that user:"
  sed 's/^/  /' <<<"$EXPLAIN"
fi
echo
echo "Notes: ratio = service req/s / pgbench tps at the same concurrency (wrk -t1 and pgbench -j1; see the CPU"
echo "table for how the 2 shared cores were used). The service's pool holds at most 20 PostgreSQL connections,"
echo "pgbench opens one per client. pgbench runs the service's statements read from postgres.go, one per transaction."
echo "The create ceilings are low by one id-fetching SELECT per 64 INSERTs (1.6%), and -M prepared's also by the"
echo "64 INSERT branches each client prepares once (64 x clients Parse round trips per run: about 1% of a 10 s run"
echo "at 8 clients, 5% at 64). The text pgbench sends, against postgres.go's:"
echo "  $(sed 's/\.sql: [A-Za-z]*SQL,/:/' "$tmp/scripts.out" | paste -sd ';' | sed 's/;/; /g')."
echo "RT/req = request->response turnarounds on the PostgreSQL connection per HTTP request; target = 1.3 x"
echo "(2 x ${DELAY} + 1 ms) for each endpoint, 10 ms for list (1,000 tasks); the last column is pgbench -c1 -M extended"
echo "through the same proxy with the same statement: the floor. Peak RSS (VmHWM) is reset before each run."
