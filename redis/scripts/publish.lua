-- publish.lua: give a message its place in the room's order, cache it and
-- publish it, all at once, so every subscriber receives messages in seq order.
--
-- KEYS[1] global-chat:seq                counter of the room's order
-- KEYS[2] global-chat:recent             ZSET of recent message JSON, scored by seq
-- KEYS[3] global-chat:message:{id}       the message JSON (EX ARGV[4])
-- KEYS[4] global-chat:client-msg:{userId}:{clientMsgId}
--         optional: the first message sent with this client id (EX ARGV[4])
-- ARGV[1] the message JSON up to and including `"seq":`
-- ARGV[2] the message JSON after the seq value
-- ARGV[3] how many messages KEYS[2] keeps
-- ARGV[4] TTL in seconds of KEYS[2], KEYS[3] and KEYS[4]
-- ARGV[5] the pub/sub channel
-- ARGV[6] floor: the seq given is above it, so that a Redis restarted
--         empty does not hand out numbers already used
-- Returns {1, json} for a new message; {0, json} for the message already
-- published with this id, or by this user with this client id.
local existing = redis.call('GET', KEYS[3])
if existing then
  return {0, existing}
end
if KEYS[4] then
  existing = redis.call('GET', KEYS[4])
  if existing then
    return {0, existing}
  end
end

local seq = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[6])
if seq <= floor then
  seq = floor + 1
  redis.call('SET', KEYS[1], string.format('%d', seq))
end

local json = ARGV[1] .. string.format('%d', seq) .. ARGV[2]
local ttl = tonumber(ARGV[4])
redis.call('SET', KEYS[3], json, 'EX', ttl)
redis.call('ZADD', KEYS[2], seq, json)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
redis.call('EXPIRE', KEYS[2], ttl)
if KEYS[4] then
  redis.call('SET', KEYS[4], json, 'EX', ttl)
end
redis.call('PUBLISH', ARGV[5], json)
return {1, json}
