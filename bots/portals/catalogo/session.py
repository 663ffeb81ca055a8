"""``CatalogoSession``: the token login every catalogue flow uses (habilitación and production).

    session = CatalogoSession(run, client, "produccion", settings, watchers)
    session.login()                          # full token login (below)
    page = session.goto("/Software/AddNumberRange")   # idempotent GET, re-login once if signed out
    session.ensure_logged_in()               # after a click that may land on /User/Login
    session.relogin("Registrar cierra la sesión")      # explicit new login

The token login, as a person does it:

1. Straight to ``/User/CompanyLogin`` (or ``/User/PersonLogin``, per ``client.tipo_ingreso``), as the
   2025/2026 bots do → "Representante legal", the representative's id type (by its text), number, and
   the NIT WITHOUT DV.
2. Wait until Cloudflare Turnstile passes by itself (never clicked); an interactive challenge is
   ``NeedsHuman(captcha)`` in a headless run, or waits for the operator in a headed one.
3. The mailbox watermark is taken (``MailWatchers.expect``) BEFORE the single click on "Entrar" (each
   click mails a new token and voids the previous link). DIAN answers with S-03 ("El acceso estará
   disponible por 60 minutos.") or a refusal, classified by ``login.classify_refusal``.
4. Wait for the "Token Acceso DIAN" mail up to ``settings.token_mail_timeout_s``. Accepted only when
   sent by a ``dian.gov.co`` address, not dated before the request, with a ``/User/AuthToken`` link
   on this portal's host (``settings.allowed_hosts``) whose ``rk`` is the client's NIT. Older mails,
   other clients' tokens, look-alike hosts and other senders are ignored.
5. Open the link ONCE in the same context (it is a registered secret: redacted everywhere). DIAN
   refuses a link by re-rendering the CompanyLogin/PersonLogin view at ``/User/AuthToken`` with
   "Token expirado…" in its ``*LoginFailed`` span (or, per a 2025 note, ``/User/Login`` with the alert);
   for a link that fresh, something opened it first: ``NeedsHuman(escaner_enlaces)`` — a new token
   would be eaten the same way, so none is requested. An HTTP 500 (DIAN found no token record) is a
   retryable ``PortalError``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError

from bots import mensajes
from bots.errors import NeedsHuman, PortalError
from bots.locators import Locators
from bots.log import current_context, get_logger, redact_text, register_secret
from bots.mail import MailboxUnavailable, MailTimeout, TokenLink, token_matcher
from bots.portals.catalogo import FAMILY
from bots.portals.catalogo.login import (
    IngresoEmpresa,
    IngresoPersona,
    TokenEnviado,
    TokenRechazado,
    classify_refusal,
)
from bots.retry import navigate

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from bots.browser import ClientRun
    from bots.config import Client, Settings
    from bots.mail import MailboxAccess, MailWatchers

__all__ = ["COMPANY_LOGIN_PATH", "LOGIN_PATH", "PERSON_LOGIN_PATH", "CatalogoSession"]

log = get_logger(__name__)

LOGIN_PATH = "/User/Login"
COMPANY_LOGIN_PATH = "/User/CompanyLogin"
PERSON_LOGIN_PATH = "/User/PersonLogin"
#: Paths where DIAN shows a login view, i.e. there is no session (AuthToken re-renders the login view).
_LOGIN_VIEWS = (LOGIN_PATH, COMPANY_LOGIN_PATH, PERSON_LOGIN_PATH, "/User/AuthToken")

CataloguePortal = Literal["habilitacion", "produccion"]


class CatalogoSession:
    """A client's signed-in session on one catalogue host (habilitación or production)."""

    def __init__(
        self,
        run: ClientRun,
        client: Client,
        portal: CataloguePortal,
        settings: Settings,
        watchers: MailWatchers,
        *,
        mailbox: MailboxAccess | None = None,
        locators: Locators | None = None,
    ) -> None:
        if portal not in ("habilitacion", "produccion"):
            raise ValueError(f"not a catalogue portal: {portal!r}")
        self.run = run
        self.client = client
        self.portal: CataloguePortal = portal
        self.settings = settings
        self.watchers = watchers
        self.base_url = settings.portal_url(portal)
        parts = urlsplit(self.base_url)
        self.host = parts.netloc.lower()
        self._hostname = (parts.hostname or "").lower()
        self.locators = locators or Locators(FAMILY, settings=settings)
        self._mailbox = mailbox
        self._relogin_steps: set[str] = set()
        #: Successful logins and "Entrar" clicks of this session (each click mails a token).
        self.logins = 0
        self.token_requests = 0

    # --- public API ------------------------------------------------------------------------------

    @property
    def page(self) -> Page:
        return self.run.page

    @property
    def mailbox(self) -> MailboxAccess:
        """Where the client's token mail arrives (password resolved on first use)."""
        if self._mailbox is None:
            self._mailbox = self.client.buzon_token.access(self.settings)
        return self._mailbox

    def url(self, path: str) -> str:
        """Absolute URL of a path on this portal."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def login(self) -> None:
        """The full token login (see the module docstring). Requests ONE token."""
        with self.run.step("ingreso"):
            self._login()

    def relogin(self, reason: str) -> None:
        """An explicit new login (e.g. after "Registrar", which signs the user out)."""
        log.info("nuevo ingreso", reason=reason, portal=self.portal)
        self.login()

    def lost(self) -> bool:
        """True when the page shows one of DIAN's login views (``/User/Login``, the Empresa/Persona
        forms, or a refused ``/User/AuthToken``): the session is gone."""
        parts = urlsplit(self.page.url)
        path = parts.path.lower().rstrip("/")
        return parts.netloc.lower() == self.host and any(path == p.lower() for p in _LOGIN_VIEWS)

    def ensure_logged_in(self) -> None:
        """If DIAN sent the page to ``/User/Login``, log in again (new token), at most ONCE per step.

        A second loss within the same step is a ``PortalError`` (retryable). After a re-login the
        page is DIAN's home: navigate again to where you were (``goto``).
        """
        if not self.lost():
            return
        step = str(current_context().get("step") or "general")
        if step in self._relogin_steps:
            raise PortalError(
                "La DIAN volvió a cerrar la sesión en el mismo paso después de un nuevo ingreso; se detiene "
                "para no pedir más tokens. Vuelva a intentar más tarde",
                retryable=True,
            )
        self._relogin_steps.add(step)
        log.warning("sesión perdida: nuevo ingreso con otro token", step=step, portal=self.portal)
        self.login()

    def goto(self, path: str) -> Page:
        """Open a page of this portal (idempotent GET, retried on transient failures), then make
        sure the session is still there (one re-login per step, then the page again)."""
        url = self.url(path)
        navigate(self.page, url)
        if self.lost():
            self.ensure_logged_in()
            navigate(self.page, url)
            if self.lost():
                raise PortalError(f"La DIAN no mantiene la sesión: {path} lleva otra vez al ingreso", retryable=True)
        return self.page

    # --- the token login ---------------------------------------------------------------------------

    def _login(self) -> None:
        page = self.page
        representative = self.client.representante
        id_type = representative.id_type
        form: IngresoEmpresa | IngresoPersona
        if self.client.tipo_ingreso == "persona":
            navigate(page, self.url(PERSON_LOGIN_PATH))
            form = IngresoPersona.recognise(page, self.locators)
            form.elegir_tipo_identificacion(id_type.label, codigo=id_type.catalogo)
            form.escribir_documento(representative.numero_documento)
        else:
            navigate(page, self.url(COMPANY_LOGIN_PATH))
            form = IngresoEmpresa.recognise(page, self.locators)
            form.elegir_representante_legal()
            form.elegir_tipo_identificacion(id_type.label, codigo=id_type.catalogo)
            form.escribir_representante(representative.numero_documento)
            form.escribir_nit_empresa(self.client.nit)  # base NIT: Client.nit never carries the DV
        form.esperar_turnstile(operador_presente=not self.settings.is_headless)
        link = self._request_token(form)
        self._open_link(link)

    def _request_token(self, form: IngresoEmpresa | IngresoPersona) -> TokenLink:
        """Watermark the mailbox, click "Entrar" once, read DIAN's answer, wait for the mail."""
        requested_at = datetime.now(UTC)
        try:
            # This client's token, on this portal's host, from DIAN, not older than the request.
            match = token_matcher(self.client.nit, (self.host, self._hostname), not_before=requested_at)
            with self.watchers.expect(self.mailbox, match) as pending:
                self.token_requests += 1
                result = form.entrar()
                if not isinstance(result, TokenEnviado):
                    error = classify_refusal(result.mensaje())
                    error.selector = result.name("mensaje")
                    raise error
                log.info("aviso de token enviado", correo=result.correo_enmascarado(), portal=self.portal)
            return pending.wait(timeout=self.settings.token_mail_timeout_s)
        except MailTimeout:
            raise PortalError(
                f"No llegó el correo «Token Acceso DIAN» al buzón {self.mailbox.username} en "
                f"{self.settings.token_mail_timeout_s:g} s. La DIAN a veces demora sus correos; vuelva a "
                "intentar más tarde (cada intento envía un token nuevo) y confirme que ese buzón es el "
                "correo registrado en el RUT",
                retryable=True,
            ) from None
        except MailboxUnavailable as exc:
            raise NeedsHuman(
                f"No se puede vigilar el buzón del token: {exc.message}. Revise el buzón y su secreto",
                reason="buzon",
            ) from None

    def _open_link(self, link: TokenLink) -> None:
        """Open the token link once; recognise the signed-in page or DIAN's refusal of the link."""
        register_secret(link.url)
        register_secret(link.token)
        if link.host.lower() != self.host or not self.settings.is_allowed_url(link.url):
            raise PortalError("El enlace del correo apunta a un servidor no permitido; no se abrió")
        page = self.page
        try:
            response = page.goto(link.url, wait_until="load")  # ONCE: a used link cannot be opened again
        except PlaywrightError as exc:
            detail = redact_text(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
            raise PortalError(f"No se pudo abrir el enlace del token ({detail})", retryable=True) from None
        if response is not None and response.status >= 500:
            # UserController.AuthToken dereferences a missing token record: HTTP 500. Not "portal changed".
            raise PortalError(
                f"La DIAN respondió con error HTTP {response.status} al abrir el enlace del token (no reconoció "
                "el enlace); vuelva a intentar más tarde",
                retryable=True,
            )
        found = self.locators.screen(page, "sesion", TokenRechazado.SCREEN)
        if found.screen == "sesion":
            self.logins += 1
            log.info("sesión iniciada", portal=self.portal, ingresos=self.logins)
            return
        refused = TokenRechazado(found, self.locators)
        dian_text = refused.mensaje() or None
        expired = mensajes.clasificar(dian_text, "catalogo_ingreso")
        if dian_text and (expired is None or expired.key != "token_expirado"):
            raise NeedsHuman(
                "La DIAN no aceptó el enlace del token que acaba de llegar; revise el mensaje de la DIAN e ingrese "
                "manualmente para confirmar los datos del usuario. El robot no pide otro token",
                reason="token_rechazado",
                selector=refused.name("mensaje"),
                dian_text=dian_text,
            )
        raise NeedsHuman(
            "La DIAN trató como usado o vencido el enlace del token que acaba de llegar. Lo más probable es "
            "que un analizador de enlaces del buzón del cliente (Microsoft 365 Safe Links, un antivirus de "
            "correo o similar) lo abrió antes que el robot. Pida excluir a facturacionelectronica@dian.gov.co "
            "del análisis de enlaces, o ingrese manualmente. El robot no pide otro token: se gastaría igual",
            reason="escaner_enlaces",
            selector=refused.name("mensaje"),
            dian_text=dian_text,
        )
