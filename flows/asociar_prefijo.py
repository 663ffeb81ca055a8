"""Associate an authorised numbering prefix with the provider's software on the production site.

    python -m flows.asociar_prefijo --cliente 900123456 --prefijo FE [--json]
        [--software "CADENA S. A. - 890930534efacturacadena" | --software-id 49fab599-4556-4828-a30b-852a910c5bb1]
        [--resolucion 18764031407250]

Steps, as in the manuals (000 D.01–D.07; 002 Paso 2–3.2): token login on "Facturando
electrónicamente" → the dashboard (P-01) → "Rangos de numeración" (P-02, opened by its URL
/Software/AddNumberRange as a 2026 scraper does: the menu toggle has no state to read) →

- the prefix already appears for that software in the associated table (P-04): ``ya_hecho``,
  nothing is clicked;
- the prefix/resolution is not offered yet: ``Waiting`` (exit 3) — DIAN copies the resolutions
  authorised in MUISCA to this site after about two hours;
- otherwise choose "Proveedor - Software" and "Prefijo" by their text, "Agregar", "Aceptar" (one
  click each, never retried; "Aceptar" is recorded in the step journal before and after), verify the
  new row in P-04, save evidence (masked screenshot + HTML). A run killed right after "Aceptar"
  settles it on the next run by reading P-04, never by clicking again.
- the outcome tells the operator the provider's own follow-up steps when the provider is known.

Inputs are validated before any browser starts (exit 2). Batch: ``python -m flows.lote
asociar_prefijo --prefijo FE`` (this module follows the contract documented in ``flows.lote``).
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bots import text
from bots.cli import (
    Outcome,
    SpanishArgumentParser,
    add_client_argument,
    add_common_arguments,
    help_text,
    run_flow,
    run_single_client,
)
from bots.errors import InvalidInput, NeedsHuman, PortalError, Waiting
from bots.log import get_logger
from bots.portals.catalogo import Option, find_option
from bots.portals.catalogo.produccion import (
    NUMBER_RANGES_PATH,
    AsociacionPrefijos,
    InicioProduccion,
    PrefijoAsociado,
    RangeOption,
    RespuestaAsociacion,
)
from bots.portals.catalogo.session import CatalogoSession
from bots.steps import irreversible, step_journal
from bots.text import squash
from bots.validation import validate_nit, validate_prefix, validate_uuid

if TYPE_CHECKING:
    from bots.browser import ClientRun
    from bots.config import Client, Settings
    from bots.mail import MailboxAccess, MailWatchers

__all__ = ["DESCRIPTION", "FLOW", "add_options", "build_parser", "main", "prepare", "run_for_client"]

log = get_logger(__name__)

FLOW = "asociar_prefijo"
DESCRIPTION = (
    "Asocia un prefijo de numeración autorizado (resolución de MUISCA) al software del proveedor "
    "tecnológico en el portal de producción de la DIAN («Facturando electrónicamente»)."
)
#: When to try again if the resolution is not offered yet (DIAN syncs MUISCA after about two hours).
SYNC_BACKOFF = timedelta(minutes=30)
_RESOLUTION = re.compile(r"^\d{1,20}$")
#: The irreversible click of this flow (step journal name; also the kill/resume test hook).
STEP_ACEPTAR = "asociar_prefijo.aceptar"
#: What the provider's own platform needs after the association (manuals of Facturatech and Loggro).
PROVIDER_FOLLOW_UP = {
    "facturatech": "en Facturatech: «Configuración – Numeración → Sincronizar Numeraciones»",
    "loggro": "en Loggro: «Gestión Proveedor Tecnológico → La organización maneja facturación electrónica»",
}


# --- command line and inputs -----------------------------------------------------------------------


def add_options(parser: argparse.ArgumentParser) -> None:
    """This flow's own options (shared by the single run and the batch)."""
    parser.add_argument(
        "--prefijo", required=True, metavar="PREFIJO",
        help="prefijo autorizado en la resolución de numeración, de 1 a 4 letras o dígitos (p. ej. FE, SETP)",
    )
    software = parser.add_mutually_exclusive_group()
    software.add_argument(
        "--software", metavar='"PROVEEDOR - SOFTWARE"',
        help="el software tal como aparece en «Proveedor - Software», p. ej. \"CADENA S. A. - "
        "890930534efacturacadena\" (mayúsculas, guiones y el espacio de «S. A.» no importan). Por defecto: "
        "proveedor y nombre del [cliente.software] del archivo de clientes",
    )
    software.add_argument(
        "--software-id", metavar="UUID",
        help="el identificador (Software Id) del software en la DIAN, en lugar de su nombre",
    )
    parser.add_argument(
        "--resolucion", metavar="NÚMERO",
        help="número de la resolución, si hay varias con el mismo prefijo (p. ej. 18764031407250)",
    )


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog="python -m flows.asociar_prefijo",
        description=help_text(
            DESCRIPTION,
            "Si el prefijo ya está asociado a ese software no hace nada. Si la DIAN todavía no muestra la "
            "resolución (tarda unas dos horas después de autorizada en MUISCA), termina «en espera» con la hora "
            "sugerida para reintentar. Los datos se validan antes de abrir el navegador.",
        ),
        epilog=help_text(
            "Códigos de salida: 0 listo o ya estaba hecho; 2 datos inválidos (antes de abrir el navegador); "
            "3 en espera (la resolución aún no aparece); 4 requiere una persona (Captcha, enlace del correo "
            "consumido por un analizador, software o prefijo en otra situación); 5 error o cambio del portal; "
            "1 error inesperado.",
            "Ejemplo:\n  python -m flows.asociar_prefijo --cliente 900123456 --prefijo FE \\\n"
            '      --software "CADENA S. A. - 890930534efacturacadena" --json',
        ),
    )
    add_client_argument(parser)
    add_options(parser)
    add_common_arguments(parser)
    return parser


