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
from datetime import UTC, date, datetime, timedelta
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
from bots.errors import BOGOTA, InvalidInput, NeedsHuman, PortalChanged, PortalError, Waiting
from bots.log import get_logger
from bots.mensajes import Kind, clasificar, error_para
from bots.portals.catalogo.session import CatalogoSession
from bots.portals.habilitacion.facturador import Facturador
from bots.portals.habilitacion.inicio import FechaProduccion, landing
from bots.portals.habilitacion.modelos import (
    Aviso,
    EstadoFacturador,
    FechasProduccion,
)
from bots.portals.habilitacion.procesos import (
    CLICK_FECHA,
    CLICK_SINCRONIZAR,
    DASHBOARD_PATH,
    DATE_DIALOG_WAIT_S,
    MAX_PRODUCTION_AHEAD,
    STEP_FECHA,
    STEP_SINCRONIZAR,
    Habilitacion,
    PendingApproval,
    clicked,
    contradiction,
    dmy,
)
from bots.steps import Phase, StepStatus, exit_hook, irreversible
from bots.text import contains, squash

if TYPE_CHECKING:
    from bots.browser import ClientRun
    from bots.config import Client, ProductionApproval, Settings
    from bots.mail import MailboxAccess, MailWatchers

log = get_logger(__name__)

__all__ = [
    "DESCRIPTION",
    "FLOW",
    "add_options",
    "approval_from",
    "build_parser",
    "main",
    "prepare",
    "run_for_client",
    "salida_produccion",
]

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
        fecha_inicio=_parse_date(when), aprobado_por=squash(by), aprobado_en=datetime.now(BOGOTA)
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


def salida_produccion(hab: Habilitacion, aprobacion: ProductionApproval | None) -> Outcome:
    """Register the approved production date (irreversible) and synchronise with production."""
    with hab.run.step("salida_produccion"):
        fecha_status = hab.journal.reconcile(STEP_FECHA, lambda: _fecha_registrada(hab), what="Aceptar la fecha (S2)")
        sync_status = hab.journal.reconcile(STEP_SINCRONIZAR, lambda: _sincronizado(hab), what="Sincronizar")
        hab.session.goto(DASHBOARD_PATH)
        inicio, dialogo = landing(hab.page, hab.locators, esperar_dialogo_s=DATE_DIALOG_WAIT_S)
        respuesta_fecha: str | None = None
        if dialogo is not None:
            if fecha_status is StepStatus.DONE:
                raise contradiction("Aceptar la fecha de inicio en producción", "el diálogo de la fecha otra vez")
            respuesta_fecha = _registrar_fecha(hab, dialogo, aprobacion, alertas=inicio.alertas())
        facturador = hab.abrir_facturador(inicio)
        estado = facturador.leer()
        if estado.fecha_produccion is None:
            if not estado.habilitado:
                raise Waiting(
                    f"El facturador está «{estado.estado}», todavía no «Habilitado»: el set de pruebas no ha sido "
                    "aceptado. Verifique con verificar_habilitacion.",
                    retry_at=datetime.now(UTC) + timedelta(hours=1),
                    dian_text=estado.estado,
                )
            raise NeedsHuman(
                "El facturador está «Habilitado» pero la DIAN no muestra la fecha de inicio en producción ni abre "
                "el diálogo para registrarla. Revise el portal (algunas guías indican entrar por «Participantes»)",
                reason="sin_dialogo_fecha",
                dian_text=estado.estado,
            )
        registered_now = respuesta_fecha is not None and _kind(respuesta_fecha) is not Kind.YA_HECHO
        if registered_now and aprobacion is not None and estado.fecha_produccion != aprobacion.fecha_inicio:
            raise PortalError(
                f"La DIAN muestra como fecha de inicio en producción el {dmy(estado.fecha_produccion)}, no la "
                f"aprobada {dmy(aprobacion.fecha_inicio)}; revise con el cliente (la fecha ya no se puede cambiar)",
                dian_text=dmy(estado.fecha_produccion),
            )
        data: dict[str, Any] = {"fecha_produccion": estado.fecha_produccion.isoformat()}
        if aprobacion is not None:
            data |= {"aprobado_por": aprobacion.aprobado_por, "aprobado_en": aprobacion.aprobado_en.isoformat()}
        if respuesta_fecha:
            data["respuesta_fecha"] = respuesta_fecha
        fecha_text = f"Fecha de inicio en producción {dmy(estado.fecha_produccion)}"
        if respuesta_fecha is None:
            fecha_text += " (ya registrada; no se tocó)"
        elif not registered_now:
            fecha_text += f" (la DIAN respondió: «{respuesta_fecha}»)"
        if sync_status is StepStatus.NEVER and _sincronizado(hab) is True:
            # Read before clicking: the production site already lets the company in (synchronised by
            # hand or by another tool), so "Sincronizar" is not clicked again.
            hab.journal.append(STEP_SINCRONIZAR, Phase.CONFIRMED, verified_after="lectura")
            sync_status = StepStatus.DONE
        elif sync_status is StepStatus.NEVER:
            facturador = hab.abrir_facturador()  # the read above left the habilitación page
            estado = facturador.leer()
        if sync_status is StepStatus.DONE:
            message = f"{fecha_text}; el contribuyente ya estaba sincronizado a producción."
            if respuesta_fecha is None:
                return Outcome.ya_hecho(message + " No se hizo clic en nada.", **data)
            return Outcome.ok(message, **data)
        data["respuesta_sincronizacion"] = _sincronizar(hab, facturador, estado)
        return Outcome.ok(f"{fecha_text}; contribuyente sincronizado a producción.", **data)


