"""DIAN's catalogue web app on both hosts: habilitación (catalogo-vpfe-hab) and production (catalogo-vpfe).

Pages come from recordings/catalogo (`render.load_page`), filled with the client's state
(`sandbox.catalogo_state`). Routes are DIAN's (wscuellar/DIAN, 2022):

    /User/Login, /User/CompanyLogin, /User/PersonLogin         S-02 (Turnstile stand-in on the forms)
    POST /User/CompanyAuthentication                           Ajax; JSON {Code, Message}
    POST /User/PersonAuthentication                            form; S-03 or S-02 with the error
    /User/LoginConfirmed                                       S-03
    /User/AuthToken?pk=<type>|<doc>&rk=<nit>&token=<guid>      opens a session (.AspNet.ApplicationCookie)
    /User/LogOut                                               ends it
    /Home/Dashboard                                            H-01 (H-08 on top when due) / P-01
    /Contributor/CheckContributorRegister → /Document/ElectronicDocuments   H-02 (card → /Contributor/Check)
    /Contributor/Check → /Contributor/Register (pending) or /Contributor/View/<id>
    /Contributor/Register (GET, pending), /Contributor/View/<id>, POST /Contributor/Register   H-03, H-04
                                                               (Registrar signs the user out)
    /Contributor/ConfigureOperationModes/<id>                  H-05/H-06 (habilitación only; without id: 500)
    POST /Contributor/AddContributorOperations, /Contributor/RemoveContributorOperation
    /TestSet/View?operationModeId&contributorId&contributorCode&softwareId   H-07
    POST /Contributor/SetHabilitationAndProductionDates        H-09 → H-10 (JSON {success, message})
    POST /Contributor/SyncToProduction                         H-11 (JSON)
    /Software/AddNumberRange, POST /Software/AddPrefix, POST /Software/RemoveRangeAssociation
                                                               P-02..P-04 (production only)

Any page that needs a session and has none answers 302 → /User/Login, as DIAN's Authorization filter.

Turnstile: the login forms carry a local stand-in (`.cf-turnstile`, hidden `cf-turnstile-response`);
the server refuses a missing or reused response with "Captcha inválido". A client with
`turnstile="interactive"` needs a response made by a person (the checkbox): the page shows the
checkbox from the start when every client of the world is like that; otherwise a browser gets it once
it has sent an automatic response for such a client (answered "Captcha inválido", as Cloudflare
raising the risk).

Fault steps (`world.faults.inject(nit, step, Fault(...))`): pagina_login (login pages, before the client
is known: use nit "*"), login (both authentications), auth_token, dashboard, documentos, facturador,
modos_operacion, set_pruebas, rangos (GET pages), and the state-changing steps registrar_facturador,
asociar_software, registrar_fecha_produccion, sincronizar_produccion, asociar_prefijo. HTTP 500 on a
state-changing step fails *before* the change; the step "<step>:despues" fails *after* it (the change
is kept and journaled, the browser sees the error). drop_session ends the session → /User/Login.
Mail: step "token" (or "mail") delays or loses the token e-mail. Portal version:
`world.faults.set_version(nit or "*", "catalogo", "2027-rediseno")` (login pages use the "*" switch,
or the client's once a session exists).

Journal actions (portal "habilitacion" | "produccion"): solicitar_token, abrir_token (ok, motivo),
registrar_facturador, asociar_software, eliminar_modo_operacion, registrar_fecha_produccion,
sincronizar_produccion, asociar_prefijo, eliminar_asociacion_prefijo.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox import catalogo_state as cs
from sandbox.catalogo_state import CatalogoState, set_stage, state_of
from sandbox.gates import fault_gate, posted_form, server_error
from sandbox.render import Page, find_recording, load_page
from sandbox.world import SandboxClient, World

__all__ = ["MESSAGES", "routes", "set_stage", "state_of"]

FAMILY = "catalogo"
DEFAULT_VERSION = "2026"
REDESIGN = "2027-rediseno"
AUTH_COOKIE = ".AspNet.ApplicationCookie"
NOTICE_COOKIE = "dian_sandbox_aviso"  # the sandbox's own: carries "token expirado" to /User/Login
CONFIRM_COOKIE = "dian_sandbox_confirmado"  # the sandbox's own: whose token was just sent (S-03)
TURNSTILE_COOKIE = "dian_sandbox_turnstile"  # the sandbox's own: this browser now gets the checkbox
LOGIN = "/User/Login"
TIPO_FACTURA = "Factura electrónica de venta"  # the "Tipo" cell of P-04 (2026): its text is invented

# Values written in the recordings, replaced by each client's own.
REC_NIT = "900123456"
REC_RAZON = "EMPRESA DEMO S.A.S."
REC_USER = "USUARIO DEMO"
REC_CONTRIB_ID = "100245"
REC_MASKED = "factur*****@empresa-demo.test"
REC_TEST_SET_ID = "9beaf894-8d09-4e92-b404-b24944d8bc5b"
REC_SOFTWARE_ID = "49fab599-4556-4828-a30b-852a910c5bb1"
REC_SOFTWARE_NAME = "890930534efacturacadena"
REC_PIN = "75315"
REC_DATE_HAB = "10-02-2026"  # H-08/H-09: the habilitation date written into the dashboard's dialog script
REC_DATE_PROD = "15-02-2026"  # H-08 proposed production date; H-03c "Fecha de inicio producción"

# DIAN's texts (UserController, ContributorController, EnumHelper, views); "invented" where marked.
MESSAGES = {
    "captcha": "Captcha inválido",
    "invalid": "Información inválida",
    "type_mismatch": "Número de documento y tipo de identificación no coinciden.",
    "not_associated": "Empresa no asociada a representante legal.",
    "prod_not_enabled": "Empresa no se encuentra habilitada.",
    "prod_not_biller": "Empresa no se encuentra habilitada como facturador electrónico.",
    "person_type_mismatch": "Cédula y tipo de indetificación no coinciden.",  # sic
    "person_no_permissions": "Persona natural sin permisos asociados.",
    "person_not_enabled": "Usted no se ecuentra habilitado.",  # sic
    "person_not_biller": "Usted no se encuentra habilitado como facturador electrónico.",
    "token_expired": "Token expirado, por favor intente nuevamente.",
    "email_invalid": "Por favor registre un correo electrónico válido.",
    "pending": "No puede agregar modo de operación si se encuentra pendiente de registro.",
    "in_test": "No puede tener un modo de operación en pruebas.",
    "need_software": "Debe especificar un software para el proveedor.",
    "duplicate_set": "Ya especificó un set de pruebas con estas características.",
    "mode_unsupported": "Modo de operación no disponible en la DIAN simulada.",  # invented
    "s2_ok": "Responsabilidad 52-Facturador Electrónico fue ejecutada satisfactoriamente",
    "s2_again": "Contribuyente ya registró fecha de inicio en producción.",
    "no_contributor": "No se encontró contribuyente.",
    "bad_date": "La fecha de inicio en producción no es válida.",  # invented
    "sync_ok": "Contribuyente sincronizado a producción exitosamente.",  # invented (text not in the source)
    "sync_not_enabled": "El contribuyente no se encuentra habilitado.",  # invented
    "prefix_failed": "No fue posible asociar el prefijo seleccionado.",  # invented
    "remove_failed": "No fue posible eliminar la asociación.",  # invented
}
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ENV_TITLE = {
    cs.HABILITACION: "Sistema de facturación electrónica – Ambiente de Habilitación",
    cs.PRODUCCION: "Sistema de facturación electrónica – Ambiente de Producción",
}


@dataclass
class Session:
    """A signed-in browser on one host."""

    nit: str
    started: datetime
    flash: str | None = None  # TempData["ErrorMessage"] for the next ConfigureOperationModes


Handler = Callable[[Request, Session], Awaitable[Response]]


class Catalogo:
    """One catalogue host of a World. Handlers are methods; `routes()` lists them."""

    def __init__(self, world: World, portal: str) -> None:
        if portal not in (cs.HABILITACION, cs.PRODUCCION):
            raise ValueError(f"not a catalogue portal: {portal!r}")
        self.world = world
        self.portal = portal
        self.prod = portal == cs.PRODUCCION
        self.sessions: dict[str, Session] = {}
        self.used_captchas: set[str] = set()

    # -- plumbing -------------------------------------------------------------------------------
    form = staticmethod(posted_form)

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(AUTH_COOKIE, ""))

    def client(self, nit: str) -> SandboxClient:
        return self.world.clients[nit]

    def state(self, nit: str) -> CatalogoState:
        state = state_of(self.client(nit))
        cs.refresh(self.world, state)
        return state

    def record(self, nit: str, action: str, **details: Any) -> None:
        self.world.record(nit, self.portal, action, **details)

    def to_login(self, *, end_session: bool = False) -> Response:
        response = RedirectResponse(LOGIN, status_code=302)
        if end_session:
            response.delete_cookie(AUTH_COOKIE, path="/")
        return response

    def end_sessions(self, nit: str) -> None:
        for key in [k for k, s in self.sessions.items() if s.nit == nit]:
            del self.sessions[key]

    async def gate(self, request: Request, nit: str | None, step: str) -> Response | None:
        """Apply an armed fault: a response to send instead, or None to go on."""
        response, drop = await fault_gate(self.world, nit, step)
        if drop:
            self.sessions.pop(request.cookies.get(AUTH_COOKIE, ""), None)
            if response is None:
                return self.to_login(end_session=True)
        return response

    def guarded(self, step: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A page or action that needs a session (else /User/Login) and honours the step's faults."""

        async def endpoint(request: Request) -> Response:
            session = self.session(request)
            if session is None or session.nit not in self.world.clients:
                return self.to_login()
            if blocked := await self.gate(request, session.nit, step):
                return blocked
            return await handler(request, session)

        return endpoint

    def version(self, nit: str | None) -> str:
        return self.world.faults.version_for(nit, FAMILY, DEFAULT_VERSION)

    def page(self, screen: str, state: str, nit: str | None = None) -> tuple[Page, str]:
        """A recorded page for this host (and client), and the version the recording comes from."""
        version = self.version(nit)
        found = find_recording(FAMILY, version, screen, state).version
        page = load_page(FAMILY, version, screen, state)
        if self.prod:
            page.remove(".env-banner")
        else:
            page.remove("li#AddNumberRange")
        page.set_text(".navbar-title", ENV_TITLE[self.portal])
        page.set_text(".login-header-title", ENV_TITLE[self.portal])
        if nit is not None:
            client = self.client(nit)
            page.replace_text(REC_RAZON, client.razon_social)
            page.replace_text(REC_USER, client.nombre_usuario)
            page.replace_text(REC_NIT, client.nit)
            page.replace_text(REC_CONTRIB_ID, str(state_of(client).contributor_id))
        return page, found

    @staticmethod
    def html(page: Page, status_code: int = 200) -> HTMLResponse:
        return HTMLResponse(page.html(), status_code=status_code)

    def graft(self, page: Page, screen: str, state: str, css: str, target_css: str, *, first: bool = False,
              nit: str | None = None) -> Any:
        """Copy an element of another recording of the same version into this page (alerts, notices)."""
        source, _ = self.page(screen, state, nit)
        element = copy.deepcopy(source.one(css))
        target = page.one(target_css)
        if first:
            target.insert(0, element)
        else:
            target.append(element)
        return element

    # -- login ------------------------------------------------------------------------------------
    def turnstile_mode(self, request: Request) -> str:
        """The widget a browser gets before the client is known: the checkbox ("interactive") when
        every client of the world needs a person (SandboxClient.turnstile), or once this browser sent
        an automatic response for such a client (Cloudflare raising the risk); else "auto"."""
        if request.cookies.get(TURNSTILE_COOKIE) == "interactive":
            return "interactive"
        modes = {c.turnstile for c in self.world.clients.values()}
        return "interactive" if modes == {"interactive"} else "auto"

    def login_form_page(self, request: Request, screen_state: str, nit: str | None = None) -> tuple[Page, str]:
        page, version = self.page("S-02", screen_state, nit)
        page.set_attr(".cf-turnstile", "data-sandbox-mode", self.turnstile_mode(request))
        return page, version

    async def root(self, request: Request) -> Response:
        target = "/Home/Dashboard" if self.session(request) else LOGIN
        return RedirectResponse(target, status_code=302)

    async def login(self, request: Request) -> Response:
        if blocked := await self.gate(request, None, "pagina_login"):
            return blocked
        expired = request.cookies.get(NOTICE_COOKIE) == "token"
        page, _ = self.page("S-02", "token-expirado" if expired else "inicio")
        response = self.html(page)
        if expired:
            response.delete_cookie(NOTICE_COOKIE, path="/")
        return response

    async def company_login(self, request: Request) -> Response:
        if blocked := await self.gate(request, None, "pagina_login"):
            return blocked
        page, _ = self.login_form_page(request, "empresa")
        return self.html(page)

    async def person_login(self, request: Request) -> Response:
        if blocked := await self.gate(request, None, "pagina_login"):
            return blocked
        page, _ = self.login_form_page(request, "persona")
        return self.html(page)

    def captcha_check(self, value: str, client: SandboxClient | None) -> str | None:
        """Server-side Turnstile check: None when passed, else "invalid" (missing or reused) or
        "person" (an automatic response where the client needs a person)."""
        if len(value) <= 15 or value in self.used_captchas:
            return "invalid"
        self.used_captchas.add(value)
        if client is not None and client.turnstile == "interactive" and not value.startswith("i."):
            return "person"
        return None

    @staticmethod
    def captcha_failed(response: Response, why: str) -> Response:
        if why == "person":
            response.set_cookie(TURNSTILE_COOKIE, "interactive", path="/", httponly=True, samesite="lax")
        return response

    def login_refusal(self, client: SandboxClient, *, person: bool) -> str | None:
        """Production only: DIAN lets in only companies habilitadas with software in production."""
        if not self.prod:
            return None
        state = self.state(client.nit)
        if not state.habilitado:
            return MESSAGES["person_not_enabled" if person else "prod_not_enabled"]
        if not state.productive:
            return MESSAGES["person_not_biller" if person else "prod_not_biller"]
        return None

    def send_token(self, client: SandboxClient, id_type: str, user_code: str, kind: str) -> None:
        from sandbox.mail import build_token_email

        state = state_of(client)
        token = cs.issue_token(self.world, state, self.portal, f"{id_type}|{user_code}", client.nit)
        link = cs.token_link(self.world, self.portal, token)
        raw = build_token_email(client.email_rut, link, sent_at=self.world.clock.now())
        self.record(client.nit, "solicitar_token", tipo=kind, correo=client.email_rut)
        self.world.send_mail(client.nit, client.email_rut, raw, kind="token")

    @staticmethod
    def login_json(message: str, code: int = 400) -> JSONResponse:
        return JSONResponse({"Code": code, "Message": message})

    def confirmed(self, response: Response, client: SandboxClient) -> Response:
        response.set_cookie(CONFIRM_COOKIE, client.nit, path="/", httponly=True, samesite="lax")
        return response

    async def company_authentication(self, request: Request) -> Response:
        data = await self.form(request)
        nit = (data.get("CompanyCode") or data.get("nitEmpresa") or "").strip()
        user = (data.get("UserCode") or data.get("documentoRepresentante") or "").strip()
        id_type = (data.get("IdentificationType") or data.get("tipoDocumento") or "").strip()
        client = self.world.clients.get(nit)
        if blocked := await self.gate(request, client.nit if client else None, "login"):
            return blocked
        if why := self.captcha_check(data.get("cf-turnstile-response", ""), client):
            return self.captcha_failed(self.login_json(MESSAGES["captcha"]), why)
        if not nit.isdigit() or not user or not id_type:
            return self.login_json(MESSAGES["invalid"])
        if client is None or client.login_type != "empresa" or user != client.rep_id_number:
            return self.login_json(MESSAGES["not_associated"])
        if id_type != client.rep_id_type:
            return self.login_json(MESSAGES["type_mismatch"])
        if refusal := self.login_refusal(client, person=False):
            return self.login_json(refusal)
        self.send_token(client, id_type, user, "empresa")
        return self.confirmed(JSONResponse({"Code": 200, "Message": "LoginConfirmed"}), client)

    async def person_authentication(self, request: Request) -> Response:
        data = await self.form(request)
        code = (data.get("PersonCode") or data.get("numeroDocumento") or "").strip()
        id_type = (data.get("IdentificationType") or data.get("tipoDocumento") or "").strip()
        client = next((c for c in self.world.clients.values()
                       if c.login_type == "persona" and c.rep_id_number == code), None)
        if blocked := await self.gate(request, client.nit if client else None, "login"):
            return blocked
        if why := self.captcha_check(data.get("cf-turnstile-response", ""), client):
            return self.captcha_failed(self.person_error(request, MESSAGES["captcha"], code), why)
        if client is None:
            return self.person_error(request, MESSAGES["person_no_permissions"], code)
        if id_type != client.rep_id_type:
            return self.person_error(request, MESSAGES["person_type_mismatch"], code)
        if refusal := self.login_refusal(client, person=True):
            return self.person_error(request, refusal, code)
        self.send_token(client, id_type, code, "persona")
        return self.confirmed(RedirectResponse("/User/LoginConfirmed", status_code=303), client)

    def person_error(self, request: Request, message: str, code: str) -> Response:
        state = "persona-error" if self.version(None) == DEFAULT_VERSION else "persona"
        page, version = self.login_form_page(request, state)
        if version == DEFAULT_VERSION:
            page.set_text('[data-valmsg-for="PersonLoginFailed"]', message)
            page.set_value("#PersonCode", code)
        else:
            page.set_text(".dian-toast", message)
            page.set_attr(".dian-toast", "hidden", None)
        return self.html(page)

    async def external_user_login(self, request: Request) -> Response:
        """The "Usuario Autorizado" password login: not simulated."""
        return self.login_json(MESSAGES["invalid"])

    async def login_confirmed(self, request: Request) -> Response:
        client = self.world.clients.get(request.cookies.get(CONFIRM_COOKIE, ""))
        if client is None:
            return self.to_login()
        page, _ = self.page("S-03", "enviado")
        page.replace_text(REC_MASKED, cs.mask_email(client.email_rut))
        return self.html(page)

    async def auth_token(self, request: Request) -> Response:
        query = request.query_params
        pk, rk, guid = query.get("pk", ""), query.get("rk", ""), query.get("token", "")
        client = self.world.clients.get(rk)
        if blocked := await self.gate(request, client.nit if client else None, "auth_token"):
            return blocked
        if "|" not in pk or not rk or not GUID_RE.match(guid):
            return server_error()  # a malformed link: HTTP 500 on the live site
        reason = "desconocido" if client is None else cs.use_token(self.world, state_of(client), self.portal, pk, guid)
        if client is not None:
            self.record(client.nit, "abrir_token", ok=reason is None, motivo=reason or "")
        if reason == "desconocido":
            return server_error()  # UserController.AuthToken reads auth.Timestamp of a null record: HTTP 500
        if reason is not None:
            assert client is not None
            if state_of(client).variants.get("auth_token_fallo") == "login":  # the 2025 live note
                response = self.to_login(end_session=True)
                response.set_cookie(NOTICE_COOKIE, "token", path="/", httponly=True, samesite="lax")
                return response
            # UserController.cs:751-752: the {Type}Login view, at /User/AuthToken, with the message.
            person = client.login_type == "persona"
            page, _ = self.login_form_page(request, "persona-token-expirado" if person else "empresa-token-expirado")
            failed = "PersonLoginFailed" if person else "CompanyLoginFailed"
            page.set_text(f'[data-valmsg-for="{failed}"]', MESSAGES["token_expired"])
            response = self.html(page)
            response.delete_cookie(AUTH_COOKIE, path="/")
            return response
        assert client is not None
        key = secrets.token_urlsafe(32)
        self.sessions[key] = Session(nit=client.nit, started=self.world.clock.now())
        response = RedirectResponse("/Home/Dashboard", status_code=302)
        response.set_cookie(AUTH_COOKIE, key, path="/", httponly=True, samesite="lax")
        response.delete_cookie(CONFIRM_COOKIE, path="/")
        return response

    async def logout(self, request: Request) -> Response:
        self.sessions.pop(request.cookies.get(AUTH_COOKIE, ""), None)
        return self.to_login(end_session=True)

    # -- dashboard and habilitación ------------------------------------------------------------------
    async def dashboard(self, request: Request, session: Session) -> Response:
        state = self.state(session.nit)
        if self.prod:
            page, _ = self.page("P-01", "inicio", session.nit)
        elif state.habilitado and state.production_date is None:
            # Dashboard.cshtml: document-ready opens the dialog after load, with the fade
            page, _ = self.page("H-08", "tras-carga", session.nit)
            page.replace_text(REC_DATE_HAB, cs.fmt_date(state.habilitation_date))
            page.replace_text(REC_DATE_PROD, cs.fmt_date(self.world.clock.now()))
        else:
            page, _ = self.page("H-01", "inicio", session.nit)
        return self.html(page)

    async def check_register(self, request: Request, session: Session) -> Response:
        """ContributorController.CheckContributorRegister: a biller goes to the document types."""
        return RedirectResponse("/Document/ElectronicDocuments", status_code=302)

    async def document_types(self, request: Request, session: Session) -> Response:
        page, _ = self.page("H-02", "tipos", session.nit)
        return self.html(page)

    async def check(self, request: Request, session: Session) -> Response:
        """ContributorController.Check: pending → /Contributor/Register, else /Contributor/View/{id}."""
        state = self.state(session.nit)
        if state.status == "pendiente" and not self.prod:
            return RedirectResponse("/Contributor/Register", status_code=302)
        return RedirectResponse(f"/Contributor/View/{state.contributor_id}", status_code=302)

    async def register_form(self, request: Request, session: Session) -> Response:
        state = self.state(session.nit)
        if self.prod:
            return server_error()
        if state.status != "pendiente":
            return RedirectResponse(f"/Contributor/View/{state.contributor_id}", status_code=302)
        return self.html(self.contributor_page(session))

    def contributor_page(self, session: Session, error: str | None = None, typed: str | None = None) -> Page:
        state = self.state(session.nit)
        client = self.client(session.nit)
        page, _ = self.page("H-03", {"pendiente": "pendiente-de-registro"}.get(state.status, state.status),
                            session.nit)
        page.set_value("#Code", client.nit)
        page.set_value("#Name", client.razon_social)
        page.set_value("#BusinessName", client.razon_social)
        page.set_value("#Email", client.email_rut)
        page.set_value("#AcceptanceStatusName", cs.STATUS_TEXT[state.status])
        page.set_value("#ExchangeEmail", typed if typed is not None else (state.exchange_email or ""))
        if page.has("#ProductionDate"):
            page.set_value("#ProductionDate", cs.fmt_date(state.production_date))
        if error:
            page.set_text('[data-valmsg-for="ExchangeEmail"]', error)
            page.set_attr('[data-valmsg-for="ExchangeEmail"]', "class", "field-validation-error text-danger")
        if self.prod:  # DIAN shows neither action in production
            page.remove(".btn-sync-to-production")
            page.remove('a[href*="/Contributor/ConfigureOperationModes"]')
        return page

    async def contributor_view(self, request: Request, session: Session) -> Response:
        return self.html(self.contributor_page(session))

    async def register(self, request: Request, session: Session) -> Response:
        data = await self.form(request)
        state = self.state(session.nit)
        if state.status != "pendiente":
            return RedirectResponse(f"/Contributor/View/{state.contributor_id}", status_code=303)
        email = data.get("ExchangeEmail", "").strip()
        if not cs.EMAIL_RE.match(email):
            return self.html(self.contributor_page(session, MESSAGES["email_invalid"], email))
        cs.register(state, email)
        self.record(session.nit, "registrar_facturador", correo=email)
        if failed := await self.gate(request, session.nit, "registrar_facturador:despues"):
            return failed
        self.end_sessions(session.nit)  # "Al realizar esta acción deberá iniciar sesión nuevamente."
        return self.to_login(end_session=True)

    async def configure_modes(self, request: Request, session: Session) -> Response:
        state = self.state(session.nit)
        if request.path_params.get("id") is None:
            return server_error()  # ConfigureOperationModes(int id): no id → HTTP 500 on DIAN
        if state.status == "pendiente":  # the save button is not rendered; the alert says why
            page, _ = self.page("H-05", "pendiente-de-registro", session.nit)
        elif state.operations:  # a recorded row to clone; "en-proceso" has no save button (a mode in test)
            page, _ = self.page("H-06", "en-proceso" if state.in_test else "aceptado", session.nit)
            self.fill_operations(page, session.nit, state)
        else:
            page, _ = self.page("H-05", "sin-modos", session.nit)
        page.set_text("#providers-data", _providers_json())
        page.fill_options("#ProviderId", [(p.provider_id, p.provider) for p in _providers()], keep_first=False)
        page.fill_options("#SoftwareId", [], keep_first=False)
        if session.flash:  # TempData["ErrorMessage"] → showNotification('warning', …, 'floating', 'Aviso.', …)
            self.graft(page, "H-05", "aviso", "#floating-top-right", "#container", nit=session.nit)
            page.set_text("#floating-top-right .alert-message", session.flash)
            session.flash = None
        return self.html(page)

    def fill_operations(self, page: Page, nit: str, state: CatalogoState) -> None:
        client = self.client(nit)

        def customize(row: Any, index: int) -> None:
            op = state.operations[index]
            _set_cells(row, [cs.OPERATION_MODES[op.mode_id], cs.fmt_date(op.registered_at), op.status,
                             op.software.software, op.software.software_id, op.software.pin, cs.WS_URL_HAB])
            row.set("data-index-contributoroperations", str(op.id))
            for el in row.iter():
                href = el.get("href")
                if href and "/TestSet/View" in href:
                    el.set("href", f"/TestSet/View?operationModeId={op.mode_id}&contributorId={state.contributor_id}"
                                   f"&contributorCode={client.nit}&softwareId={op.software.software_id}")
                if el.get("data-index-contributoroperations"):
                    el.set("data-index-contributoroperations", str(op.id))
            if op.accepted:  # accepted modes cannot be removed (_listOperationModes: trash only when StatusId != 1)
                for trash in row.xpath(".//a[starts-with(@onclick, 'removeLine')]"):
                    trash.getparent().remove(trash)

        page.fill_rows(".table-responsive table tbody tr", [[None] * 9 for _ in state.operations], customize)

    async def add_operation(self, request: Request, session: Session) -> Response:
        data = await self.form(request)
        state = self.state(session.nit)
        back = RedirectResponse(f"/Contributor/ConfigureOperationModes/{state.contributor_id}", status_code=303)
        software = cs.find_software(data.get("SoftwareId", ""))
        if state.status == "pendiente":
            session.flash = MESSAGES["pending"]
        elif state.in_test:
            session.flash = MESSAGES["in_test"]
        elif data.get("OperationModeId") != cs.PROVIDER_MODE:
            session.flash = MESSAGES["mode_unsupported"]
        elif software is None or software.provider_id != data.get("ProviderId", software.provider_id):
            session.flash = MESSAGES["need_software"]
        elif state.operation(software.software_id) is not None:
            session.flash = MESSAGES["duplicate_set"]
        else:
            op = cs.add_operation(self.world, state, software)
            self.record(session.nit, "asociar_software", proveedor=software.provider, software=software.software,
                        software_id=software.software_id, test_set_id=op.test_set_id)
            if failed := await self.gate(request, session.nit, "asociar_software:despues"):
                return failed
        return back

    async def remove_operation(self, request: Request, session: Session) -> Response:
        data = await self.form(request)
        state = self.state(session.nit)
        op = next((o for o in state.operations if str(o.id) == data.get("id")), None)
        if op is None or op.accepted:
            return JSONResponse({"success": False, "message": "No se pudo eliminar el modo de operación."})
        state.operations.remove(op)
        self.record(session.nit, "eliminar_modo_operacion", software_id=op.software.software_id)
        return JSONResponse({"success": True, "id": op.id})

    async def test_set(self, request: Request, session: Session) -> Response:
        state = self.state(session.nit)
        op = state.operation(request.query_params.get("softwareId", ""))
        if op is None:
            return RedirectResponse(f"/Contributor/ConfigureOperationModes/{state.contributor_id}", status_code=302)
        page, _ = self.page("H-07", "aceptado" if op.accepted else "en-proceso", session.nit)
        page.replace_text(REC_TEST_SET_ID, op.test_set_id)
        page.replace_text(REC_SOFTWARE_ID, op.software.software_id)
        page.replace_text(REC_SOFTWARE_NAME, op.software.software)
        page.set_value("#SoftwarePin", op.software.pin)
        return self.html(page)

    async def set_dates(self, request: Request, session: Session) -> Response:
        data = await self.form(request)
        state = self.state(session.nit)
        if not state.habilitado:
            return JSONResponse({"success": False, "message": MESSAGES["no_contributor"]})
        if state.production_date is not None:
            return JSONResponse({"success": False, "message": MESSAGES["s2_again"]})
        production = cs.parse_date(data.get("productionDate", ""))
        if production is None or state.habilitation_date is None or production < state.habilitation_date.date():
            return JSONResponse({"success": False, "message": MESSAGES["bad_date"]})
        state.production_date = production
        self.record(session.nit, "registrar_fecha_produccion", fecha_habilitacion=cs.fmt_date(state.habilitation_date),
                    fecha_produccion=cs.fmt_date(production))
        if failed := await self.gate(request, session.nit, "registrar_fecha_produccion:despues"):
            return failed
        return JSONResponse({"success": True, "message": MESSAGES["s2_ok"]})

    async def sync(self, request: Request, session: Session) -> Response:
        data = await self.form(request)
        state = self.state(session.nit)
        if data.get("id") != str(state.contributor_id):
            return JSONResponse({"success": False, "message": MESSAGES["no_contributor"]})
        if not state.habilitado:
            return JSONResponse({"success": False, "message": MESSAGES["sync_not_enabled"]})
        state.synced_at = self.world.clock.now()
        self.record(session.nit, "sincronizar_produccion")
        if failed := await self.gate(request, session.nit, "sincronizar_produccion:despues"):
            return failed
        return JSONResponse({"success": True, "message": MESSAGES["sync_ok"]})

    # -- production: prefixes -------------------------------------------------------------------------
    async def number_ranges(self, request: Request, session: Session) -> Response:
        client = self.client(session.nit)
        state = self.state(session.nit)
        softwares = cs.available_softwares(state)
        ranges = cs.available_ranges(self.world, client)
        table_2022 = state.variants.get("tabla_prefijos") == "2022"
        rows = [
            [a.software.provider, a.software.software, a.software.software_id]
            + ([] if table_2022 else [TIPO_FACTURA])
            + [cs.range_label(a.resolution), cs.fmt_date(a.associated_at), cs.fmt_date(a.resolution.valid_until)]
            for a in sorted(state.associations, key=lambda a: a.associated_at)
        ]
        sw_options = [(s.software_id, s.label) for s in softwares]
        px_options = [(cs.range_key(r), cs.range_label(r)) for r in ranges]
        if find_recording(FAMILY, self.version(session.nit), "P-02", "con-opciones").version == DEFAULT_VERSION:
            page, _ = self.page("P-04", "con-fila-2022" if table_2022 else "con-fila", session.nit)
            self.fill_prefix_page_2026(page, session.nit, state, sw_options, px_options, rows)
        else:  # the redesign: same data, its own structure
            page, _ = self.page("P-02", "con-opciones", session.nit)
            page.fill_options("#proveedor-software", sw_options)
            page.fill_options("#prefijo-resolucion", px_options)
            page.fill_rows("tr.fila-rango", rows)
            if not rows:
                page.set_attr(".empty-state", "hidden", None)
        return self.html(page)

    def fill_prefix_page_2026(self, page: Page, nit: str, state: CatalogoState, sw_options: list[tuple[str, str]],
                              px_options: list[tuple[str, str]], rows: list[list[str]]) -> None:
        client = self.client(nit)
        page.set_value("#ContributorCode", client.nit)
        page.set_value("#ContributorName", client.razon_social)
        page.fill_options("#SoftwareId", sw_options)
        page.fill_options("#NumberRangeRowKey", px_options)
        associations = sorted(state.associations, key=lambda a: a.associated_at)

        now = self.world.clock.now()

        def customize(row: Any, index: int) -> None:
            _set_cells(row, rows[index])
            days = (associations[index].resolution.valid_until - now).days
            for label in row.xpath(".//a[contains(@class, 'label-table')]"):
                label.set("data-original-title", f"Expira en {days} días")
            for button in row.xpath(".//*[@data-rk]"):
                button.set("data-pk", client.nit)
                button.set("data-rk", associations[index].row_key)

        page.fill_rows(".table-responsive table tbody tr", [[None] * 8 for _ in rows], customize)
        alerts: list[tuple[str, str]] = []
        if not sw_options:
            alerts.append(("P-02", "sin-software"))
        if not px_options:
            alerts.append(("P-02", "sin-mas-prefijos" if rows else "sin-rangos"))
        for screen, state_name in reversed(alerts):
            self.graft(page, screen, state_name, ".alert.custom-alert-primary", ".pad-btm", first=True, nit=nit)
        if not rows:
            self.graft(page, "P-04", "vacio", ".contributor-alert", ".panel-body.padding-top-20", nit=nit)

    async def add_prefix(self, request: Request, session: Session) -> Response:
        data = await self.form(request)
        client = self.client(session.nit)
        state = self.state(session.nit)
        software = next((s for s in cs.available_softwares(state) if s.software_id == data.get("softwareId")), None)
        resolution = next((r for r in cs.available_ranges(self.world, client)
                           if cs.range_key(r) == data.get("rangeRowKey")), None)
        if software is None or resolution is None:
            return JSONResponse({"success": False, "message": MESSAGES["prefix_failed"]})
        cs.associate(self.world, state, software, resolution)
        self.record(session.nit, "asociar_prefijo", prefijo=resolution.prefix, resolucion=resolution.number,
                    desde=resolution.desde, hasta=resolution.hasta, software_id=software.software_id)
        if failed := await self.gate(request, session.nit, "asociar_prefijo:despues"):
            return failed
        return JSONResponse({"success": True})

    async def remove_prefix(self, request: Request, session: Session) -> Response:
        data = await self.form(request)
        state = self.state(session.nit)
        assoc = next((a for a in state.associations if a.row_key == data.get("rowKey")), None)
        if assoc is None:
            return JSONResponse({"success": False, "message": MESSAGES["remove_failed"]})
        state.associations.remove(assoc)
        self.record(session.nit, "eliminar_asociacion_prefijo", prefijo=assoc.resolution.prefix,
                    resolucion=assoc.resolution.number)
        return JSONResponse({"success": True})

    # -- routes -----------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        g = self.guarded
        both = ["GET", "POST"]
        public: list[BaseRoute] = [
            Route("/", self.root),
            Route(LOGIN, self.login),
            Route("/User/CompanyLogin", self.company_login),
            Route("/User/PersonLogin", self.person_login),
            Route("/User/CompanyAuthentication", self.company_authentication, methods=["POST"]),
            Route("/User/PersonAuthentication", self.person_authentication, methods=["POST"]),
            Route("/User/ContributorUserLogin", self.external_user_login, methods=["POST"]),
            Route("/User/LoginConfirmed", self.login_confirmed),
            Route("/User/AuthToken", self.auth_token),
            Route("/User/LogOut", self.logout, methods=both),
        ]
        common: list[BaseRoute] = [
            Route("/Home/Dashboard", g("dashboard", self.dashboard)),
            Route("/Contributor/CheckContributorRegister", g("documentos", self.check_register)),
            Route("/Document/ElectronicDocuments", g("documentos", self.document_types)),
            Route("/Contributor/Check", g("facturador", self.check)),
            Route("/Contributor/View", g("facturador", self.contributor_view)),
            Route("/Contributor/View/{id}", g("facturador", self.contributor_view)),
        ]
        if self.prod:
            return public + common + [
                Route("/Software/AddNumberRange", g("rangos", self.number_ranges), methods=both),
                Route("/Software/AddPrefix", g("asociar_prefijo", self.add_prefix), methods=["POST"]),
                Route("/Software/RemoveRangeAssociation", g("eliminar_asociacion_prefijo", self.remove_prefix),
                      methods=["POST"]),
            ]
        return public + common + [
            Route("/Contributor/Register", g("facturador", self.register_form), methods=["GET"]),
            Route("/Contributor/Register", g("registrar_facturador", self.register), methods=["POST"]),
            Route("/Contributor/ConfigureOperationModes", g("modos_operacion", self.configure_modes)),
            Route("/Contributor/ConfigureOperationModes/{id}", g("modos_operacion", self.configure_modes)),
            Route("/Contributor/AddContributorOperations", g("asociar_software", self.add_operation), methods=["POST"]),
            Route("/Contributor/RemoveContributorOperation", g("eliminar_modo_operacion", self.remove_operation),
                  methods=["POST"]),
            Route("/Contributor/RemoveOperationMode", g("eliminar_modo_operacion", self.remove_operation),
                  methods=["POST"]),
            Route("/TestSet/View", g("set_pruebas", self.test_set)),
            Route("/Contributor/SetHabilitationAndProductionDates", g("registrar_fecha_produccion", self.set_dates),
                  methods=["POST"]),
            Route("/Contributor/SyncToProduction", g("sincronizar_produccion", self.sync), methods=["POST"]),
        ]


