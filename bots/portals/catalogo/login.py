"""Token login screens of the catalogue (S-02, S-03): one class per screen, one human step per method.

    landing = LoginLanding.recognise(page, locators)        # /User/Login
    form = landing.open_company_login()                     # /User/CompanyLogin
    form.choose_legal_representative()
    form.choose_id_type("Cédula de ciudadanía", code="10910094")
    form.fill_representative("1020304050")
    form.fill_company_nit("900123456")                      # without DV
    form.wait_for_turnstile(operator_present=False)
    result = form.submit()                                  # TokenSentPage | LoginErrorModal

``classify_refusal(text, portal)`` turns DIAN's refusal text into the robot's failure class.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bots import text
from bots.errors import NeedsHuman, PortalError, RobotError
from bots.log import get_logger
from bots.portals.catalogo import (
    Screen,
    choose_option,
    find_option,
    read_options,
    wait_for_turnstile,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator

__all__ = [
    "CompanyLoginPage",
    "LoginErrorModal",
    "LoginLanding",
    "PersonLoginError",
    "PersonLoginPage",
    "TokenSentPage",
    "classify_refusal",
]

log = get_logger(__name__)

_MASKED_EMAIL = re.compile(r"[\w.+*-]*\*[\w.+*-]*@[\w.-]+")


class LoginLanding(Screen):
    """S-02 landing ``/User/Login``: the tab list (Empresa, Persona, ...)."""

    SCREEN = "login_inicio"

    def _build(self) -> None:
        self._empresa = self.locs.get("empresa")
        self._persona = self.locs.get("persona")
        self._error = self.locs.get("alerta_error")

    def error_text(self) -> str | None:
        """DIAN's message on the landing (e.g. "Token expirado, por favor intente nuevamente."), if any."""
        return self.text_of(self._error) or None

    def open_company_login(self) -> CompanyLoginPage:
        """Click the "Empresa" tab."""
        self.locs.require("empresa").first.click()
        return CompanyLoginPage.recognise(self.page, self.locators)

    def open_person_login(self) -> PersonLoginPage:
        """Click the "Persona" tab."""
        self.locs.require("persona").first.click()
        return PersonLoginPage.recognise(self.page, self.locators)


class _TokenForm(Screen):
    """What the Empresa and Persona forms share: id type, Turnstile, "Entrar"."""

    def _build(self) -> None:
        self._id_type = self.locs.get("tipo_identificacion")
        self._turnstile_response = self.locs.get("turnstile_respuesta")
        self._turnstile_challenge = self.locs.get("turnstile_interactivo")
        self._submit = self.locs.get("entrar")

    def choose_id_type(self, label: str, *, code: str | None = None) -> None:
        """Choose the identification type by its visible text (DIAN's option code as a fallback)."""
        name = self.name("tipo_identificacion")
        self.locs.require("tipo_identificacion", state="attached")
        option = find_option(read_options(self._id_type), label, value=code)
        if option is None:
            raise PortalError(f"El tipo de identificación «{label}» no está en la lista de {name}", selector=name)
        choose_option(self._id_type, option, name=name)

    def _fill(self, field: Locator, logical: str, value: str) -> None:
        field.first.fill(value)
        if field.first.input_value() != value:
            raise PortalError(f"El campo {self.name(logical)} no tomó el valor escrito", selector=self.name(logical))

    def wait_for_turnstile(self, *, operator_present: bool) -> None:
        """Wait for the anti-robot check to pass by itself (or for the operator, in a headed run)."""
        wait_for_turnstile(
            self.page,
            self._turnstile_response,
            self._turnstile_challenge,
            operator_present=operator_present,
            name=self.name("turnstile"),
        )


class CompanyLoginPage(_TokenForm):
    """S-02 Empresa ``/User/CompanyLogin``: "Representante legal" card, then the Ajax form."""

    SCREEN = "login_empresa"

    def _build(self) -> None:
        super()._build()
        self._card = self.locs.get("representante_legal")
        self._representative = self.locs.get("numero_representante")
        self._nit = self.locs.get("nit_empresa")

    def choose_legal_representative(self) -> None:
        """Click the "Representante legal" card (the form shows up)."""
        if not self._nit.first.is_visible():
            self.locs.require("representante_legal").first.click()
        self.locs.require("nit_empresa")

    def fill_representative(self, number: str) -> None:
        """Type the legal representative's document number."""
        self._fill(self._representative, "numero_representante", number)

    def fill_company_nit(self, nit: str) -> None:
        """Type the company NIT, WITHOUT the check digit (DIAN validates the base number only)."""
        self._fill(self._nit, "nit_empresa", nit)

    def submit(self) -> TokenSentPage | LoginErrorModal:
        """Click "Entrar" ONCE (every click mails a new token and voids the previous link), then read
        DIAN's answer: the token-sent notice or the error modal."""
        self.locs.require("entrar").first.click()
        log.info("token solicitado", element=self.name("entrar"))
        found = self.locators.screen(self.page, TokenSentPage.SCREEN, LoginErrorModal.SCREEN)
        if found.screen == TokenSentPage.SCREEN:
            return TokenSentPage(found, self.locators)
        return LoginErrorModal(found, self.locators)