def _kind(text: str) -> Kind | None:
    known = clasificar(text, "habilitacion")
    return known.kind if known else None


def _fecha_registrada(hab: Habilitacion) -> bool | None:
    """Read-only: is the production date on the portal? (None: the portal does not say)."""
    estado = hab.abrir_facturador().leer()
    if estado.fecha_produccion is not None:
        return True
    # DIAN opens the date dialog after the dashboard has loaded: give it time before concluding.
    hab.session.goto(DASHBOARD_PATH)
    _, dialogo = landing(hab.page, hab.locators, esperar_dialogo_s=DATE_DIALOG_WAIT_S)
    return False if dialogo is not None else None


def _sincronizado(hab: Habilitacion) -> bool | None:
    """Read-only: does the production site let the company in? (a token login there; research §2.6:
    the synchronisation is what opens "Facturando electrónicamente")."""
    produccion = CatalogoSession(
        hab.run, hab.client, "produccion", hab.settings, hab.watchers, mailbox=hab.session.mailbox
    )
    try:
        produccion.login()
    except PortalError as exc:
        known = clasificar(exc.dian_text, "catalogo_ingreso")
        if known is not None and known.kind is Kind.NO_SINCRONIZADO:
            return False
        if exc.retryable:
            raise
        return None
    return True


def _question(hab: Habilitacion, fechas: FechasProduccion) -> dict[str, Any]:
    client = hab.client
    propuesta = fechas.produccion or fechas.habilitacion
    limite = fechas.habilitacion + MAX_PRODUCTION_AHEAD if fechas.habilitacion else None
    pregunta = (
        f"¿Aprueba registrar el {dmy(propuesta)} como fecha de inicio de la facturación electrónica en producción "
        f"de {client.razon_social} (NIT {client.nit_con_dv})? La DIAN propone esa fecha (fecha de habilitación: "
        f"{dmy(fechas.habilitacion)}); se puede elegir otra entre el {dmy(fechas.habilitacion)} y el "
        f"{dmy(limite)}. Con esa fecha la DIAN actualiza la responsabilidad «52-Facturador Electrónico» del RUT "
        "y no se puede modificar después."
    )
    return {
        "pregunta": pregunta,
        "fecha_habilitacion": fechas.habilitacion.isoformat() if fechas.habilitacion else None,
        "fecha_propuesta": propuesta.isoformat() if propuesta else None,
        "fecha_maxima": limite.isoformat() if limite else None,
    }


