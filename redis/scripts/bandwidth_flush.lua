-- bandwidth_flush.lua: one instance's second of traffic accounting, in one
-- step: its contribution to the cluster's realtime aggregate (the
-- aggregate is rebuilt from every live instance's contribution, and the
-- contribution of an instance silent for max-age leaves it), and its
-- deltas added into the current point of each time series and metric.
--
-- KEYS[1] bandwidth:realtime          HASH, the aggregate (PX realtime-ttl)
-- KEYS[2] bandwidth:instances         HASH instance id -> its contribution (JSON object of integers)
-- KEYS[3] bandwidth:instances:seen    ZSET instance id by last flush (ms)
-- KEYS[4], KEYS[5], ... for each series, two keys:
--   bandwidth:timeseries:{series}     ZSET of points scored by interval start (unix s)
--   bandwidth:metric:{t}:{series}     HASH, the current point's figures (PX metric-ttl)
-- ARGV[1] instance id
-- ARGV[2] now in ms
-- ARGV[3] the contribution, a JSON object of integer fields, summed into the
--   aggregate but online_users and delivery_* (quantiles), of which it keeps
--   the highest
-- ARGV[4] max-age in ms: a contribution older than this leaves the aggregate
-- ARGV[5] realtime-ttl in ms
-- ARGV[6] t, the current interval's start in unix seconds
-- ARGV[7] window in seconds: points older than t - window are trimmed
-- ARGV[8] series-ttl in ms
-- ARGV[9] metric-ttl in ms
-- ARGV[10], ... for each series in KEYS order, its delta as
--   "bytes_in:bytes_out:frames_in:frames_out:messages_in:messages_out:opened:closed:online"
-- A point's member is "t:" followed by the same nine figures; online is
-- the highest seen in the interval, the others are sums.
-- Returns the number of live instances.
local now = tonumber(ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], now, ARGV[1])
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]))
for _, id in ipairs(gone) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
end
for i = 2, 3 do
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end

local sum, instances = {}, 0
for _, raw in ipairs(redis.call('HVALS', KEYS[2])) do
  instances = instances + 1
  for name, v in pairs(cjson.decode(raw)) do
    if name == 'online_users' or string.sub(name, 1, 9) == 'delivery_' then
      sum[name] = math.max(sum[name] or 0, v)
    else
      sum[name] = (sum[name] or 0) + v
    end
  end
end
local fields = {'instances', instances, 'updated_at', string.format('%d', now)}
for name, v in pairs(sum) do
  table.insert(fields, name)
  table.insert(fields, string.format('%d', v))
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[5])

local names = {'bytes_in', 'bytes_out', 'frames_in', 'frames_out', 'messages_in', 'messages_out',
  'connections_opened', 'connections_closed', 'online_users'}
local function split(s)
  local out = {}
  for n in string.gmatch(s, '[^:]+') do
    table.insert(out, tonumber(n))
  end
  return out
end
local t = tonumber(ARGV[6])
local s = 1
while KEYS[2 + 2 * s] do
  local series, metric = KEYS[2 + 2 * s], KEYS[3 + 2 * s]
  local delta = split(ARGV[9 + s])
  local old = redis.call('ZRANGEBYSCORE', series, t, t)
  if old[1] then
    local prev = split(old[1])
    for i = 1, 8 do
      delta[i] = delta[i] + prev[i + 1]
    end
    delta[9] = math.max(delta[9], prev[10])
    redis.call('ZREMRANGEBYSCORE', series, t, t)
  end
  local member, hash = {string.format('%d', t)}, {}
  for i = 1, 9 do
    table.insert(member, string.format('%d', delta[i]))
    table.insert(hash, names[i])
    table.insert(hash, string.format('%d', delta[i]))
  end
  redis.call('ZADD', series, t, table.concat(member, ':'))
  redis.call('ZREMRANGEBYSCORE', series, '-inf', '(' .. (t - tonumber(ARGV[7])))
  redis.call('PEXPIRE', series, ARGV[8])
  redis.call('HSET', metric, unpack(hash))
  redis.call('PEXPIRE', metric, ARGV[9])
  s = s + 1
end
return instances
