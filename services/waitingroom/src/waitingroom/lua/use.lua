-- An admitted account ordered `seats`: its admission reserves that many fewer (its order holds
-- them now), and nothing once it has ordered its limit. An order by anyone else changes nothing.
-- KEYS: room, leases, reserve
-- ARGV: account, seats
local room, leases, reserve = unpack(KEYS)
local account = ARGV[1]
local held = redis.call('HGET', reserve, account)
if not held then
  return 0
end
local taken = math.min(tonumber(held), tonumber(ARGV[2]))
local left = tonumber(held) - taken
if left > 0 then
  redis.call('HSET', reserve, account, left)
else
  redis.call('HDEL', reserve, account)
  redis.call('ZREM', leases, account)
end
redis.call('HINCRBY', room, 'reserved', -taken)
return taken
