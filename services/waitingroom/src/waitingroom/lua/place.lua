-- One account's place, read in one step.
-- KEYS: room, early, line, admitted, recent
-- ARGV: account, now (ms)
-- Returns {status, ...}:
--   {'none'} | {'early', on_sale, available} | {'admitted', lease_end, on_sale, available} |
--   {'waiting', ahead, available, admitted_last_minute, on_sale, drawn_at, reserved}
local room, early, line, admitted, recent = unpack(KEYS)
local account, now = ARGV[1], tonumber(ARGV[2])
local state = redis.call('HMGET', room, 'onSaleAt', 'available', 'drawn', 'reserved')
if not state[1] then
  return {'none'}
end
local lease = redis.call('ZSCORE', admitted, account)
if lease then
  return {'admitted', lease, state[1], state[2] or '0'}
end
local ahead = redis.call('ZRANK', line, account)
if ahead then
  local rate = redis.call('ZCOUNT', recent, now - 60000, '+inf')
  return {'waiting', ahead, state[2] or '0', rate, state[1], state[3] or '', state[4] or '0'}
end
if redis.call('SISMEMBER', early, account) == 1 then
  return {'early', state[1], state[2] or '0'}
end
return {'none'}
