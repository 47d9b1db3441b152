-- Admit the next people in line: as many as the room's rate allows over the last minute, at
-- most `per_round` at once (spread, not all at the minute's start), and never more unexpired,
-- unused admissions than seats available.
-- KEYS: room, line, admitted, leases, recent, log
-- ARGV: now (ms), per_minute, per_round, lease (ms)
-- Returns the accounts admitted (in order).
local room, line, admitted, leases, recent, log = unpack(KEYS)
local now = tonumber(ARGV[1])
local state = redis.call('HMGET', room, 'drawn', 'available')
if not state[1] then
  return {}
end
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - 60000)
local seats = tonumber(state[2] or '0') - redis.call('ZCARD', leases)
local rate = tonumber(ARGV[2]) - redis.call('ZCARD', recent)
local count = math.min(seats, rate, tonumber(ARGV[3]))
if count <= 0 then
  return {}
end
local next_people = redis.call('ZPOPMIN', line, count)
local accounts = {}
local lease_end = now + tonumber(ARGV[4])
for i = 1, #next_people, 2 do
  local account = next_people[i]
  local serial = redis.call('HINCRBY', room, 'admittedTotal', 1)
  redis.call('ZADD', admitted, lease_end, account)
  redis.call('ZADD', leases, lease_end, account)
  redis.call('ZADD', recent, now, serial)
  redis.call('RPUSH', log, account)
  accounts[#accounts + 1] = account
end
return accounts
