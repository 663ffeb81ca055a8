"""The entry point every flow shares: logging, run id, error → exit code, summary and JSON result.

A flow module ends with::

    def main() -> Outcome:
        args = build_parser().parse_args()      # the flow parses its own arguments
        ...
        return Outcome.ok("Prefijo SETP asociado", prefijo="SETP")

    if __name__ == "__main__":
        run_flow(main)

``run_flow`` configures logging from the settings, binds a new run id, calls ``main``, maps a
``RobotError`` (or any other exception) to an ``Outcome`` and its exit code, closes the browser,
prints a Spanish summary on stderr and, when ``--json`` is among the arguments, the ``Outcome`` as
JSON on stdout. Add ``--json`` to the flow's parser with ``add_common_arguments(parser)``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NoReturn

from playwright.sync_api import Error as PlaywrightError
from pydantic import BaseModel, Field

from bots import steps
from bots.clock import BOGOTA
from bots.errors import ExitCode, InvalidInput, NeedsHuman, PortalChanged, RobotError, Waiting
from bots.log import bind, configure_logging, current_context, get_logger, new_run_id, redact_text, redact_value

log = get_logger(__name__)


class Status(StrEnum):
    """Result of a flow for one client."""

    OK = "ok"
    YA_HECHO = "ya_hecho"
    ESPERANDO = "esperando"
    REQUIERE_HUMANO = "requiere_humano"
    ERROR_PORTAL = "error_portal"
    PORTAL_CAMBIO = "portal_cambio"
    ERROR_ENTRADA = "error_entrada"
    ERROR = "error"


EXIT_CODES: dict[Status, ExitCode] = {
    Status.OK: ExitCode.OK,
    Status.YA_HECHO: ExitCode.OK,
    Status.ESPERANDO: ExitCode.WAITING,
    Status.REQUIERE_HUMANO: ExitCode.NEEDS_HUMAN,
    Status.ERROR_PORTAL: ExitCode.PORTAL,
    Status.PORTAL_CAMBIO: ExitCode.PORTAL,
    Status.ERROR_ENTRADA: ExitCode.INVALID_INPUT,
    Status.ERROR: ExitCode.UNEXPECTED,
}

_LABELS = {
    Status.OK: "LISTO",
    Status.YA_HECHO: "YA ESTABA HECHO",
    Status.ESPERANDO: "EN ESPERA",
    Status.REQUIERE_HUMANO: "REQUIERE UNA PERSONA",
    Status.ERROR_PORTAL: "ERROR DEL PORTAL",
    Status.PORTAL_CAMBIO: "EL PORTAL CAMBIÓ",
    Status.ERROR_ENTRADA: "DATOS DE ENTRADA INVÁLIDOS",
    Status.ERROR: "ERROR INESPERADO",
}


class Outcome(BaseModel):
    """What a flow reports: status, Spanish message, data (JSON-ready) and, when waiting, ``retry_at``."""

    status: Status
    message: str
    data: dict[str, Any] = Field(default_factory=dict)
    retry_at: datetime | None = None
    client: str | None = None
    step: str | None = None
    selector: str | None = None
    dian_text: str | None = None
    retryable: bool = False
    artifacts: str | None = None
    run_id: str | None = None
    #: For a failure: what this run already did that cannot be undone (from the step journal).
    this_run: str | None = None

    @property
    def exit_code(self) -> int:
        return int(EXIT_CODES[self.status])

    @classmethod
    def ok(cls, message: str, **data: Any) -> Outcome:
        """Done now."""
        return cls(status=Status.OK, message=message, data=data)

    @classmethod
    def ya_hecho(cls, message: str, **data: Any) -> Outcome:
        """Nothing to do: DIAN already shows the expected state (exit 0)."""
        return cls(status=Status.YA_HECHO, message=message, data=data)

    @classmethod
    def from_exception(cls, exc: BaseException) -> Outcome:
        """The outcome of an exception leaving a flow (``RobotError`` or unexpected)."""
        if not isinstance(exc, RobotError):
            text = redact_text(str(exc)).splitlines()[0][:300] if str(exc) else ""
            return cls(status=Status.ERROR, message=f"Error inesperado: {type(exc).__name__}: {text}".rstrip(": "))
        data: dict[str, Any] = redact_value(dict(getattr(exc, "data", None) or {}))
        if isinstance(exc, NeedsHuman) and exc.reason:
            data["reason"] = exc.reason
        if isinstance(exc, PortalChanged):
            data["page_path"] = str(exc.page_path) if exc.page_path else None
            data["screenshot_path"] = str(exc.screenshot_path) if exc.screenshot_path else None
        return cls(
            status=Status(exc.status),
            message=exc.message,
            data=data,
            retry_at=exc.retry_at if isinstance(exc, Waiting) else None,
            client=exc.client,
            step=exc.step,
            selector=exc.selector,
            dian_text=exc.dian_text,
            retryable=exc.retryable,
            artifacts=str(exc.artifacts) if exc.artifacts else None,
        )

    def summary(self) -> str:
        """Spanish lines for the operator."""
        where = " · ".join(p for p in (self.client, self.step) if p)
        lines = [f"{_LABELS[self.status]}{f' [{where}]' if where else ''}: {self.message}"]
        if self.selector:
            lines.append(f"  Elemento: {self.selector}")
        if self.dian_text:
            lines.append(f'  La DIAN dice: "{self.dian_text}"')
        if self.retry_at:
            local = self.retry_at.astimezone(BOGOTA)
            lines.append(f"  Volver a intentar después de: {local:%Y-%m-%d %H:%M} (hora de Colombia)")
        if self.this_run:
            lines.append(f"  {self.this_run}")
        if self.artifacts:
            lines.append(f"  Evidencia de la falla: {self.artifacts}")
        if self.data.get("page_path"):
            lines.append(f"  Página guardada: {self.data['page_path']}")
        if self.run_id:
            lines.append(f"  Ejecución: {self.run_id}")
        return redact_text("\n".join(lines), key_values=False)

    def to_json(self) -> str:
        """The outcome as one JSON object (redacted), with ``exit_code``."""
        payload = self.model_dump(mode="json")
        payload["data"] = redact_value(payload["data"])
        payload["message"] = redact_text(payload["message"], key_values=False)
        if self.retry_at:
            payload["retry_at"] = self.retry_at.astimezone(UTC).isoformat()
        payload["exit_code"] = self.exit_code
        return json.dumps(payload, ensure_ascii=False)


def add_client_argument(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--cliente NIT``: the one client a flow's command line works for."""
    parser.add_argument(
        "--cliente", required=True, metavar="NIT",
        help="NIT del cliente, con o sin dígito de verificación (900123456 o 900.123.456-8); debe estar en "
        "el archivo de clientes",
    )
    return parser


