-- ensure_seq.lua: raise the room's counter to at least a seq, never lower it.
--
-- KEYS[1] global-chat:seq
-- ARGV[1] the seq the counter must reach
-- Returns the counter after the call.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if current < wanted then
  redis.call('SET', KEYS[1], ARGV[1])
  return wanted
end
return current
