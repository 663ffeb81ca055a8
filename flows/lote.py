"""Batch runner: the nightly pipeline over every client, or one flow for many clients.

    python -m flows.lote [--prefijo FE --desde 1 --hasta 5000] [--solo NIT ...] [--solo-fallidos]
        [--concurrencia N | --distribuido [--sin-esperar]] [--json]   # the whole pipeline (nightly run)
    python -m flows.lote asociar_prefijo --prefijo FE [--clientes clients.toml] [--solo NIT ...] [--json]

Without a flow name every active client advances through the pipeline (registrar → asociar_software →
set_aceptado → fecha_produccion → sincronizar → solicitar_numeracion → asociar_prefijo) as far as it
can tonight; the lasting state (``bots.state``) says what is done and each flow still reads the
portal first. The first five steps run as ``flows.habilitacion`` (one session), then
``flows.solicitar_numeracion`` and ``flows.asociar_prefijo`` (``--prefijo/--desde/--hasta``).

- Distributed: ``--distribuido`` hands the same steps to Celery workers on any number of machines
  (``flows.distribuido``: Redis queue and limits, PostgreSQL store, leases instead of OS locks).
- Workers: ``--concurrencia N`` spawned processes (default ``DIAN_NIGHTLY_WORKERS`` or one per ~1 GB
  of free memory, at most the cores), each with one browser, one ``MailWatchers`` (clients sharing a
  mailbox share its connection) and a fresh context per client. A worker dies with its runner.
- A client is worked on only under its lock (``bots.state.ClientLock``, an OS lock that dies with
  its holder): two runs at once never process the same client; the second skips it.
- Every page, post and AJAX call to a DIAN host waits for a slot shared by all workers
  (``DIAN_RATE_PER_HOST_S``, a Playwright ``context.route`` handler over the store's slots).
- Results: ok / ya_hecho → hecho; esperando → not before its ``retry_at``; requiere_humano and
  error_entrada → the operator's list, not retried the same night (a new approval recorded with
  ``flows.aprobar`` unblocks fecha_produccion at once); error_portal and unexpected errors
  (timeouts, 5xx, lost session, browser crash) → retried with a doubling backoff
  (``DIAN_RETRY_BACKOFF_S``) up to ``DIAN_NIGHTLY_MAX_ATTEMPTS`` times a night, then reported;
  portal_cambio → reported, tried again the next night. A night runs from noon to noon (Bogotá).
- ``DIAN_BREAKER_THRESHOLD`` portal errors in a row pause that portal for ``DIAN_BREAKER_PAUSE_MIN``
  (the report says so); clients that need it wait for the next run.
- Crash safety: the state is written after every flow; a step left mid-way is reconciled by the
  flow's step journal (``bots.steps``) before anything is clicked.
- Report: ``bots.state.report`` (a Spanish table on stderr, the HTML page under
  ``DIAN_REPORT_DIR`` or ``--informe``, ``--json`` on stdout); the exit code is the worst client's.

With a flow name (below) it runs just that flow over the clients, as before.

Every active client of the clients file (or only those given with ``--solo``) goes through the flow
in turn. Each gets a classified result (``bots.cli.Outcome``); the report is a Spanish table on
stderr and, with ``--json``, one JSON object on stdout (``data.resultados``: one outcome per
client). The exit code is that of the worst result, in this order (best to worst):
ok / ya_hecho (0) < esperando (3) < requiere_humano (4) < error_portal / portal_cambio (5) <
error_entrada (2) < error (1): an unexpected error is the worst news, then a configuration that
must be fixed before anything can run.

The flow contract (what a module ``flows.<name>`` must expose to run in a batch)::

    FLOW: str                                        # its name, e.g. "asociar_prefijo"
    DESCRIPTION: str                                 # one Spanish line for --help

    def add_options(parser: argparse.ArgumentParser) -> None:
        '''Add the flow's own options (not --cliente, --clientes, --solo or --json).'''

    def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
        '''Validate the options for one client and resolve what it needs (secrets, defaults from
        the clients file). Raise InvalidInput; no browser, no portal. Returns the keyword
        arguments of run_for_client.'''

    def run_for_client(run: ClientRun, client: Client, settings: Settings, *,
                       watchers: MailWatchers, **options: Any) -> Outcome:
        '''Do the flow for one client in the given context (``run``); return the Outcome or raise
        a RobotError. Never starts or closes the browser.'''

``flows.asociar_prefijo`` is the reference implementation. The batch uses one ``MailWatchers`` for
all clients (one IMAP connection per mailbox), restarts the browser every
``DIAN_BATCH_BROWSER_RECYCLE`` clients and after an unexpected error, and never retries a client
itself: re-run the batch after the earliest ``retry_at``.

``SpanishArgumentParser`` (Spanish --help; argument errors become ``InvalidInput``, exit 2, with
JSON when ``--json`` was given) is here for every flow's command line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bots.cli import Outcome, SpanishArgumentParser, Status, help_text, run_flow
from bots.clock import BOGOTA
from bots.errors import InvalidInput, RobotError
from bots.log import bound, get_logger
from bots.state import (
    AGOTADO,
    ERROR_ENTRADA,
    ESPERANDO,
    FALLIDO,
    HECHO,
    PENDIENTE,
    PIPELINE,
    REQUIERE_HUMANO,
    Approval,
    ClientLock,
    Lease,
    StepRow,
    Store,
    lock_folder,
)
from bots.text import squash

if TYPE_CHECKING:
    from bots.config import Client, Settings
    from bots.mail import MailWatchers
    from bots.state.limits import Limits

__all__ = [
    "PORTAL_OF", "SEVERITY", "SpanishArgumentParser", "advance_client", "help_text", "load_flow", "main", "next_steps",
    "run_batch", "run_night", "worst",
]

log = get_logger(__name__)

#: Result classes from best to worst (the batch exits with the worst one's code).
SEVERITY: tuple[Status, ...] = (
    Status.OK,
    Status.YA_HECHO,
    Status.ESPERANDO,
    Status.REQUIERE_HUMANO,
    Status.ERROR_PORTAL,
    Status.PORTAL_CAMBIO,
    Status.ERROR_ENTRADA,
    Status.ERROR,
)
_FLOW_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LABELS = {
    Status.OK: "listo",
    Status.YA_HECHO: "ya estaba hecho",
    Status.ESPERANDO: "en espera",
    Status.REQUIERE_HUMANO: "requiere una persona",
    Status.ERROR_PORTAL: "error del portal",
    Status.PORTAL_CAMBIO: "el portal cambió",
    Status.ERROR_ENTRADA: "datos inválidos",
    Status.ERROR: "error inesperado",
}


# --- the batch ---------------------------------------------------------------------------------------


def load_flow(name: str) -> ModuleType:
    """Import ``flows.<name>`` and check it follows the flow contract."""
    if not _FLOW_NAME.match(name) or name == "lote":
        raise InvalidInput(f"Flujo inválido: {name!r}.")
    try:
        module = importlib.import_module(f"flows.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"flows.{name}":
            raise InvalidInput(f"No existe el flujo «{name}» (flows/{name}.py).") from None
        raise
    missing = [a for a in ("add_options", "prepare", "run_for_client") if not callable(getattr(module, a, None))]
    if missing:
        raise InvalidInput(f"El flujo «{name}» no se puede correr en lote: le falta {', '.join(missing)}.")
    return module


def worst(statuses: Sequence[Status]) -> Status:
    """The worst status (see ``SEVERITY``); OK for an empty batch."""
    return max(statuses, key=SEVERITY.index, default=Status.OK)


def _run_one(module: ModuleType, client: Client, settings: Settings, watchers: MailWatchers,
             options: dict[str, Any]) -> Outcome:
    from bots.browser import get_robot, shutdown

    try:
        with bound(client=client.nit), get_robot(settings).client_run(client) as run:
            outcome: Outcome = module.run_for_client(run, client, settings, watchers=watchers, **options)
    except RobotError as exc:
        outcome = Outcome.from_exception(exc)
    except Exception as exc:
        log.exception("error inesperado en el cliente", client=client.nit)
        outcome = Outcome.from_exception(exc)
        shutdown()  # the browser may be unusable: the next client gets a new one
    outcome.client = outcome.client or client.nit
    with bound(client=client.nit):
        log.info("resultado del cliente", status=outcome.status.value, message=outcome.message)
    return outcome


def run_batch(module: ModuleType, clients: Sequence[Client], flow_args: argparse.Namespace,
              settings: Settings) -> list[tuple[Client, Outcome]]:
    """Run the flow for each client (inputs of every client checked before any browser starts)."""
    from bots.browser import shutdown
    from bots.mail import MailWatchers

    results: dict[str, Outcome] = {}
    ready: list[tuple[Client, dict[str, Any]]] = []
    for client in clients:
        try:
            ready.append((client, module.prepare(flow_args, client, settings)))
        except Exception as exc:  # InvalidInput as a rule; anything else is that client's problem only
            if isinstance(exc, RobotError):
                exc.fill_context(client=client.nit)
            results[client.nit] = Outcome.from_exception(exc)
            results[client.nit].client = client.nit
    started = 0
    with MailWatchers(idle_renew=settings.idle_renew_s) as watchers:
        for client, options in ready:
            if started and started % settings.batch_browser_recycle == 0:
                shutdown()
            started += 1
            results[client.nit] = _run_one(module, client, settings, watchers, options)
    shutdown()
    return [(client, results[client.nit]) for client in clients]


def report(flow: str, results: Sequence[tuple[Client, Outcome]]) -> str:
    """The Spanish table of the batch (one line per client)."""
    rows = [("NIT", "Razón social", "Resultado", "Detalle")]
    for client, outcome in results:
        detail = _short(outcome.message, 90)
        if outcome.retry_at:
            detail += f" Reintentar después de {outcome.retry_at.astimezone(BOGOTA):%Y-%m-%d %H:%M}."
        if outcome.dian_text:
            detail += f' DIAN: "{_short(outcome.dian_text, 80)}"'
        rows.append((client.nit_con_dv, client.razon_social[:30], _LABELS[outcome.status], detail))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"Lote «{flow}»: {len(results)} cliente(s)"]
    for index, row in enumerate(rows):
        lines.append("  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])), row[3]]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in [*widths, 7]))
    return "\n".join(lines)


def _short(text: str, limit: int) -> str:
    text = squash(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the nightly pipeline ----------------------------------------------------------------------------

#: The portal each pipeline step works on (the circuit breaker and the rate limit are per portal).
PORTAL_OF: dict[str, str] = {
    "registrar": "habilitacion",
    "asociar_software": "habilitacion",
    "set_aceptado": "habilitacion",
    "fecha_produccion": "habilitacion",
    "sincronizar": "habilitacion",
    "solicitar_numeracion": "muisca",
    "asociar_prefijo": "produccion",
}
#: flows.habilitacion's own step names → pipeline steps (one session does the first five steps).
_HAB_STEPS: dict[str, tuple[str, ...]] = {
    "registro": ("registrar",),
    "asociacion": ("asociar_software",),
    "verificacion": ("set_aceptado",),
    "salida_produccion": ("fecha_produccion", "sincronizar"),
}
_HABILITACION = ("registrar", "asociar_software", "set_aceptado", "fecha_produccion", "sincronizar")
_MAX_IN_JOB_WAIT_S = 600.0  # a retry backoff longer than this waits for the next run instead


@dataclass(frozen=True)
class NightOptions:
    """What the runner hands each worker (picklable)."""

    clients_file: str
    run_id: str
    prefijo: str | None = None
    desde: str | None = None
    hasta: str | None = None
    tipo: str | None = None
    reintentar_en: int = 12 * 60


def default_workers() -> int:
    """One worker per ~1 GB of available memory, at most one per core, at least one."""
    cores = os.cpu_count() or 1
    try:
        free_gb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError, AttributeError):
        free_gb = 1.0
    return max(1, min(cores, int(free_gb)))


def night_of(at: datetime) -> date:
    """The night a moment belongs to (Bogotá): from noon to noon, so 01:00 belongs to the day before."""
    return (at.astimezone(BOGOTA) - timedelta(hours=12)).date()


def now_for(settings: Settings) -> datetime:
    """The run's "now" (``DIAN_NIGHTLY_NOW`` replays a night; otherwise the clock)."""
    fixed = settings.nightly_now
    if fixed is None:
        return datetime.now(UTC)
    return fixed if fixed.tzinfo else fixed.replace(tzinfo=BOGOTA)


