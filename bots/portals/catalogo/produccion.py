"""Production site "Facturando electrónicamente" (P-01..P-04): one class per screen.

    home = ProductionHome.recognise(page, locators)         # P-01 /Home/Dashboard
    home.open_menu(); home.open_configuration(); home.open_number_ranges()
    prefixes = PrefixAssociationPage.recognise(page, locators)   # P-02 with P-04 below
    prefixes.associations()                                 # the "Prefijo Asociado" table
    prefixes.choose_software(option); prefixes.choose_range(range_option)
    confirmation = prefixes.add()                           # P-03
    reply = confirmation.accept()                           # irreversible: one click, never retried
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots import text
from bots.errors import PortalError
from bots.log import get_logger
from bots.portals.catalogo import Option, Screen, choose_option, read_options

__all__ = [
    "ADD_PREFIX_PATH",
    "NUMBER_RANGES_PATH",
    "AddPrefixReply",
    "AssociatedPrefix",
    "PrefixAssociationPage",
    "PrefixConfirmation",
    "ProductionHome",
    "RangeOption",
]

log = get_logger(__name__)

NUMBER_RANGES_PATH = "/Software/AddNumberRange"
ADD_PREFIX_PATH = "/Software/AddPrefix"  # where "Aceptar" posts (softwareId, rangeRowKey)
NO_PREFIX = "Sin prefijo"

# "<prefijo or 'Sin prefijo'> - <resolución> (<desde> - <hasta>)", e.g. "FE - 18764031407250 (1 - 100)".
_RANGE_TEXT = re.compile(
    r"^(?P<prefijo>.+?)\s*-\s*(?P<resolucion>\d+)\s*\(\s*(?P<desde>\d+)\s*-\s*(?P<hasta>\d+)\s*\)$"
)
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")

# P-04 columns by their (normalised) header text.
_COLUMNS = {
    "proveedor": "proveedor",
    "software": "software",
    "código del software": "software_id",
    "prefijo asociado": "prefijo",
    "fecha asociación": "fecha_asociacion",
    "fecha expiración": "fecha_expiracion",
}


class ProductionHome(Screen):
    """P-01 dashboard with the side menu ("Menú" icon → "Configuración" → "Rangos de numeración")."""

    SCREEN = "produccion_inicio"

    def _build(self) -> None:
        self._menu = self.locs.get("menu")
        self._configuration = self.locs.get("configuracion")
        self._number_ranges = self.locs.get("rangos_numeracion")

    def open_menu(self) -> None:
        """Open the side menu (the icon button without text)."""
        toggle = self.locs.require("menu").first
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        self.locs.require("configuracion")

    def open_configuration(self) -> None:
        """Unfold "Configuración"."""
        if not self._number_ranges.first.is_visible():
            self.locs.require("configuracion").first.click()
        self.locs.require("rangos_numeracion")

    def open_number_ranges(self) -> None:
        """Click "Rangos de numeración" and wait for the next page (P-02, or the login if the session
        was lost: check with ``CatalogoSession.lost()``)."""
        link = self.locs.require("rangos_numeracion").first
        with self.page.expect_navigation(wait_until="load"):
            link.click()


@dataclass(frozen=True)
class RangeOption:
    """An option of "Prefijo": an authorised numbering range (resolution) not yet associated."""

    option: Option
    prefijo: str  # "" for "Sin prefijo"
    resolucion: str
    desde: int
    hasta: int

    @classmethod
    def parse(cls, option: Option) -> RangeOption | None:
        found = _RANGE_TEXT.match(option.text.translate(_DASHES).strip())
        if not found:
            return None
        prefix = found["prefijo"].strip()
        return cls(
            option=option,
            prefijo="" if text.same(prefix, NO_PREFIX) else prefix,
            resolucion=found["resolucion"],
            desde=int(found["desde"]),
            hasta=int(found["hasta"]),
        )

    @property
    def rango(self) -> dict[str, int]:
        return {"desde": self.desde, "hasta": self.hasta}


@dataclass(frozen=True)
class AssociatedPrefix:
    """A row of P-04 ("Prefijo Asociado" table)."""

    proveedor: str
    software: str
    software_id: str
    prefijo: str
    fecha_asociacion: str
    fecha_expiracion: str

    @property
    def software_label(self) -> str:
        """As "Proveedor - Software" shows it: ``<proveedor> - <software>``."""
        return f"{self.proveedor} - {self.software}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "proveedor": self.proveedor,
            "software": self.software,
            "software_id": self.software_id,
            "prefijo": self.prefijo,
            "fecha_asociacion": self.fecha_asociacion,
            "fecha_expiracion": self.fecha_expiracion,
        }


@dataclass(frozen=True)
class AddPrefixReply:
    """DIAN's answer to "Aceptar": ``success`` None when no answer was seen (verify on the table)."""

    success: bool | None
    message: str | None = None
    status: int | None = None


