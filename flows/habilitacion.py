"""The whole habilitación, as far as the client's state allows today, in one session (P1 → P4).

    python -m flows.habilitacion --cliente 900123456 [--correo ...] [--aprobado-por ... --fecha ...]
        [--reintentar-en 30] [--json]

One token login, then, in order, each step skipped when the portal shows it done:

1. registro: reception e-mail registered ("Registrado"); DIAN signs out and the robot logs in again;
2. asociación: provider software associated, Software Id / PIN / TestSetId handed to the provider;
3. verificación: the provider's test set "Aceptado" — otherwise it stops ``esperando`` (exit 3): the
   provider still has to send (or finish) the test set with the TestSetId;
4. salida a producción: the approved production date and the synchronisation — without the client's
   approval it stops ``requiere_humano`` (exit 4) with the question for the client.

The Spanish report says which steps were done now, which were already done, where it stopped and
why (``data.pasos``, ``data.detenido_en``). Every step keeps its own guarantees (see the step flows).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bots.chain import ChainStep
from bots.cli import (
    Outcome,
    SpanishArgumentParser,
    Status,
    add_client_argument,
    add_common_arguments,
    run_flow,
    run_single_client,
)
from bots.config import ProductionApproval
from bots.errors import InvalidInput, RobotError
from bots.portals.habilitacion.procesos import Habilitacion
from flows import registrar_facturador as registro_flow
from flows import salida_produccion as salida_flow
from flows import verificar_habilitacion as verificacion_flow

if TYPE_CHECKING:

    from bots.browser import ClientRun
    from bots.config import Client, Settings
    from bots.mail import MailboxAccess, MailWatchers

__all__ = ["DESCRIPTION", "FLOW", "add_options", "build_parser", "main", "prepare", "run_for_client"]

FLOW = "habilitacion"
DESCRIPTION = (
    "Hace toda la habilitación en el portal de la DIAN hasta donde el estado del cliente lo permite hoy: "
    "registro del facturador, asociación del software, verificación del set de pruebas y salida a producción."
)
#: The chain, as data: each process is resolved by name (bots.chain), in this order.
CHAIN = (
    ChainStep("registro", "flows.registrar_facturador:registrar_facturador", ("correo",)),
    ChainStep("asociacion", "flows.asociar_software:asociar_software"),
    ChainStep("verificacion", "flows.verificar_habilitacion:verificar_habilitacion", ("reintentar_en",)),
    ChainStep("salida_produccion", "flows.salida_produccion:salida_produccion", ("aprobacion",)),
)
STEPS = {
    "registro": "registro del facturador",
    "asociacion": "asociación del software",
    "verificacion": "verificación del set de pruebas",
    "salida_produccion": "salida a producción",
}


def add_options(parser: argparse.ArgumentParser) -> None:
    """Batch options (the e-mail and the approval come from each client's profile in a batch)."""
    verificacion_flow.add_options(parser)


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog=f"python -m flows.{FLOW}",
        description=DESCRIPTION + "\n\nCada paso se salta si la DIAN ya lo muestra hecho. Se detiene en espera "
        "si el proveedor aún no envía el set de pruebas, y pide una persona si falta la aprobación del cliente "
        "para la fecha de inicio en producción (irreversible).",
        epilog=(
            "Códigos de salida: 0 habilitación completa (o ya lo estaba); 2 datos inválidos (antes de abrir el "
            "navegador); 3 en espera (set de pruebas del proveedor); 4 requiere una persona (aprobación, correo u "
            "otro software distintos, Captcha); 5 error o cambio del portal; 1 error inesperado.\n"
            "Ejemplo: python -m flows.habilitacion --cliente 900123456 --json"
        ),
    )
    add_client_argument(parser)
    add_options(parser)
    registro_flow.add_email_option(parser)
    salida_flow.add_approval_options(parser)
    add_common_arguments(parser)
    return parser


def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
    """Every step's inputs, checked before any browser."""
    options = registro_flow.prepare(args, client, settings)
    if client.software is None:
        raise InvalidInput(
            f"El perfil del cliente {client.nit} no tiene [cliente.software] (proveedor y nombre del software)."
        )
    return {
        **options,
        "reintentar_en": verificacion_flow.retry_delay(args),
        "aprobacion": salida_flow.approval_from(args, client),
    }


def run_for_client(
    run: ClientRun,
    client: Client,
    settings: Settings,
    *,
    watchers: MailWatchers,
    correo: str,
    reintentar_en: timedelta = timedelta(minutes=verificacion_flow.DEFAULT_RETRY_MIN),
    aprobacion: ProductionApproval | None = None,
    mailbox: MailboxAccess | None = None,
) -> Outcome:
    hab = Habilitacion.open(run, client, settings, watchers, mailbox=mailbox)
    options = {"correo": correo, "reintentar_en": reintentar_en, "aprobacion": aprobacion}
    done: list[dict[str, Any]] = []
    for step in CHAIN:
        key = step.key
        try:
            outcome: Outcome = step.run(hab, options)
        except RobotError as exc:
            done.append({"paso": key, "estado": exc.status, "mensaje": exc.message})
            _annotate(exc, key, done)
            raise
        done.append({"paso": key, "estado": outcome.status.value, "mensaje": outcome.message})
    all_before = all(d["estado"] == Status.YA_HECHO.value for d in done)
    message = "Habilitación completa: " + "; ".join(_line(d) for d in done) + "."
    data = {"pasos": done, "detenido_en": None}
    return Outcome.ya_hecho(message, **data) if all_before else Outcome.ok(message, **data)


def _line(step: dict[str, Any]) -> str:
    done = "aceptado" if step["paso"] == "verificacion" else "hecho ahora"
    how = {"ok": done, "ya_hecho": "ya estaba hecho"}.get(step["estado"], step["estado"])
    return f"{STEPS[step['paso']]}: {how}"


def _annotate(exc: RobotError, key: str, done: list[dict[str, Any]]) -> None:
    """Prefix the failure's message with where and why it stopped and what was done before."""
    before = "; ".join(_line(d) for d in done[:-1])
    exc.message = f"Se detuvo en «{STEPS[key]}»: {exc.message}" + (f" (antes: {before})" if before else "")
    exc.args = (exc.message,)
    exc.data = {**(getattr(exc, "data", None) or {}), "pasos": done, "detenido_en": key}


def main() -> Outcome:
    return run_single_client(build_parser().parse_args(), prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