def next_steps(rows: dict[str, StepRow], now: datetime, approval: Approval | None,
               real_now: datetime | None = None) -> tuple[list[str], str]:
    """The steps to run now for one client (one flow's worth), or ``[]`` and why not.

    ``now`` is the night's time (``DIAN_NIGHTLY_NOW`` when replaying); retry backoffs of application
    failures are measured against ``real_now`` (the clock).
    """
    night = night_of(now)
    real_now = real_now or datetime.now(UTC)
    for step in PIPELINE:
        row = rows[step]
        same_night = row.updated_at is not None and night_of(row.updated_at) == night
        if row.status == HECHO:
            continue
        if row.status == FALLIDO and same_night and row.not_before is not None and row.not_before > real_now:
            return [], f"{step}: reintento después de {row.not_before.astimezone(BOGOTA):%H:%M:%S}"
        if row.not_before is not None and row.not_before > now and row.status in (PENDIENTE, ESPERANDO):
            return [], f"{step}: en espera hasta {row.not_before.astimezone(BOGOTA):%Y-%m-%d %H:%M}"
        if row.status == REQUIERE_HUMANO and same_night:
            newer_approval = (
                step == "fecha_produccion" and approval is not None and row.updated_at is not None
                and approval.aprobado_en > row.updated_at
            )
            if not newer_approval:
                return [], f"{step}: requiere una persona"
        if row.status == AGOTADO and same_night:
            return [], f"{step}: falló demasiadas veces esta noche"
        if step in _HABILITACION:
            return [s for s in _HABILITACION if rows[s].status != HECHO], ""
        return [step], ""
    return [], "completo"