def _set_cells(row: Any, values: list[str]) -> None:
    """Write values into a cloned row's cells, inside the recorded <a> wrapper when there is one."""
    for cell, value in zip(row.findall("td"), values, strict=False):
        link = cell.find("a")
        target = link if link is not None else cell
        for child in list(target):
            target.remove(child)
        target.text = value


def _providers() -> list[cs.ProviderSoftware]:
    """One entry per provider (the first software of each), sorted by name as DIAN lists them."""
    seen: dict[str, cs.ProviderSoftware] = {}
    for software in cs.PROVIDERS:
        seen.setdefault(software.provider_id, software)
    return sorted(seen.values(), key=lambda s: s.provider)


def _providers_json() -> str:
    import json

    grouped: dict[str, dict[str, Any]] = {}
    for s in cs.PROVIDERS:
        entry = grouped.setdefault(s.provider_id, {"Id": s.provider_id, "Name": s.provider, "Softwares": []})
        entry["Softwares"].append({"Id": s.software_id, "Name": s.software})
    return json.dumps(sorted(grouped.values(), key=lambda p: p["Name"]), ensure_ascii=False)


def routes(world: World, portal: str) -> list[BaseRoute]:
    """The catalogue's routes for one of its hosts ("habilitacion" or "produccion")."""
    return Catalogo(world, portal).routes()

