"""H-01 dashboard, and the production-date dialogs DIAN opens on it: H-08, H-09 and the H-10 result."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from bots.errors import PortalChanged
from bots.portals.habilitacion.base import Screen
from bots.portals.habilitacion.modelos import Aviso, FechasProduccion, format_dian_date, parse_dian_date

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from bots.locators import Locators


class Inicio(Screen):
    """H-01 "Inicio" with the side menu."""

    SCREEN = "inicio"

    def documentos_electronicos(self) -> str:
        """Where "Registro y habilitación → Documentos electrónicos" leads (the menu link's address)."""
        href = self._href("documentos_electronicos")
        if not href:
            raise PortalChanged(
                "El menú no tiene «Documentos electrónicos»", selector=self.name("documentos_electronicos")
            )
        return href

    def alertas(self) -> int:
        """How many page notifications are shown (the next H-10 result will be this index)."""
        return self.locs.get("alerta").count()

    def dialogo_fecha(self) -> FechaProduccion | None:
        """H-08 if DIAN opened it on landing (nothing is clicked)."""
        if self.locs.get("dialogo").count() == 0:
            return None
        found = self.locators.screen(self.page, "fecha_produccion", "inicio")
        return FechaProduccion(found, self.locators) if found.screen == "fecha_produccion" else None


class FechaProduccion(Screen):
    """H-08 "Registrar fecha de inicio salida a producción"."""

    SCREEN = "fecha_produccion"

    def leer(self) -> FechasProduccion:
        """The dates DIAN proposes."""
        return FechasProduccion(
            habilitacion=parse_dian_date(self._value("fecha_habilitacion")),
            produccion=parse_dian_date(self._value("fecha_produccion")),
        )

    def escribir_fecha(self, value: date) -> None:
        """Type the production start date (dd-mm-yyyy) and check the field kept it."""
        field = self.locs.require("fecha_produccion")
        text = format_dian_date(value)
        if field.input_value().strip() != text:
            field.fill(text)
        if parse_dian_date(field.input_value()) != value:
            raise PortalChanged(
                "El campo de la fecha de inicio en producción no aceptó la fecha escrita; no se hizo clic",
                selector=self.name("fecha_produccion"),
            )

    def aceptar(self) -> ConfirmacionS2:
        """Click "Aceptar": DIAN asks for the RUT confirmation (H-09); nothing is sent yet."""
        self.locs.require("aceptar").click()
        return ConfirmacionS2.recognise(self.page, self.locators)


class ConfirmacionS2(Screen):
    """H-09 "Responsabilidad ... Facturador Electrónico en el RUT será actualizada ..." (Aceptar/Cancelar)."""

    SCREEN = "confirmacion_s2"

    def texto(self) -> str:
        return self._text("texto")

    def fecha(self) -> date | None:
        """The date the dialog is about to send, when the dialog carries it."""
        return parse_dian_date(self.locs.get("dialogo").first.get_attribute("data-production-date"))

    def aceptar(self, alertas_antes: int) -> Aviso:
        """IRREVERSIBLE: click "Aceptar" and wait for DIAN's answer (H-10)."""
        self.locs.require("aceptar").click()
        return ResultadoS2.recognise(self.page, self.locators).aviso(alertas_antes)

    def cancelar(self) -> None:
        self.locs.require("cancelar").click()


class ResultadoS2(Screen):
    """H-10: the page notification with DIAN's answer to the production date."""

    SCREEN = "resultado_s2"

    def aviso(self, index: int = 0) -> Aviso:
        return self._notice(index, box="alerta", message="mensaje", success="exito")


def landing(page: Page, locators: Locators) -> tuple[Inicio, FechaProduccion | None]:
    """The dashboard as the user lands on it, and H-08 if it is open on top (nothing is clicked)."""
    inicio = Inicio.recognise(page, locators)
    return inicio, inicio.dialogo_fecha()