class PrefixAssociationPage(Screen):
    """P-02 "Gestionar Asociación de Prefijos" (form) with P-04 (associated prefixes) below it."""

    SCREEN = "prefijos"

    def _build(self) -> None:
        self._nit = self.locs.get("nit_facturador")
        self._name = self.locs.get("nombre_facturador")
        self._software = self.locs.get("proveedor_software")
        self._range = self.locs.get("prefijo")
        self._add = self.locs.get("agregar")
        self._notices = self.locs.get("avisos")
        self._headers = self.locs.get("encabezados")
        self._rows = self.locs.get("filas")
        self._error = self.locs.get("notificacion_error")

    # reads
    def contributor_nit(self) -> str:
        """"NIT Facturador" as DIAN shows it."""
        return self.locs.require("nit_facturador", state="attached").first.input_value().strip()

    def contributor_name(self) -> str:
        return self._name.first.input_value().strip() if self._name.count() else ""

    def notices(self) -> list[str]:
        """DIAN's "Estimado contribuyente, …" notices above the form."""
        return [" ".join(t.split()) for t in self._notices.all_inner_texts() if t.strip()]

    def software_options(self) -> list[Option]:
        """The "Proveedor - Software" options (without "Seleccione...")."""
        return [o for o in read_options(self._software) if o.value]

    def range_options(self) -> list[RangeOption]:
        """The "Prefijo" options, parsed; an option of unknown shape is logged and left out."""
        found = []
        for option in read_options(self._range):
            if not option.value:
                continue
            parsed = RangeOption.parse(option)
            if parsed is None:
                log.warning("opción de prefijo con forma desconocida", element=self.name("prefijo"), text=option.text)
                continue
            found.append(parsed)
        return found

    def associations(self) -> list[AssociatedPrefix]:
        """The rows of the associated-prefixes table, by column header."""
        headers = [text.normalize(h) for h in self._headers.evaluate_all(
            "cells => cells.map(c => (c.innerText || c.textContent || '').trim())")]
        index = {field: headers.index(h) for h, field in _COLUMNS.items() if h in headers}
        missing = sorted(set(_COLUMNS.values()) - set(index))
        if missing:
            raise PortalError(
                f"La tabla de prefijos asociados no tiene las columnas esperadas ({', '.join(missing)})",
                selector=self.name("encabezados"),
            )
        rows = self._rows.evaluate_all(
            "rows => rows.map(r => Array.from(r.cells).map(c => (c.innerText || c.textContent || '').trim()))"
        )
        width = max(index.values()) + 1
        return [
            AssociatedPrefix(**{field: " ".join(str(cells[i]).split()) for field, i in index.items()})
            for cells in rows
            if len(cells) >= width
        ]

    def error_notice(self) -> str | None:
        """The red notification DIAN shows when an association fails, if any."""
        texts = [" ".join(t.split()) for t in self._error.all_inner_texts() if t.strip()]
        return texts[-1] if texts else None

    # steps
    def choose_software(self, option: Option) -> None:
        """Choose "Proveedor - Software" (option found by its text or software id)."""
        choose_option(self._software, option, name=self.name("proveedor_software"))

    def choose_range(self, option: RangeOption) -> None:
        """Choose "Prefijo" (option found by prefix and resolution)."""
        choose_option(self._range, option.option, name=self.name("prefijo"))

    def add(self, software: Option, prefix: RangeOption) -> PrefixConfirmation:
        """Click "Agregar" once, after checking both choices are still in place; DIAN asks to confirm."""
        chosen = (self._software.first.input_value(), self._range.first.input_value())
        if chosen != (software.value, prefix.option.value):
            raise PortalError(
                "La selección de software y prefijo cambió antes de «Agregar»; no se hizo clic",
                selector=self.name("agregar"),
            )
        self.locs.require("agregar").first.click()
        log.info("clic en Agregar", element=self.name("agregar"))
        return PrefixConfirmation.recognise(self.page, self.locators)


