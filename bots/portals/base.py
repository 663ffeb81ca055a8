"""The one base of every page object, on every portal.

A page object is one DIAN screen: ``SCREEN`` names it in ``selectors/<family>/<version>.toml``,
``recognise`` waits for its fingerprint (else ``PortalChanged``), and its methods are one human step
each, named with DIAN's Spanish terms. Page objects read and act; they know nothing of outcomes, the
CLI or the nightly run. What every screen needs lives here once:

- reading: ``presente``, ``visible``, ``texto``, ``valor``, ``enlace``;
- acting: ``control`` (waits, refuses "Anular"/"Inhabilitar"), ``pulsar`` (a click; something
  covering the page is "portal changed" naming the element in the way, never a timeout);
- ``leer_tabla``: a table read by header text (extra columns tolerated, a missing one = changed);
- ``dialogo``: a dialog found by role and text, never by Bootstrap's ``.in``/``.show``;
- ``sin_superposiciones``: an unknown overlay or modal stops the run instead of being clicked through;
- ``cambio``: a ``PortalChanged`` with the page saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots import artifacts, text
from bots.errors import PortalChanged, RobotError
from bots.log import get_logger
from bots.text import squash

if TYPE_CHECKING:
    from collections.abc import Iterable

    from playwright.sync_api import Locator, Page

    from bots.locators import Locators, ScreenLocators

log = get_logger(__name__)

#: Controls the robot never presses, whatever a selector says ("never click Anular").
PROHIBIDOS = ("anular", "inhabilitar")
#: What an overlay looks like on DIAN's portals (Bootstrap/bootbox modals, Angular Material overlays).
OVERLAYS = "[role=dialog], [role=alertdialog], [aria-modal=true], .modal, .cdk-overlay-pane, .bootbox"
_INTERCEPT = re.compile(r"<(?P<tag>\w+)(?P<attrs>[^>]*)>.*?intercepts pointer events", re.S)


class ControlProhibido(RobotError):
    """A safety guard stopped a click on "Anular"/"Inhabilitar" (a robot defect: exit 1)."""


@dataclass(frozen=True)
class Fila:
    """One row of a table read by header: cells by header text, the row's locator and ``data-rk``."""

    celdas: dict[str, str]
    locator: Locator
    clave: str | None = None

    def __getitem__(self, header: str) -> str:
        return self.celdas[header]


