"""Limits every worker must share: the per-host request rate and the per-portal circuit breakers.

On one machine the store holds them (``Store.take_slot``, ``Store.portal_error`` ...). When workers
run on several machines (``DIAN_BROKER_URL`` set) they live in Redis, behind the same methods, so
the runner, the workers and the report do not care which:

- rate: one key per host holding the epoch of its next free slot; a Lua script takes the slot
  atomically (slot = max(now, next); next = slot + interval) by Redis's own clock (``TIME``);
- breaker: one hash per portal (consecutive errors, open until, DIAN's last text), updated by a
  Lua script so that two workers counting at once count twice.

While Redis is unreachable (restarting), every call retries with a growing pause for about a
minute and then raises: a request never goes out unthrottled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from bots.state.store import Breaker

PREFIX = "dian:"

_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nxt)
redis.call('SET', KEYS[1], string.format('%.6f', slot + tonumber(ARGV[1])), 'EX', 86400)
return string.format('%.6f', slot - now)
"""

_PORTAL_ERROR = """
local count = redis.call('HINCRBY', KEYS[1], 'consecutive', 1)
redis.call('HSET', KEYS[1], 'last_text', ARGV[3])
if count >= tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'open_until', ARGV[2]) end
redis.call('SADD', KEYS[2], ARGV[4])
return count
"""


class Limits(Protocol):
    """What the nightly run needs of its shared limits (``Store`` and ``RedisLimits`` both give it)."""

    def take_slot(self, host: str, interval_s: float) -> float: ...
    def breaker(self, portal: str) -> Breaker: ...
    def breakers(self) -> list[Breaker]: ...
    def portal_error(self, portal: str, text: str, *, threshold: int, pause: timedelta) -> Breaker: ...
    def portal_ok(self, portal: str) -> None: ...
    def close_breakers(self) -> None: ...


def redis_client(url: str) -> redis.Redis:
    """A Redis client that rides out a restart: ~60 s of retries with a growing pause, then raises."""
    return redis.Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=5, socket_timeout=30, health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=40),
        retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
    )


class RedisLimits:
    """The rate limit and the breakers in Redis (shared by every worker on every machine)."""

    def __init__(self, url: str) -> None:
        self.redis = redis_client(url)
        self._take = self.redis.register_script(_TAKE_SLOT)
        self._error = self.redis.register_script(_PORTAL_ERROR)

    def close(self) -> None:
        self.redis.close()

    def take_slot(self, host: str, interval_s: float) -> float:
        """Reserve ``host``'s next request slot; how long to wait (s) before using it."""
        return max(0.0, float(self._take(keys=[f"{PREFIX}ritmo:{host}"], args=[f"{interval_s:.6f}"])))

    def breaker(self, portal: str) -> Breaker:
        data = {str(k): str(v) for k, v in self.redis.hgetall(f"{PREFIX}interruptor:{portal}").items()}
        until = data.get("open_until") or None
        return Breaker(portal, int(data.get("consecutive", 0)), datetime.fromisoformat(until) if until else None,
                       data.get("last_text") or None)

    def breakers(self) -> list[Breaker]:
        return [self.breaker(str(p)) for p in sorted(self.redis.smembers(f"{PREFIX}interruptores"))]

    def portal_error(self, portal: str, text: str, *, threshold: int, pause: timedelta) -> Breaker:
        """Count a portal error; at ``threshold`` in a row the portal is paused for ``pause``."""
        until = (datetime.now(UTC) + pause).isoformat()
        self._error(keys=[f"{PREFIX}interruptor:{portal}", f"{PREFIX}interruptores"],
                    args=[threshold, until, text[:500], portal])
        return self.breaker(portal)

    def portal_ok(self, portal: str) -> None:
        self.redis.hset(f"{PREFIX}interruptor:{portal}", "consecutive", 0)

    def close_breakers(self) -> None:
        """A new run: paused portals are tried again (the count stays until a success)."""
        for portal in self.redis.smembers(f"{PREFIX}interruptores"):
            self.redis.hdel(f"{PREFIX}interruptor:{portal!s}", "open_until")
