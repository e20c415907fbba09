-- presence_forget_instance.lua: drop a dead instance once its sockets are
-- all removed, unless it came back meanwhile.
--
-- KEYS[1] global-chat:instances
-- KEYS[2] global-chat:instance-sockets:{instance}
-- KEYS[3] global-chat:instance:{instance}
-- ARGV[1] instance id
-- ARGV[2] cutoff in ms: the instance is dead if its last heartbeat is not after it
-- Returns 1 when the instance was dropped.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then
  return 0
end
if redis.call('SCARD', KEYS[2]) > 0 then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
return 1