class Screen:
    """One recognised screen. Subclasses set ``SCREEN`` and build their locators in ``_build``."""

    SCREEN: ClassVar[str]
    #: Overlays this screen knows (logical names); any other visible overlay is "portal changed".
    CONOCIDAS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, locs: ScreenLocators, locators: Locators) -> None:
        self.locs = locs
        self.locators = locators
        self.page: Page = locs.page
        self._build()

    def _build(self) -> None:
        """Create the Playwright locators of this screen (once), where that helps."""

    @classmethod
    def recognise(cls, page: Page, locators: Locators, *, timeout_s: float | None = None) -> Self:
        """Wait until ``page`` shows this screen in a known version (else ``PortalChanged``)."""
        return cls(locators.screen(page, cls.SCREEN, timeout_s=timeout_s), locators)

    def name(self, logical: str) -> str:
        """The qualified logical name for logs and errors (``login_empresa.entrar``)."""
        return self.locs.qualified(logical)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.locs.family}/{self.locs.version}>"

    # -- reading ----------------------------------------------------------------------------------
    def presente(self, name: str) -> bool:
        """The control is in the page (visible or not)."""
        return self.locs.get(name).count() > 0

    def visible(self, name: str) -> bool:
        locator = self.locs.get(name)
        return locator.count() > 0 and locator.first.is_visible()

    def texto(self, name: str, *, requerido: bool = False) -> str:
        """Text of the first match as a person reads it: '' when absent, or with ``requerido`` wait
        for it to be attached (else ``PortalChanged``)."""
        if requerido:
            return squash(self.locs.require(name, state="attached").first.text_content())
        locator = self.locs.get(name)
        return squash(locator.first.text_content()) if locator.count() else ""

    def valor(self, name: str, *, requerido: bool = False) -> str:
        """``value`` of an input, hidden ones included: '' when absent, or with ``requerido`` wait for
        it to be attached (else ``PortalChanged``)."""
        if requerido:
            return (self.locs.require(name, state="attached").first.input_value() or "").strip()
        locator = self.locs.get(name)
        return (locator.first.input_value() or "").strip() if locator.count() else ""

    def enlace(self, name: str) -> str | None:
        locator = self.locs.get(name)
        return locator.first.get_attribute("href") if locator.count() else None

    def leer_tabla(self, name: str, necesarias: Iterable[str], *, filas: str = "tbody tr") -> list[Fila]:
        """Read the table ``name`` by header text. Headers are matched folded (``bots.text.fold``);
        a needed header that is missing is "portal changed"; extra columns are ignored."""
        table = self.locs.require(name, state="attached").first
        headers = [squash(h) for h in table.locator("thead th, thead td").all_text_contents()]
        if not headers:
            headers = [squash(h) for h in table.locator("tr").first.locator("th, td").all_text_contents()]
        folded = [text.fold(h) for h in headers]
        missing = [h for h in necesarias if text.fold(h) not in folded]
        if missing:
            raise self.cambio(f"La tabla «{self.name(name)}» no tiene la columna {', '.join(missing)}", name)
        rows = []
        for row in table.locator(filas).all():
            cells = [squash(c) for c in row.locator("td").all_text_contents()]
            if len(cells) < len(headers):
                continue  # "no records" rows span the table
            rows.append(Fila(dict(zip(headers, cells, strict=False)), row, row.get_attribute("data-rk")))
        return rows

    # -- dialogs, overlays, what a click causes -----------------------------------------------------
    def dialogo(self, contiene: str | re.Pattern[str], *, timeout_s: float = 10.0) -> Locator:
        """The visible dialog whose text contains ``contiene`` (role=dialog, bootbox, Material)."""
        dialog = self.page.locator(OVERLAYS).filter(has_text=contiene).filter(visible=True)
        try:
            dialog.first.wait_for(state="visible", timeout=timeout_s * 1000)
        except PlaywrightTimeoutError:
            raise self.cambio(f"No apareció el diálogo «{contiene}» en {self.locs.screen}") from None
        return dialog.first

    def sin_superposiciones(self, *conocidas: Locator) -> None:
        """Stop ("portal changed") if a visible overlay that this screen does not know covers it."""
        known = [*conocidas, *(self.locs.get(n) for n in self.CONOCIDAS if self.locs.has(n))]
        for overlay in self.page.locator(OVERLAYS).filter(visible=True).all():
            if any(k.count() and _same(overlay, k.first) for k in known):
                continue
            label = squash(overlay.text_content())[:120]
            raise self.cambio(f"Una ventana o aviso desconocido cubre la pantalla {self.locs.screen}: «{label}»")

    # -- acting -------------------------------------------------------------------------------------
    def control(self, name: str) -> Locator:
        """The visible control ``name``, after the guard against forbidden controls."""
        locator = self.locs.require(name).first
        verificar_control(locator, self.name(name))
        return locator

    def pulsar(self, name: str, *, control: Locator | None = None, timeout_s: float | None = None) -> None:
        """Click ``name`` once. Something covering it → ``PortalChanged`` naming what is in the way."""
        target = control if control is not None else self.control(name)
        try:
            target.click(timeout=timeout_s * 1000 if timeout_s is not None else None)
        except PlaywrightError as exc:
            blocker = _INTERCEPT.search(str(exc))
            if blocker:
                raise self.cambio(
                    f"No se pudo pulsar «{self.name(name)}»: lo cubre <{blocker['tag']}{blocker['attrs']}>", name
                ) from None
            raise

    def cambio(self, message: str, name: str | None = None) -> PortalChanged:
        """A ``PortalChanged`` for this screen, with the page saved for the team."""
        html, png = artifacts.save_page(
            self.page, artifacts.step_dir(), f"portal-cambio-{artifacts.safe_name(self.locs.screen)}"
        )
        return PortalChanged(
            message, selector=self.name(name) if name else self.locs.screen, page_path=html, screenshot_path=png
        )


def verificar_control(control: Locator, qualified: str) -> None:
    """Refuse "Anular"/"Inhabilitar" controls, whatever selector led to them."""
    try:
        parts = [
            control.get_attribute("value") or "",
            control.get_attribute("id") or "",
            control.get_attribute("title") or "",
            control.inner_text(timeout=2000) or "",
        ]
    except PlaywrightError:
        return  # the element vanished: the click itself will fail
    label = text.fold(" ".join(parts))
    if any(word in label for word in PROHIBIDOS):
        log.error("salvaguarda: clic prohibido", selector=qualified)
        raise ControlProhibido(
            f"Salvaguarda: «{qualified}» apunta a un control prohibido (Anular/Inhabilitar); no se hizo clic en él",
            selector=qualified,
        )


def _same(a: Locator, b: Locator) -> bool:
    try:
        return bool(a.evaluate("(x, y) => x === y || x.contains(y) || y.contains(x)", b.element_handle()))
    except PlaywrightError:
        return False
