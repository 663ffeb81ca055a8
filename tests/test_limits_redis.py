"""bots.state.limits: the rate limit and the circuit breakers in Redis, shared by every process and
riding out a Redis restart."""

from __future__ import annotations

import itertools
import multiprocessing
import time
from datetime import UTC, datetime, timedelta

from bots.state.limits import RedisLimits
from tests.fixtures_servers import Redis


def _take(url: str, count: int, interval: float, out: multiprocessing.queues.Queue) -> None:  # type: ignore[name-defined]
    limits = RedisLimits(url)
    for _ in range(count):
        out.put(time.time() + limits.take_slot("catalogo-vpfe-hab.dian.gov.co", interval))


def test_three_processes_share_one_request_rate(redis_server: Redis) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [ctx.Process(target=_take, args=(redis_server.url, 5, 0.1, out)) for _ in range(3)]
    for w in workers:
        w.start()
    slots = sorted(out.get(timeout=60) for _ in range(15))
    for w in workers:
        w.join(30)
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert slots[-1] - slots[0] > 1.3 and min(gaps) > 0.03, gaps  # one slot every 0.1 s for all of them
    assert RedisLimits(redis_server.url).take_slot("otro.host", 0.1) == 0.0  # hosts are independent


def test_the_breaker_counts_errors_from_every_process_and_a_success_resets_it(redis_server: Redis) -> None:
    a, b = RedisLimits(redis_server.url), RedisLimits(redis_server.url)
    pause = timedelta(minutes=30)
    assert not a.portal_error("muisca", "HTTP 500", threshold=3, pause=pause).is_open(datetime.now(UTC))
    b.portal_ok("muisca")
    a.portal_error("muisca", "HTTP 500", threshold=3, pause=pause)
    b.portal_error("muisca", "HTTP 500", threshold=3, pause=pause)
    opened = a.portal_error("muisca", "Servicio no disponible", threshold=3, pause=pause)
    assert opened.is_open(datetime.now(UTC)) and opened.consecutive == 3
    assert b.breaker("muisca").last_text == "Servicio no disponible"
    assert [x.portal for x in b.breakers()] == ["muisca"]
    b.close_breakers()  # a new run tries the portal again; the count stays until a success
    assert not a.breaker("muisca").is_open(datetime.now(UTC)) and a.breaker("muisca").consecutive == 3


def test_limits_ride_out_a_redis_restart(redis_server: Redis) -> None:
    limits = RedisLimits(redis_server.url)
    limits.portal_error("produccion", "HTTP 503", threshold=1, pause=timedelta(minutes=5))
    redis_server.restart()  # SHUTDOWN and start again: the client reconnects, the state is kept (AOF)
    assert limits.breaker("produccion").is_open(datetime.now(UTC))
    assert limits.take_slot("h", 0.5) == 0.0 and 0.4 < limits.take_slot("h", 0.5) <= 0.5


def test_a_request_waits_for_redis_rather_than_going_out_unthrottled(redis_server: Redis) -> None:
    import threading

    limits = RedisLimits(redis_server.url)
    limits.take_slot("h", 0.2)
    redis_server.stop()
    threading.Timer(1.5, redis_server.start).start()  # Redis is back 1.5 s later
    started = time.monotonic()
    wait = limits.take_slot("h", 0.2)  # blocks while Redis is down, then gets its slot
    assert time.monotonic() - started > 1.0 and wait >= 0.0
