"""Production site "Facturando electrónicamente" (P-01..P-04): one class per screen.

    InicioProduccion.recognise(page, locators)              # P-01 /Home/Dashboard (then goto P-02 by URL)
    pagina = AsociacionPrefijos.recognise(page, locators)   # P-02 with P-04 below
    pagina.prefijos_asociados()                             # the associated-ranges table, read by header text
    pagina.elegir_software(opcion); pagina.elegir_prefijo(rango)
    confirmacion = pagina.agregar(opcion, rango)            # P-03 (bootbox, one button "del")
    respuesta = confirmacion.aceptar()                      # irreversible: one click, never retried

The Nifty menu toggle (``a#mainnav-toggle``) has no state to read, so the robot opens P-02 by URL
after recognising the dashboard, as a 2026 scraper does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots import text
from bots.errors import PortalChanged, PortalError
from bots.log import get_logger
from bots.portals.base import Screen
from bots.portals.catalogo import Option, choose_option, read_options
from bots.text import squash

__all__ = [
    "ADD_PREFIX_PATH",
    "NUMBER_RANGES_PATH",
    "AsociacionPrefijos",
    "ConfirmacionPrefijo",
    "InicioProduccion",
    "PrefijoAsociado",
    "RangeOption",
    "RespuestaAsociacion",
    "parse_range_text",
    "parse_row_key",
]

log = get_logger(__name__)

NUMBER_RANGES_PATH = "/Software/AddNumberRange"
ADD_PREFIX_PATH = "/Software/AddPrefix"  # where "Aceptar" posts (softwareId, rangeRowKey)
NO_PREFIX = "Sin prefijo"

# "<prefijo or 'Sin prefijo'> - <resolución> (<desde> - <hasta>)", e.g. "FE - 18764031407250 (1 - 100)".
_RANGE_TEXT = re.compile(
    r"^(?P<prefijo>.+?)\s*-\s*(?P<resolucion>\d+)\s*\(\s*(?P<desde>\d+)\s*-\s*(?P<hasta>\d+)\s*\)$"
)
_PREFIX = re.compile(r"^[A-Za-z0-9]{1,4}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")

# P-04 columns by their (normalised) header text; a header variant maps to the same field.
_COLUMNS = {
    "proveedor": "proveedor",
    "software": "software",
    "código del software": "software_id",
    "tipo": "tipo",
    "prefijo asociado": "prefijo",  # _associatedRanges.cshtml (2022)
    "prefijo": "prefijo",  # FEL (2026)
    "fecha asociación": "fecha_asociacion",
    "fecha expiración": "fecha_expiracion",
}
#: Columns the robot needs; a missing one means the portal changed. "Tipo" is optional (2026 only).
_NEEDED = ("proveedor", "software", "software_id", "prefijo", "fecha_asociacion", "fecha_expiracion")


def parse_range_text(value: str) -> tuple[str, str, int, int] | None:
    """``(prefijo, resolución, desde, hasta)`` of "FE - 18764031407250 (1 - 100)"; prefix "" for
    "Sin prefijo"; None when the text has another shape or the values are not valid."""
    found = _RANGE_TEXT.match(squash(value.translate(_DASHES)))
    if not found:
        return None
    prefix = found["prefijo"].strip()
    prefix = "" if text.same(prefix, NO_PREFIX) else prefix
    desde, hasta = int(found["desde"]), int(found["hasta"])
    if (prefix and not _PREFIX.match(prefix)) or desde < 0 or hasta < desde:
        return None
    return prefix.upper(), found["resolucion"], desde, hasta


def parse_row_key(value: str) -> tuple[str, str] | None:
    """``(prefijo, resolución)`` of DIAN's RowKey "FE|01|18764031407250" (prefijo|tipo|resolución, as
    a 2026 scraper reads it); None for any other shape (the 2022 source only says it holds '|')."""
    parts = value.split("|")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0].strip().upper(), parts[2]


class InicioProduccion(Screen):
    """P-01 dashboard of the production site (recognised; P-02 is opened by URL)."""

    SCREEN = "produccion_inicio"


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
        """The option parsed; None when its text has another shape, or when its value (DIAN's RowKey)
        names another prefix or resolution than its text (the page shows the range twice)."""
        parsed = parse_range_text(option.text)
        if parsed is None:
            return None
        key = parse_row_key(option.value)
        if key is not None and key != (parsed[0], parsed[1]):
            return None
        return cls(option=option, prefijo=parsed[0], resolucion=parsed[1], desde=parsed[2], hasta=parsed[3])

    @property
    def rango(self) -> dict[str, int]:
        return {"desde": self.desde, "hasta": self.hasta}


@dataclass(frozen=True)
class PrefijoAsociado:
    """A row of P-04: the "Prefijo" cell ("FE - 18764031407250 (1 - 100)") parsed into its parts."""

    proveedor: str
    software: str
    software_id: str
    prefijo: str
    resolucion: str
    desde: int
    hasta: int
    fecha_asociacion: str
    fecha_expiracion: str
    tipo: str = ""
    row_key: str = ""

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
            "resolucion": self.resolucion,
            "rango": {"desde": self.desde, "hasta": self.hasta},
            "fecha_asociacion": self.fecha_asociacion,
            "fecha_expiracion": self.fecha_expiracion,
        }


@dataclass(frozen=True)
class RespuestaAsociacion:
    """DIAN's answer to "Aceptar": ``success`` None when no answer was seen (verify on the table)."""

    success: bool | None
    message: str | None = None
    status: int | None = None


class AsociacionPrefijos(Screen):
    """P-02 "Gestionar Asociación de Prefijos" (form) with P-04 (associated ranges) below it."""

    SCREEN = "prefijos"

    def _build(self) -> None:
        self._nit = self.locs.get("nit_facturador")
        self._name = self.locs.get("nombre_facturador")
        self._software = self.locs.get("proveedor_software")
        self._range = self.locs.get("prefijo")
        self._notices = self.locs.get("avisos")
        self._headers = self.locs.get("encabezados")
        self._rows = self.locs.get("filas")
        self._error = self.locs.get("notificacion_error")

    # reads
    def nit_facturador(self) -> str:
        """"NIT Facturador". DIAN renders it twice (hidden and readonly): both must say the same."""
        self.locs.require("nit_facturador", state="attached")
        values = {v.strip() for v in self._nit.evaluate_all("els => els.map(e => e.value || '')")}
        if len(values) != 1:
            raise PortalChanged(
                "«NIT Facturador» aparece con valores distintos en la misma página; no se hizo clic en nada",
                selector=self.name("nit_facturador"),
            )
        return values.pop()

    def nombre_facturador(self) -> str:
        return self._name.first.input_value().strip() if self._name.count() else ""

    def avisos(self) -> list[str]:
        """DIAN's "Importante! Estimado contribuyente, …" notices above the form."""
        return [squash(t) for t in self._notices.all_text_contents() if t.strip()]

    def opciones_software(self) -> list[Option]:
        """The "Proveedor - Software" options (without "Seleccione...")."""
        return [o for o in read_options(self._software) if o.value]

    def opciones_prefijo(self) -> list[RangeOption]:
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

    def prefijos_asociados(self) -> list[PrefijoAsociado]:
        """The rows of the associated-ranges table, read BY HEADER TEXT: an extra column is tolerated,
        a missing needed column (or a "Prefijo" cell of unknown shape) is ``PortalChanged``."""
        name = self.name("encabezados")
        headers = [text.normalize(h) for h in self._headers.evaluate_all(
            "cells => cells.map(c => (c.textContent || '').trim())")]
        index: dict[str, int] = {}
        for i, header in enumerate(headers):
            field = _COLUMNS.get(header)
            if field is not None and field not in index:
                index[field] = i
        missing = [f for f in _NEEDED if f not in index]
        if missing:
            raise PortalChanged(
                f"La tabla de prefijos asociados no tiene las columnas esperadas ({', '.join(missing)}); "
                f"encabezados: {' | '.join(headers) or 'ninguno'}",
                selector=name,
            )
        rows = self._rows.evaluate_all(
            "rows => rows.map(r => ({cells: Array.from(r.cells).map(c => (c.textContent || '').trim()),"
            " rk: r.getAttribute('data-rk') || (r.querySelector('[data-rk]') || {getAttribute: () => ''})"
            ".getAttribute('data-rk') || ''}))"
        )
        width = max(index.values()) + 1
        found = []
        for row in rows:
            cells = [squash(str(c)) for c in row["cells"]]
            if len(cells) < width:
                continue  # e.g. an empty-table row spanning the columns
            values = {field: cells[i] for field, i in index.items()}
            parsed = parse_range_text(values["prefijo"])
            if parsed is None:
                raise PortalChanged(
                    f"La celda «Prefijo» de la tabla de prefijos asociados tiene otra forma: «{values['prefijo']}»",
                    selector=self.name("filas"),
                )
            key = parse_row_key(str(row["rk"]))
            if key is not None and key != (parsed[0], parsed[1]):
                raise PortalChanged(
                    f"La fila del prefijo «{values['prefijo']}» tiene otra clave ({row['rk']}); no coinciden",
                    selector=self.name("filas"),
                )
            found.append(PrefijoAsociado(
                proveedor=values["proveedor"], software=values["software"],
                software_id=_canonical_id(values["software_id"]),
                prefijo=parsed[0], resolucion=parsed[1], desde=parsed[2], hasta=parsed[3],
                fecha_asociacion=values["fecha_asociacion"], fecha_expiracion=values["fecha_expiracion"],
                tipo=values.get("tipo", ""), row_key=str(row["rk"]),
            ))
        return found

    def notificacion_error(self) -> str | None:
        """The red notification DIAN shows when an association fails, if any."""
        texts = [squash(t) for t in self._error.all_inner_texts() if t.strip()]
        return texts[-1] if texts else None

    # steps
    def elegir_software(self, opcion: Option) -> None:
        """Choose "Proveedor - Software" (option found by its text or software id)."""
        choose_option(self._software, opcion, name=self.name("proveedor_software"))

    def elegir_prefijo(self, rango: RangeOption) -> None:
        """Choose "Prefijo" (option found by prefix and resolution)."""
        choose_option(self._range, rango.option, name=self.name("prefijo"))

    def agregar(self, software: Option, rango: RangeOption) -> ConfirmacionPrefijo:
        """Click "Agregar" once, after checking both choices are still in place; DIAN asks to confirm."""
        chosen = (self._software.first.input_value(), self._range.first.input_value())
        if chosen != (software.value, rango.option.value):
            raise PortalError(
                "La selección de software y prefijo cambió antes de «Agregar»; no se hizo clic",
                selector=self.name("agregar"),
            )
        self.sin_superposiciones()
        self.pulsar("agregar")
        log.info("clic en Agregar", element=self.name("agregar"))
        return ConfirmacionPrefijo.recognise(self.page, self.locators)


class ConfirmacionPrefijo(Screen):
    """P-03 bootbox "Está seguro que desea asociar el prefijo?" with its one button "Aceptar" (``del``)."""

    SCREEN = "prefijos_confirmacion"

    def _build(self) -> None:
        self._message = self.locs.get("mensaje")

    def mensaje(self) -> str:
        return self.texto("mensaje")

    def comprobar(self) -> None:
        """The dialog must ask about THIS association; else nothing is clicked."""
        if not text.contains(self.mensaje(), "asociar el prefijo"):
            raise PortalError(
                "El diálogo de confirmación no pregunta por la asociación del prefijo; no se hizo clic",
                selector=self.name("mensaje"),
                dian_text=self.mensaje() or None,
            )

    def aceptar(self) -> RespuestaAsociacion:
        """Click "Aceptar" ONCE (this associates the prefix) and read DIAN's answer to that request.

        Never retried: if no answer is seen, ``success`` is None and the caller verifies on P-04.
        On success DIAN reloads the page; this waits for that reload.
        """
        self.comprobar()
        self.sin_superposiciones(self._message)  # the one dialog expected here: P-03 itself
        page = self.page
        button = self.control("aceptar")
        navigations: list[object] = []

        def on_navigation(frame: object) -> None:
            if frame == page.main_frame:
                navigations.append(frame)

        page.on("framenavigated", on_navigation)
        try:
            try:
                with page.expect_response(_is_add_prefix) as answer:
                    self.pulsar("aceptar", control=button)
                response = answer.value
            except PlaywrightTimeoutError:
                log.warning("sin respuesta de la DIAN a la asociación del prefijo", element=self.name("aceptar"))
                return RespuestaAsociacion(success=None)
            log.info("clic en Aceptar: asociación enviada", element=self.name("aceptar"), status=response.status)
            reply = _reply(response)
            if reply.success is False:
                return reply
            reloaded = bool(navigations) or _wait_main_navigation(page)
            if reloaded:
                page.wait_for_load_state("load")
                if reply.success is None and response.ok:
                    reply = RespuestaAsociacion(success=True, status=reply.status)
            return reply
        finally:
            page.remove_listener("framenavigated", on_navigation)


def _canonical_id(value: str) -> str:
    """A Software Id (a GUID, case-insensitive) in its canonical lower case; other text as shown."""
    value = value.strip()
    return value.lower() if _GUID.match(value) else value


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


def _reply(response: Any) -> RespuestaAsociacion:
    status = int(response.status)
    if status >= 400:
        return RespuestaAsociacion(success=False, message=f"HTTP {status}", status=status)
    try:
        data = response.json()
    except Exception:
        return RespuestaAsociacion(success=None, status=status)
    if not isinstance(data, dict):
        return RespuestaAsociacion(success=None, status=status)
    message = data.get("message") or data.get("Message")
    return RespuestaAsociacion(
        success=bool(data.get("success")), message=str(message) if message else None, status=status
    )
