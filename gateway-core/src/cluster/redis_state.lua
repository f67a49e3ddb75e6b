
-- Shared cooldowns (gateway-core/src/cluster/cooling.rs), appended to the
-- library above by redis.rs.
-- cool: KEYS[1] the index (sorted set of id -> expiry ms); ARGV: the prefix
-- of the per-id keys, the most ids kept, then ID TTL_MS REASON triples
-- (TTL_MS 0 clears the id; a shorter TTL never shortens a live one).
-- Every id's key (PREFIX .. ID) holds the reason and expires with the
-- cooldown; all share the index's hash tag. Returns ID REMAINING_MS REASON
-- triples of every cooldown live now.
local function cool(keys, args)
  local index, prefix, max = keys[1], args[1], tonumber(args[2])
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for i = 3, #args, 3 do
    local id, ttl, why = args[i], tonumber(args[i + 1]), args[i + 2]
    local key = prefix .. id
    if ttl > 0 then
      if redis.call('PTTL', key) < ttl then
        redis.call('SET', key, why, 'PX', ttl)
        redis.call('ZADD', index, now + ttl, id)
      end
    else
      redis.call('DEL', key)
      redis.call('ZREM', index, id)
    end
  end
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  local over = redis.call('ZCARD', index) - max
  if over > 0 then
    redis.call('ZPOPMIN', index, over)
  end
  local out = {}
  for _, id in ipairs(redis.call('ZRANGE', index, 0, max - 1)) do
    local ttl = redis.call('PTTL', prefix .. id)
    if ttl > 0 then
      out[#out + 1] = id
      out[#out + 1] = ttl
      out[#out + 1] = redis.call('GET', prefix .. id) or ''
    else
      redis.call('ZREM', index, id)
    end
  end
  return out
end

redis.register_function('aigw_cool_v1', cool)
