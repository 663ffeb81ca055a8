"""Token login screens of the catalogue (S-02, S-03): one class per screen, one human step per method.

The robot opens the form directly, as 2025/2026 bots do (``/User/CompanyLogin``, ``/User/PersonLogin``):

    form = IngresoEmpresa.recognise(page, locators)         # /User/CompanyLogin
    form.elegir_representante_legal()
    form.elegir_tipo_identificacion("Cédula de ciudadanía", codigo="10910094")
    form.escribir_representante("1020304050")
    form.escribir_nit_empresa("900123456")                  # without DV
    form.esperar_turnstile(operador_presente=False)
    result = form.entrar()                                  # TokenEnviado | ModalErrorIngreso

``TokenRechazado`` is DIAN's answer to a refused ``/User/AuthToken`` link (any of its recorded
variants); ``classify_refusal(text)`` turns DIAN's refusal text into the robot's failure class.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bots import mensajes
from bots.errors import PortalError, RobotError
from bots.log import get_logger
from bots.portals.base import Screen
from bots.portals.catalogo import (
    choose_option,
    find_option,
    read_options,
    wait_for_turnstile,
)
from bots.text import squash

if TYPE_CHECKING:
    from playwright.sync_api import Locator

__all__ = [
    "ErrorIngresoPersona",
    "IngresoEmpresa",
    "IngresoPersona",
    "InicioIngreso",
    "ModalErrorIngreso",
    "TokenEnviado",
    "TokenRechazado",
    "classify_refusal",
]

log = get_logger(__name__)

_MASKED_EMAIL = re.compile(r"[\w.+*-]*\*[\w.+*-]*@[\w.-]+")


class InicioIngreso(Screen):
    """S-02 landing ``/User/Login``: the tab list (Empresa, Persona, ...). The robot does not need it
    to log in; it is recognised when DIAN sends a lost session there."""

    SCREEN = "login_inicio"

    def _build(self) -> None:
        self._error = self.locs.get("alerta_error")

    def mensaje_error(self) -> str | None:
        """DIAN's message on the landing (e.g. "Token expirado, por favor intente nuevamente."), if any."""
        return self.texto("alerta_error") or None


class _FormularioToken(Screen):
    """What the Empresa and Persona forms share: id type, Turnstile, "Entrar"."""

    def _build(self) -> None:
        self._id_type = self.locs.get("tipo_identificacion")
        self._turnstile_response = self.locs.get("turnstile_respuesta")
        self._turnstile_challenge = self.locs.get("turnstile_interactivo")

    def elegir_tipo_identificacion(self, etiqueta: str, *, codigo: str | None = None) -> None:
        """Choose the identification type by its visible text (DIAN's option code as a fallback)."""
        name = self.name("tipo_identificacion")
        self.locs.require("tipo_identificacion", state="attached")
        option = find_option(read_options(self._id_type), etiqueta, value=codigo)
        if option is None:
            raise PortalError(f"El tipo de identificación «{etiqueta}» no está en la lista de {name}", selector=name)
        choose_option(self._id_type, option, name=name)

    def _fill(self, field: Locator, logical: str, value: str) -> None:
        field.first.fill(value)
        if field.first.input_value() != value:
            raise PortalError(f"El campo {self.name(logical)} no tomó el valor escrito", selector=self.name(logical))

    def esperar_turnstile(self, *, operador_presente: bool) -> None:
        """Wait for the anti-robot check to pass by itself (or for the operator, in a headed run)."""
        wait_for_turnstile(
            self.page,
            self._turnstile_response,
            self._turnstile_challenge,
            operator_present=operador_presente,
            name=self.name("turnstile"),
        )


