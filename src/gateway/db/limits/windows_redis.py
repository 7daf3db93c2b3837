"""The sliding-window counters of `rate_windows`, kept in Redis: one Lua script per request
start (check and count every window, take a concurrency slot) and one at its end.

While Redis is unreachable the in-process counters take over (limits then hold per
process); they hand back when Redis answers again.
"""

from __future__ import annotations

import math

from gateway.db.limits.windows import BUCKETS, Admission, MemoryWindows, Slot, Usage, Window
from gateway.db.redis_link import RedisLink

# Each window is a hash: field "t" = total, "o" = oldest live bucket, "<n>" = bucket n.
_EXPIRE_AND_READ = """
local function window(key, current)
  local oldest = tonumber(redis.call('HGET', key, 'o') or current)
  local total = tonumber(redis.call('HGET', key, 't') or '0')
  local horizon = current - BUCKETS
  if oldest < horizon then
    if horizon - oldest > BUCKETS + 1 then
      redis.call('DEL', key)
      total = 0
    else
      for index = oldest, horizon - 1 do
        local count = redis.call('HGET', key, tostring(index))
        if count then
          total = total - tonumber(count)
          redis.call('HDEL', key, tostring(index))
        end
      end
    end
    oldest = horizon
    redis.call('HSET', key, 't', total, 'o', oldest)
  end
  return total, oldest
end
local function first_bucket(key, oldest, current)
  for index = oldest, current do
    if redis.call('HEXISTS', key, tostring(index)) == 1 then return index end
  end
  return oldest
end
local function retry_bucket(key, oldest, current, total, amount, limit)
  local freed = 0
  for index = oldest, current do
    local count = redis.call('HGET', key, tostring(index))
    if count then
      freed = freed + tonumber(count)
      if total - freed + amount <= limit then return index end
    end
  end
  return -1
end
"""

# ARGV: now, n, then per window: width, limit, amount; then slot limit, member, expiry.
# KEYS: the n window hashes, then the slot's sorted set (if ARGV has a slot).
_ADMIT = (
    _EXPIRE_AND_READ
    + """
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local failed = -1
local totals, oldests, currents, widths = {}, {}, {}, {}
for i = 1, n do
  local width = tonumber(ARGV[3 * i])
  local limit = tonumber(ARGV[3 * i + 1])
  local amount = tonumber(ARGV[3 * i + 2])
  local current = math.floor(now / width)
  local total, oldest = window(KEYS[i], current)
  totals[i], oldests[i], currents[i], widths[i] = total, oldest, current, width
  if failed < 0 and total + amount > limit then failed = i - 1 end
end
local slot = ARGV[3 * n + 3]
if failed < 0 and slot then
  local zkey = KEYS[n + 1]
  redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now)
  if redis.call('ZCARD', zkey) >= tonumber(slot) then failed = n end
end
local out = {failed}
for i = 1, n do
  local key = KEYS[i]
  local amount = tonumber(ARGV[3 * i + 2])
  if failed < 0 then
    redis.call('HINCRBY', key, tostring(currents[i]), amount)
    totals[i] = redis.call('HINCRBY', key, 't', amount)
    redis.call('HSETNX', key, 'o', oldests[i])
    redis.call('PEXPIRE', key, math.ceil(widths[i] * (BUCKETS + 2)))
  end
  local retry = -1
  if failed == i - 1 then
    retry = retry_bucket(key, oldests[i], currents[i], totals[i], amount, tonumber(ARGV[3 * i + 1]))
  end
  table.insert(out, totals[i])
  table.insert(out, first_bucket(key, oldests[i], currents[i]))
  table.insert(out, currents[i])
  table.insert(out, retry)
end
if failed < 0 and slot then
  local zkey = KEYS[n + 1]
  redis.call('ZADD', zkey, tonumber(ARGV[3 * n + 5]), ARGV[3 * n + 4])
  redis.call('PEXPIRE', zkey, math.ceil(tonumber(ARGV[3 * n + 5]) - now))
end
return out
"""
)

