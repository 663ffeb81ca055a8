"""M-09 "Firmar documento" and M-10 "Mis comunicados" (read in a second tab of the same context)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots import artifacts
from bots.errors import BOGOTA, PortalChanged, PortalError
from bots.log import get_logger, register_secret
from bots.portals.muisca.base import Pantalla, Sesion
from bots.retry import navigate
from bots.text import contains_folded, squash

if TYPE_CHECKING:
    from playwright.sync_api import Frame, Page
    from pydantic import SecretStr

    from bots.locators import ScreenLocators
    from bots.portals.muisca.numeracion import Mensaje

log = get_logger(__name__)

#: Used when the countdown shows no readable number of seconds.
CONTADOR_MAXIMO_S = 180.0
_STAMP = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([ap])\.?\s*m\.?)?", re.IGNORECASE
)


def fecha_dian(text: str) -> datetime | None:
    """ "15/01/2026 04:58:56 PM" or "15/01/2026 16:58" (Bogotá time) → aware datetime, else None."""
    match = _STAMP.search(text or "")
    if not match:
        return None
    day, month, year, hour, minute, second, meridiem = match.groups()
    hour_i = int(hour)
    if meridiem:
        if not 1 <= hour_i <= 12:
            return None
        hour_i = hour_i % 12 + (12 if meridiem.lower() == "p" else 0)
    try:
        return datetime(int(year), int(month), int(day), hour_i, int(minute), int(second or 0), tzinfo=BOGOTA)
    except ValueError:
        return None


class Firma(Pantalla):
    """M-09: clave dinámica + firma electrónica password, "Firmar documento(s)"."""

    nombre = "firma"

    def proteger(self) -> None:
        """Mask the key and password fields in every screenshot of this run."""
        self.sesion.run.mask(self.loc.get("clave_dinamica"), self.loc.get("clave_firma"))

    # -- reading ----------------------------------------------------------------------------------
    def error(self) -> str:
        """DIAN's message on this page (wrong key, expired key, wrong password, wait …), "" if none."""
        return self._texto("error") if self._hay("error") else ""

    def clave_enviada(self) -> bool:
        """Variant B: "¡Clave dinámica enviada a …!"."""
        return self._hay("clave_enviada")

    def contador_activo(self) -> bool:
        """ "Podrás solicitar una nueva clave dinámica en: N seg" is counting down."""
        return self._hay("contador")

    def segundos_restantes(self) -> int | None:
        match = re.search(r"\d+", self._texto("segundos"))
        return int(match.group()) if match else None

    # -- acting -----------------------------------------------------------------------------------
    def esperar_fin_contador(self) -> None:
        """Wait for the page's own countdown to end ("Solicítala aquí" visible again); never click before."""
        if not self.contador_activo() and self._hay("clave_disponible"):
            return
        segundos = self.segundos_restantes()
        limite = (segundos + 30.0) if segundos is not None else CONTADOR_MAXIMO_S
        log.info("esperando el contador de la clave dinámica", segundos=segundos)
        try:
            self.loc.get("clave_disponible").first.wait_for(state="visible", timeout=limite * 1000)
        except PlaywrightTimeoutError:
            raise PortalError(
                "El contador de MUISCA para pedir otra clave dinámica no terminó a tiempo; no se pidió la clave",
                selector=self.loc.qualified("clave_disponible"),
                retryable=True,
            ) from None

    def solicitar_clave(self) -> Firma:
        """Click "Solicítala aquí" once; MUISCA mails the key and shows variant B."""
        self._enviar("solicitar_clave", irreversible=True)
        return Firma(self.sesion)

    def escribir(self, clave: str, password: SecretStr) -> None:
        """Type the clave dinámica (verbatim, '=' included) and the firma electrónica password."""
        self.loc.require("clave_dinamica").first.fill(clave)
        self.loc.require("clave_firma").first.fill(password.get_secret_value())

    def firmar_documentos(self) -> None:
        """Click "Firmar documento(s)" exactly once."""
        self._enviar("firmar", irreversible=True)

    def preparar(self) -> None:
        """Nothing before the form on the top-level window."""

    def resultado_firma(self) -> tuple[Mensaje | None, Firma]:
        """After "Firmar": the M-08 message, or this screen again with DIAN's error."""
        from bots.portals.muisca.numeracion import Mensaje

        pantalla = self.sesion.locators.screen(self.page, "mensaje", "firma")
        if pantalla.screen == "mensaje":
            return Mensaje(self.sesion, loc=pantalla), self
        return None, Firma(self.sesion, loc=pantalla)

    def url_bandeja(self) -> str | None:
        """Absolute address of "Ver mi bandeja de comunicados", if the link is there."""
        enlace = self.loc.get("bandeja")
        href = enlace.first.get_attribute("href") if enlace.count() else None
        return urljoin(self.page.url, href) if href and not href.startswith(("#", "javascript:")) else None


