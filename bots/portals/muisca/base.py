"""What every MUISCA page object shares: the session context, screen recognition, safe clicks.

Each page object is built on a page that already shows its screen: the constructor waits for the
screen's fingerprint (``Locators("muisca").screen``) and raises ``PortalChanged`` otherwise. Methods
are one human step each. Clicks that post the page go through ``_enviar``, which refuses any
control whose label says "Anular" or "Inhabilitar" (the selector files have no locator for them
either) and turns a lost response into a ``PortalError`` that tells the operator the next run will
check the portal first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.errors import PortalChanged, PortalError
from bots.log import get_logger
from bots.portals.base import PROHIBIDOS, ControlProhibido, Screen, verificar_control
from bots.text import same_folded, squash

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from bots.browser import ClientRun
    from bots.config import Settings
    from bots.locators import Locators, ScreenLocators
    from bots.steps import StepJournal

log = get_logger(__name__)

__all__ = ["PROHIBIDOS", "ControlProhibido", "Descarga", "Pantalla", "Sesion"]


@dataclass
class Sesion:
    """One client's MUISCA session: the browser run, the selector sets, settings and the journal of
    irreversible clicks (``bots.steps``)."""

    run: ClientRun
    locators: Locators
    settings: Settings
    pasos: StepJournal

    @property
    def page(self) -> Page:
        return self.run.page

    @property
    def nav_timeout_ms(self) -> float:
        return self.settings.navigation_timeout_s * 1000


@dataclass(frozen=True)
class Descarga:
    """A downloaded document (e.g. the formato 1876 PDF)."""

    datos: bytes
    nombre: str


class Pantalla(Screen):
    """A MUISCA page object: a ``bots.portals.base.Screen`` built from the client's ``Sesion``.

    ``nombre`` is the screen name in ``selectors/muisca/*.toml`` (``SCREEN``); ``loc`` is the
    recognised screen's ``ScreenLocators``. Reading, the forbidden-control guard and "portal changed"
    come from ``Screen``; what is MUISCA's own (JSF posts that navigate, 0x0 dashboard buttons,
    native selects, downloads) stays here.
    """

    nombre: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "nombre" in cls.__dict__:
            cls.SCREEN = cls.nombre

    def __init__(
        self,
        sesion: Sesion,
        page: Page | None = None,
        *,
        loc: ScreenLocators | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.sesion = sesion
        page = page or sesion.page
        super().__init__(loc or sesion.locators.screen(page, self.nombre, timeout_s=timeout_s), sesion.locators)

    @property
    def loc(self) -> ScreenLocators:
        return self.locs

    # -- reading ----------------------------------------------------------------------------------
    def _hay(self, name: str) -> bool:
        """The element is on the page and visible."""
        return self.visible(name)

    def _texto(self, name: str) -> str:
        """Visible text of the first match ("" when absent)."""
        locator = self.loc.get(name)
        if locator.count() == 0:
            return ""
        return squash(locator.first.inner_text())

    def _valor(self, name: str) -> str:
        """``value`` of an input (hidden ones too); "" when absent."""
        locator = self.loc.get(name)
        if locator.count() == 0:
            return ""
        return (locator.first.get_attribute("value") or "").strip()

    # -- acting -------------------------------------------------------------------------------------
    def _control(self, name: str) -> Locator:
        """The visible control ``name`` after the safety guard."""
        return self.control(name)

    def _enviar(
        self, name: str, *, irreversible: bool = False, control: Locator | None = None, dom: bool = False
    ) -> None:
        """Click a control that posts the page and wait for the next document (one click, never retried).

        ``dom``: the control may measure 0x0 for Playwright (MUISCA's dashboard image buttons, S7);
        when it is attached but not visible, the click is made through the DOM on it (or its link).
        """
        if dom and control is None:
            control = self.loc.require(name, state="attached").first
        target = control if control is not None else self._control(name)
        if control is not None:
            verificar_control(target, self.loc.qualified(name))
        qualified = self.loc.qualified(name)
        # An overlay the screen does not know (other than one holding this very control) stops the run
        # before the click: a DOM click would go through it, a pointer click would be swallowed by it.
        self.sin_superposiciones(target)
        por_dom = dom and not target.is_visible()
        if por_dom:
            log.info("control sin tamaño para Playwright: clic por el DOM", selector=qualified)
        try:
            with self.page.expect_navigation(wait_until="domcontentloaded", timeout=self.sesion.nav_timeout_ms) as nav:
                if por_dom:
                    target.evaluate("el => (el.closest('a') || el).click()")
                else:
                    target.click()
            response = nav.value
        except PlaywrightTimeoutError:
            raise _sin_respuesta(qualified, irreversible) from None
        if response is not None and response.status >= 500:
            raise PortalError(
                f"MUISCA respondió con error HTTP {response.status} después de «{qualified}»"
                + (". El robot verificará el estado en el portal al volver a ejecutarse." if irreversible else ""),
                selector=qualified,
                dian_text=_cuerpo(self.page) or None,
                retryable=True,
            )

    def _seleccionar(self, name: str, etiqueta: str) -> None:
        """Choose the ``<option>`` of a native select whose label matches ``etiqueta`` (folded)."""
        select = self.loc.require(name).first
        opciones = select.locator("option")
        for index in range(opciones.count()):
            opcion = opciones.nth(index)
            if same_folded(opcion.inner_text(), etiqueta):
                select.select_option(value=opcion.get_attribute("value") or "")
                return
        raise self._cambio(f"«{self.loc.qualified(name)}» no ofrece la opción «{etiqueta}»", name)

    def _cambio(self, message: str, name: str | None = None) -> PortalChanged:
        """A ``PortalChanged`` for this screen, with the page saved for the team."""
        return self.cambio(message + "; no se hizo clic en nada", name)

    def _descargar(self, name: str) -> Descarga:
        """Click a control that downloads a document; return its bytes."""
        control = self._control(name)
        try:
            with self.page.expect_download(timeout=self.sesion.nav_timeout_ms) as info:
                control.click()
        except PlaywrightTimeoutError:
            raise PortalError(
                f"«{self.loc.qualified(name)}» no descargó ningún documento",
                selector=self.loc.qualified(name),
                retryable=True,
            ) from None
        download = info.value
        path = download.path()
        if download.failure() or path is None:
            raise PortalError(f"La descarga de «{self.loc.qualified(name)}» falló", retryable=True)
        return Descarga(Path(path).read_bytes(), download.suggested_filename)


def _cuerpo(page: Page) -> str:
    try:
        return squash(page.locator("body").inner_text(timeout=2000))[:300]
    except PlaywrightError:
        return ""


def _sin_respuesta(qualified: str, irreversible: bool) -> PortalError:
    if irreversible:
        return PortalError(
            f"No llegó la respuesta de MUISCA después de «{qualified}»: no se sabe si la DIAN lo recibió. "
            "No se repitió el clic; al volver a ejecutar, el robot revisa primero el estado en el portal",
            selector=qualified,
            retryable=True,
        )
    return PortalError(f"MUISCA no respondió después de «{qualified}»", selector=qualified, retryable=True)
