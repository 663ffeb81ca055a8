"""Distributed: the same prefix-step clients as ``bench lote``, run by 1, 2 and 4 Celery workers
(Redis broker and limits, PostgreSQL store, all on loopback), 300 ms per request.

Per level: fresh clients, a fresh database, Redis emptied; k workers (``--concurrency 1`` each: one
browser per worker process) started and waited for before the clock starts; then
``python -m flows.lote --distribuido --solo <clients>`` is timed from start to exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from bench.common import REPO, Result, fmt, md_table
from bench.env import BenchEnv, finished
from bench.lote import count_done, seed_prefix_clients


def _start_workers(env: BenchEnv, count: int, extra: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    full = {**os.environ, **env.env, **extra}
    workers = []
    for i in range(count):
        cmd = [sys.executable, "-m", "celery", "-A", "flows.distribuido", "worker", "--pool", "prefork",
               "--concurrency", "1", "-n", f"bench{i}@%h", "--loglevel", "WARNING", "--without-gossip",
               "--without-mingle"]
        workers.append(subprocess.Popen(cmd, cwd=REPO, env=full, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True))
    return workers


def _wait_ready(broker: str, count: int, timeout: float = 120) -> None:
    from flows.distribuido import app

    app.conf.broker_url = broker
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.inspect(timeout=1.0).ping() or {}
        if len(replies) >= count:
            return
    raise TimeoutError(f"{count} trabajadores no respondieron en {timeout:g} s")


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        if w.poll() is None:
            os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)


def one_level(env: BenchEnv, clients: int, workers: int, pg: Any, redis_url: str) -> dict[str, Any]:
    import redis

    env.profiles.clear()
    env.secrets.clear()
    url = pg.create_database()
    nits = seed_prefix_clients(env, clients, url)
    redis.Redis.from_url(redis_url).flushall()
    extra = {"DIAN_STATE_URL": url, "DIAN_BROKER_URL": redis_url, "DIAN_RATE_PER_HOST_S": "0"}
    procs = _start_workers(env, workers, extra)
    try:
        _wait_ready(redis_url, workers)
        env_before = dict(env.env)
        env.env.update(extra)
        started = time.monotonic()
        proc = env.popen("flows.lote", "--prefijo", "FE", "--desde", "1", "--hasta", "100", "--distribuido",
                         "--json", "--solo", *nits)
        out, err = proc.communicate(timeout=7200)
        wall = time.monotonic() - started
        env.env = env_before
    finally:
        _stop(procs)
    run = finished(proc.returncode, wall, out, err)
    ok, statuses = count_done(run.data)
    return {"workers": workers, "clients": clients, "wall_s": wall, "ok": ok, "statuses": statuses,
            "clients_per_min": ok * 60 / wall if wall else float("nan"), "exit": proc.returncode}


def run(rapido: bool = False, *, clientes: int | None = None, trabajadores: list[int] | None = None,
        latencias_ms: list[float] | None = None) -> Result:
    from tests.fixtures_servers import Postgres, Redis

    n = clientes or (4 if rapido else 40)
    levels = sorted(set(trabajadores or ([1, 2] if rapido else [1, 2, 4])))
    latency_ms = (latencias_ms or [300])[0]
    result = Result(
        "distribuido",
        f"Distribuido: {n} clientes por el paso del prefijo con 1/2/4 trabajadores Celery, latencia {latency_ms:g} ms",
        (
            "Redis (cola y límites) and PostgreSQL (estado, diario de pasos, bloqueos) on loopback; per level a fresh "
            "database, Redis emptied, fresh clients whose store says every step before asociar_prefijo is done; "
            "k workers `celery -A flows.distribuido worker --concurrency 1` started and answering a ping before "
            "the clock starts; wall = `python -m flows.lote --distribuido --solo <clients>` from start to exit "
            "(enqueue, every client's task, the report); DIAN_RATE_PER_HOST_S=0; clients/min counts clients left "
            "with nothing pending; speed-up over the lowest level in the same run."
        ),
        config={"clients": n, "workers": levels, "latency_ms": latency_ms},
    )
    per_level: list[dict[str, Any]] = []
    pg, rd = Postgres(), Redis()
    try:
        with BenchEnv() as env:
            env.world.faults.set_request_latency(latency_ms / 1000)
            for k in levels:
                per_level.append(one_level(env, n, k, pg, rd.url))
            env.world.faults.set_request_latency(0.0)
    finally:
        rd.close()
        pg.close()
    first = per_level[0]
    rows = []
    for level in per_level:
        speedup = level["clients_per_min"] / first["clients_per_min"] if first["clients_per_min"] else float("nan")
        level["speedup"] = speedup
        rows.append([level["workers"], f"{level['ok']}/{n}", fmt(level["wall_s"], 1), fmt(level["clients_per_min"], 2),
                     fmt(speedup, 2) + "x"])
        if level["ok"] < n:
            result.notes.append(f"{level['workers']} trabajador(es): {n - level['ok']} cliente(s) no terminaron: "
                                f"{level['statuses']}.")
    result.notes.append(f"Equipo de {os.cpu_count()} núcleos: cada trabajador lleva su Chromium; por encima de los "
                        "núcleos la aceleración la limita la CPU, no la cola.")
    result.figures["levels"] = per_level
    result.tables.append(md_table(["trabajadores", "ok", "total s", "clientes/min", "aceleración"], rows))
    return result
