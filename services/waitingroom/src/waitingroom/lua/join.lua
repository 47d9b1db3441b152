-- One account joins one room, atomically: the address's rate, the room's opening, the proof of
-- work's single use, and the place itself.
-- KEYS: room, early, line, admitted, leases, reserve, joins (the address's window),
--       proof (the challenge)
-- ARGV: account, now (ms), opens_before (ms), joins_per_window, window (s), proof_ttl (s)
-- Returns {outcome, detail}: joined | existing | no-room | rate (detail: retry after, s) |
-- not-open | proof-used
local room, early, line, admitted, leases, reserve, joins, proof = unpack(KEYS)
local account, now = ARGV[1], tonumber(ARGV[2])

local on_sale = redis.call('HGET', room, 'onSaleAt')
if not on_sale then
  return {'no-room', 0}
end
on_sale = tonumber(on_sale)

local attempts = redis.call('INCR', joins)
if attempts == 1 then
  redis.call('EXPIRE', joins, tonumber(ARGV[5]))
end
if attempts > tonumber(ARGV[4]) then
  return {'rate', redis.call('TTL', joins)}
end
if now < on_sale - tonumber(ARGV[3]) then
  return {'not-open', 0}
end

-- One place per account: asking again (a retry, a second tab) is the same place, and costs
-- no proof of work. Only an admission that lapsed unused sends the account to the back.
local lease = redis.call('ZSCORE', admitted, account)
if lease and tonumber(lease) > now then
  return {'existing', 0}
end
if not lease and (redis.call('ZSCORE', line, account) or
                  redis.call('SISMEMBER', early, account) == 1) then
  return {'existing', 0}
end
if not redis.call('SET', proof, '1', 'NX', 'EX', tonumber(ARGV[6])) then
  return {'proof-used', 0}
end
if lease then
  -- Lapsed: its reserve (if the round has not dropped it yet) is dropped with it.
  local held = redis.call('HGET', reserve, account)
  if held then
    redis.call('HINCRBY', room, 'reserved', -tonumber(held))
    redis.call('HDEL', reserve, account)
  end
  redis.call('ZREM', admitted, account)
  redis.call('ZREM', leases, account)
end
if now < on_sale then
  redis.call('SADD', early, account)
else
  -- Behind everyone drawn (they hold places 1..n, n < 10^9) in order of arrival, whenever
  -- the draw is. (Lua writes numbers with 14 digits: these stay exact.)
  local arrival = redis.call('HINCRBY', room, 'arrivals', 1)
  redis.call('ZADD', line, 1000000000 + arrival, account)
end
return {'joined', 0}