class IngresoEmpresa(_FormularioToken):
    """S-02 Empresa ``/User/CompanyLogin``: "Representante legal" card, then the Ajax form."""

    SCREEN = "login_empresa"

    def _build(self) -> None:
        super()._build()
        self._representative = self.locs.get("numero_representante")
        self._nit = self.locs.get("nit_empresa")

    def elegir_representante_legal(self) -> None:
        """Click the "Representante legal" card (the form shows up)."""
        if not self._nit.first.is_visible():
            self.sin_superposiciones()
            self.pulsar("representante_legal")
        self.locs.require("nit_empresa")

    def escribir_representante(self, numero: str) -> None:
        """Type the legal representative's document number."""
        self._fill(self._representative, "numero_representante", numero)

    def escribir_nit_empresa(self, nit: str) -> None:
        """Type the company NIT, WITHOUT the check digit (DIAN validates the base number only)."""
        self._fill(self._nit, "nit_empresa", nit)

    def entrar(self) -> TokenEnviado | ModalErrorIngreso:
        """Click "Entrar" ONCE (every click mails a new token and voids the previous link), then read
        DIAN's answer: the token-sent notice or the (visible) error modal."""
        self.sin_superposiciones()
        self.pulsar("entrar")
        log.info("token solicitado", element=self.name("entrar"))
        found = self.locators.screen(self.page, TokenEnviado.SCREEN, ModalErrorIngreso.SCREEN)
        if found.screen == TokenEnviado.SCREEN:
            return TokenEnviado(found, self.locators)
        return ModalErrorIngreso(found, self.locators)


class IngresoPersona(_FormularioToken):
    """S-02 Persona ``/User/PersonLogin``: id type, document number, Turnstile, "Entrar"."""

    SCREEN = "login_persona"

    def _build(self) -> None:
        super()._build()
        self._document = self.locs.get("numero_documento")

    def escribir_documento(self, numero: str) -> None:
        """Type the person's document number."""
        self.locs.require("numero_documento")
        self._fill(self._document, "numero_documento", numero)

    def entrar(self) -> TokenEnviado | ErrorIngresoPersona:
        """Click "Entrar" ONCE, then read DIAN's answer (token-sent notice or the refusal)."""
        self.sin_superposiciones()
        self.pulsar("entrar")
        log.info("token solicitado", element=self.name("entrar"))
        found = self.locators.screen(self.page, TokenEnviado.SCREEN, ErrorIngresoPersona.SCREEN)
        if found.screen == TokenEnviado.SCREEN:
            return TokenEnviado(found, self.locators)
        return ErrorIngresoPersona(found, self.locators)


class ModalErrorIngreso(Screen):
    """The Empresa form's ``#errorModal`` (visible: Bootstrap 3 "in" or 4 "show") with DIAN's refusal."""

    SCREEN = "login_error"

    def _build(self) -> None:
        self._title = self.locs.get("titulo")
        self._message = self.locs.get("mensaje")

    def mensaje(self) -> str:
        """DIAN's text, verbatim (whitespace collapsed)."""
        return self.texto("mensaje")

    def titulo(self) -> str:
        return self.texto("titulo")


class ErrorIngresoPersona(Screen):
    """S-02 Persona re-rendered with DIAN's refusal."""

    SCREEN = "login_persona_error"

    def _build(self) -> None:
        self._message = self.locs.get("mensaje")

    def mensaje(self) -> str:
        return self.texto("mensaje")


class TokenRechazado(Screen):
    """DIAN's refusal of an ``/User/AuthToken`` link: the CompanyLogin/PersonLogin view re-rendered at
    /User/AuthToken with "Token expirado…" in its ``*LoginFailed`` span (hidden on the Empresa view),
    or /User/Login with the alert (2025 live note)."""

    SCREEN = "login_token_rechazado"

    def _build(self) -> None:
        self._message = self.locs.get("mensaje")

    def mensaje(self) -> str:
        """DIAN's text even when it sits in a hidden section (``textContent``)."""
        texts = self._message.evaluate_all("els => els.map(e => e.textContent || '')")
        return next((squash(t) for t in texts if t.strip()), "")


class TokenEnviado(Screen):
    """S-03 "Se ha enviado la ruta de acceso al correo … El acceso estará disponible por 60 minutos."."""

    SCREEN = "token_enviado"

    def _build(self) -> None:
        self._notice = self.locs.get("aviso")

    def aviso(self) -> str:
        return self.texto("aviso")

    def correo_enmascarado(self) -> str | None:
        """The address as DIAN shows it, half masked (``factur*****@empresa-demo.test``)."""
        found = _MASKED_EMAIL.search(self.aviso())
        return found.group(0) if found else None


# --- DIAN's refusals --------------------------------------------------------------------------------


def classify_refusal(dian_text: str) -> RobotError:
    """The failure for a refusal DIAN showed after "Entrar" (its texts: ``bots/mensajes_dian.toml``)."""
    quoted = dian_text.strip() or "(sin texto)"
    return mensajes.error_para(quoted, "catalogo_ingreso", desconocido="La DIAN rechazó el ingreso")
