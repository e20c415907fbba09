-- presence_prune_user.lua: drop the sockets of a user whose keys expired
-- (an instance gone longer than the TTL with no instance to reap it, or
-- keys evicted under memory pressure); the user leaves with its last one.
--
-- KEYS[1] global-chat:user-sockets:{userId}
-- KEYS[2] global-chat:user-online:{userId}
-- KEYS[3] global-chat:online-users
-- KEYS[4] global-chat:online-names
-- KEYS[5..] global-chat:user-socket:{socketId} for each socket id in ARGV[2..]
-- ARGV[1] user id
-- ARGV[2..] the socket ids the caller read from KEYS[1]
-- Returns {left, users online, user name}: left is 1 when the user was
-- online and is no longer.
for i = 2, #ARGV do
  if redis.call('GET', KEYS[i + 3]) ~= ARGV[1] then
    redis.call('SREM', KEYS[1], ARGV[i])
  end
end
if redis.call('SCARD', KEYS[1]) > 0 then
  return {0, redis.call('SCARD', KEYS[3]), ''}
end
local name = redis.call('HGET', KEYS[2], 'username') or ''
redis.call('DEL', KEYS[2])
local left = redis.call('SREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], (string.gsub(name, '%z', '')) .. '\0' .. ARGV[1])
return {left, redis.call('SCARD', KEYS[3]), name}
