"""Register the client as electronic biller on the habilitación site, with its reception e-mail (P1).

    python -m flows.registrar_facturador --cliente 900123456 [--correo facturacion@empresa.com] [--json]

Token login → "Registro y habilitación" → "Documentos electrónicos" → "Factura Electrónica" (H-03):

- already "Registrado" (or "Habilitado") with the same reception e-mail: ``ya_hecho``, nothing clicked;
- registered with another e-mail: ``NeedsHuman`` (exit 4) with both addresses (changing the address
  is a separate decision of the client, not done by the robot);
- "Pendiente de registro": type the e-mail, "Registrar", "Aceptar" (journaled in
  ``<output>/<nit>/pasos.jsonl``). DIAN signs the user out: the robot logs in again with a new token
  and verifies "Registrado" with that e-mail.

A run that died between "about to click Aceptar" and "clicked" is settled on the next run by reading
the portal, never by clicking again. Test hook: ``DIAN_TEST_EXIT_AFTER_CLICK`` (see ``bots.steps``),
with the click names ``registrar_facturador.registrar`` and ``registrar_facturador.aceptar``.
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
from bots.errors import InvalidInput, NeedsHuman, PortalChanged, PortalError
from bots.mensajes import error_para
from bots.portals.habilitacion.facturador import Facturador
from bots.portals.habilitacion.modelos import (
    EstadoFacturador,
)
from bots.portals.habilitacion.procesos import (
    CLICK_REGISTRAR,
    SETTLED_NOTE,
    STEP_REGISTRO,
    Habilitacion,
    answered,
    contradiction,
    settle,
)
from bots.steps import StepStatus, exit_hook, irreversible
from bots.text import contains, same
from bots.validation import validate_email

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
    "registrar_facturador",
    "run_for_client",
]

FLOW = "registrar_facturador"
DESCRIPTION = (
    "Registra al cliente como facturador electrónico en el portal de habilitación de la DIAN con su correo "
    "de recepción de facturas, y verifica el estado «Registrado»."
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """No batch options: in a batch each client's e-mail comes from its profile."""


def add_email_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--correo", metavar="CORREO",
        help="correo de recepción de facturas a registrar (solo para un cliente); por defecto, correo_recepcion "
        "del perfil del cliente",
    )


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog=f"python -m flows.{FLOW}",
        description=DESCRIPTION + "\n\nSi ya está registrado con ese correo no hace nada. Si está registrado con "
        "otro correo se detiene e informa ambos (cambiarlo es una decisión aparte del cliente).",
        epilog=(
            "Códigos de salida: 0 listo o ya estaba hecho; 2 datos inválidos (antes de abrir el navegador); "
            "4 requiere una persona (correo distinto, Captcha, estado desconocido); 5 error o cambio del portal; "
            "1 error inesperado.\n"
            "Ejemplo: python -m flows.registrar_facturador --cliente 900123456 --correo facturas@empresa.com --json"
        ),
    )
    add_client_argument(parser)
    add_options(parser)
    add_email_option(parser)
    add_common_arguments(parser)
    return parser


def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
    """The reception e-mail (option or profile) and the token mailbox; no browser."""
    if getattr(args, "correo", None):
        correo = validate_email(args.correo)
    elif client.correo_recepcion:
        correo = client.correo_recepcion
    else:
        raise InvalidInput(
            f"Falta el correo de recepción del cliente {client.nit}: agregue correo_recepcion al perfil o use --correo."
        )
    return {"correo": correo, "mailbox": client.buzon_token.access(settings)}


def run_for_client(
    run: ClientRun,
    client: Client,
    settings: Settings,
    *,
    watchers: MailWatchers,
    correo: str,
    mailbox: MailboxAccess | None = None,
) -> Outcome:
    hab = Habilitacion.open(run, client, settings, watchers, mailbox=mailbox)
    return registrar_facturador(hab, correo)


