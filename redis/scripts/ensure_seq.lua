-- ensure_seq.lua: raise the room's counter to at least a seq, never lower
-- it. A raise means seqs were handed out elsewhere (the store, while Redis
-- was away) or Redis lost its data: the cache then no longer holds every
-- message between its entries, so it is emptied, and readers go to the
-- store for what comes before the next message.
--
-- KEYS[1] global-chat:seq
-- KEYS[2] global-chat:recent
-- ARGV[1] the seq the counter must reach
-- Returns the counter after the call.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if current < wanted then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
  return wanted
end
return current