def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
    """Validate the options for ``client`` (``InvalidInput``); no browser. → ``run_for_client`` kwargs."""
    prefijo = validate_prefix(args.prefijo)
    software_id = validate_uuid(args.software_id) if args.software_id else None
    software = squash(args.software) if args.software else None
    if args.software is not None and not software:
        raise InvalidInput("--software está vacío: escriba «PROVEEDOR - SOFTWARE» como lo muestra la DIAN.")
    expected_id = None
    if software is None and software_id is None:
        if client.software is None:
            raise InvalidInput(
                f"El cliente {client.nit} no tiene [cliente.software] en el archivo de clientes: indique "
                "--software \"PROVEEDOR - SOFTWARE\" o --software-id."
            )
        software = f"{client.software.proveedor} - {client.software.nombre}"
        expected_id = client.software.id_esperado
    resolucion = None
    if args.resolucion is not None:
        resolucion = str(args.resolucion).strip()
        if not _RESOLUTION.match(resolucion):
            raise InvalidInput(f"Número de resolución inválido: {args.resolucion!r} (solo dígitos).")
    mailbox = client.buzon_token.access(settings)  # the mailbox secret must exist before any browser
    return {
        "prefijo": prefijo,
        "software": software,
        "software_id": software_id,
        "expected_id": expected_id,
        "resolucion": resolucion,
        "mailbox": mailbox,
    }


# --- the flow --------------------------------------------------------------------------------------


