-- A ticket event, applied if it is newer than what the room has (events carry whole state, so
-- the newest wins and an older one arriving late changes nothing).
-- KEYS: room, rooms
-- ARGV: ticket id, version, on_sale (ms, or '' for none), available, quantity,
--       per-buyer limit ('' for none)
-- Returns 1 applied, 0 not (older, or a ticket with no sale scheduled and no room)
local room, rooms = unpack(KEYS)
local version = tonumber(ARGV[2])
local known = redis.call('HGET', room, 'version')
if known and tonumber(known) >= version then
  return 0
end
if ARGV[3] == '' then
  if not known then
    return 0
  end
  -- The sale is no longer scheduled: the room closes (orders stops asking for admissions).
  redis.call('HDEL', room, 'onSaleAt')
  redis.call('HSET', room, 'version', version)
  redis.call('SREM', rooms, ARGV[1])
  return 1
end
redis.call('HSET', room, 'version', version, 'onSaleAt', ARGV[3], 'available', ARGV[4],
           'quantity', ARGV[5])
if ARGV[6] == '' then
  redis.call('HDEL', room, 'limit')
else
  redis.call('HSET', room, 'limit', ARGV[6])
end
redis.call('SADD', rooms, ARGV[1])
return 1
