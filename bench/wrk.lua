-- wrk script of the tasksvc benchmark; bench/run.sh sets the environment.
--
--   BENCH_MODE       create | get | list | toggle | update | mix
--   BENCH_POOL       the seeded pool, "user_id<TAB>task_id" per line
--   BENCH_LIST_USER  the user with 1,000 tasks (list)
--   BENCH_CREATE_BODY, BENCH_UPDATE_BODY  JSON bodies; run.sh gives pgbench
--                    the same values, so both sides write the same data
--   BENCH_RESULT     file that done() writes its one result line to
--
-- Ids are picked at random from the pool on every request. The mix is 60%
-- get, 15% list of a small user (a pool user, 20 tasks), 10% create, 10%
-- toggle, 5% update. Creates go to 16 users of their own ("create-00" to
-- "create-15"), so the lists of the pool users never grow.

local mode = os.getenv("BENCH_MODE") or "get"
local list_user = os.getenv("BENCH_LIST_USER") or "list-1000"
local create_body = os.getenv("BENCH_CREATE_BODY")
local update_body = os.getenv("BENCH_UPDATE_BODY")
local json = { ["Content-Type"] = "application/json" }

local users, ids = {}, {}
for line in io.lines(os.getenv("BENCH_POOL")) do
  local u, id = line:match("^([^\t]+)\t([^\t]+)$")
  if u then
    users[#users + 1] = u
    ids[#ids + 1] = id
  end
end

-- Each wrk thread has its own Lua state: number them, seed each differently.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end

local function pick()
  local i = math.random(#ids)
  return users[i], ids[i]
end

local function get()
  local u, id = pick()
  return wrk.format("GET", "/api/" .. u .. "/tasks/" .. id)
end

local function toggle()
  local u, id = pick()
  return wrk.format("PATCH", "/api/" .. u .. "/tasks/" .. id .. "/complete")
end

local function update()
  local u, id = pick()
  return wrk.format("PUT", "/api/" .. u .. "/tasks/" .. id, json, update_body)
end

local function create()
  local u = string.format("create-%02d", math.random(0, 15))
  return wrk.format("POST", "/api/" .. u .. "/tasks", json, create_body)
end

local function list()
  return wrk.format("GET", "/api/" .. list_user .. "/tasks")
end

local function list_small()
  local u = pick()
  return wrk.format("GET", "/api/" .. u .. "/tasks")
end

local function mix()
  local r = math.random(100)
  if r <= 60 then return get()
  elseif r <= 75 then return list_small()
  elseif r <= 85 then return create()
  elseif r <= 95 then return toggle()
  else return update() end
end

local modes = { get = get, toggle = toggle, update = update, create = create, list = list, mix = mix }
request = modes[mode]
if request == nil then
  error("BENCH_MODE must be one of create, get, list, toggle, update, mix; not " .. mode)
end

function done(summary, latency, requests)
  local e = summary.errors
  local f = assert(io.open(os.getenv("BENCH_RESULT"), "w"))
  f:write(string.format(
    "requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d status_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
  f:close()
end
