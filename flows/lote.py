"""Batch runner: one flow for many clients, one browser per process, one fresh context per client.

    python -m flows.lote asociar_prefijo --prefijo FE [--clientes clients.toml] [--solo NIT ...] [--json]

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
import re
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from bots.cli import Outcome, SpanishArgumentParser, Status, help_text, run_flow
from bots.clock import BOGOTA
from bots.errors import InvalidInput, RobotError
from bots.log import bound, get_logger
from bots.text import squash

if TYPE_CHECKING:
    from bots.config import Client, Settings
    from bots.mail import MailWatchers

__all__ = ["SEVERITY", "SpanishArgumentParser", "help_text", "load_flow", "main", "run_batch", "worst"]

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
