"""The nightly run on Celery workers: many machines, one Redis, one PostgreSQL.

    celery -A flows.distribuido worker --concurrency 2 --loglevel INFO      # on each machine
    python -m flows.lote --distribuido --prefijo FE --desde 1 --hasta 5000  # the producer (cron)

Same flow code as the embedded run (``flows.lote.advance_once``); what changes is who runs it:

- **One task = one client's next due step.** The task takes the client's lease in the store (a
  lock with an expiry: a killed worker's client is free again ``DIAN_LEASE_TTL_S`` later), runs
  ``advance_once`` and, when the client's next step is due tonight within ten minutes (a retry
  backoff, the next step right away), enqueues the next task with that ETA. A client found locked is
  retried later, never dropped.
- **Delivery**: ``acks_late`` + ``task_reject_on_worker_lost`` (a task whose worker dies goes back to
  the queue), prefetch 1, ``worker_max_tasks_per_child`` = ``DIAN_WORKER_MAX_TASKS`` (a process and
  its browser are renewed), a visibility timeout longer than any task plus its countdown.
  A task delivered twice is harmless: what is due is read from the store, under the lease, and
  every irreversible click goes through the step journal (in PostgreSQL) and reads DIAN first.
- **One browser per worker process**, started at its first client and closed when the process ends.
- **Shared limits** (rate per DIAN host, circuit breakers) live in Redis (``bots.state.limits``).
- **The producer** enqueues only clients whose next step is due, then waits on a Redis channel
  where each client's last task reports; every 30 s without news it reconciles against the store
  and re-enqueues a due client whose task was lost (a Redis restart without its data, a worker
  killed before it acknowledged). It writes the same report and exits with the same code as the
  embedded run.

Per-run bookkeeping in Redis (``dian:corrida:<run_id>``, kept 7 days): one JSON entry per client —
state (encolado / en_curso / programado / terminado), since when, the flows that ran, the
irreversible clicks made, why it stopped.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from celery import Celery, uuid
from celery.signals import worker_process_init, worker_process_shutdown

from bots.config import load_settings
from bots.log import bind, bound, get_logger

if TYPE_CHECKING:
    from collections.abc import Sequence

    import redis

    from bots.config import Client, Settings
    from flows.lote import NightOptions

log = get_logger(__name__)

#: A client due again within this long is re-enqueued with an ETA; later waits go to the next run.
MAX_COUNTDOWN_S = 600.0
#: The producer's reconciliation period (how long it waits for news before looking at the store).
RECONCILE_S = 30.0
RUN_TTL_S = 7 * 24 * 3600
EN_COLA, EN_CURSO, PROGRAMADO, TERMINADO = "encolado", "en_curso", "programado", "terminado"


def _make_app() -> Celery:
    settings = load_settings()
    app = Celery("dian", broker=settings.broker_url or "redis://127.0.0.1:6379/0")
    app.conf.update(
        task_acks_late=True,  # acknowledged after the step, not before: a dead worker's task comes back
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker process holds one task at a time
        worker_max_tasks_per_child=settings.worker_max_tasks,
        task_ignore_result=True,  # results go to the store and the run's entry in Redis
        task_serializer="json",
        accept_content=["json"],
        # longer than the longest flow (~1 h with DIAN's slowest pages) plus the longest countdown
        broker_transport_options={"visibility_timeout": 3 * 3600},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for Redis to come back, however long
        worker_hijack_root_logger=False,
        worker_send_task_events=True,  # `celery -A flows.distribuido events` / Flower can watch
        task_send_sent_event=True,
    )
    return app


app = _make_app()


# --- worker side -----------------------------------------------------------------------------------

_PROCESS: dict[str, Any] = {}


@worker_process_init.connect
def _process_start(**_: Any) -> None:
    """A worker process starts: logging as the robot's; its browser starts with its first client."""
    from bots.log import configure_logging

    configure_logging(load_settings())


@worker_process_shutdown.connect
def _process_end(**_: Any) -> None:
    """The process ends (recycled or stopped): close its browser and IMAP connections."""
    from bots.browser import shutdown

    watchers = _PROCESS.pop("watchers", None)
    if watchers is not None:
        watchers.close()
    shutdown()


