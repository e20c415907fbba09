-- presence_add.lua: register a connection of a user on an instance.
--
-- KEYS[1] global-chat:user-socket:{socketId}       user id of the socket (PX ttl)
-- KEYS[2] global-chat:user-sockets:{userId}        SET of the user's socket ids, all instances (PX ttl)
-- KEYS[3] global-chat:user-online:{userId}         HASH socketId, timestamp, online, username (PX ttl)
-- KEYS[4] global-chat:online-users                 SET of the user ids online (PX ttl)
-- KEYS[5] global-chat:online-names                 ZSET, score 0, of "name\0userId" (PX ttl)
-- KEYS[6] global-chat:instance-sockets:{instance}  SET of the instance's socket ids (PX ttl)
-- KEYS[7] global-chat:socket-instance:{socketId}   instance holding the socket (PX ttl)
-- ARGV[1] socket id
-- ARGV[2] user id
-- ARGV[3] user name
-- ARGV[4] timestamp in ms
-- ARGV[5] ttl in ms (refreshed by the instance's heartbeat)
-- ARGV[6] instance id: a recovered socket keeps its id on a new instance,
--         and the reaper of the old one must leave it alone
-- Returns {first, users online}: first is 1 when this socket is the
-- user's only one; {-1, 0} when the socket id belongs to another user.
local function member(name)
  return (string.gsub(name, '%z', '')) .. '\0' .. ARGV[2]
end

local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[2] then
  return {-1, 0}
end
local ttl = ARGV[5]

redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
local added = redis.call('SADD', KEYS[2], ARGV[1])
local first = 0
if added == 1 and redis.call('SCARD', KEYS[2]) == 1 then
  first = 1
end
redis.call('PEXPIRE', KEYS[2], ttl)

local old = redis.call('HGET', KEYS[3], 'username')
if old and old ~= ARGV[3] then
  redis.call('ZREM', KEYS[5], member(old))
end
redis.call('HSET', KEYS[3], 'socketId', ARGV[1], 'timestamp', ARGV[4], 'online', 'true', 'username', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ttl)

redis.call('SADD', KEYS[4], ARGV[2])
redis.call('ZADD', KEYS[5], 0, member(ARGV[3]))
redis.call('PEXPIRE', KEYS[4], ttl)
redis.call('PEXPIRE', KEYS[5], ttl)
redis.call('SADD', KEYS[6], ARGV[1])
redis.call('PEXPIRE', KEYS[6], ttl)
redis.call('SET', KEYS[7], ARGV[6], 'PX', ttl)
return {first, redis.call('SCARD', KEYS[4])}