def add_common_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every single-client flow shares: ``--clientes`` (read by ``run_single_client``) and
    ``--json`` (read by ``run_flow``)."""
    parser.add_argument(
        "--clientes", metavar="ARCHIVO", help="archivo de clientes (TOML); por defecto DIAN_CLIENTS_FILE"
    )
    parser.add_argument("--json", action="store_true", help="imprime el resultado como JSON en la salida estándar")
    return parser


def run(main: Callable[[], Outcome | None], *, settings: Any = None) -> Outcome:
    """Run ``main`` with logging, a run id and error mapping; return the ``Outcome`` (no exit).

    The batch and tests use this; ``run_flow`` adds printing and the exit code.
    """
    from bots import retry
    from bots.config import load_settings

    run_id = current_context().get("run_id") or new_run_id()
    try:
        settings = settings or load_settings()
        configure_logging(settings)
        retry.configure(settings.read_attempts, settings.read_backoff_max_s)
    except InvalidInput as exc:
        configure_logging()
        outcome = Outcome.from_exception(exc)
        outcome.run_id = run_id
        return outcome

    bind(run_id=run_id)
    try:
        result = main()
        outcome = result if isinstance(result, Outcome) else Outcome.ok("Terminado.")
        log.info("resultado", status=outcome.status.value, message=outcome.message)
    except RobotError as exc:
        exc.fill_context(client=current_context().get("client"), step=current_context().get("step"))
        outcome = Outcome.from_exception(exc)
        log.warning("resultado", status=outcome.status.value, error=str(exc))
    except PlaywrightError as exc:
        covered = _covered_by(exc)
        if covered is None:
            log.exception("error inesperado")
            outcome = Outcome.from_exception(exc)
        else:
            # Something the robot does not know covers the page (an announcement, a modal): the
            # portal changed. Never an "unexpected error", never "the portal did not answer".
            outcome = Outcome.from_exception(
                PortalChanged(f"Un elemento desconocido cubre la página e impidió el clic: {covered}")
            )
            log.warning("resultado", status=outcome.status.value, error=outcome.message)
    except KeyboardInterrupt:
        outcome = Outcome(status=Status.ERROR, message="Interrumpido por el operador.")
        log.warning("interrumpido")
    except Exception as exc:
        log.exception("error inesperado")
        outcome = Outcome.from_exception(exc)
    finally:
        _close_browser()
    outcome.run_id = outcome.run_id or run_id
    outcome.client = outcome.client or current_context().get("client")
    if outcome.status not in (Status.OK, Status.YA_HECHO, Status.ERROR_ENTRADA) and outcome.this_run is None:
        # (a flow whose clicks happen in other processes, as the nightly run's, says it itself)
        outcome.this_run = steps.this_run_sentence(current_context().get("client"))
    return outcome


_INTERCEPTS = re.compile(r"(<[^>]{1,300}>)[^\n]*intercepts pointer events")


def _covered_by(exc: BaseException) -> str | None:
    """The element Playwright says intercepted a click (its opening tag), if that is why it failed."""
    found = _INTERCEPTS.search(str(exc))
    return found.group(1) if found else None


def run_flow(main: Callable[[], Outcome | None], *, settings: Any = None) -> NoReturn:
    """Run a flow as a command: summary on stderr, JSON on stdout with ``--json``, exit code."""
    want_json = "--json" in sys.argv[1:]
    outcome = run(main, settings=settings)
    print(outcome.summary(), file=sys.stderr)
    if want_json:
        print(outcome.to_json())
    sys.stdout.flush()
    sys.exit(outcome.exit_code)


RunForClient = Callable[..., Outcome]
Prepare = Callable[[argparse.Namespace, Any, Any], dict[str, Any]]


def run_client(run_for_client: RunForClient, client: Any, settings: Any, options: dict[str, Any]) -> Outcome:
    """Run one client's flow the way the command line does: its mail watchers and a fresh, traced
    browser context (``flows.lote`` does the same per client with a shared browser)."""
    from bots.browser import client_run
    from bots.mail import MailWatchers

    bind(client=client.nit)
    with MailWatchers(idle_renew=settings.idle_renew_s) as watchers, client_run(client, settings=settings) as run:
        return run_for_client(run, client, settings, watchers=watchers, **options)


def run_single_client(args: argparse.Namespace, prepare: Prepare, run_for_client: RunForClient) -> Outcome:
    """The common ``main`` of a flow: ``--cliente`` validated, settings and clients file read, the
    flow's own checks (``prepare``, no browser), then one client run. Invalid input stops here with
    exit 2 before any browser starts."""
    from bots.config import get_client, load_settings
    from bots.validation import validate_nit

    nit = validate_nit(args.cliente)
    clients_file = getattr(args, "clientes", None)
    settings = load_settings(clients_file=clients_file) if clients_file else load_settings()
    client = get_client(nit, settings)
    return run_client(run_for_client, client, settings, prepare(args, client, settings))


def _close_browser() -> None:
    browser = sys.modules.get("bots.browser")  # never import Playwright just to close nothing
    if browser is not None:
        try:
            browser.shutdown()
        except Exception as exc:
            log.warning("no se pudo cerrar el navegador", error=type(exc).__name__)


# --- Spanish command lines ---------------------------------------------------------------------------

_ARGPARSE_ES = (
    (re.compile(r"the following arguments are required: (.+)"), r"faltan los argumentos obligatorios: \1"),
    (re.compile(r"unrecognized arguments: (.+)"), r"argumentos desconocidos: \1"),
    (re.compile(r"argument (\S+): expected one argument"), r"el argumento \1 necesita un valor"),
    (re.compile(r"argument (\S+): expected at least one argument"), r"el argumento \1 necesita al menos un valor"),
    (re.compile(r"argument (\S+): not allowed with argument (\S+)"), r"el argumento \1 no se puede usar con \2"),
    (
        re.compile(r"argument (\S+): invalid choice: (.+?) \(choose from (.+)\)"),
        r"el argumento \1 no admite \2 (use \3)",
    ),
    (re.compile(r"ambiguous option: (.+)"), r"opción ambigua: \1"),
)


def help_text(*paragraphs: str, width: int = 100) -> str:
    """Paragraphs wrapped for --help (lines that start with spaces are kept as they are)."""
    blocks = []
    for paragraph in paragraphs:
        lines = paragraph.split("\n")
        blocks.append("\n".join(ln if ln.startswith(" ") else textwrap.fill(ln, width) for ln in lines))
    return "\n\n".join(blocks)


class _SpanishFormatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, prefix="uso: " if prefix is None else prefix)


class SpanishArgumentParser(argparse.ArgumentParser):
    """``ArgumentParser`` with Spanish help, whose errors raise ``InvalidInput`` (exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _SpanishFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "argumentos"
        self._optionals.title = "opciones"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="muestra esta ayuda y termina")

    def error(self, message: str) -> NoReturn:
        for pattern, spanish in _ARGPARSE_ES:
            message = pattern.sub(spanish, message)
        raise InvalidInput(f"Argumentos inválidos: {message}. Use --help para ver las opciones.")
