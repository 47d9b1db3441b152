-- The draw: everyone who joined before the sale, in the order the caller shuffled them (with
-- a CSPRNG: Lua's math.random is not one), takes places 1..n. Once per room; only the exact
-- set of early joiners is accepted, so a draw computed from a stale read is refused.
-- KEYS: room, early, line
-- ARGV: now (ms), account 1, account 2, ...
-- Returns: n drawn | -1 not yet time | -2 the set changed, read and shuffle again | 0 drawn before
local room, early, line = unpack(KEYS)
local state = redis.call('HMGET', room, 'onSaleAt', 'drawn')
if state[2] then
  return 0
end
if not state[1] or tonumber(ARGV[1]) < tonumber(state[1]) then
  return -1
end
local drawn = #ARGV - 1
if drawn ~= redis.call('SCARD', early) then
  return -2
end
for i = 2, #ARGV do
  if redis.call('SISMEMBER', early, ARGV[i]) == 0 then
    return -2
  end
end
for i = 2, #ARGV, 1000 do
  local places = {}
  for j = i, math.min(i + 999, #ARGV) do
    places[#places + 1] = j - 1
    places[#places + 1] = ARGV[j]
  end
  redis.call('ZADD', line, unpack(places))
end
redis.call('DEL', early)
redis.call('HSET', room, 'drawn', ARGV[1], 'drawnCount', drawn)
return drawn