def _classify(outcome: Outcome, now: datetime, settings: Settings) -> tuple[str, bool, datetime | None]:
    """(store status, is an application failure, not-before) of a flow's outcome."""
    status = outcome.status
    if status in (Status.OK, Status.YA_HECHO):
        return HECHO, False, None
    if status == Status.ESPERANDO:
        return ESPERANDO, False, outcome.retry_at or now + timedelta(minutes=settings.nightly_retry_delay_min)
    if status == Status.REQUIERE_HUMANO:
        return REQUIERE_HUMANO, False, None
    if status == Status.ERROR_ENTRADA:
        return ERROR_ENTRADA, False, None
    if status == Status.PORTAL_CAMBIO:
        return AGOTADO, False, None  # a changed portal is for a developer: reported, tried next night
    return FALLIDO, True, None  # error_portal (5xx, DIAN's error page), error (timeouts, lost session, crash)


def _flow_args(name: str, options: NightOptions, approval: Approval | None) -> argparse.Namespace:
    if name == "habilitacion":
        return argparse.Namespace(
            correo=None, reintentar_en=options.reintentar_en,
            aprobado_por=approval.aprobado_por if approval else None,
            fecha=approval.fecha_inicio.isoformat() if approval else None,
        )
    if name == "solicitar_numeracion":
        return argparse.Namespace(
            prefijo=options.prefijo, desde=options.desde, hasta=options.hasta, tipo=options.tipo or _default_tipo()
        )
    return argparse.Namespace(prefijo=options.prefijo, software=None, software_id=None, resolucion=None)


