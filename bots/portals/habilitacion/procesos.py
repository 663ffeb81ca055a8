"""What the habilitación processes share: one signed-in session and small read-only helpers.

The processes themselves (P1 ``registrar_facturador``, P2 ``asociar_software``, P3
``verificar_habilitacion``, P4 ``salida_produccion``) live in the flow modules of the same names; this
module knows nothing of outcomes or the CLI. It holds the step-journal names of the irreversible clicks
(kept stable so old journals stay valid), the test-hook names of the reversible ones, the session
(``Habilitacion``: token login, navigation, evidence), and checks the processes share (``check_ids``).
Every irreversible click goes through ``bots.steps.irreversible``; ``settle`` reconciles a step left
uncertain by an earlier run by reading the portal, never by clicking again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from bots.errors import InvalidInput, NeedsHuman, PortalChanged, PortalError
from bots.locators import Locators
from bots.log import get_logger
from bots.portals.catalogo.session import CatalogoSession
from bots.portals.habilitacion.base import FAMILY
from bots.portals.habilitacion.facturador import Facturador, TiposDocumento
from bots.portals.habilitacion.inicio import Inicio, landing
from bots.portals.habilitacion.modelos import (
    FechasProduccion,
    ModoOperacion,
    SetPruebas,
    format_dian_date,
    is_pin,
    is_uuid,
)
from bots.portals.habilitacion.modos import ModosOperacion, PaginaSetPruebas
from bots.steps import ActionResult, StepJournal, StepStatus, step_journal
from bots.text import same, squash

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from bots.browser import ClientRun
    from bots.config import Client, Settings, Software
    from bots.mail import MailboxAccess, MailWatchers

log = get_logger(__name__)
T = TypeVar("T")

# Irreversible clicks (step journal names).
STEP_REGISTRO = "registrar_facturador.aceptar"
STEP_ASOCIAR = "asociar_software.asociar"
STEP_FECHA = "salida_produccion.confirmar_fecha"
STEP_SINCRONIZAR = "salida_produccion.sincronizar"
# Reversible clicks that only open a confirmation (test-hook points).
CLICK_REGISTRAR = "registrar_facturador.registrar"
CLICK_FECHA = "salida_produccion.aceptar_fecha"
CLICK_SINCRONIZAR = "salida_produccion.abrir_sincronizacion"

DASHBOARD_PATH = "/Home/Dashboard"
#: DIAN opens H-08 on document-ready, after the page has loaded and with a fade (Dashboard.cshtml:104-121).
DATE_DIALOG_WAIT_S = 5.0
#: How far ahead DIAN's datepicker lets the production date go (research §2.6: [habilitación, +1 año]).
MAX_PRODUCTION_AHEAD = timedelta(days=365)


def path_of(href: str) -> str:
    """Path and query of a link (the session adds the portal's base URL)."""
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def dmy(value: date | None) -> str:
    return format_dian_date(value) if value else "(sin fecha)"


class PendingApproval(NeedsHuman):
    """H-08 is waiting and the client's approval of the date is missing (or does not fit): the
    question to put to the client travels in ``data``."""

    def __init__(self, message: str, *, data: dict[str, Any]) -> None:
        super().__init__(message, reason="aprobacion", data=data)


@dataclass
class Habilitacion:
    """A client's signed-in session on the habilitación site and what the processes share."""

    run: ClientRun
    client: Client
    settings: Settings
    session: CatalogoSession
    watchers: MailWatchers
    locators: Locators
    journal: StepJournal
    #: The dates of H-08 when it was open on the last landing on the dashboard (nothing is clicked in it).
    fecha_en_dialogo: FechasProduccion | None = None

    @classmethod
    def open(
        cls,
        run: ClientRun,
        client: Client,
        settings: Settings,
        watchers: MailWatchers,
        *,
        mailbox: MailboxAccess | None = None,
    ) -> Habilitacion:
        """Log in on the habilitación site (one token)."""
        session = CatalogoSession(run, client, "habilitacion", settings, watchers, mailbox=mailbox)
        hab = cls(
            run=run,
            client=client,
            settings=settings,
            session=session,
            watchers=watchers,
            locators=Locators(FAMILY, settings=settings),
            journal=step_journal(settings, client.nit),
        )
        session.login()
        return hab

    @property
    def page(self) -> Page:
        return self.session.page

    # --- navigation (read-only) ------------------------------------------------------------------
    def abrir_facturador(self, inicio: Inicio | None = None) -> Facturador:
        """Dashboard (unless ``inicio`` is already shown) → "Documentos electrónicos" → "Factura
        Electrónica" (H-03). H-08, if DIAN opens it on landing, is noted and left alone: the menu's
        links are followed instead."""
        if inicio is None:
            page = self.session.goto(DASHBOARD_PATH)
            inicio, dialogo = landing(page, self.locators)
            self.fecha_en_dialogo = dialogo.leer() if dialogo else None
        self.session.goto(path_of(inicio.documentos_electronicos()))
        tipos = TiposDocumento.recognise(self.page, self.locators)
        self.session.goto(path_of(tipos.factura_electronica()))
        return Facturador.recognise(self.page, self.locators)

    def abrir_modos(self, facturador: Facturador) -> ModosOperacion:
        """H-05/H-06 through "Configurar modos de operación" of H-03 (DIAN's route needs the contributor's id:
        without it DIAN answers HTTP 500). While pending registration DIAN's own message is read there."""
        href = facturador.modos_operacion()
        if not href:
            raise PortalChanged(
                "La pantalla del facturador no lleva a «Configurar modos de operación»",
                selector=facturador.name("configurar_modos"),
            )
        self.session.goto(path_of(href))
        return ModosOperacion.recognise(self.page, self.locators)

    def leer_set(self, modo: ModoOperacion) -> SetPruebas:
        """H-07 through the row's "Detalles de set de pruebas"."""
        if not modo.detalles_href:
            raise PortalChanged("La fila del modo de operación no tiene «Detalles de set de pruebas»")
        self.session.goto(path_of(modo.detalles_href))
        return PaginaSetPruebas.recognise(self.page, self.locators).leer()

    def evidencia(self, name: str, modos: ModosOperacion | None = None) -> None:
        """Save the current page as evidence (PIN cells masked)."""
        if modos is not None and modos.locs.get("filas").count():
            self.run.mask(modos.pin_cells())
        self.run.save_evidence(name)


SETTLED_NOTE = " (una ejecución anterior se interrumpió tras «{click}»; se confirmó leyendo el portal)"


def settle(hab: Habilitacion, step: str, verify: Callable[[], bool | None], what: str) -> tuple[StepStatus, bool]:
    """``journal.reconcile`` for one step; also whether an interrupted run's click was confirmed now."""
    before = hab.journal.status(step)
    status = hab.journal.reconcile(step, verify, what=what)
    return status, before is StepStatus.UNCERTAIN and status is StepStatus.DONE


def software_of(client: Client) -> Software:
    if client.software is None:
        raise InvalidInput(
            f"El perfil del cliente {client.nit} no tiene [cliente.software] (proveedor y nombre del software)."
        )
    return client.software


def fila_de(filas: list[ModoOperacion], software: Software) -> ModoOperacion | None:
    """The row of the client's software: by name (normalised) or by the provider's expected id."""
    for fila in filas:
        if same(fila.software, software.nombre) or (software.id_esperado and fila.software_id == software.id_esperado):
            return fila
    return None


def answered(hab: Habilitacion, status: int | None, click: str) -> None:
    """After a form post: an HTTP error page is a ``PortalError`` quoting it (the step stays uncertain,
    so the next run reads the portal before anything else)."""
    if status is not None and status >= 500:
        shown = squash(hab.page.locator("body").inner_text())[:300]
        raise PortalError(
            f"La DIAN respondió con error HTTP {status} después de «{click}». Ejecute de nuevo: el robot "
            "verificará leyendo el portal si la DIAN alcanzó a registrarlo",
            dian_text=shown or None,
            retryable=True,
        )


def clicked(done: ActionResult[T], step: str) -> T:
    """The value of a click the caller had settled as "not done" (the journal cannot say otherwise)."""
    if not done.done_now or done.value is None:
        raise contradiction(step, "el paso ya figuraba hecho en la bitácora local")
    return done.value


def contradiction(what: str, shown: str) -> NeedsHuman:
    return NeedsHuman(
        f"La bitácora local dice que el robot ya hizo «{what}», pero el portal muestra «{shown}». "
        "El robot no repite el clic: revise el portal y la bitácora (pasos.jsonl) antes de continuar",
        reason="contradiccion",
        dian_text=shown,
    )


def check_ids(modo: ModoOperacion, set_pruebas: SetPruebas, software: Software) -> None:
    """Software Id and TestSetId must be UUIDs and the PIN digits; the Software Id and the PIN shown on H-07
    must be those of the H-06 row; the Software Id must be the provider's, if known."""
    if not is_uuid(modo.software_id):
        raise PortalError("El «Id» del software que muestra la DIAN no es un UUID válido", dian_text=modo.software_id)
    if not is_uuid(set_pruebas.test_set_id):
        raise PortalError(
            "El TestSetId que muestra la DIAN no es un UUID válido; no se entrega al proveedor",
            dian_text=set_pruebas.test_set_id,
        )
    if not is_pin(modo.pin):
        raise PortalError("El «Pin» del software que muestra la DIAN no son solo dígitos; no se entrega al proveedor")
    if set_pruebas.software_id and set_pruebas.software_id != modo.software_id:
        raise PortalError(
            f"El set de pruebas es del software {set_pruebas.software_id}, no del {modo.software_id} del listado de "
            "modos de operación; no se entrega al proveedor",
            dian_text=set_pruebas.software_id,
        )
    if set_pruebas.pin and set_pruebas.pin != modo.pin:
        raise PortalError(
            "El PIN del set de pruebas no coincide con el del listado de modos de operación; no se entrega al proveedor"
        )
    if software.id_esperado and modo.software_id != software.id_esperado.lower():
        raise NeedsHuman(
            f"La DIAN muestra el Software Id {modo.software_id}, pero el proveedor informó {software.id_esperado}. "
            "No se escribe el archivo para el proveedor: confirme con él cuál es el correcto",
            reason="id_software_distinto",
            dian_text=modo.software_id,
        )


__all__ = [
    "CLICK_FECHA",
    "CLICK_REGISTRAR",
    "CLICK_SINCRONIZAR",
    "DASHBOARD_PATH",
    "DATE_DIALOG_WAIT_S",
    "MAX_PRODUCTION_AHEAD",
    "SETTLED_NOTE",
    "STEP_ASOCIAR",
    "STEP_FECHA",
    "STEP_REGISTRO",
    "STEP_SINCRONIZAR",
    "Habilitacion",
    "PendingApproval",
    "answered",
    "check_ids",
    "clicked",
    "contradiction",
    "dmy",
    "fila_de",
    "path_of",
    "settle",
    "software_of",
]
