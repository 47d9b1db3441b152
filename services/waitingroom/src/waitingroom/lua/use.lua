-- An admitted account ordered `seats`. An admission is for one purchase: its first order ends
-- what it holds, and whatever that order did not take goes back to the seats left at once, for
-- the next in line. The seats left drop by the order at once too, in the same step, unless the
-- room has a ticket event newer than the one the order was placed against: the event that
-- reports the order's seats (newer by construction) may be that one, and counting them twice
-- would keep seats from the line until the next event, which may never come. A second order
-- with the same admission, or an order by anyone else, changes nothing here.
-- KEYS: room, leases, reserve, ordered (the orders heard of: a redelivery changes nothing)
-- ARGV: account, seats, order id, the ticket's version the order was placed against ('': not
--       told)
-- Returns the seats the admission held (0: it held none).
local room, leases, reserve, ordered = unpack(KEYS)
local account = ARGV[1]
local held = redis.call('HGET', reserve, account)
if not held or redis.call('SADD', ordered, ARGV[3]) == 0 then
  return 0
end
redis.call('HDEL', reserve, account)
redis.call('ZREM', leases, account)
redis.call('HINCRBY', room, 'reserved', -tonumber(held))
local state = redis.call('HMGET', room, 'available', 'version')
if ARGV[4] == '' or tonumber(state[2] or '0') <= tonumber(ARGV[4]) then
  local available = tonumber(state[1] or '0')
  redis.call('HSET', room, 'available', math.max(0, available - tonumber(ARGV[2])))
end
return tonumber(held)