def _default_tipo() -> str:
    from bots.portals.muisca.modelo import TIPOS_FACTURACION

    return TIPOS_FACTURACION[0]


# Worker process state: one browser (bots.browser's robot), one store connection, one MailWatchers.
_WORKER: dict[str, Any] = {}


def _init_worker(env: dict[str, str]) -> None:
    """Worker start: same settings as the runner; die with the runner (Linux), logging configured."""
    os.environ.update(env)
    try:  # PR_SET_PDEATHSIG: a runner killed with -9 takes its workers with it
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    from bots.config import load_settings
    from bots.log import configure_logging

    configure_logging(load_settings())


def _worker_resources(settings: Settings) -> tuple[Store, Limits, MailWatchers]:
    """This process's store, shared limits and mail watchers (opened once, kept for every client)."""
    from bots.mail import MailWatchers

    if "store" not in _WORKER:
        _WORKER["store"] = Store.open(settings)
        _WORKER["limits"] = limits_for(settings, _WORKER["store"])
        _WORKER["watchers"] = MailWatchers(idle_renew=settings.idle_renew_s)
    return _WORKER["store"], _WORKER["limits"], _WORKER["watchers"]


def limits_for(settings: Settings, store: Store) -> Limits:
    """The shared rate limit and breakers: in Redis when ``DIAN_BROKER_URL`` is set, else in the store."""
    if settings.broker_url:
        from bots.state.limits import RedisLimits

        return RedisLimits(settings.broker_url)
    return store


@dataclass
class Advance:
    """What one call of ``advance_once`` did for a client."""

    ran: dict[str, Any] | None  # the flow that ran: {"flujo", "pasos", "status"}; None when nothing was due
    stopped: str  # why the client stops here (meaningful when again_at is None or far away)
    again_at: datetime | None = None  # when its next step is due (None: not tonight, or a person/DIAN first)
    paused: str | None = None  # the portal whose breaker stopped it


def advance_once(nit: str, client: Client, options: NightOptions, settings: Settings, *, store: Store,
                 limits: Limits, watchers: MailWatchers) -> Advance:
    """Run the client's next due step (one flow) and store its result; the caller holds its lock.

    The same for both modes: the embedded run calls it in a loop, a Celery task calls it once and
    enqueues the next call at ``again_at``.
    """
    now = now_for(settings)
    approval = store.approval(nit)
    rows = store.steps(nit)
    steps, why = next_steps(rows, now, approval, datetime.now(UTC))
    if not steps:
        return Advance(None, why)
    portal = PORTAL_OF[steps[0]]
    if limits.breaker(portal).is_open(datetime.now(UTC)):
        return Advance(None, f"portal {portal} en pausa", paused=portal)
    flow = "habilitacion" if steps[0] in _HABILITACION else steps[0]
    outcome = _run_flow_for(flow, client, settings, watchers, options, approval, limits)
    results = _step_results(flow, steps, rows, outcome, now, settings)
    evidence = _evidence(outcome, client, settings)
    for step, (status, failed, not_before) in results.items():
        row = store.record(
            nit, step, status, outcome=json.loads(outcome.to_json()), not_before=not_before,
            evidence=evidence, failed=failed, at=now,
        )
        if failed and row.attempts >= settings.nightly_max_attempts:
            store.record(nit, step, AGOTADO, ran=False, at=now)
        elif failed:
            wait = settings.retry_backoff_s * 2 ** (row.attempts - 1)
            retry_at = datetime.now(UTC) + timedelta(seconds=wait)
            store.record(nit, step, FALLIDO, ran=False, at=now, not_before=retry_at)
    ran = {"flujo": flow, "pasos": list(results), "status": outcome.status.value}
    if outcome.status == Status.ERROR_PORTAL:
        opened = limits.portal_error(
            portal, outcome.dian_text or outcome.message, threshold=settings.breaker_threshold,
            pause=timedelta(minutes=settings.breaker_pause_min),
        )
        if opened.is_open(datetime.now(UTC)):
            log.warning("portal en pausa por errores seguidos", portal=portal, errores=opened.consecutive)
    elif outcome.status != Status.ERROR:
        limits.portal_ok(portal)
    if outcome.status == Status.OK and "solicitar_numeracion" in results:
        later = now + timedelta(minutes=settings.sync_delay_min)
        store.record(nit, "asociar_prefijo", PENDIENTE, ran=False, at=now, not_before=later)
    failed_now = [s for s, r in results.items() if r[1]]
    if failed_now:
        row = store.steps(nit)[failed_now[0]]
        if row.status != FALLIDO or row.not_before is None:
            return Advance(ran, f"{failed_now[0]}: {row.status}")
        return Advance(ran, f"{failed_now[0]}: reintento más tarde", again_at=row.not_before)
    if any(r[0] != HECHO for r in results.values()):
        return Advance(ran, outcome.status.value)
    return Advance(ran, "", again_at=datetime.now(UTC))


