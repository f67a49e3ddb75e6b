#!lua name=aigw_v1
-- aigw's server-side functions, version 1 (gateway-core/src/cluster/redis.rs).
-- A new behaviour is a new version: the library and every function are
-- renamed (aigw_v2, aigw_take_v2), so replicas of two builds each call their
-- own during a rolling upgrade. Time is always the server's (TIME).
--
-- Token buckets: a hash {t = tokens, ts = ms of the last write}, refilled
-- continuously at `cap` per minute; a missing bucket is full (and a full one
-- is deleted). Budgets: a hash {spent, reserved} (USD) per key and period,
-- expiring after the period's reset.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function num(s)
  return string.format('%.17g', s)
end

-- The bucket's tokens now. A bucket written with another capacity (the
-- limit changed) keeps what was used: its tokens move by the difference.
local function level(key, cap, now)
  local h = redis.call('HMGET', key, 't', 'ts', 'c')
  local t = tonumber(h[1])
  local ts = tonumber(h[2])
  local c = tonumber(h[3])
  if t == nil or ts == nil then
    return cap
  end
  if c == nil then
    c = cap
  end
  if now > ts then
    t = t + (now - ts) * c / 60000
  end
  if t > c then
    t = c
  end
  t = t + (cap - c)
  if t < -60 * cap then
    t = -60 * cap
  end
  if t > cap then
    t = cap
  end
  return t
end

-- Writes `t` tokens; the key expires once it would be full again.
local function store(key, cap, t, now)
  if t >= cap then
    redis.call('DEL', key)
    return
  end
  redis.call('HSET', key, 't', num(t), 'ts', now, 'c', cap)
  redis.call('PEXPIRE', key, math.ceil((cap - t) * 60000 / cap) + 1000)
end

-- The budget hash's {spent, reserved}; a missing one (a new period, or a
-- Redis that lost its data) starts from `seed` spent.
local function budget_state(key, seed, ttl)
  local h = redis.call('HMGET', key, 'spent', 'reserved')
  if not h[1] then
    redis.call('HSET', key, 'spent', num(seed), 'reserved', '0')
    redis.call('PEXPIRE', key, ttl)
    return seed, 0
  end
  return tonumber(h[1]), tonumber(h[2]) or 0
end

-- take: all or nothing over several buckets and at most one budget.
-- KEYS: NB bucket keys, then the budget key (optional).
-- ARGV: NB, then CAP COST per bucket, then (with a budget)
--       BUDGET COST_USD SEED_SPENT TTL_MS.
-- Returns {1, 0, 0, spent, reserved} when taken, else
-- {0, wait_ms, i, spent, reserved} with i the first refusing key (1-based;
-- NB + 1 = the budget).
local function take(keys, args)
  local now = now_ms()
  local nb = tonumber(args[1])
  local levels = {}
  local failed, wait = 0, 0
  for i = 1, nb do
    local cap = tonumber(args[2 * i])
    local cost = math.min(tonumber(args[2 * i + 1]), cap)
    local t = level(keys[i], cap, now)
    levels[i] = t
    if failed == 0 and t < cost then
      failed = i
      wait = math.ceil((cost - t) * 60000 / cap)
    end
  end
  local spent, reserved, usd = 0, 0, 0
  local bkey = keys[nb + 1]
  if bkey then
    local b = 2 * nb + 2
    local budget = tonumber(args[b])
    usd = tonumber(args[b + 1])
    spent, reserved = budget_state(bkey, tonumber(args[b + 2]), tonumber(args[b + 3]))
    local used = spent + reserved
    if failed == 0 and (used >= budget or used + usd > budget) then
      failed = nb + 1
    end
  end
  if failed ~= 0 then
    return {0, wait, failed, num(spent), num(reserved)}
  end
  for i = 1, nb do
    local cap = tonumber(args[2 * i])
    local cost = math.min(tonumber(args[2 * i + 1]), cap)
    store(keys[i], cap, levels[i] - cost, now)
  end
  if bkey then
    reserved = tonumber(redis.call('HINCRBYFLOAT', bkey, 'reserved', num(usd)))
  end
  return {1, 0, 0, num(spent), num(reserved)}
end

-- adjust: gives tokens back (or charges more) and settles a budget.
-- KEYS: NB bucket keys, then the budget key (optional).
-- ARGV: NB, then CAP DELTA per bucket (a bucket stays within [-60 CAP, CAP]),
--       then (with a budget) RELEASE_USD SPENT_USD SEED_SPENT TTL_MS.
-- Returns {spent} (the budget's, or 0).
local function adjust(keys, args)
  local now = now_ms()
  local nb = tonumber(args[1])
  for i = 1, nb do
    local cap = tonumber(args[2 * i])
    local t = level(keys[i], cap, now) + tonumber(args[2 * i + 1])
    if t < -60 * cap then
      t = -60 * cap
    end
    store(keys[i], cap, t, now)
  end
  local bkey = keys[nb + 1]
  if not bkey then
    return {'0'}
  end
  local b = 2 * nb + 2
  local release = tonumber(args[b])
  local add = tonumber(args[b + 1])
  local spent, reserved = budget_state(bkey, tonumber(args[b + 2]), tonumber(args[b + 3]))
  reserved = reserved - release
  if reserved < 0 then
    reserved = 0
  end
  redis.call('HSET', bkey, 'reserved', num(reserved))
  spent = tonumber(redis.call('HINCRBYFLOAT', bkey, 'spent', num(add)))
  return {num(spent)}
end

-- beat: KEYS[1] the replicas' sorted set; ARGV: ID WINDOW_MS FORGET_MS.
-- Returns how many replicas were seen within WINDOW_MS.
local function beat(keys, args)
  local now = now_ms()
  local forget = tonumber(args[3])
  redis.call('ZADD', keys[1], now, args[1])
  redis.call('ZREMRANGEBYSCORE', keys[1], '-inf', now - forget)
  redis.call('PEXPIRE', keys[1], forget)
  return redis.call('ZCOUNT', keys[1], now - tonumber(args[2]), '+inf')
end

redis.register_function('aigw_take_v1', take)
redis.register_function('aigw_adjust_v1', adjust)
redis.register_function('aigw_beat_v1', beat)
