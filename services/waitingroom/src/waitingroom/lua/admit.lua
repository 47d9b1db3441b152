-- Admit the next people in line: as many as the room's rate allows over the last minute, at
-- most `per_round` at once (spread, not all at the minute's start), and only while a seat is
-- left that no unexpired admission holds.
--
-- Each admission holds the ticket's per-buyer limit (1 without one), or every seat left when
-- fewer are: so the last seats of a sale are sold too, to someone admitted for fewer than the
-- limit. Every admission holds at least one seat, so there are never more unexpired admissions
-- than seats left, and the seats held never exceed them (orders may still take more than an
-- admission holds: docs/waiting-room.md, "How it admits").
-- KEYS: room, line, admitted, leases, reserve, recent, log
-- ARGV: now (ms), per_minute, per_round, lease (ms)
-- Returns the accounts admitted (in order).
local room, line, admitted, leases, reserve, recent, log = unpack(KEYS)
local now = tonumber(ARGV[1])
local state = redis.call('HMGET', room, 'drawn', 'available', 'limit', 'reserved')
if not state[1] then
  return {}
end
local reserved = tonumber(state[4] or '0')
for _, account in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
  reserved = reserved - tonumber(redis.call('HGET', reserve, account) or '0')
  redis.call('HDEL', reserve, account)
end
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - 60000)
local limit = tonumber(state[3] or '1')
local free = tonumber(state[2] or '0') - reserved
local count = 0
if free > 0 then
  local rate = tonumber(ARGV[2]) - redis.call('ZCARD', recent)
  count = math.min(math.ceil(free / limit), rate, tonumber(ARGV[3]))
end
if count > 0 then
  local next_people = redis.call('ZPOPMIN', line, count)
  local accounts = {}
  local lease_end = now + tonumber(ARGV[4])
  for i = 1, #next_people, 2 do
    local account = next_people[i]
    local held = math.min(limit, free)
    local serial = redis.call('HINCRBY', room, 'admittedTotal', 1)
    redis.call('ZADD', admitted, lease_end, account)
    redis.call('ZADD', leases, lease_end, account)
    redis.call('HSET', reserve, account, held)
    redis.call('ZADD', recent, now, serial)
    -- With its place, so the log shows admissions in the line's order (an audit).
    redis.call('RPUSH', log, account .. ' ' .. next_people[i + 1])
    reserved = reserved + held
    free = free - held
    accounts[#accounts + 1] = account
  end
  redis.call('HSET', room, 'reserved', reserved)
  return accounts
end
redis.call('HSET', room, 'reserved', reserved)
return {}
