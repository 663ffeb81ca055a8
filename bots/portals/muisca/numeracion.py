"""M-03 … M-08 and M-11, M-12: the "Numeración de Facturación" screens.

Tables are read by their header names (folded), not by column position. Rows are matched by the
request's numbers ("Nro. de Solicitud", the 1302 form number), never by position alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bots.errors import NeedsHuman, PortalError
from bots.log import get_logger
from bots.portals.muisca.base import Descarga, Pantalla
from bots.portals.muisca.modelo import TIPOS_FACTURACION, Pedido, tipo_facturacion
from bots.retry import navigate
from bots.text import digits, fold, integer, squash

if TYPE_CHECKING:
    from playwright.sync_api import Locator

    from bots.portals.muisca.firma import Firma, FirmaMarco

log = get_logger(__name__)

__all__ = [
    "TIPOS_FACTURACION",
    "Aviso",
    "Consulta",
    "Contribuyente",
    "FilaFormaliza",
    "FilaRango",
    "FilaResultado",
    "Mensaje",
    "MenuNumeracion",
    "Pedido",
    "Resolucion",
    "SolicitudRangos",
    "tipo_facturacion",
]

_LEER_FILAS = """rows => rows.map(r => {
  const t = r.closest('table');
  const h = t && t.tHead && t.tHead.rows.length ? Array.from(t.tHead.rows[0].cells).map(c => c.innerText.trim()) : [];
  return {h: h, c: Array.from(r.cells).map(c => c.innerText.trim())};
})"""


@dataclass(frozen=True)
class FilaResultado:
    """A row of the M-06 "Consultar" results (one per request row)."""

    indice: int
    nro: str
    fecha: str
    tipo_solicitud: str
    estado: str
    formulario: str
    prefijo: str
    desde: int | None
    hasta: int | None
    resolucion: str
    fecha_autorizacion: str

    def a_dict(self) -> dict[str, Any]:
        return {
            "nro_solicitud": self.nro,
            "fecha": self.fecha,
            "tipo_solicitud": self.tipo_solicitud,
            "estado": self.estado,
            "formulario_1302": self.formulario,
            "prefijo": self.prefijo,
            "desde": self.desde,
            "hasta": self.hasta,
            "resolucion": self.resolucion or None,
            "fecha_autorizacion": self.fecha_autorizacion or None,
        }


@dataclass(frozen=True)
class FilaFormaliza:
    """A row of M-11 "Formaliza la Solicitud Numeración de Facturación"."""

    indice: int
    nro: str
    tipo_solicitud: str
    estado: str
    formulario: str


@dataclass(frozen=True)
class FilaRango:
    """A row added on M-07."""

    tipo: str
    prefijo: str
    desde: int | None
    hasta: int | None


def _columna(headers: list[str], *names: str) -> int | None:
    """Index of the first header equal to one of ``names`` (folded), else one containing it."""
    folded = [fold(h) for h in headers]
    for name in names:
        if fold(name) in folded:
            return folded.index(fold(name))
    for name in names:
        for index, header in enumerate(folded):
            if fold(name) in header:
                return index
    return None


def _leer_tabla(filas: Locator) -> list[dict[str, str]]:
    """Rows as ``{folded header: cell text}``."""
    if filas.count() == 0:
        return []
    data: list[dict[str, Any]] = filas.evaluate_all(_LEER_FILAS)
    return [{fold(h): c for h, c in zip(row["h"], row["c"], strict=False)} for row in data]


def _celda(row: dict[str, str], *names: str) -> str:
    index = _columna(list(row), *names)
    return squash(list(row.values())[index]) if index is not None else ""


class MenuNumeracion(Pantalla):
    """M-03: the "Numeración de Facturación" menu."""

    nombre = "menu_numeracion"

    def solicitar(self) -> Contribuyente:
        """ "Solicitar Numeración de Facturación" → AVISO (accepted) → "Información del Contribuyente"."""
        self._enviar("solicitar")
        pantalla = self.sesion.locators.screen(self.page, "aviso", "contribuyente")
        if pantalla.screen == "aviso":
            return Aviso(self.sesion, loc=pantalla).aceptar()
        return Contribuyente(self.sesion, loc=pantalla)

    def consultas(self) -> Consulta:
        """ "Consultas": the read-only consultation of requests (no AVISO, nothing created)."""
        self._enviar("consultas")
        return Consulta(self.sesion)


class Aviso(Pantalla):
    """M-04 "AVISO": "Recuerde tener actualizado el RUT para evitar sanciones."."""

    nombre = "aviso"

    def mensaje(self) -> str:
        return self._texto("mensaje")

    def aceptar(self) -> Contribuyente:
        log.info("aviso de MUISCA", texto=self.mensaje())
        self._enviar("aceptar")
        return Contribuyente(self.sesion)


class Contribuyente(Pantalla):
    """M-05 "Información del Contribuyente"."""

    nombre = "contribuyente"

    def nit(self) -> str:
        return self._valor("nit") or self._texto("nit")

    def verificar_nit(self, nit: str) -> None:
        """The taxpayer shown must be the client (NIT with or without check digit)."""
        shown = digits(self.nit())
        if shown not in (nit, nit + str(_dv(nit))):
            raise NeedsHuman(
                f"MUISCA muestra el contribuyente NIT {shown or '(vacío)'} y no el cliente {nit}; "
                "no se continúa con la solicitud",
                reason="contribuyente_distinto",
            )

    def ingresar(self) -> Consulta:
        """ "Ingresar" → (when DIAN shows it) "autorizaciones cercanas a su vencimiento" → Aceptar → M-06."""
        self._enviar("ingresar")
        pantalla = self.sesion.locators.screen(self.page, "consulta", "aviso_vencimiento")
        if pantalla.screen == "aviso_vencimiento":
            log.info("aviso de MUISCA", texto=self.sesion.page.locator(pantalla.selector("mensaje")).first.inner_text())
            AvisoVencimiento(self.sesion, loc=pantalla).aceptar()
            return Consulta(self.sesion)
        return Consulta(self.sesion, loc=pantalla)


class AvisoVencimiento(Pantalla):
    """Micrositio paso 6: "autorizaciones de numeración cercanas a su vencimiento" → "Aceptar"."""

    nombre = "aviso_vencimiento"

    def aceptar(self) -> None:
        self._enviar("aceptar")


class Consulta(Pantalla):
    """M-06 "Consultar Numeración de Facturación", with M-11 on the same page when a request waits."""

    nombre = "consulta"

    def nit(self) -> str:
        return digits(self._texto("nit"))

    # -- M-06 results ---------------------------------------------------------------------------
    def consultar(self) -> Consulta:
        """Press "Consultar" with the default filters (every type and state since 01/01/1990)."""
        self._enviar("consultar")
        return Consulta(self.sesion)

    def resultados(self) -> list[FilaResultado]:
        """The results table (empty when there is none or it says there are no records)."""
        found = []
        for index, row in enumerate(_leer_tabla(self.loc.get("filas_resultado"))):
            found.append(
                FilaResultado(
                    indice=index,
                    nro=digits(_celda(row, "Nro. de Solicitud")),
                    fecha=_celda(row, "Fecha"),
                    tipo_solicitud=_celda(row, "Tipo de Solicitud"),
                    estado=_celda(row, "Estado Solicitud", "Estado").upper(),
                    formulario=digits(_celda(row, "Solicitud Numeración de Facturación")),
                    prefijo=_celda(row, "Prefijo").upper(),
                    desde=integer(_celda(row, "Rango Desde")),
                    hasta=integer(_celda(row, "Rango Hasta")),
                    resolucion=digits(_celda(row, "Número de Resolución", "Resolución")),
                    fecha_autorizacion=_celda(row, "Fecha de Autorización"),
                )
            )
        return found

    def abrir_borrador(self, fila: FilaResultado) -> SolicitudRangos:
        """Open a BORRADOR request from its "Nro. de Solicitud" link."""
        enlace = self.loc.get("filas_resultado").nth(fila.indice).locator(self.loc.selector("enlace_solicitud"))
        if enlace.count() == 0:
            raise self._cambio(
                f"La solicitud {fila.nro} en borrador no tiene enlace para continuarla", "enlace_solicitud"
            )
        self._enviar("enlace_solicitud", control=enlace.first)
        return SolicitudRangos(self.sesion)

    def abrir_resolucion(self, fila: FilaResultado) -> Resolucion:
        """Open the resolution detail (M-12) from the "Número de Resolución" link."""
        enlace = self.loc.get("filas_resultado").nth(fila.indice).locator(self.loc.selector("enlace_resolucion"))
        if enlace.count() == 0:
            raise self._cambio(f"La resolución {fila.resolucion} no tiene enlace al detalle", "enlace_resolucion")
        self._enviar("enlace_resolucion", control=enlace.first)
        return Resolucion(self.sesion)

    def autorizar_rangos(self) -> SolicitudRangos:
        """ "Autorizar Rangos": opens the empty M-07 form (nothing is created yet)."""
        self._enviar("autorizar_rangos")
        return SolicitudRangos(self.sesion)

    def recargar(self) -> Consulta:
        """Load the page again (GET): shows M-11 when a request waits for formalisation."""
        navigate(self.page, self.page.url.split("?", 1)[0])
        return Consulta(self.sesion)

    # -- M-11 -----------------------------------------------------------------------------------
    def pendientes(self) -> list[FilaFormaliza]:
        """The "Formaliza la Solicitud Numeración de Facturación" rows (empty when not shown)."""
        return [
            FilaFormaliza(
                indice=index,
                nro=digits(_celda(row, "Nro. de Solicitud")),
                tipo_solicitud=_celda(row, "Tipo de Solicitud"),
                estado=_celda(row, "Estado Solicitud", "Estado").upper(),
                formulario=digits(_celda(row, "Solicitud Numeración de Facturación")),
            )
            for index, row in enumerate(_leer_tabla(self.loc.get("filas_formaliza")))
        ]

    def firmar(self, fila: FilaFormaliza) -> Firma | FirmaMarco:
        """Press that row's "Firmar" (never "Anular", which has no locator and is guarded)."""
        from bots.portals.muisca.firma import abrir_firma

        boton = self.loc.get("filas_formaliza").nth(fila.indice).locator(self.loc.selector("firmar_fila"))
        if boton.count() != 1:
            raise self._cambio(f"La fila de la solicitud {fila.nro} no tiene un único botón «Firmar»", "firmar_fila")
        self._enviar("firmar_fila", control=boton.first)
        return abrir_firma(self.sesion, self.sesion.locators.screen(self.page, "firma", "firma_marco"))