def run_for_client(
    run: ClientRun,
    client: Client,
    settings: Settings,
    *,
    watchers: MailWatchers,
    prefijo: str,
    software: str | None = None,
    software_id: str | None = None,
    expected_id: str | None = None,
    resolucion: str | None = None,
    mailbox: MailboxAccess | None = None,
) -> Outcome:
    """Associate ``prefijo`` with the software on the production site for one client."""
    session = CatalogoSession(run, client, "produccion", settings, watchers, mailbox=mailbox)
    session.login()
    journal = step_journal(settings, client.nit)

    with run.step("inicio"):
        InicioProduccion.recognise(run.page, session.locators)

    with run.step("rangos"):
        page = _open_prefix_page(session, client)
        wanted_id = software_id or expected_id
        journal.reconcile(
            STEP_ACEPTAR,
            lambda: _associated(page.prefijos_asociados(), prefijo, resolucion, software, wanted_id) is not None,
            what="Aceptar (asociar el prefijo)",
        )
        done = _associated(page.prefijos_asociados(), prefijo, resolucion, software, wanted_id)
        if done is not None:
            run.save_evidence(f"{FLOW}-ya-hecho")
            outcome = Outcome.ya_hecho(
                f"El prefijo {prefijo} (resolución {done.resolucion}, rango {done.desde} a {done.hasta}) ya estaba "
                f"asociado al software «{done.software_label}» (desde {done.fecha_asociacion}); no se hizo nada.",
                **_data(prefijo, done),
            )
            outcome.client = client.nit
            return outcome
        chosen_software = _software_option(page, software, software_id, expected_id)
        chosen_range = _range_option(page, prefijo, resolucion)

    with run.step("asociar"):
        page.elegir_software(chosen_software)
        page.elegir_prefijo(chosen_range)
        confirmation = page.agregar(chosen_software, chosen_range)
        result = irreversible(
            journal,
            STEP_ACEPTAR,
            act=confirmation.aceptar,
            verify=lambda: _associated(page.prefijos_asociados(), prefijo, chosen_range.resolucion, None,
                                       chosen_software.value) is not None,
            what="Aceptar (asociar el prefijo)",
            confirm=confirmation.mensaje,
            expected="asociar el prefijo",
            verify_first=False,  # read just above: not associated
            verify_after=False,  # DIAN reloads the page; verified below on a fresh P-02
            prefijo=prefijo,
            resolucion=chosen_range.resolucion,
            software_id=chosen_software.value,
        )
        reply = result.value if result.value is not None else RespuestaAsociacion(success=None)

    with run.step("verificar"):
        page = _open_prefix_page(session, client)
        row = _associated(page.prefijos_asociados(), prefijo, chosen_range.resolucion, None, chosen_software.value)
        if row is None or (row.desde, row.hasta) != (chosen_range.desde, chosen_range.hasta):
            raise _not_associated(reply, page)
        if row.software_label and not text.same(row.software_label, chosen_software.text):
            log.warning("el software de la fila no se escribe como en la lista", fila=row.software_label,
                        opcion=chosen_software.text)
        if reply.success is not True:
            log.warning("la DIAN no confirmó la asociación, pero la tabla la muestra", reply=reply.message)
        html, png = run.save_evidence(FLOW)

    follow_up = _follow_up(chosen_software.text, client)
    outcome = Outcome.ok(
        f"Prefijo {prefijo} (resolución {chosen_range.resolucion}, rango {chosen_range.desde} a {chosen_range.hasta}) "
        f"asociado al software «{chosen_software.text}» el {row.fecha_asociacion}."
        + (f" Falta {follow_up}." if follow_up else ""),
        **_data(prefijo, row),
        siguientes_pasos=follow_up,
        evidencia={"captura": str(png) if png else None, "html": str(html) if html else None},
    )
    outcome.client = client.nit
    return outcome


def _open_prefix_page(session: CatalogoSession, client: Client) -> AsociacionPrefijos:
    """P-02 by URL, recognised, and proven to be this client's (NIT shown twice, both checked)."""
    session.goto(NUMBER_RANGES_PATH)
    page = AsociacionPrefijos.recognise(session.page, session.locators)
    shown_nit = page.nit_facturador()
    if _base_nit(shown_nit) != client.nit:
        raise PortalError(
            f"«NIT Facturador» muestra {shown_nit or '(vacío)'}, no {client.nit}: la sesión no es de este cliente",
            selector=page.name("nit_facturador"),
        )
    return page


def _follow_up(software_label: str, client: Client) -> str | None:
    """The provider's own follow-up step, when the provider is one whose manual we know."""
    names = [software_label]
    if client.software is not None:
        names.append(client.software.proveedor)
    for key, step in PROVIDER_FOLLOW_UP.items():
        if any(key in text.normalize(n) for n in names):
            return step
    return None


def _base_nit(value: str) -> str | None:
    """The base NIT of what the page shows, or None if it is not a NIT."""
    try:
        return validate_nit(value)
    except InvalidInput:
        return None


def _associated(
    rows: list[PrefijoAsociado], prefijo: str, resolucion: str | None, label: str | None, software_id: str | None
) -> PrefijoAsociado | None:
    """The P-04 row of ``prefijo`` (and ``resolucion`` when given) for this software (by id when known,
    else by "Proveedor - Software")."""
    for row in rows:
        if row.prefijo != prefijo or (resolucion is not None and row.resolucion != resolucion):
            continue
        if software_id and row.software_id.strip().lower() == software_id.lower():
            return row
        if not software_id and label and text.same(row.software_label, label):
            return row
    return None