def advance_client(nit: str, options: NightOptions) -> dict[str, Any]:
    """Advance one client through the pipeline as far as it can go now (in a worker process).

    Holds the client's lock while it works; returns ``{"nit", "skipped"?, "ran": [...]}``.
    """
    from bots import retry
    from bots.config import load_clients, load_settings
    from bots.log import bind

    settings = load_settings(clients_file=options.clients_file)
    retry.configure(settings.read_attempts, settings.read_backoff_max_s)
    store, limits, watchers = _worker_resources(settings)
    bind(run_id=options.run_id, client=nit)
    lock: ClientLock | Lease = (
        store.lease(nit, ttl_s=settings.lease_ttl_s) if store.path is None else ClientLock(lock_folder(store.path), nit)
    )
    if not lock.acquire():
        log.info("cliente en proceso por otra ejecución; se omite", client=nit)
        return {"nit": nit, "skipped": "bloqueado", "ran": []}
    ran: list[dict[str, Any]] = []
    try:
        client = load_clients(settings.clients_file)[nit]
        while True:
            step = advance_once(nit, client, options, settings, store=store, limits=limits, watchers=watchers)
            if step.ran:
                ran.append(step.ran)
            if step.again_at is None:
                extra = {"paused": step.paused} if step.paused else {}
                return _with_clicks({"nit": nit, "ran": ran, "stopped": step.stopped, **extra})
            wait_s = (step.again_at - datetime.now(UTC)).total_seconds()
            if wait_s > _MAX_IN_JOB_WAIT_S:
                return _with_clicks({"nit": nit, "ran": ran, "stopped": step.stopped})
            if wait_s > 0:
                time.sleep(wait_s)  # wait-ok: the clock that matters, the computed retry backoff
    finally:
        lock.release()


def _with_clicks(result: dict[str, Any]) -> dict[str, Any]:
    """A job's result with the irreversible clicks this worker made for its client."""
    from bots import steps

    result["irreversibles"] = steps.done_this_run(result["nit"])
    return result


def _run_flow_for(flow: str, client: Client, settings: Settings, watchers: MailWatchers, options: NightOptions,
                  approval: Approval | None, limits: Limits) -> Outcome:
    """Prepare (no browser) and run one flow for one client, with the shared per-host rate limit."""
    from bots.browser import get_robot, shutdown

    module = load_flow(flow)
    with bound(client=client.nit, step=flow):
        try:
            if flow != "habilitacion" and not options.prefijo:
                raise InvalidInput(
                    "Falta el pedido de numeración de la corrida nocturna: indique --prefijo (y --desde/--hasta para "
                    "solicitar_numeracion)."
                )
            kwargs = module.prepare(_flow_args(flow, options, approval), client, settings)
        except Exception as exc:
            if isinstance(exc, RobotError):
                exc.fill_context(client=client.nit)
            outcome = Outcome.from_exception(exc)
            outcome.client = client.nit
            return outcome
        try:
            with get_robot(settings).client_run(client) as run:
                _rate_limit(run.context, settings, limits)
                outcome = module.run_for_client(run, client, settings, watchers=watchers, **kwargs)
        except RobotError as exc:
            outcome = Outcome.from_exception(exc)
        except Exception as exc:
            log.exception("error inesperado en el cliente", client=client.nit)
            outcome = Outcome.from_exception(exc)
            shutdown()  # the browser may be unusable: the next client gets a new one
    outcome.client = outcome.client or client.nit
    log.info("resultado del paso", client=client.nit, flujo=flow, status=outcome.status.value, message=outcome.message)
    return outcome


#: What the rate limit counts: pages, form posts and AJAX (static files do not load DIAN's servers alike).
_LIMITED_TYPES = frozenset({"document", "xhr", "fetch", "other"})


def _rate_limit(context: Any, settings: Settings, limits: Limits) -> None:
    """Every page, post or AJAX call to a DIAN portal host waits for its slot (shared by all workers
    through the store or Redis: a slot every ``DIAN_RATE_PER_HOST_S`` seconds per host)."""
    interval = settings.rate_per_host_s
    if interval <= 0:
        return
    hosts = {urlsplit(settings.portal_url(p)).netloc.lower() for p in ("habilitacion", "produccion", "muisca")}
    def handler(route: Any) -> None:
        host = urlsplit(route.request.url).netloc.lower()
        if host in hosts and route.request.resource_type in _LIMITED_TYPES:
            wait = limits.take_slot(host, interval)
            if wait > 0:
                time.sleep(wait)  # wait-ok: the clock that matters, this request's slot from the shared limiter
        route.fallback()

    context.route("**/*", handler)


