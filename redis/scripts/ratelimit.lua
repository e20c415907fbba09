-- ratelimit.lua: a sliding-window log per user. A send at time t counts
-- while t > now - window; at most limit of them are kept, so a key holds
-- at most limit members and lives one window after the user's last send.
-- One call decides every send asked for concurrently on an instance (a
-- batch), in order: a user twice in a batch is counted twice.
--
-- KEYS[i] global-chat:rate-limit:{userId} of the i-th send: ZSET of
--         accepted sends, scored by time in µs
-- ARGV[1] limit: sends allowed in any window
-- ARGV[2] window in µs
-- ARGV[3] now in µs, or "" to read the time of the Redis server (TIME),
--         one clock for every instance
-- ARGV[3+i] a unique suffix for the member of the i-th send
-- Returns, for each send in order, three items: 1, remaining, 0 when
-- allowed; 0, 0, retryAfterµs when refused.
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[3])
end
local cutoff = string.format('%d', now - window)
local stamp = string.format('%d', now)

local result = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
  local n = redis.call('ZCARD', key)
  if n >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    table.insert(result, 0)
    table.insert(result, 0)
    table.insert(result, tonumber(oldest[2]) + window - now)
  else
    redis.call('ZADD', key, stamp, stamp .. '-' .. ARGV[3 + i])
    redis.call('PEXPIRE', key, math.ceil(window / 1000))
    table.insert(result, 1)
    table.insert(result, limit - n - 1)
    table.insert(result, 0)
  end
end
return result
