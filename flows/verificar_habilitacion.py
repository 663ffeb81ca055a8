"""Check whether the provider's test set was accepted (P3): the operation mode's "Estado" on H-06.

    python -m flows.verificar_habilitacion --cliente 900123456 [--reintentar-en 30] [--json]

"Aceptado" → ``ok``. Still in tests ("En pruebas" / set "En proceso") → ``esperando`` (exit 3) with
``retry_at`` = now + ``--reintentar-en`` minutes and the TestSetId the provider must send. Pending
registration or no associated software → ``requiere_humano`` (exit 4: run the previous flow first).
An unknown state (e.g. a rejection) → ``requiere_humano`` with DIAN's text. Read-only: nothing is clicked.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bots.cli import (
    Outcome,
    SpanishArgumentParser,
    add_client_argument,
    add_common_arguments,
    run_flow,
    run_single_client,
)
from bots.errors import InvalidInput, NeedsHuman, Waiting
from bots.portals.habilitacion.procesos import (
    Habilitacion,
    fila_de,
)

if TYPE_CHECKING:
    from bots.browser import ClientRun
    from bots.config import Client, Settings
    from bots.mail import MailboxAccess, MailWatchers

__all__ = [
    "DESCRIPTION",
    "FLOW",
    "add_options",
    "build_parser",
    "main",
    "prepare",
    "run_for_client",
    "verificar_habilitacion",
]

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


def verificar_habilitacion(hab: Habilitacion, reintentar_en: timedelta) -> Outcome:
    """"Aceptado" → ok; still in tests → ``Waiting`` (look again after ``reintentar_en``)."""
    software = hab.client.software
    with hab.run.step("verificacion"):
        facturador = hab.abrir_facturador()
        estado = facturador.leer()
        if estado.pendiente:
            raise NeedsHuman(
                "El facturador está «Pendiente de registro»: no hay habilitación que verificar. "
                "Ejecute primero registrar_facturador",
                reason="falta_registro",
                dian_text=estado.estado,
            )
        modos = hab.abrir_modos(facturador)
        filas = modos.filas()
        propia = fila_de(filas, software) if software else (filas[0] if len(filas) == 1 else None)
        if propia is None:
            raise NeedsHuman(
                "No hay un modo de operación asociado con el software del perfil. Ejecute primero asociar_software",
                reason="falta_asociacion",
            )
        if propia.aceptado:
            hab.evidencia("habilitacion-aceptada", modos)
            return Outcome.ok(
                f"Habilitación aceptada: el modo de operación con {propia.software} está «{propia.estado}» "
                f"(facturador «{estado.estado}»).",
                **propia.public(),
                estado_facturador=estado.estado,
                dialogo_fecha_produccion=hab.fecha_en_dialogo is not None,
            )
        if propia.en_pruebas:
            set_pruebas = hab.leer_set(propia)
            raise Waiting(
                f"El modo de operación sigue «{propia.estado}» (set de pruebas «{set_pruebas.estado}»): el "
                f"proveedor todavía debe enviar el set de pruebas con el TestSetId {set_pruebas.test_set_id}.",
                retry_at=datetime.now(UTC) + reintentar_en,
                dian_text=propia.estado,
            )
        raise NeedsHuman(
            f"El modo de operación está «{propia.estado}», un estado que el robot no conoce (¿rechazado?)",
            reason="estado_desconocido",
            dian_text=propia.estado,
        )



def main() -> Outcome:
    return run_single_client(build_parser().parse_args(), prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
