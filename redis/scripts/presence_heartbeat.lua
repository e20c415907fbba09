-- presence_heartbeat.lua: say this instance is alive, keep the shared sets
-- from expiring while any instance lives, and list the dead instances.
--
-- KEYS[1] global-chat:instances                   ZSET of instance ids by last heartbeat (ms)
-- KEYS[2] global-chat:instance:{instance}         last heartbeat (PX dead-after)
-- KEYS[3] global-chat:instance-sockets:{instance}
-- KEYS[4] global-chat:online-users
-- KEYS[5] global-chat:online-names
-- ARGV[1] instance id
-- ARGV[2] dead-after in ms: an instance silent that long is dead
-- ARGV[3] ttl in ms of the sets
-- Returns {registered, now in ms, dead instance ids...}: registered is 1
-- when this instance was not in KEYS[1] (first beat, reaped, or a Redis
-- that restarted empty). The time is the Redis server's: one clock for
-- every instance.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local registered = redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('SET', KEYS[2], now, 'PX', ARGV[2])
for i = 1, 5 do
  if i ~= 2 then
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
end
local result = {registered, now}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
for _, id in ipairs(dead) do
  table.insert(result, id)
end
return result