def registrar_facturador(hab: Habilitacion, correo: str) -> Outcome:
    """Register the reception e-mail ("Registrar" → "Aceptar"); DIAN signs out; log in again; verify."""
    with hab.run.step("registro"):
        status, settled = settle(
            hab, STEP_REGISTRO, lambda: hab.abrir_facturador().leer().registrado, "Aceptar el registro"
        )
        facturador = hab.abrir_facturador()
        estado = facturador.leer()
        if estado.registrado:
            return _registro_existente(estado, correo, confirmed_now=settled)
        if not estado.pendiente:
            raise NeedsHuman(
                f"El «Estado de aprobación» es «{estado.estado}», un estado que el robot no conoce; no se hizo clic",
                reason="estado_desconocido",
                dian_text=estado.estado,
            )
        if status is StepStatus.DONE:
            raise contradiction("Aceptar el registro como facturador", estado.estado)
        facturador.escribir_correo(correo)
        dialogo = facturador.registrar()
        exit_hook(CLICK_REGISTRAR)
        if not contains(dialogo.pregunta(), "facturador"):
            dialogo.cancelar()
            raise PortalChanged("La confirmación del registro no dice lo esperado; se canceló sin registrar")

        def aceptar() -> None:
            answered(hab, dialogo.aceptar(), "Aceptar el registro")
            if not hab.session.lost():  # DIAN stayed on the account page: a refusal
                refusal = Facturador.recognise(hab.page, hab.locators).error_correo()
                raise error_para(refusal or "(sin mensaje)", "habilitacion", "registrar el facturador")

        # DIAN signs the user out on success, so the state is verified below after logging in again.
        irreversible(
            hab.journal,
            STEP_REGISTRO,
            act=aceptar,
            verify=lambda: hab.abrir_facturador().leer().registrado,
            what="Aceptar el registro",
            confirm=dialogo.pregunta,
            expected="facturador",
            verify_first=False,
            verify_after=False,
            note=lambda _: {"resultado": "sesion_cerrada_por_la_dian"},
            correo=correo,
        )
        hab.session.relogin("la DIAN cierra la sesión al registrar el facturador")
        estado = hab.abrir_facturador().leer()
        if not estado.registrado or not same(estado.correo_recepcion, correo):
            raise PortalError(
                f"Después de registrar, la DIAN muestra el estado «{estado.estado}» con el correo "
                f"«{estado.correo_recepcion or ''}» en lugar de «Registrado» con {correo}",
                dian_text=estado.estado,
            )
        hab.evidencia("registro-facturador")
        return Outcome.ok(
            f"Facturador registrado con el correo de recepción {correo}. La DIAN cerró la sesión, el robot "
            "ingresó de nuevo con otro token y verificó el estado «Registrado».",
            estado=estado.estado,
            correo_recepcion=estado.correo_recepcion,
        )


def _registro_existente(estado: EstadoFacturador, correo: str, *, confirmed_now: bool) -> Outcome:
    if not same(estado.correo_recepcion, correo):
        # NeedsHuman, not PortalError: DIAN did nothing wrong; the reception address is the client's
        # legal consent, so a person decides whether to change it on the portal or fix the profile.
        raise NeedsHuman(
            f"El facturador ya está «{estado.estado}» con el correo de recepción "
            f"{estado.correo_recepcion or '(vacío)'}, distinto del esperado {correo}. Cambiarlo es una acción "
            "aparte (Configuración del usuario en el portal) que el robot no hace: confirme con el cliente cuál "
            "correo vale y corrija el perfil o el portal",
            reason="correo_distinto",
            dian_text=estado.correo_recepcion,
        )
    note = SETTLED_NOTE.format(click="Aceptar") if confirmed_now else ""
    return Outcome.ya_hecho(
        f"El facturador ya estaba «{estado.estado}» con el correo de recepción {estado.correo_recepcion}{note}; "
        "no se hizo clic en nada.",
        estado=estado.estado,
        correo_recepcion=estado.correo_recepcion,
    )



def main() -> Outcome:
    return run_single_client(build_parser().parse_args(), prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