def _registrar_fecha(
    hab: Habilitacion, dialogo: FechaProduccion, aprobacion: ProductionApproval | None, *, alertas: int
) -> str:
    """H-08 → H-09 with the approved date; returns DIAN's answer. Nothing irreversible without approval."""
    fechas = dialogo.leer()
    data = _question(hab, fechas)
    how = (
        "Registre la respuesta en aprobacion_produccion del perfil del cliente o ejecute con --aprobado-por y "
        "--fecha."
    )
    if aprobacion is None:
        raise PendingApproval(
            "Falta la aprobación explícita del cliente para la fecha de inicio en producción (paso irreversible; "
            f"no se hizo nada). Pregunta para el cliente: «{data['pregunta']}» {how}",
            data=data,
        )
    fecha = aprobacion.fecha_inicio
    low, high = fechas.habilitacion, (fechas.habilitacion + MAX_PRODUCTION_AHEAD) if fechas.habilitacion else None
    if low is None or high is None or not low <= fecha <= high:
        raise PendingApproval(
            f"La fecha aprobada {dmy(fecha)} está fuera de lo que permite la DIAN ({dmy(low)} a {dmy(high)}); "
            f"no se hizo nada. Pregunta para el cliente: «{data['pregunta']}» {how}",
            data={**data, "fecha_aprobada": fecha.isoformat()},
        )
    log.info("fecha aprobada por el cliente", fecha=fecha.isoformat(), aprobado_por=aprobacion.aprobado_por)
    dialogo.escribir_fecha(fecha)

    def aceptar() -> Aviso:
        # H-08 "Aceptar" opens H-09; H-09 "Aceptar" sends the date. Both controls are flagged irreversible,
        # so both clicks run inside this one step: a run killed between them leaves it uncertain and the next
        # run reads the portal (the date dialog still open = not applied).
        confirmacion = dialogo.aceptar()
        exit_hook(CLICK_FECHA)
        texto = confirmacion.pregunta()
        expected = contains(texto, "RUT") and contains(texto, "Facturador Electrónico")
        if not expected or confirmacion.fecha() not in (None, fecha):
            confirmacion.cancelar()
            raise PortalChanged("La confirmación de la fecha (H-09) no dice lo esperado; se canceló sin confirmar")
        aviso = confirmacion.aceptar(alertas)
        known = clasificar(aviso.texto, "habilitacion")
        accepted = known.kind in (Kind.EXITO, Kind.YA_HECHO) if known else aviso.exito
        if not accepted:
            # An unknown reply may be a transient failure: retryable (a known refusal says itself).
            raise error_para(
                aviso.texto, "habilitacion", "registrar la fecha de inicio en producción", retryable=known is None
            )
        return aviso

    # Verified by the caller on H-03 (#ProductionDate) right after; the answer is DIAN's notification (H-10).
    done = irreversible(
        hab.journal,
        STEP_FECHA,
        act=aceptar,
        verify=lambda: _fecha_registrada(hab),
        what="Aceptar la fecha (S2)",
        verify_first=False,
        verify_after=False,
        note=lambda aviso: {"respuesta": aviso.texto},
        fecha_produccion=fecha.isoformat(),
        aprobado_por=aprobacion.aprobado_por,
        aprobado_en=aprobacion.aprobado_en.isoformat(),
    )
    hab.evidencia("fecha-inicio-produccion")
    return clicked(done, STEP_FECHA).texto


def _sincronizar(hab: Habilitacion, facturador: Facturador, estado: EstadoFacturador) -> str:
    """H-11: "Sincronizar Contribuyente a producción" → "Aceptar" once (journaled); DIAN's answer."""
    if not facturador.puede_sincronizar():
        raise NeedsHuman(
            "No aparece el botón «Sincronizar Contribuyente a producción» aunque hay fecha de inicio en producción",
            reason="sin_boton_sincronizar",
            dian_text=estado.estado,
        )
    alertas = facturador.alertas()
    dialogo = facturador.sincronizar()
    exit_hook(CLICK_SINCRONIZAR)
    if not contains(dialogo.pregunta(), "sincronizar contribuyente"):
        dialogo.cancelar()
        raise PortalChanged("La confirmación de la sincronización no dice lo esperado; se canceló")

    def aceptar() -> Aviso:
        aviso = dialogo.aceptar(alertas)
        known = clasificar(aviso.texto, "habilitacion")
        if not (known.kind is Kind.EXITO if known else aviso.exito):
            raise error_para(
                aviso.texto, "habilitacion", "sincronizar el contribuyente a producción", retryable=known is None
            )
        return aviso

    # Verified by DIAN's notification (inside ``aceptar``); a later run verifies by logging in on production.
    done = irreversible(
        hab.journal,
        STEP_SINCRONIZAR,
        act=aceptar,
        verify=lambda: _sincronizado(hab),
        what="Sincronizar",
        confirm=dialogo.pregunta,
        expected="sincronizar contribuyente",
        verify_first=False,
        verify_after=False,
        note=lambda aviso: {"respuesta": aviso.texto},
        fecha_produccion=dmy(estado.fecha_produccion),
    )
    hab.evidencia("sincronizacion-produccion")
    return clicked(done, STEP_SINCRONIZAR).texto



def main() -> Outcome:
    return run_single_client(build_parser().parse_args(), prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