class SolicitudRangos(Pantalla):
    """M-07 "Solicitud de Autorización de Rangos"."""

    nombre = "solicitud"

    def llenar(self, pedido: Pedido) -> None:
        """Type the prefix, choose "Tipo Facturación", type "Rango Desde" and "Rango Hasta"."""
        self.loc.require("prefijo").first.fill(pedido.prefijo)
        self._seleccionar("tipo_facturacion", pedido.tipo)
        self.loc.require("rango_desde").first.fill(str(pedido.desde))
        self.loc.require("rango_hasta").first.fill(str(pedido.hasta))

    def agregar(self) -> SolicitudRangos:
        """ "Agregar" once: the row joins the request table."""
        self._enviar("agregar", irreversible=True)
        return SolicitudRangos(self.sesion)

    def errores(self) -> str:
        """DIAN's validation messages, if any."""
        return self._texto("errores")

    def filas(self) -> list[FilaRango]:
        return [
            FilaRango(
                tipo=_celda(row, "Tipo Facturación"),
                prefijo=_celda(row, "Prefijo").upper(),
                desde=integer(_celda(row, "Rango Desde")),
                hasta=integer(_celda(row, "Rango Hasta")),
            )
            for row in _leer_tabla(self.loc.get("filas"))
        ]

    def verificar_unica_fila(self, pedido: Pedido) -> None:
        """Exactly one row, the requested one; else stop (the row controls are not mapped)."""
        filas = self.filas()
        if len(filas) == 1 and pedido.es(filas[0].prefijo, filas[0].desde, filas[0].hasta, filas[0].tipo):
            return
        vistas = "; ".join(f"{f.tipo} {f.prefijo} {f.desde}-{f.hasta}" for f in filas) or "ninguna"
        raise NeedsHuman(
            f"La solicitud debería tener una sola fila ({pedido.tipo} {pedido.prefijo} {pedido.desde}-{pedido.hasta}) "
            f"y tiene: {vistas}. Revísela una persona antes de guardarla",
            reason="filas_inesperadas",
        )

    def _rechazo(self, boton: str) -> PortalError:
        return PortalError(f"MUISCA no aceptó «{boton}» en la solicitud de rangos", dian_text=self.errores() or None)

    def borrador(self) -> Mensaje:
        """ "Borrador" once: saves the request (formato 1302); M-08 confirms it."""
        self._enviar("borrador", irreversible=True)
        pantalla = self.sesion.locators.screen(self.page, "mensaje", "solicitud")
        if pantalla.screen == "solicitud":
            raise SolicitudRangos(self.sesion, loc=pantalla)._rechazo("Borrador")
        return Mensaje(self.sesion, loc=pantalla)

    def definitivo(self) -> Firma | FirmaMarco:
        """ "Definitivo" once: makes the request formal; MUISCA opens "Firmar documento"."""
        from bots.portals.muisca.firma import abrir_firma

        self._enviar("definitivo", irreversible=True)
        pantalla = self.sesion.locators.screen(self.page, "firma", "firma_marco", "solicitud")
        if pantalla.screen == "solicitud":
            raise SolicitudRangos(self.sesion, loc=pantalla)._rechazo("Definitivo")
        return abrir_firma(self.sesion, pantalla)


