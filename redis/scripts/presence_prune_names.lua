-- presence_prune_names.lua: drop entries of the name index whose user is
-- no longer online (the index is only ever as large as the online set).
--
-- KEYS[1] global-chat:online-users
-- KEYS[2] global-chat:online-names
-- ARGV[1..] members of KEYS[2], "name\0userId"
-- Returns how many entries were dropped.
local dropped = 0
for _, m in ipairs(ARGV) do
  local sep = string.find(m, '\0', 1, true)
  if sep and redis.call('SISMEMBER', KEYS[1], string.sub(m, sep + 1)) == 0 then
    dropped = dropped + redis.call('ZREM', KEYS[2], m)
  end
end
return dropped
