-- ratelimit.lua: a sliding-window log. A send at time t counts while
-- t > now - window; at most limit of them are kept, so the key holds at
-- most limit members and lives one window after the last send.
--
-- KEYS[1] global-chat:rate-limit:{userId}  ZSET of accepted sends, scored by time in µs
-- ARGV[1] limit: sends allowed in any window
-- ARGV[2] window in µs
-- ARGV[3] now in µs, or "" to read the time of the Redis server (TIME),
--         one clock for every instance
-- ARGV[4] a unique suffix for the member of this send
-- Returns {1, remaining, 0} when allowed, {0, 0, retryAfterµs} when refused.
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[3])
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, 0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], string.format('%d', now), string.format('%d', now) .. '-' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return {1, limit - n - 1, 0}