#: Page script: read the inbox again (GET, same address without query) every ``ms`` and set
#: ``window.__comunicadosCambio`` when the list's text differs from the one shown.
_VIGIA_COMUNICADOS = """({lista, ms}) => {
  const texto = (doc) => {
    const t = doc.querySelector(lista);
    return t ? t.textContent.replace(/\\s+/g, ' ').trim() : '';
  };
  const antes = texto(document);
  const url = location.href.split('?')[0];
  window.__comunicadosCambio = false;
  clearInterval(window.__comunicadosVigia);
  window.__comunicadosVigia = setInterval(async () => {
    try {
      const html = await (await fetch(url, {credentials: 'same-origin'})).text();
      if (texto(new DOMParser().parseFromString(html, 'text/html')) !== antes) window.__comunicadosCambio = true;
    } catch (e) { /* the next read tries again */ }
  }, ms);
}"""


@dataclass(frozen=True)
class Comunicado:
    """The clave dinámica shown in "Mis comunicados" (``repr`` hides the key)."""

    clave: str = field(repr=False)
    vigente_desde: datetime | None
    vigente_hasta: datetime | None


class Comunicados(Pantalla):
    """M-10 "Mis comunicados", in its own tab: the signing page stays where it is."""

    nombre = "comunicados"

    @classmethod
    def abrir(cls, sesion: Sesion, url: str) -> Comunicados:
        """Open the inbox in a new tab of the client's context."""
        tab = sesion.run.new_page()
        navigate(tab, url)
        bandeja = cls(sesion, tab)
        sesion.run.mask(bandeja.loc.get("detalle_clave"))
        return bandeja

    @property
    def tab(self) -> Page:
        return self.page

    def recargar(self) -> Comunicados:
        """Read the inbox again (a GET; the signing tab is not touched)."""
        navigate(self.page, self.page.url.split("?", 1)[0])
        return Comunicados(self.sesion, self.page)

    def esperar_cambio(self, timeout_s: float, intervalo_s: float) -> bool:
        """Wait until the inbox list, as DIAN serves it now, differs from the one on this tab.

        The page itself reads the inbox again (the same GET as ``recargar``) every ``intervalo_s`` and
        raises a flag when the list's text changed; this call waits for that flag (at most
        ``timeout_s``). True: a new communication is there (``recargar`` then reads it).
        """
        self.page.evaluate(_VIGIA_COMUNICADOS, {"lista": self.loc.selector("lista"), "ms": int(intervalo_s * 1000)})
        try:
            self.page.wait_for_function(
                "() => window.__comunicadosCambio === true", timeout=timeout_s * 1000, polling=250
            )
        except PlaywrightTimeoutError:
            return False
        finally:
            self.page.evaluate("() => clearInterval(window.__comunicadosVigia)")
        return True

    def clave_mas_reciente(self) -> Comunicado | None:
        """Open the newest "clave dinámica" communication and read its key and validity."""
        asuntos = self.loc.get("asuntos")
        indices = [i for i in range(asuntos.count()) if contains_folded(asuntos.nth(i).inner_text(), "clave dinamica")]
        if not indices:
            return None
        if not (self._hay("detalle") and contains_folded(self._texto("detalle_asunto"), "clave dinamica")):
            self._enviar("asuntos", control=asuntos.nth(indices[0]))
            return Comunicados(self.sesion, self.page).clave_mas_reciente()
        clave = self.loc.get("detalle_clave").first.inner_text().strip()
        if not clave or not re.fullmatch(r"[A-Za-z0-9+/_-]{3,64}={0,3}", clave):
            return None
        register_secret(clave)
        return Comunicado(clave, fecha_dian(self._texto("vigente_desde")), fecha_dian(self._texto("vigente_hasta")))

    def cerrar(self) -> None:
        if not self.page.is_closed():
            self.page.close()


