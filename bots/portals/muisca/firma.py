"""M-09 "Firmar documento" and M-10 "Mis comunicados" (read in a second tab of the same context)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.errors import BOGOTA, PortalError
from bots.log import get_logger, register_secret
from bots.portals.muisca.base import Pantalla, Sesion
from bots.portals.muisca.texto import contiene, plegar
from bots.retry import navigate

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pydantic import SecretStr

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
        if not self.contador_activo() and self._hay("solicitar_clave"):
            return
        segundos = self.segundos_restantes()
        limite = (segundos + 30.0) if segundos is not None else CONTADOR_MAXIMO_S
        log.info("esperando el contador de la clave dinámica", segundos=segundos)
        try:
            self.loc.get("solicitar_clave").first.wait_for(state="visible", timeout=limite * 1000)
        except PlaywrightTimeoutError:
            raise PortalError(
                "El contador de MUISCA para pedir otra clave dinámica no terminó a tiempo; no se pidió la clave",
                selector=self.loc.qualified("solicitar_clave"),
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

    def url_bandeja(self) -> str | None:
        """Absolute address of "Ver mi bandeja de comunicados", if the link is there."""
        enlace = self.loc.get("bandeja")
        href = enlace.first.get_attribute("href") if enlace.count() else None
        return urljoin(self.page.url, href) if href and not href.startswith(("#", "javascript:")) else None


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

    def clave_mas_reciente(self) -> Comunicado | None:
        """Open the newest "clave dinámica" communication and read its key and validity."""
        asuntos = self.loc.get("asuntos")
        indices = [i for i in range(asuntos.count()) if contiene(asuntos.nth(i).inner_text(), "clave dinamica")]
        if not indices:
            return None
        if not (self._hay("detalle") and contiene(self._texto("detalle_asunto"), "clave dinamica")):
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


def clasificar_error(texto: str) -> str:
    """ "firma" (the firma electrónica password), "clave" (the clave dinámica), "espera" or "otro"."""
    folded = plegar(texto)
    if not folded:
        return "otro"
    if "esperar" in folded and "clave dinamica" in folded:
        return "espera"
    if "firma electronica" in folded and "clave dinamica" not in folded:
        return "firma"
    if "clave dinamica" in folded:
        return "clave"
    return "otro"