class Mensaje(Pantalla):
    """M-08 "El documento ha sido guardado de forma exitosa." (after Borrador and after each signature)."""

    nombre = "mensaje"

    def texto_mensaje(self) -> str:
        return self._texto("texto")

    def documento(self) -> str:
        """The document the message is about ("1302-<form>" or "1876-<resolution>"), "" if not shown."""
        return self._valor("documento")

    def ver_documento(self) -> Descarga:
        """ "Ver Documento": download the PDF."""
        return self._descargar("ver_documento")

    def aceptar(self) -> None:
        """ "Aceptar": MUISCA moves on (to M-07, M-11 or M-12 depending on the occurrence)."""
        self._enviar("aceptar")


class Resolucion(Pantalla):
    """M-12 "Autorización Numeración de Facturación" (resolution detail)."""

    nombre = "resolucion"

    def datos(self) -> dict[str, Any]:
        filas = [
            {
                "tipo": _celda(row, "Tipo Facturación"),
                "prefijo": _celda(row, "Prefijo").upper(),
                "desde": integer(_celda(row, "Rango Desde")),
                "hasta": integer(_celda(row, "Rango Hasta")),
                "vigencia_meses": integer(_celda(row, "Vigencia")),
                "vigente_desde": _celda(row, "Vigente Desde"),
                "vigente_hasta": _celda(row, "Vigente Hasta"),
            }
            for row in _leer_tabla(self.loc.get("filas"))
        ]
        return {
            "numero": digits(self._texto("numero")),
            "fecha_autorizacion": self._texto("fecha_autorizacion"),
            "nro_solicitud": digits(self._texto("numero_solicitud")),
            "estado": self._texto("estado"),
            "filas": filas,
        }

    def ver_documento(self) -> Descarga:
        """ "Ver Documento": the formato 1876 PDF."""
        return self._descargar("ver_documento")


def _dv(nit: str) -> int:
    from bots.validation import nit_check_digit

    return nit_check_digit(nit)
