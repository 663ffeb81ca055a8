"""Production start date (H-08 + the H-09 RUT "52/S2 – Facturador Electrónico" confirmation) and
"Sincronizar Contribuyente a producción" (H-11) on the habilitación site (P4).

    python -m flows.salida_produccion --cliente 900123456 [--aprobado-por "Ana Gómez (correo 2026-03-20)"
        --fecha 2026-04-01] [--json]

IRREVERSIBLE: the date updates the client's RUT and cannot be changed later. The robot accepts it only
with the client's explicit approval of that date: ``[cliente.aprobacion_produccion]`` in the profile
(fecha_inicio, aprobado_por, aprobado_en) or ``--aprobado-por`` with ``--fecha`` (single client only;
not offered in a batch). Without it the run stops with ``requiere_humano`` (exit 4) and the question
to put to the client, with the dates DIAN proposes; nothing irreversible is done.

- H-08 open on landing: type the approved date (within [fecha de habilitación, +1 año]), "Aceptar",
  check the H-09 text, "Aceptar" once (journaled), read DIAN's answer (H-10).
- "Contribuyente ya registró fecha de inicio en producción." or an already filled "Fecha de inicio
  producción": the date step is done; go on to the synchronisation, never touching the date again.
- "Sincronizar Contribuyente a producción" → "Aceptar" once (journaled); DIAN's answer is verified.
  A synchronisation recorded as done in ``<output>/<nit>/pasos.jsonl`` is not repeated.

A run that died between "about to click" and "clicked" is settled by reading the portal (the date on
H-03; for the synchronisation, whether the production site lets the company in). Test hook:
``DIAN_TEST_EXIT_AFTER_CLICK`` with ``salida_produccion.aceptar_fecha``, ``salida_produccion.confirmar_fecha``,
``salida_produccion.abrir_sincronizacion`` or ``salida_produccion.sincronizar`` (see ``bots.steps``).
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bots.cli import (
    Outcome,
    SpanishArgumentParser,
    add_client_argument,
    add_common_arguments,
    run_flow,
    run_single_client,
)
from bots.config import ProductionApproval
from bots.errors import BOGOTA, InvalidInput
from bots.portals.habilitacion.procesos import Habilitacion, salida_produccion

if TYPE_CHECKING:
    from bots.browser import ClientRun
    from bots.config import Client, Settings
    from bots.mail import MailboxAccess, MailWatchers

__all__ = ["DESCRIPTION", "FLOW", "add_options", "approval_from", "build_parser", "main", "prepare", "run_for_client"]

FLOW = "salida_produccion"
DESCRIPTION = (
    "Registra la fecha de inicio en producción aprobada por el cliente (actualiza la responsabilidad 52 del RUT; "
    "irreversible) y sincroniza al contribuyente con producción en el portal de habilitación."
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """No batch options: in a batch the approval comes only from each client's profile."""


def add_approval_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("aprobación del cliente (solo para un cliente; ambas juntas)")
    group.add_argument(
        "--aprobado-por", metavar="QUIÉN",
        help="quién del cliente aprobó la fecha y cómo consta, p. ej. \"Ana Gómez, representante legal (correo "
        "del 2026-03-20)\"",
    )
    group.add_argument(
        "--fecha", metavar="AAAA-MM-DD", help="fecha de inicio en producción aprobada (también DD-MM-AAAA)"
    )


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog=f"python -m flows.{FLOW}",
        description=DESCRIPTION + "\n\nSin la aprobación explícita del cliente (perfil aprobacion_produccion, o "
        "--aprobado-por y --fecha) no registra nada: termina con la pregunta para el cliente y las fechas que "
        "propone la DIAN. Si la fecha ya estaba registrada, solo sincroniza (una vez).",
        epilog=(
            "Códigos de salida: 0 listo o ya estaba hecho; 2 datos inválidos (antes de abrir el navegador); "
            "3 en espera (aún no está habilitado); 4 requiere una persona (falta la aprobación, Captcha, "
            "diálogo ausente); 5 error o cambio del portal; 1 error inesperado.\n"
            "Ejemplo: python -m flows.salida_produccion --cliente 900123456 --aprobado-por \"Ana Gómez "
            "(correo del 2026-03-20)\" --fecha 2026-04-01 --json"
        ),
    )
    add_client_argument(parser)
    add_options(parser)
    add_approval_options(parser)
    add_common_arguments(parser)
    return parser


def _parse_date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise InvalidInput(f"--fecha inválida: {text!r}. Use AAAA-MM-DD, p. ej. 2026-04-01.")


def approval_from(args: argparse.Namespace, client: Client) -> ProductionApproval | None:
    """The approval from the command line (both options) or else from the profile; None if neither."""
    by, when = getattr(args, "aprobado_por", None), getattr(args, "fecha", None)
    if by is None and when is None:
        return client.aprobacion_produccion
    if not (by and by.strip()) or not (when and when.strip()):
        raise InvalidInput("La aprobación necesita --aprobado-por y --fecha juntas (ninguna puede ir vacía).")
    return ProductionApproval(
        fecha_inicio=_parse_date(when), aprobado_por=" ".join(by.split()), aprobado_en=datetime.now(BOGOTA)
    )


def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
    return {"aprobacion": approval_from(args, client), "mailbox": client.buzon_token.access(settings)}


def run_for_client(
    run: ClientRun,
    client: Client,
    settings: Settings,
    *,
    watchers: MailWatchers,
    aprobacion: ProductionApproval | None = None,
    mailbox: MailboxAccess | None = None,
) -> Outcome:
    hab = Habilitacion.open(run, client, settings, watchers, mailbox=mailbox)
    return salida_produccion(hab, aprobacion)


def main() -> Outcome:
    return run_single_client(build_parser().parse_args(), prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
