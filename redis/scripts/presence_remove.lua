-- presence_remove.lua: forget a connection; the user leaves with its last one.
--
-- KEYS[1] global-chat:user-socket:{socketId}
-- KEYS[2] global-chat:user-sockets:{userId}
-- KEYS[3] global-chat:user-online:{userId}
-- KEYS[4] global-chat:online-users
-- KEYS[5] global-chat:online-names
-- KEYS[6] global-chat:instance-sockets:{instance}  the instance that held the socket
-- KEYS[7] global-chat:socket-instance:{socketId}
-- ARGV[1] socket id
-- ARGV[2] user id, as the caller read it from KEYS[1]
-- ARGV[3] instance id: the socket is removed only if this instance holds
--         it (it may have moved to another one by recovery)
-- Returns {removed, last, users online, user name}: removed is 0 when the
-- socket is unknown (or no longer the user's); last is 1 when the user has
-- no connection left.
local function member(name)
  return (string.gsub(name, '%z', '')) .. '\0' .. ARGV[2]
end

local holder = redis.call('GET', KEYS[7])
if redis.call('GET', KEYS[1]) ~= ARGV[2] or (holder and holder ~= ARGV[3]) then
  redis.call('SREM', KEYS[6], ARGV[1])
  return {0, 0, redis.call('SCARD', KEYS[4]), ''}
end

redis.call('DEL', KEYS[1], KEYS[7])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[6], ARGV[1])
local name = redis.call('HGET', KEYS[3], 'username') or ''

if redis.call('SCARD', KEYS[2]) > 0 then
  if redis.call('HGET', KEYS[3], 'socketId') == ARGV[1] then
    redis.call('HSET', KEYS[3], 'socketId', redis.call('SRANDMEMBER', KEYS[2]))
  end
  return {1, 0, redis.call('SCARD', KEYS[4]), name}
end

redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[4], ARGV[2])
redis.call('ZREM', KEYS[5], member(name))
return {1, 1, redis.call('SCARD', KEYS[4]), name}