class PersonLoginPage(_TokenForm):
    """S-02 Persona ``/User/PersonLogin``: id type, document number, Turnstile, "Entrar"."""

    SCREEN = "login_persona"

    def _build(self) -> None:
        super()._build()
        self._document = self.locs.get("numero_documento")

    def fill_document(self, number: str) -> None:
        """Type the person's document number."""
        self.locs.require("numero_documento")
        self._fill(self._document, "numero_documento", number)

    def submit(self) -> TokenSentPage | PersonLoginError:
        """Click "Entrar" ONCE, then read DIAN's answer (token-sent notice or the refusal)."""
        self.locs.require("entrar").first.click()
        log.info("token solicitado", element=self.name("entrar"))
        found = self.locators.screen(self.page, TokenSentPage.SCREEN, PersonLoginError.SCREEN)
        if found.screen == TokenSentPage.SCREEN:
            return TokenSentPage(found, self.locators)
        return PersonLoginError(found, self.locators)


class LoginErrorModal(Screen):
    """The Empresa form's ``#errorModal`` with DIAN's refusal."""

    SCREEN = "login_error"

    def _build(self) -> None:
        self._title = self.locs.get("titulo")
        self._message = self.locs.get("mensaje")

    def message(self) -> str:
        """DIAN's text, verbatim (whitespace collapsed)."""
        return self.text_of(self._message)

    def title(self) -> str:
        return self.text_of(self._title)


class PersonLoginError(Screen):
    """S-02 Persona re-rendered with DIAN's refusal."""

    SCREEN = "login_persona_error"

    def _build(self) -> None:
        self._message = self.locs.get("mensaje")

    def message(self) -> str:
        return self.text_of(self._message)


class TokenSentPage(Screen):
    """S-03 "Se ha enviado la ruta de acceso al correo … El acceso estará disponible por 60 minutos."."""

    SCREEN = "token_enviado"

    def _build(self) -> None:
        self._notice = self.locs.get("aviso")

    def notice(self) -> str:
        return self.text_of(self._notice)

    def masked_address(self) -> str | None:
        """The address as DIAN shows it, half masked (``factur*****@empresa-demo.test``)."""
        found = _MASKED_EMAIL.search(self.notice())
        return found.group(0) if found else None


# --- DIAN's refusals --------------------------------------------------------------------------------

_PROD_HINT = (
    "Termine la habilitación (set de pruebas aceptado, fecha de inicio en producción y «Sincronizar "
    "contribuyente a producción» en el portal de habilitación) y vuelva a intentar"
)
_DATA_HINT = "Revise el tipo y número de documento del representante y el NIT en el archivo de clientes"


def classify_refusal(dian_text: str, portal: str) -> RobotError:
    """The failure for a refusal DIAN showed after "Entrar" (texts of research §2.2)."""
    quoted = dian_text.strip() or "(sin texto)"
    if text.contains(dian_text, "captcha"):
        return NeedsHuman(
            "La DIAN rechazó la verificación anti-robots (Captcha) del ingreso; una persona debe ingresar "
            "o repetir el intento con ventana (DIAN_HEADLESS=false)",
            reason="captcha",
            dian_text=quoted,
        )
    if any(
        text.contains(dian_text, t)
        for t in (
            "no se encuentra habilitada",  # Empresa (both production-only texts)
            "no se encuentra habilitado",  # Persona
            "no se ecuentra habilitado",  # Persona, DIAN's typo
        )
    ):
        where = "al portal de producción" if portal == "produccion" else "al portal"
        return PortalError(
            f"La DIAN no deja ingresar a la empresa {where}: todavía no figura como facturador electrónico "
            f"habilitado con un software en producción. {_PROD_HINT}",
            dian_text=quoted,
        )
    if text.contains(dian_text, "su solicitud está siendo procesada"):
        return PortalError(
            "La DIAN aceptó los datos pero no pudo enviar el correo con el token; vuelva a intentar más tarde",
            dian_text=quoted,
            retryable=True,
        )
    if text.contains(dian_text, "ha ocurrido un error"):
        return PortalError("La DIAN falló al procesar el ingreso; vuelva a intentar más tarde", dian_text=quoted,
                           retryable=True)
    if any(
        text.contains(dian_text, t)
        for t in ("no asociada", "no coinciden", "información inválida", "sin permisos", "no se encuentra registrada")
    ):
        return PortalError(f"La DIAN rechazó los datos de ingreso. {_DATA_HINT}", dian_text=quoted)
    if text.contains(dian_text, "cancelado"):
        return PortalError("La DIAN rechazó el ingreso: el RUT de la empresa está cancelado", dian_text=quoted)
    return PortalError("La DIAN rechazó el ingreso", dian_text=quoted)
