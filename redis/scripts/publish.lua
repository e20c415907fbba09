-- publish.lua: give messages their places in the room's order, cache them,
-- spool them for the store and publish them, all at once, so every
-- subscriber receives messages in seq order and no message is published
-- that is not held until the store has it. One call carries every message
-- published concurrently on an instance (a batch), so the message path
-- costs one round trip per batch.
--
-- KEYS[1] global-chat:seq                counter of the room's order
-- KEYS[2] global-chat:recent             ZSET of recent message JSON, scored by seq
-- KEYS[3] global-chat:spool              ZSET of message JSON not yet confirmed stored, by seq
-- then, for the i-th message (i from 1), two keys:
-- KEYS[2+2i] global-chat:message:{id}   the message JSON (EX ARGV[2])
-- KEYS[3+2i] global-chat:client-msg:{userId}:{clientMsgId}, the first
--            message sent with this client id (EX ARGV[2]); the message
--            key again when the message has no client id
-- ARGV[1] how many messages KEYS[2] keeps
-- ARGV[2] TTL in seconds of KEYS[2] and the message keys
-- ARGV[3] the pub/sub channel
-- ARGV[4] floor: every seq given is above it, so that a Redis restarted
--         empty does not hand out numbers already used
-- ARGV[5] deadline, Unix milliseconds (0: none): a call that runs after it
--         (a Redis that was frozen while the caller gave up) does nothing,
--         so that a message its sender was told failed is never published
-- ARGV[6] the most messages KEYS[3] may hold
-- then, for the i-th message: ARGV[5+2i] its JSON up to and including
-- `"seq":`, ARGV[6+2i] its JSON after the seq value
-- Returns, for each message in order, two items: 1 and its JSON when it is
-- new; 0 and the JSON of the message already published with this id, or
-- by this user with this client id (possibly earlier in the same batch);
-- -1 and "" when the spool is full; -2 and "" past the deadline.
local ttl = tonumber(ARGV[2])
local floor = tonumber(ARGV[4])
local deadline = tonumber(ARGV[5])
local spoolMax = tonumber(ARGV[6])
local n = (#KEYS - 3) / 2
local result = {}

if deadline > 0 then
  local now = redis.call('TIME')
  if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > deadline then
    for i = 1, n do
      table.insert(result, -2)
      table.insert(result, '')
    end
    return result
  end
end

local added = false
local spooled = redis.call('ZCARD', KEYS[3])
for i = 1, n do
  local idKey, clientKey = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  local existing = redis.call('GET', idKey)
  if not existing and clientKey ~= idKey then
    existing = redis.call('GET', clientKey)
  end
  if existing then
    table.insert(result, 0)
    table.insert(result, existing)
  elseif spooled >= spoolMax then
    table.insert(result, -1)
    table.insert(result, '')
  else
    local seq = redis.call('INCR', KEYS[1])
    if seq <= floor then
      seq = floor + 1
      redis.call('SET', KEYS[1], string.format('%d', seq))
    end
    local json = ARGV[5 + 2 * i] .. string.format('%d', seq) .. ARGV[6 + 2 * i]
    redis.call('SET', idKey, json, 'EX', ttl)
    if clientKey ~= idKey then
      redis.call('SET', clientKey, json, 'EX', ttl)
    end
    redis.call('ZADD', KEYS[2], seq, json)
    redis.call('ZADD', KEYS[3], seq, json)
    spooled = spooled + 1
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