def _step_results(flow: str, steps: list[str], rows: dict[str, StepRow], outcome: Outcome, now: datetime,
                  settings: Settings) -> dict[str, tuple[str, bool, datetime | None]]:
    """What the flow's outcome means for each pipeline step it covered."""
    verdict = _classify(outcome, now, settings)
    if flow != "habilitacion" or verdict[0] == HECHO:
        return dict.fromkeys(steps, verdict)
    done: dict[str, tuple[str, bool, datetime | None]] = {}
    for paso in outcome.data.get("pasos") or []:
        for step in _HAB_STEPS.get(str(paso.get("paso")), ()):
            if paso.get("estado") in (Status.OK.value, Status.YA_HECHO.value):
                done[step] = (HECHO, False, None)
    stopped = [s for s in steps if s not in done]
    if stopped and stopped[0] == "fecha_produccion" and outcome.data.get("reason") == "sin_boton_sincronizar":
        done["fecha_produccion"] = (HECHO, False, None)
        stopped = stopped[1:]
    if stopped:
        done[stopped[0]] = verdict
    return done


def _evidence(outcome: Outcome, client: Client, settings: Settings) -> list[str]:
    """Evidence paths of an outcome: failure artifacts (trace, screenshot, page), the formato 1876 PDF,
    saved captures, and the provider's hand-off file when it exists."""
    paths = [outcome.artifacts] if outcome.artifacts else []
    for key in ("page_path", "screenshot_path", "pdf", "entrega", "evidencia"):
        value = outcome.data.get(key)
        values = list(value.values()) if isinstance(value, dict) else [value]
        paths += [v for v in values if isinstance(v, str) and v]
    handoff = Path(settings.output_dir) / client.nit / "entrega-proveedor-habilitacion.json"
    if handoff.is_file():
        paths.append(str(handoff))
    return paths


def _failed_nits(store: Store) -> set[str]:
    return {
        nit for nit, rows in store.all_steps().items()
        if any(r.status in (FALLIDO, AGOTADO) for r in rows.values())
    }


def run_night(clients: Sequence[Client], settings: Settings, options: NightOptions, *, workers: int,
              progress: bool = False) -> list[dict[str, Any]]:
    """Advance every client in ``workers`` spawned processes (one browser each, or one Chromium for all
    with ``DIAN_NIGHTLY_SHARED_BROWSER``); the jobs' results."""

    from contextlib import ExitStack

    from bots.browser import shared_browser

    env = {k: v for k, v in os.environ.items() if k.startswith("DIAN_")}
    stack = ExitStack()
    if settings.nightly_shared_browser and workers > 1:
        env.update(stack.enter_context(shared_browser(settings)))  # one Chromium, a context per client
    with stack:
        return _run_pool(clients, options, workers, env, progress)