class PrefixConfirmation(Screen):
    """P-03 "¿Está seguro que desea asociar el prefijo?" with "Aceptar" / "Cancelar"."""

    SCREEN = "prefijos_confirmacion"

    def _build(self) -> None:
        self._message = self.locs.get("mensaje")
        self._accept = self.locs.get("aceptar")

    def message(self) -> str:
        return self.text_of(self._message)

    def accept(self) -> AddPrefixReply:
        """Click "Aceptar" ONCE (this associates the prefix) and read DIAN's answer to that request.

        Never retried: if no answer is seen, ``success`` is None and the caller verifies on P-04.
        On success DIAN reloads the page; this waits for that reload.
        """
        if not text.contains(self.message(), "asociar el prefijo"):
            raise PortalError(
                "El diálogo de confirmación no pregunta por la asociación del prefijo; no se hizo clic",
                selector=self.name("mensaje"),
                dian_text=self.message() or None,
            )
        page = self.page
        button = self.locs.require("aceptar").first
        navigations: list[object] = []

        def on_navigation(frame: object) -> None:
            if frame == page.main_frame:
                navigations.append(frame)

        page.on("framenavigated", on_navigation)
        try:
            try:
                with page.expect_response(_is_add_prefix) as answer:
                    button.click()
                response = answer.value
            except PlaywrightTimeoutError:
                log.warning("sin respuesta de la DIAN a la asociación del prefijo", element=self.name("aceptar"))
                return AddPrefixReply(success=None)
            log.info("clic en Aceptar: asociación enviada", element=self.name("aceptar"), status=response.status)
            reply = _reply(response)
            if reply.success is False:
                return reply
            # On success DIAN's script reloads the page. The reply body may already be gone because of
            # that reload; then the reload itself is the answer.
            reloaded = bool(navigations) or _wait_main_navigation(page)
            if reloaded:
                page.wait_for_load_state("load")
                if reply.success is None and response.ok:
                    reply = AddPrefixReply(success=True, status=reply.status)
            return reply
        finally:
            page.remove_listener("framenavigated", on_navigation)


def _wait_main_navigation(page: Any) -> bool:
    """Wait (default timeout) for the main frame to navigate; False if it does not."""
    try:
        page.wait_for_event("framenavigated", predicate=lambda frame: frame == page.main_frame)
    except PlaywrightTimeoutError:
        return False
    return True


def _is_add_prefix(response: Any) -> bool:
    return bool(
        response.request.method == "POST" and urlsplit(response.url).path.lower() == ADD_PREFIX_PATH.lower()
    )


def _reply(response: Any) -> AddPrefixReply:
    status = int(response.status)
    if status >= 400:
        return AddPrefixReply(success=False, message=f"HTTP {status}", status=status)
    try:
        data = response.json()
    except Exception:
        return AddPrefixReply(success=None, status=status)
    if not isinstance(data, dict):
        return AddPrefixReply(success=None, status=status)
    message = data.get("message") or data.get("Message")
    return AddPrefixReply(success=bool(data.get("success")), message=str(message) if message else None, status=status)
