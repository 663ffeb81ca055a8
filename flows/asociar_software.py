"""Associate the provider's software ("Configurar modos de operación") and hand its ids to the provider (P2).

    python -m flows.asociar_software --cliente 900123456 [--json]

Token login → H-03 → "Configurar modos de operación" (H-05/H-06):

- the profile's software is already in "Listado de modos de operación asociados": read it, nothing clicked;
- another software is associated: ``NeedsHuman`` (exit 4) naming both (changing provider is the client's call);
- otherwise "Software de un proveedor tecnológico", the provider company and the software of the
  profile's ``[cliente.software]`` (matched by text: case, dashes and "S. A." spacing do not matter),
  then "Asociar" once (journaled in ``<output>/<nit>/pasos.jsonl``).

Then the row's Software Id and PIN and, in "Detalles de set de pruebas" (H-07), the TestSetId are read;
both ids must be UUIDs and the Software Id must equal ``id_esperado`` when the profile has it. The
hand-off file for the provider's platform, ``<output>/<nit>/entrega-proveedor-habilitacion.json``
(mode 0600), is the only place where the PIN is written: logs, results and screenshots hide it.

Test hook: ``DIAN_TEST_EXIT_AFTER_CLICK=asociar_software.asociar`` (see ``bots.steps``).
"""

from __future__ import annotations

import argparse
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
from bots.portals.habilitacion.procesos import Habilitacion, asociar_software

if TYPE_CHECKING:
    from bots.browser import ClientRun
    from bots.config import Client, Settings
    from bots.mail import MailboxAccess, MailWatchers

__all__ = ["DESCRIPTION", "FLOW", "add_options", "build_parser", "main", "prepare", "run_for_client"]

FLOW = "asociar_software"
DESCRIPTION = (
    "Asocia el software del proveedor tecnológico del cliente en «Configurar modos de operación» del portal "
    "de habilitación y entrega al proveedor el Software Id, el PIN y el TestSetId."
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """No options of its own: provider and software come from the client's profile."""


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog=f"python -m flows.{FLOW}",
        description=DESCRIPTION + "\n\nEl proveedor y el software salen de [cliente.software] del archivo de "
        "clientes (proveedor, nombre e id_esperado opcional). Si el software ya está asociado solo lee los datos; "
        "si hay otro software asociado se detiene e informa.",
        epilog=(
            "Resultado: <salida>/<NIT>/entrega-proveedor-habilitacion.json (con el PIN; permisos 600).\n"
            "Códigos de salida: 0 listo o ya estaba hecho; 2 datos inválidos (antes de abrir el navegador); "
            "4 requiere una persona (otro software asociado, Software Id distinto del informado por el "
            "proveedor, Captcha); 5 error o cambio del portal (p. ej. facturador pendiente de registro); "
            "1 error inesperado.\n"
            "Ejemplo: python -m flows.asociar_software --cliente 900123456 --json"
        ),
    )
    add_client_argument(parser)
    add_options(parser)
    add_common_arguments(parser)
    return parser


def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
    """The profile must name the provider's software; the token mailbox must be reachable."""
    if client.software is None:
        raise InvalidInput(
            f"El perfil del cliente {client.nit} no tiene [cliente.software]: agregue proveedor y nombre del "
            "software (y, si el proveedor lo informó, id_esperado)."
        )
    return {"mailbox": client.buzon_token.access(settings)}


def run_for_client(
    run: ClientRun,
    client: Client,
    settings: Settings,
    *,
    watchers: MailWatchers,
    mailbox: MailboxAccess | None = None,
) -> Outcome:
    hab = Habilitacion.open(run, client, settings, watchers, mailbox=mailbox)
    return asociar_software(hab)


def main() -> Outcome:
    return run_single_client(build_parser().parse_args(), prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
