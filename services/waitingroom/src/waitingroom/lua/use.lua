-- An admitted account ordered `seats`: its admission reserves that many fewer (its order holds
-- them now), and nothing once it has ordered its limit. The seats left drop at once too, in the
-- same step: the ticket event that reports them arrives later (its whole state, by version,
-- then replaces this count). An order by anyone else changes nothing.
-- KEYS: room, leases, reserve, ordered (the orders heard of: a redelivery changes nothing)
-- ARGV: account, seats, order id
local room, leases, reserve, ordered = unpack(KEYS)
local account = ARGV[1]
local held = redis.call('HGET', reserve, account)
if not held or redis.call('SADD', ordered, ARGV[3]) == 0 then
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
local available = tonumber(redis.call('HGET', room, 'available') or '0')
redis.call('HSET', room, 'available', math.max(0, available - tonumber(ARGV[2])))
return taken
