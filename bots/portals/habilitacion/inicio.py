"""H-01 dashboard, and the production-date dialogs DIAN opens on it: H-08, H-09 and the H-10 result."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.errors import PortalChanged, PortalError
from bots.portals.habilitacion.base import Screen
from bots.portals.habilitacion.modelos import Aviso, FechasProduccion, format_dian_date, parse_dian_date
from bots.text import squash

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

    from bots.locators import Locators


#: DIAN's Ajax route behind H-09's "Aceptar" (ContributorController.SetHabilitationAndProductionDates).
SET_DATES_PATH = "/Contributor/SetHabilitationAndProductionDates"


class Inicio(Screen):
    """H-01 "Inicio" with the side menu."""

    SCREEN = "inicio"

    def documentos_electronicos(self) -> str:
        """Where "Registro y habilitación → Documentos electrónicos" leads (the menu link's address)."""
        href = self.enlace("documentos_electronicos")
        if not href:
            raise PortalChanged(
                "El menú no tiene «Documentos electrónicos»", selector=self.name("documentos_electronicos")
            )
        return href

    def alertas(self) -> int:
        """How many page notifications are shown (the next H-10 result will be this index)."""
        return self.locs.get("alerta").count()

    def dialogo_fecha(self, esperar_s: float = 0) -> FechaProduccion | None:
        """H-08 if DIAN opened it on landing (nothing is clicked). DIAN opens it on document-ready, after the
        page has loaded and with a fade: ``esperar_s`` gives it that long to appear."""
        dialogo = self.locs.get("dialogo")
        if esperar_s > 0:
            try:
                dialogo.first.wait_for(state="visible", timeout=esperar_s * 1000)
            except PlaywrightTimeoutError:
                return None
        if dialogo.count() == 0:
            return None
        found = self.locators.screen(self.page, "fecha_produccion", "inicio")
        return FechaProduccion(found, self.locators) if found.screen == "fecha_produccion" else None


class FechaProduccion(Screen):
    """H-08 "Registrar fecha de inicio salida a producción"."""

    SCREEN = "fecha_produccion"

    def leer(self) -> FechasProduccion:
        """The dates DIAN proposes (any overlay other than H-08 itself stops the run first)."""
        self.sin_superposiciones(self.locs.get("fecha_produccion"))
        return FechasProduccion(
            habilitacion=parse_dian_date(self.valor("fecha_habilitacion", requerido=True)),
            produccion=parse_dian_date(self.valor("fecha_produccion", requerido=True)),
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
        self.sin_superposiciones(self.locs.get("fecha_produccion"))  # the one dialog expected here: H-08 itself
        self.pulsar("aceptar")
        return ConfirmacionS2.recognise(self.page, self.locators)


class ConfirmacionS2(Screen):
    """H-09 "Responsabilidad ... Facturador Electrónico en el RUT será actualizada ..." (Aceptar/Cancelar)."""

    SCREEN = "confirmacion_s2"

    def pregunta(self) -> str:
        """The dialog's question, as DIAN writes it."""
        return self.texto("texto", requerido=True)

    def fecha(self) -> date | None:
        """The date the dialog is about to send, when the dialog carries it."""
        return parse_dian_date(self.locs.get("dialogo").first.get_attribute("data-production-date"))

    def aceptar(self, alertas_antes: int) -> Aviso:
        """IRREVERSIBLE: click "Aceptar" and read DIAN's answer (H-10). The wait for the answer starts before
        the click (DIAN's page notification closes itself after 10 s); if the notification is already gone,
        the answer is DIAN's JSON reply that the page would have shown (Dashboard.cshtml:426-445)."""
        self.sin_superposiciones(self.locs.get("texto"))  # the one dialog expected here: H-09 itself
        boton = self.control("aceptar")
        with self.page.expect_response(lambda r: SET_DATES_PATH in r.url, timeout=60_000) as answer:
            self.pulsar("aceptar", control=boton)
        if answer.value.status >= 500:  # the view's Ajax error handler shows nothing (Dashboard.cshtml:435)
            raise PortalError(
                f"La DIAN respondió con error HTTP {answer.value.status} al registrar la fecha de inicio en "
                "producción. Ejecute de nuevo: el robot verificará leyendo el portal si la DIAN alcanzó a registrarla",
                dian_text=f"HTTP {answer.value.status}",
                retryable=True,
            )
        try:
            return ResultadoS2.recognise(self.page, self.locators, timeout_s=8).aviso(alertas_antes)
        except PortalChanged:
            reply = _json(answer.value)
            if reply is None or "message" not in reply:
                raise
            return Aviso(texto=squash(str(reply["message"])), exito=reply.get("success") is True)

    def cancelar(self) -> None:
        self.sin_superposiciones(self.locs.get("texto"))
        self.pulsar("cancelar")


class ResultadoS2(Screen):
    """H-10: the page notification with DIAN's answer to the production date."""

    SCREEN = "resultado_s2"

    def aviso(self, index: int = 0) -> Aviso:
        return self._notice(index, box="alerta", message="mensaje", success="exito")


def _json(response: Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except (PlaywrightError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def landing(page: Page, locators: Locators, *, esperar_dialogo_s: float = 0) -> tuple[Inicio, FechaProduccion | None]:
    """The dashboard as the user lands on it, and H-08 if it is open on top (nothing is clicked)."""
    inicio = Inicio.recognise(page, locators)
    return inicio, inicio.dialogo_fecha(esperar_dialogo_s)
