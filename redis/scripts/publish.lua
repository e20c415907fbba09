-- publish.lua: give messages their places in the room's order, cache them
-- and publish them, all at once, so every subscriber receives messages in
-- seq order. One call carries every message published concurrently on an
-- instance (a batch), so the message path costs one round trip per batch.
--
-- KEYS[1] global-chat:seq                counter of the room's order
-- KEYS[2] global-chat:recent             ZSET of recent message JSON, scored by seq
-- then, for the i-th message (i from 1), two keys:
-- KEYS[1+2i] global-chat:message:{id}   the message JSON (EX ARGV[2])
-- KEYS[2+2i] global-chat:client-msg:{userId}:{clientMsgId}, the first
--            message sent with this client id (EX ARGV[2]); the message
--            key again when the message has no client id
-- ARGV[1] how many messages KEYS[2] keeps
-- ARGV[2] TTL in seconds of KEYS[2] and the message keys
-- ARGV[3] the pub/sub channel
-- ARGV[4] floor: every seq given is above it, so that a Redis restarted
--         empty does not hand out numbers already used
-- then, for the i-th message: ARGV[3+2i] its JSON up to and including
-- `"seq":`, ARGV[4+2i] its JSON after the seq value
-- Returns, for each message in order, two items: 1 and its JSON when it is
-- new; 0 and the JSON of the message already published with this id, or
-- by this user with this client id (possibly earlier in the same batch).
local ttl = tonumber(ARGV[2])
local floor = tonumber(ARGV[4])
local result = {}
local added = false

for i = 1, (#KEYS - 2) / 2 do
  local idKey, clientKey = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local existing = redis.call('GET', idKey)
  if not existing and clientKey ~= idKey then
    existing = redis.call('GET', clientKey)
  end
  if existing then
    table.insert(result, 0)
    table.insert(result, existing)
  else
    local seq = redis.call('INCR', KEYS[1])
    if seq <= floor then
      seq = floor + 1
      redis.call('SET', KEYS[1], string.format('%d', seq))
    end
    local json = ARGV[3 + 2 * i] .. string.format('%d', seq) .. ARGV[4 + 2 * i]
    redis.call('SET', idKey, json, 'EX', ttl)
    if clientKey ~= idKey then
      redis.call('SET', clientKey, json, 'EX', ttl)
    end
    redis.call('ZADD', KEYS[2], seq, json)
    redis.call('PUBLISH', ARGV[3], json)
    added = true
    table.insert(result, 1)
    table.insert(result, json)
  end
end

if added then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[1]) + 1))
  redis.call('EXPIRE', KEYS[2], ttl)
end
return result