def _software_option(page: AsociacionPrefijos, label: str | None, software_id: str | None,
                     expected_id: str | None) -> Option:
    """The "Proveedor - Software" option to choose, or why there is none."""
    options = page.opciones_software()
    if software_id:
        option = next((o for o in options if o.value.strip().lower() == software_id), None)
        wanted = f"con Software Id {software_id}"
    else:
        assert label is not None
        option = find_option(options, label)
        wanted = f"«{label}»"
    if option is None:
        notices = [n for n in page.avisos() if text.contains(n, "software")]
        listed = "; ".join(o.text for o in options) or "ninguno"
        raise NeedsHuman(
            f"El software {wanted} no aparece en «Proveedor - Software» (la DIAN lista: {listed}). Solo se "
            "listan los software en estado productivo: revise la habilitación con ese proveedor",
            reason="software_no_disponible",
            selector=page.name("proveedor_software"),
            dian_text=" ".join(notices) or None,
        )
    if expected_id and option.value.strip().lower() != expected_id.lower():
        raise NeedsHuman(
            f"«{option.text}» tiene en la DIAN el Software Id {option.value}, no el {expected_id} que indica el "
            "archivo de clientes; confirme con el proveedor cuál es el correcto",
            reason="software_distinto",
            selector=page.name("proveedor_software"),
        )
    return option


def _range_option(page: AsociacionPrefijos, prefijo: str, resolucion: str | None) -> RangeOption:
    """The "Prefijo" option to choose; Waiting when the resolution is not offered yet."""
    options = page.opciones_prefijo()
    matches = [
        o for o in options if o.prefijo.upper() == prefijo and (resolucion is None or o.resolucion == resolucion)
    ]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        numbers = ", ".join(o.resolucion for o in matches)
        raise NeedsHuman(
            f"Hay {len(matches)} resoluciones con el prefijo {prefijo} ({numbers}); indique cuál con --resolucion",
            reason="resolucion_ambigua",
            selector=page.name("prefijo"),
        )
    other = next((r for r in page.prefijos_asociados() if r.prefijo == prefijo
                  and (resolucion is None or r.resolucion == resolucion)), None)
    if other is not None:
        raise NeedsHuman(
            f"El prefijo {prefijo} ya está asociado a otro software («{other.software_label}», desde "
            f"{other.fecha_asociacion}). Cambiarlo exige «Eliminar asociación», que el robot no hace",
            reason="prefijo_con_otro_software",
            selector=page.name("filas"),
        )
    which = f"la resolución {resolucion} con prefijo {prefijo}" if resolucion else f"el prefijo {prefijo}"
    notices = [n for n in page.avisos() if text.contains(n, "rangos") or text.contains(n, "prefijos")]
    raise Waiting(
        f"La DIAN todavía no ofrece {which} en «Prefijo». Las resoluciones autorizadas en MUISCA llegan a este "
        "portal unas dos horas después; si ya pasó ese tiempo, revise en MUISCA que la resolución esté "
        "autorizada con ese prefijo",
        retry_at=datetime.now(UTC) + SYNC_BACKOFF,
        selector=page.name("prefijo"),
        dian_text=" ".join(notices) or None,
    )


def _not_associated(reply: RespuestaAsociacion, page: AsociacionPrefijos) -> PortalError:
    said = reply.message or page.notificacion_error()
    if reply.success is None and not said:
        return PortalError(
            "Se hizo clic en «Aceptar» una vez, no se vio respuesta de la DIAN y el prefijo no aparece asociado. No "
            "se repitió el clic: revise el portal antes de volver a ejecutar",
        )
    return PortalError("Se hizo clic en «Aceptar» una vez y la DIAN no asoció el prefijo", dian_text=said,
                       selector=page.name("filas"))


def _data(prefijo: str, row: PrefijoAsociado) -> dict[str, Any]:
    return {
        "prefijo": prefijo,
        "resolucion": row.resolucion,
        "rango": {"desde": row.desde, "hasta": row.hasta},
        "software": row.software_label,
        "software_id": row.software_id,
        "fecha_asociacion": row.fecha_asociacion,
        "fecha_expiracion": row.fecha_expiracion,
    }


def main() -> Outcome:
    args = build_parser().parse_args()
    validate_prefix(args.prefijo)  # the cheapest checks first, before reading any file
    return run_single_client(args, prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