#: Playwright's words when another element takes a click ("<aside …> intercepts pointer events").
_TAPADO = re.compile(r"(<[a-z][^\n]{0,240}?)\s*(?:from <[^\n]*?> subtree\s*)?intercepts pointer events")


class FirmaMarco:
    """M-09 inside the iframe ``/firmaelectronica/firma.html`` (TR, mapped live 2026-09-20).

    Same steps as ``Firma`` for the ``Firmador``. The window's buttons post with XHR, so no click
    here waits for a navigation: each waits for what the window shows next. A click another element
    swallows is never forced: the known "Ayuda" panel is closed and the click made again (the first
    one never reached the button); anything else stops the run naming the element in the way.
    """

    nombre = "firma_marco"

    def __init__(self, sesion: Sesion, *, loc: ScreenLocators) -> None:
        self.sesion = sesion
        self.page = sesion.page
        self.marco_loc = loc
        self.frame = self._frame()
        self.loc = sesion.locators.screen(self.frame, "firma_ventana")  # type: ignore[arg-type]

    def _frame(self) -> Frame:
        handle = self.marco_loc.require("marco", state="attached").first.element_handle()
        frame = handle.content_frame() if handle is not None else None
        if frame is None:
            raise self._cambio("El marco de la firma electrónica no cargó", "marco")
        frame.wait_for_load_state("domcontentloaded")
        return frame

    @property
    def _espera_ms(self) -> float:
        return self.sesion.settings.page_timeout_s * 1000

    def _cambio(self, message: str, name: str) -> PortalChanged:
        html, png = artifacts.save_page(self.page, artifacts.step_dir(), f"portal-cambio-{self.nombre}")
        return PortalChanged(message, selector=f"{self.nombre}.{name}", page_path=html, screenshot_path=png)

    def _hay(self, name: str) -> bool:
        locator = self.loc.get(name)
        return locator.count() > 0 and locator.first.is_visible()

    def _texto(self, name: str) -> str:
        locator = self.loc.get(name)
        return squash(locator.first.inner_text()) if locator.count() else ""

    def _clic(self, name: str) -> None:
        """One click on a control of the window; an element in the way is never clicked through."""
        control = self.loc.require(name).first
        qualified = self.loc.qualified(name)
        for intento in (1, 2):
            try:
                control.click(timeout=self._espera_ms)
                return
            except PlaywrightTimeoutError as exc:
                tapa = _TAPADO.search(str(exc))
                if intento == 1 and self._cerrar_ayuda():
                    continue
                quien = tapa.group(1) if tapa else "un elemento que el robot no conoce"
                log.error("un elemento tapa el control", selector=qualified, elemento=quien[:120])
                raise self._cambio(
                    f"No se pudo pulsar «{qualified}»: lo tapa {quien[:160]}. El robot no hace clic a través de "
                    "elementos desconocidos; ese clic no llegó a la DIAN",
                    name,
                ) from None

    def _cerrar_ayuda(self) -> bool:
        """Close the known "Ayuda" panel if it is what covers the window; False if it is not there."""
        panel = self.marco_loc.get("panel_ayuda")
        if panel.count() == 0 or not panel.first.is_visible():
            return False
        cerrar = self.marco_loc.get("cerrar_ayuda")
        if cerrar.count() != 1:
            return False
        log.info("se cierra el panel de Ayuda que tapa la firma")
        cerrar.click(timeout=self._espera_ms)
        panel.first.wait_for(state="hidden", timeout=self._espera_ms)
        return True

    def _esperar(self, *names: str) -> str:
        """Wait until one of these elements of the window is visible; its name."""
        combined = self.loc.get(names[0])
        for name in names[1:]:
            combined = combined.or_(self.loc.get(name))
        try:
            combined.first.wait_for(state="visible", timeout=self.sesion.nav_timeout_ms)
        except PlaywrightTimeoutError:
            raise PortalError(
                f"La ventana de firma no mostró respuesta ({' / '.join(names)})", retryable=True
            ) from None
        return next((n for n in names if self._hay(n)), names[0])

    # -- the Firmador's interface -----------------------------------------------------------------
    def preparar(self) -> None:
        """The signer step first: "Autorizar" (when offered), then "Firmar" opens the form."""
        if self._hay("clave_dinamica"):
            return
        if self._hay("autorizar"):
            self._clic("autorizar")
            self._esperar("confirmar")
        self._clic("confirmar")
        self._esperar("clave_dinamica")

    def proteger(self) -> None:
        self.sesion.run.mask(self.loc.get("clave_dinamica"), self.loc.get("clave_firma"))

    def error(self) -> str:
        return self._texto("error") if self._hay("error") else ""

    def clave_enviada(self) -> bool:
        return self._hay("clave_enviada")

    def contador_activo(self) -> bool:
        return self._hay("contador")

    def segundos_restantes(self) -> int | None:
        match = re.search(r"\d+", self._texto("segundos"))
        return int(match.group()) if match else None

    def esperar_fin_contador(self) -> None:
        """Wait for the window's own countdown to end ("aquí" visible again); never click before."""
        if not self.contador_activo() and self._hay("clave_disponible"):
            return
        segundos = self.segundos_restantes()
        limite = (segundos + 30.0) if segundos is not None else CONTADOR_MAXIMO_S
        try:
            self.loc.get("clave_disponible").first.wait_for(state="visible", timeout=limite * 1000)
        except PlaywrightTimeoutError:
            raise PortalError(
                "El contador de MUISCA para pedir otra clave dinámica no terminó a tiempo; no se pidió la clave",
                selector=self.loc.qualified("clave_disponible"),
                retryable=True,
            ) from None

    def solicitar_clave(self) -> FirmaMarco:
        """Click "aquí" once; the window says the key was sent (or DIAN's reason why not)."""
        self._clic("solicitar_clave")
        self._esperar("clave_enviada", "error")
        return self

    def escribir(self, clave: str, password: SecretStr) -> None:
        self.loc.require("clave_dinamica").first.fill(clave)
        self.loc.require("clave_firma").first.fill(password.get_secret_value())

    def firmar_documentos(self) -> None:
        """Click the window's "Firmar" exactly once."""
        self._clic("firmar")

    def resultado_firma(self) -> tuple[Mensaje | None, FirmaMarco]:
        """After "Firmar": DIAN's error in the window, or success → "Aceptar" → the M-08 message."""
        from bots.portals.muisca.numeracion import Mensaje

        if self._esperar("exito", "error") == "error":
            return None, self
        control = self.loc.require("aceptar").first
        with self.page.expect_navigation(wait_until="domcontentloaded", timeout=self.sesion.nav_timeout_ms):
            control.click(timeout=self._espera_ms)
        return Mensaje(self.sesion), self

    def url_bandeja(self) -> str | None:
        """The window in the frame has no "Ver mi bandeja" link: the key comes from the mailbox."""
        return None


def abrir_firma(sesion: Sesion, pantalla: ScreenLocators) -> Firma | FirmaMarco:
    """The signing screen MUISCA showed: top-level (``firma``) or inside the iframe (``firma_marco``)."""
    if pantalla.screen == "firma_marco":
        return FirmaMarco(sesion, loc=pantalla)
    return Firma(sesion, loc=pantalla)