def run_key(run_id: str) -> str:
    return f"dian:corrida:{run_id}"


def events_channel(run_id: str) -> str:
    return f"dian:corrida:{run_id}:eventos"


def _entry(r: redis.Redis, run_id: str, nit: str) -> dict[str, Any]:
    raw = r.hget(run_key(run_id), nit)
    return json.loads(str(raw)) if raw else {"nit": nit, "ran": [], "irreversibles": []}


def _put(r: redis.Redis, run_id: str, nit: str, entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
    entry.update(changes, at=time.time())
    r.hset(run_key(run_id), nit, json.dumps(entry, ensure_ascii=False))
    r.expire(run_key(run_id), RUN_TTL_S)
    return entry


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@app.task(name="dian.avanzar", bind=True, max_retries=None)
def avanzar(self: Any, nit: str, options: dict[str, Any]) -> None:
    """Advance one client by one step (see the module docstring)."""
    from bots import retry, steps
    from bots.config import load_clients
    from flows.lote import NightOptions, _worker_resources, advance_once

    night = NightOptions(**options)
    settings = load_settings(clients_file=night.clients_file)
    retry.configure(settings.read_attempts, settings.read_backoff_max_s)
    store, limits, watchers = _worker_resources(settings)
    _PROCESS["watchers"] = watchers
    r = limits.redis if hasattr(limits, "redis") else None
    if r is None:
        raise RuntimeError("el modo distribuido necesita DIAN_BROKER_URL (Redis) en cada trabajador")
    bind(run_id=night.run_id, client=nit)
    entry = _entry(r, night.run_id, nit)
    if entry.get("tarea") not in (None, self.request.id) or entry.get("estado") == TERMINADO:
        log.info("tarea reemplazada o cliente ya terminado en esta corrida; sin efecto", client=nit)
        return
    lease = store.lease(nit, ttl_s=settings.lease_ttl_s, holder=_holder())
    if not lease.acquire():
        log.info("cliente en proceso en otro trabajador; se reintenta más tarde", client=nit)
        raise self.retry(countdown=max(5.0, settings.lease_ttl_s / 3))
    try:
        entry = _put(r, night.run_id, nit, entry, estado=EN_CURSO, trabajador=_holder())
        client: Client = load_clients(settings.clients_file)[nit]
        with bound(client=nit):
            step = advance_once(nit, client, night, settings, store=store, limits=limits, watchers=watchers)
        if step.ran:
            entry["ran"].append(step.ran)
        entry["irreversibles"] = list(dict.fromkeys([*entry["irreversibles"], *steps.done_this_run(nit)]))
        wait_s = None if step.again_at is None else (step.again_at - datetime.now(UTC)).total_seconds()
        if wait_s is not None and wait_s <= MAX_COUNTDOWN_S:
            enqueue(r, night.run_id, nit, options, entry, countdown=max(0.0, wait_s))
            return
        extra = {"paused": step.paused} if step.paused else {}
        _put(r, night.run_id, nit, entry, estado=TERMINADO, stopped=step.stopped, **extra)
        r.publish(events_channel(night.run_id), nit)
    finally:
        lease.release()


def enqueue(r: redis.Redis, run_id: str, nit: str, options: dict[str, Any], entry: dict[str, Any], *,
            countdown: float = 0.0) -> None:
    """Send the client's next task. Its id is written to the run's entry first: a task whose id is
    no longer the entry's (replaced after it was thought lost) does nothing when it arrives."""
    task_id = uuid()
    state = PROGRAMADO if countdown > 0 else EN_COLA
    _put(r, run_id, nit, entry, estado=state, tarea=task_id, eta=time.time() + countdown)
    avanzar.apply_async((nit, options), countdown=countdown, task_id=task_id)


def queued_task_ids(r: redis.Redis, queue: str = "celery") -> set[str]:
    """Ids of the tasks waiting in the broker's queue (not yet taken by a worker)."""
    ids = set()
    for raw in r.lrange(queue, 0, -1):
        try:
            ids.add(str(json.loads(raw)["headers"]["id"]))
        except (ValueError, KeyError, TypeError):
            continue
    return ids


# --- producer side ---------------------------------------------------------------------------------


def due_now(nit: str, settings: Settings, store: Any) -> tuple[bool, str]:
    """Whether ``nit``'s next step is due now (read from the store), and why not."""
    from flows.lote import next_steps, now_for

    steps, why = next_steps(store.steps(nit), now_for(settings), store.approval(nit), datetime.now(UTC))
    return bool(steps), why


def produce(clients: Sequence[Client], settings: Settings, options: NightOptions, *,
            wait: bool = True) -> list[dict[str, Any]]:
    """Enqueue the clients whose next step is due; with ``wait``, wait until each settles. The jobs'
    results in the embedded run's shape (``{"nit", "ran", "stopped", "irreversibles"}``)."""
    from bots.state import Store
    from bots.state.limits import redis_client

    assert settings.broker_url
    r = redis_client(settings.broker_url)
    payload = asdict(options)
    results: dict[str, dict[str, Any]] = {}
    pending: set[str] = set()
    with Store.open(settings) as store:
        for client in clients:
            due, why = due_now(client.nit, settings, store)
            if not due:
                results[client.nit] = {"nit": client.nit, "ran": [], "stopped": why}
                continue
            entry = _entry(r, options.run_id, client.nit)
            entry.pop("stopped", None)
            enqueue(r, options.run_id, client.nit, payload, {**entry, "estado": EN_COLA})
            pending.add(client.nit)
        log.info("clientes encolados", encolados=len(pending), sin_pasos_hoy=len(results))
        if not wait:
            return [results.get(c.nit) or {"nit": c.nit, "ran": [], "stopped": "encolado"} for c in clients]
        _wait_for(r, store, settings, options, payload, pending)
    for nit in [c.nit for c in clients if c.nit not in results]:
        entry = _entry(r, options.run_id, nit)
        results[nit] = {k: entry.get(k) for k in ("nit", "ran", "stopped", "irreversibles", "paused") if k in entry}
    r.close()
    return [results[c.nit] for c in clients]


def _wait_for(r: redis.Redis, store: Any, settings: Settings, options: NightOptions, payload: dict[str, Any],
              pending: set[str]) -> None:
    """Wait on the run's channel until every pending client is ``terminado``; reconcile on silence.

    A client's task is taken as lost when, for ``2 × DIAN_LEASE_TTL_S``, nobody holds its lease and
    it is neither waiting in the queue (queued) nor due later (scheduled) — a worker killed before it
    acknowledged, or Redis restarted without its data. Then the client is enqueued again.
    """
    import redis as redis_lib

    lost_after = 2 * settings.lease_ttl_s
    pubsub = None
    while pending:
        try:
            if pubsub is None:
                pubsub = r.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(events_channel(options.run_id))
            pubsub.get_message(timeout=min(RECONCILE_S, lost_after / 2))  # news, or the reconciliation period
            queued = queued_task_ids(r)
        except redis_lib.exceptions.ConnectionError:
            log.warning("Redis no responde; se espera a que vuelva")
            pubsub = None
            continue
        for nit in sorted(pending):
            entry = _entry(r, options.run_id, nit)
            state = entry.get("estado")
            if state == TERMINADO:
                pending.discard(nit)
                continue
            since = max(float(entry.get("at") or 0), float(entry.get("eta") or 0))
            if (time.time() - since < lost_after or store.lease_holder(nit) is not None
                    or (state == EN_COLA and entry.get("tarea") in queued)):
                continue
            due, why = due_now(nit, settings, store)
            if not due:  # its last task ended without reporting (e.g. Redis lost the entry)
                _put(r, options.run_id, nit, entry, estado=TERMINADO, stopped=why)
                pending.discard(nit)
                continue
            log.warning("trabajo perdido: se vuelve a encolar el cliente", client=nit, estado=state)
            enqueue(r, options.run_id, nit, payload, entry)
    if pubsub is not None:
        pubsub.close()