# ARGV: n, then per window: bucket, delta; then the slot member. KEYS: windows, slot set.
_FINISH = """
local n = tonumber(ARGV[1])
for i = 1, n do
  local key = KEYS[i]
  local bucket = ARGV[2 * i]
  local delta = tonumber(ARGV[2 * i + 1])
  if delta ~= 0 and redis.call('HEXISTS', key, bucket) == 1 then
    redis.call('HINCRBY', key, bucket, delta)
    redis.call('HINCRBY', key, 't', delta)
  end
end
local member = ARGV[2 * n + 2]
if member then redis.call('ZREM', KEYS[n + 1], member) end
return 1
"""

_PEEK = (
    _EXPIRE_AND_READ
    + """
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local current = math.floor(now / tonumber(ARGV[i + 1]))
  local total, oldest = window(KEYS[i], current)
  table.insert(out, total)
  table.insert(out, first_bucket(KEYS[i], oldest, current))
end
return out
"""
)


def _script(body: str) -> str:
    return f"local BUCKETS = {BUCKETS}\n" + body


def _reset(total: int, first: int, width: float, now: float) -> float:
    return max(0.0, (first + BUCKETS + 1) * width - now) if total > 0 else 0.0


class RedisWindows:
    remote = True

    def __init__(self, link: RedisLink, fallback: MemoryWindows) -> None:
        self._link = link
        self._fallback = fallback
        self._admit = link.client.register_script(_script(_ADMIT))
        self._finish = link.client.register_script(_FINISH)
        self._peek = link.client.register_script(_script(_PEEK))

    def _key(self, name: str) -> str:
        return self._link.key(f"rl:{name}")

    async def admit(self, windows: list[Window], slot: Slot | None, *, now: float) -> Admission:
        # Milliseconds keep the Lua arithmetic in integers.
        keys = [self._key(w.key) for w in windows]
        args: list[float | str] = [now * 1000, len(windows)]
        for w in windows:
            args += [w.width * 1000, w.limit, w.amount]
        if slot is not None:
            keys.append(self._key(slot.key))
            args += [slot.limit, slot.member, (now + slot.ttl) * 1000]
        raw = await self._link.run(lambda client: self._admit(keys=keys, args=args), None)
        if raw is None:
            return await self._fallback.admit(windows, slot, now=now)
        failed = int(raw[0])
        usage, buckets = [], []
        for index, window in enumerate(windows):
            total, first, current, retry = (int(v) for v in raw[1 + 4 * index : 5 + 4 * index])
            retry_after = 0.0
            if index == failed:
                fits = window.amount <= window.limit and retry >= 0
                retry_after = max(0.0, (retry + BUCKETS + 1) * window.width - now) if fits else math.inf
            usage.append(Usage(total, _reset(total, first, window.width, now), retry_after))
            buckets.append(current)
        return Admission(failed < 0, None if failed < 0 else failed, usage, buckets)

    async def finish(self, corrections: list[tuple[Window, int, int]], slot: Slot | None, *, now: float) -> None:
        keys = [self._key(w.key) for w, _, _ in corrections]
        args: list[float | str] = [len(corrections)]
        for _, bucket, delta in corrections:
            args += [bucket, delta]
        if slot is not None:
            keys.append(self._key(slot.key))
            args.append(slot.member)
        done = await self._link.run(lambda client: self._finish(keys=keys, args=args), None)
        if done is None:
            await self._fallback.finish(corrections, slot, now=now)

    async def peek(self, windows: list[Window], *, now: float) -> list[Usage]:
        if not windows:
            return []
        keys = [self._key(w.key) for w in windows]
        args = [now * 1000, *(w.width * 1000 for w in windows)]
        raw = await self._link.run(lambda client: self._peek(keys=keys, args=args), None)
        if raw is None:
            return await self._fallback.peek(windows, now=now)
        return [
            Usage(int(raw[2 * i]), _reset(int(raw[2 * i]), int(raw[2 * i + 1]), w.width, now))
            for i, w in enumerate(windows)
        ]