def _run_pool(clients: Sequence[Client], options: NightOptions, workers: int, env: dict[str, str],
              progress: bool) -> list[dict[str, Any]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pending = [c.nit for c in clients]
    results: dict[str, dict[str, Any]] = {}
    bar = _progress(len(pending)) if progress else None
    for _round in range(3):  # a worker that dies (kill -9, crash) breaks the pool: start another
        if not pending:
            break
        ctx = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(max_workers=max(1, min(workers, len(pending))), mp_context=ctx,
                                     initializer=_init_worker, initargs=(env,)) as pool:
                job = importlib.import_module("flows.lote").advance_client  # importable by name in a worker
                futures = {pool.submit(job, nit, options): nit for nit in pending}
                for future in as_completed(futures):
                    nit = futures[future]
                    try:
                        results[nit] = future.result()
                    except BrokenProcessPool:
                        raise
                    except Exception as exc:
                        log.exception("falla del proceso de trabajo", client=nit)
                        results[nit] = {"nit": nit, "ran": [], "stopped": f"error: {type(exc).__name__}"}
                    if bar is not None:
                        bar[0].update(bar[1], advance=1, description=f"{nit}")
        except BrokenProcessPool:
            log.warning("un proceso de trabajo terminó de forma abrupta; se reintentan sus clientes")
        pending = [nit for nit in pending if nit not in results]
    for nit in pending:
        results[nit] = {"nit": nit, "ran": [], "stopped": "el proceso de trabajo terminó de forma abrupta"}
    if bar is not None:
        bar[0].stop()
    return [results[c.nit] for c in clients]


def _progress(total: int) -> tuple[Any, Any] | None:
    """A rich progress bar on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("Corrida nocturna"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=Console(stderr=True), transient=False)
    bar.start()
    return bar, bar.add_task("", total=total)


def build_night_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog="python -m flows.lote",
        description=help_text(
            "Corrida nocturna: cada cliente activo avanza por todo el proceso (registro, software, set de pruebas, "
            "fecha de producción, sincronización, numeración en MUISCA, prefijo) hasta donde pueda hoy. El estado "
            "queda en la base de datos (DIAN_STATE_URL o <DIAN_OUTPUT_DIR>/estado.sqlite3) y cada flujo vuelve a "
            "leer el portal antes de actuar. Con el nombre de un flujo (p. ej. asociar_prefijo) corre solo ese.",
        ),
        epilog=help_text(
            "Código de salida: 0 nada requiere atención; 3 solo hay clientes en espera; 4 alguno requiere una "
            "persona (vea el informe); 5 error o cambio del portal; 2 datos inválidos; 1 error inesperado.",
            "Ejemplo:\n  python -m flows.lote --prefijo FE --desde 1 --hasta 5000 --concurrencia 2 --json",
        ),
    )
    parser.add_argument(
        "--clientes", metavar="ARCHIVO", help="archivo de clientes (TOML); por defecto DIAN_CLIENTS_FILE"
    )
    parser.add_argument("--solo", metavar="NIT", nargs="+", action="extend", default=[], help="procesa solo estos NIT")
    parser.add_argument("--solo-fallidos", action="store_true", help="solo los clientes con un paso fallido")
    parser.add_argument(
        "--concurrencia", type=int, metavar="N", help="procesos en paralelo (cada uno con un navegador)"
    )
    parser.add_argument("--prefijo", help="prefijo de la numeración a solicitar y asociar, p. ej. FE")
    parser.add_argument("--desde", metavar="N", help="primer número del rango a solicitar")
    parser.add_argument("--hasta", metavar="N", help="último número del rango a solicitar")
    parser.add_argument("--tipo", metavar="TIPO", help="tipo de facturación (por omisión el primero de MUISCA)")
    parser.add_argument(
        "--distribuido", action="store_true",
        help="encola los clientes con un paso pendiente para los trabajadores Celery (DIAN_BROKER_URL) y espera",
    )
    parser.add_argument("--sin-esperar", action="store_true", help="con --distribuido: solo encola y termina")
    parser.add_argument("--informe", metavar="ARCHIVO", help="dónde escribir el informe HTML")
    parser.add_argument("--json", action="store_true", help="imprime el resumen como JSON")
    return parser


def night_main(argv: Sequence[str]) -> Outcome:
    """``python -m flows.lote`` without a flow name: the nightly run."""
    from bots.config import load_clients, load_settings
    from bots.log import bind, current_context, new_run_id
    from bots.state.report import build_report, write_html
    from bots.validation import validate_nit

    args = build_night_parser().parse_args(argv)
    settings = load_settings(clients_file=args.clientes) if args.clientes else load_settings()
    clients = load_clients(settings.clients_file)
    if args.concurrencia is not None and not 1 <= args.concurrencia <= 32:
        raise InvalidInput("--concurrencia debe estar entre 1 y 32.")
    if args.sin_esperar and not args.distribuido:
        raise InvalidInput("--sin-esperar solo tiene sentido con --distribuido.")
    if args.distribuido and not settings.broker_url:
        raise InvalidInput("--distribuido necesita DIAN_BROKER_URL (Redis, p. ej. redis://127.0.0.1:6379/0).")
    if args.distribuido and args.concurrencia is not None:
        raise InvalidInput("--concurrencia no aplica con --distribuido: cada trabajador Celery fija la suya.")
    if args.solo:
        wanted = list(dict.fromkeys(validate_nit(n) for n in args.solo))
        unknown = [n for n in wanted if n not in clients]
        if unknown:
            raise InvalidInput(f"NIT que no están en {settings.clients_file}: {', '.join(unknown)}.")
        selected = [clients[n] for n in wanted]
    else:
        selected = [c for c in clients.values() if c.activo]
    run_id = current_context().get("run_id") or new_run_id()
    bind(run_id=run_id)
    with Store.open(settings) as store:
        if args.solo_fallidos:
            failed = _failed_nits(store)
            selected = [c for c in selected if c.nit in failed]
        store.start_run(run_id)
        limits_for(settings, store).close_breakers()
    options = NightOptions(
        clients_file=str(settings.clients_file), run_id=run_id, prefijo=args.prefijo, desde=args.desde,
        hasta=args.hasta, tipo=args.tipo,
    )
    if args.distribuido:
        from flows.distribuido import produce

        log.info("corrida nocturna distribuida", clientes=len(selected))
        jobs = produce(selected, settings, options, wait=not args.sin_esperar)
        if args.sin_esperar:
            queued = sum(1 for j in jobs if j.get("stopped") == "encolado")
            return Outcome(status=Status.OK, message=f"Corrida {run_id}: {queued} cliente(s) encolado(s).",
                           data={"run_id": run_id, "encolados": queued})
    else:
        workers = args.concurrencia or settings.nightly_workers or default_workers()
        log.info("corrida nocturna", clientes=len(selected), procesos=workers)
        jobs = run_night(selected, settings, options, workers=workers, progress=not args.json) if selected else []
    with Store.open(settings) as store:
        report_data = build_report(store, selected, jobs, now=now_for(settings), run_id=run_id,
                                   limits=limits_for(settings, store))
        html_path = Path(args.informe) if args.informe else _report_path(settings, run_id)
        write_html(report_data, html_path)
        store.finish_run(run_id, {"exit": report_data["exit_code"], "informe": str(html_path)})
    report_data["informe"] = str(html_path)
    print(_night_table(report_data), file=sys.stderr)
    status = Status(report_data["status"])
    clicks = [f"{j['nit']}: " + ", ".join(f"«{s}»" for s in j["irreversibles"]) for j in jobs if j.get("irreversibles")]
    report_data["irreversibles"] = {j["nit"]: j["irreversibles"] for j in jobs if j.get("irreversibles")}
    return Outcome(
        status=status, message=report_data["message"] + f" Informe: {html_path}", data=report_data,
        this_run=("En esta corrida se hizo o intentó (irreversible): " + "; ".join(clicks) + ".") if clicks
        else "En esta corrida no se hizo ningún clic irreversible.",
    )


def _report_path(settings: Settings, run_id: str) -> Path:
    folder = settings.report_dir or Path(settings.output_dir) / "informes"
    return Path(folder) / f"noche-{datetime.now(BOGOTA):%Y-%m-%d}-{run_id}.html"


def _night_table(report_data: dict[str, Any]) -> str:
    lines = [report_data["message"]]
    for row in report_data["clientes"]:
        action = f" → {row['accion']}" if row.get("accion") else ""
        lines.append(f"  {row['nit_con_dv']:<14} {row['etapa']:<22} {row['estado']:<16} {_short(row['detalle'], 70)}"
                     f"{action}")
    for paused in report_data["portales_en_pausa"]:
        lines.append(f"  PORTAL EN PAUSA: {paused['portal']} ({paused['errores']} errores seguidos)")
    return "\n".join(lines)


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog="python -m flows.lote",
        description=help_text(
            "Ejecuta un flujo del robot para varios clientes, uno tras otro, con un solo navegador y un "
            "contexto limpio por cliente. Las opciones propias del flujo van después de su nombre "
            "(p. ej. --prefijo FE para asociar_prefijo). Sin --solo procesa los clientes activos.",
        ),
        epilog=help_text(
            "Código de salida: el del peor resultado (0 todo bien; 3 alguno en espera; 4 alguno requiere una "
            "persona; 5 error del portal; 2 datos inválidos; 1 error inesperado).",
            "Ejemplo:\n  python -m flows.lote asociar_prefijo --prefijo FE --solo 900123456 --json",
        ),
    )
    parser.add_argument("flujo", help="nombre del flujo (módulo flows.<flujo>), p. ej. asociar_prefijo")
    parser.add_argument(
        "--clientes", metavar="ARCHIVO", help="archivo de clientes (TOML); por defecto DIAN_CLIENTS_FILE"
    )
    parser.add_argument(
        "--solo", metavar="NIT", nargs="+", action="extend", default=[],
        help="procesa solo estos NIT (aunque estén inactivos); repetible",
    )
    parser.add_argument("--json", action="store_true", help="imprime el resultado del lote como JSON")
    return parser


def _flow_parser(name: str, module: ModuleType) -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog=f"python -m flows.lote {name}",
        description=help_text(f"Opciones propias del flujo «{name}»: " + str(getattr(module, "DESCRIPTION", ""))),
    )
    module.add_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> Outcome:
    from bots.config import load_clients, load_settings
    from bots.validation import validate_nit

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        if argv[:1] in (["-h"], ["--help"]):
            build_night_parser().print_help()
            raise SystemExit(0)
        return night_main(argv)
    parser = build_parser()
    if argv and not argv[0].startswith("-") and any(a in ("-h", "--help") for a in argv[1:]):
        parser.print_help()  # "lote <flujo> --help": the batch's options, then the flow's own
        print(file=sys.stdout)
        _flow_parser(argv[0], load_flow(argv[0])).print_help()
        raise SystemExit(0)
    args, rest = parser.parse_known_args(argv)
    module = load_flow(args.flujo)
    flow_args = _flow_parser(args.flujo, module).parse_args(rest)
    settings = load_settings(clients_file=args.clientes) if args.clientes else load_settings()
    clients = load_clients(settings.clients_file)
    if args.solo:
        wanted = list(dict.fromkeys(validate_nit(n) for n in args.solo))
        unknown = [n for n in wanted if n not in clients]
        if unknown:
            raise InvalidInput(f"NIT que no están en {settings.clients_file}: {', '.join(unknown)}.")
        selected = [clients[n] for n in wanted]
    else:
        selected = [c for c in clients.values() if c.activo]
    if not selected:
        raise InvalidInput(f"No hay clientes activos en {settings.clients_file}; use --solo NIT.")
    results = run_batch(module, selected, flow_args, settings)
    print(report(args.flujo, results), file=sys.stderr)
    statuses = [o.status for _, o in results]
    counts = {s: statuses.count(s) for s in SEVERITY if s in statuses}
    summary = ", ".join(f"{n} {_LABELS[s]}" for s, n in counts.items())
    final = worst(statuses)
    outcome = Outcome(
        status=final,
        message=f"Lote «{args.flujo}» terminado: {len(results)} cliente(s): {summary}.",
        data={
            "flujo": args.flujo,
            "resultados": [{**json.loads(o.to_json()), "razon_social": c.razon_social} for c, o in results],
        },
    )
    retry = [o.retry_at for _, o in results if o.retry_at]
    if final == Status.ESPERANDO and retry:
        outcome.retry_at = min(retry)
    return outcome


if __name__ == "__main__":
    run_flow(main)
