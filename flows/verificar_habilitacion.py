"""Check whether the provider's test set was accepted (P3): the operation mode's "Estado" on H-06.

    python -m flows.verificar_habilitacion --cliente 900123456 [--reintentar-en 30] [--json]

"Aceptado" → ``ok``. Still in tests ("En pruebas" / set "En proceso") → ``esperando`` (exit 3) with
``retry_at`` = now + ``--reintentar-en`` minutes and the TestSetId the provider must send. Pending
registration or no associated software → ``requiere_humano`` (exit 4: run the previous flow first).
An unknown state (e.g. a rejection) → ``requiere_humano`` with DIAN's text. Read-only: nothing is clicked.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bots.cli import (
    Outcome,
    SpanishArgumentParser,
    add_client_argument,
    add_common_arguments,
    run_flow,
    run_single_client,
)
from bots.errors import InvalidInput
from bots.portals.habilitacion.procesos import Habilitacion, verificar_habilitacion

if TYPE_CHECKING:
    from bots.browser import ClientRun
    from bots.config import Client, Settings
    from bots.mail import MailboxAccess, MailWatchers

__all__ = ["DESCRIPTION", "FLOW", "add_options", "build_parser", "main", "prepare", "run_for_client"]

FLOW = "verificar_habilitacion"
DESCRIPTION = (
    "Lee en el portal de habilitación el estado del modo de operación del cliente: «Aceptado» termina bien; "
    "si el set de pruebas sigue en proceso termina en espera con la hora para volver a mirar."
)
DEFAULT_RETRY_MIN = 30


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reintentar-en", type=int, default=DEFAULT_RETRY_MIN, metavar="MINUTOS",
        help=f"si sigue en pruebas, cuándo volver a mirar (minutos; por defecto {DEFAULT_RETRY_MIN})",
    )


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog=f"python -m flows.{FLOW}",
        description=DESCRIPTION + "\n\nSolo lee: no hace clic en nada.",
        epilog=(
            "Códigos de salida: 0 aceptado; 2 datos inválidos (antes de abrir el navegador); 3 en espera (el "
            "proveedor aún no envía o no termina el set de pruebas); 4 requiere una persona (falta un paso "
            "previo o un estado desconocido); 5 error o cambio del portal; 1 error inesperado.\n"
            "Ejemplo: python -m flows.verificar_habilitacion --cliente 900123456 --reintentar-en 60 --json"
        ),
    )
    add_client_argument(parser)
    add_options(parser)
    add_common_arguments(parser)
    return parser


def retry_delay(args: argparse.Namespace) -> timedelta:
    minutes = getattr(args, "reintentar_en", DEFAULT_RETRY_MIN)
    if minutes is None or not 1 <= minutes <= 7 * 24 * 60:
        raise InvalidInput(f"--reintentar-en debe estar entre 1 y {7 * 24 * 60} minutos (se recibió {minutes}).")
    return timedelta(minutes=minutes)


def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
    return {"reintentar_en": retry_delay(args), "mailbox": client.buzon_token.access(settings)}


def run_for_client(
    run: ClientRun,
    client: Client,
    settings: Settings,
    *,
    watchers: MailWatchers,
    reintentar_en: timedelta = timedelta(minutes=DEFAULT_RETRY_MIN),
    mailbox: MailboxAccess | None = None,
) -> Outcome:
    hab = Habilitacion.open(run, client, settings, watchers, mailbox=mailbox)
    return verificar_habilitacion(hab, reintentar_en)


def main() -> Outcome:
    return run_single_client(build_parser().parse_args(), prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
