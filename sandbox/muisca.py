"""MUISCA (muisca.localhost): login, dashboard, the numbering request with its two signatures, and
"Mis comunicados". Pages come from recordings/muisca (`render.load_page`), filled with the client's state.

Routes (every numeración path is invented, see the manifest):

    /WebArquitectura/DefLogin.faces       entry; redirects to the login of the client's portal version
    /WebIdentidadLogin/                   M-01 Angular login (version 2026)
    /WebArquitectura/DefLoginOld.faces    M-01 legacy JSF login (version legacy)
    /WebDashboard/DefDashboard.faces      M-02 (POST btnFE → M-03)
    /WebNumeracionFacturacion/DefMenuNumeracion.faces          M-03
    /WebNumeracionFacturacion/DefSolicitarNumeracion.faces     M-04 AVISO
    /WebNumeracionFacturacion/DefInformacionContribuyente.faces M-05
    /WebNumeracionFacturacion/DefConsultarNumeracion.faces     M-06, or M-11 while a request awaits formalisation
    /WebNumeracionFacturacion/DefSolicitudAutorizacion.faces   M-07
    /WebNumeracionFacturacion/DefMensaje.faces                 M-08 (Ver Documento → PDF download)
    /firmaelectronica/firma.html                               M-09
    /WebComunicaciones/DefComunicados.faces                    M-10
    /WebNumeracionFacturacion/DefResolucion.faces              M-12 (Ver Documento → formato 1876)

Fault steps (`world.faults.inject(nit, step, Fault(...))`): login, dashboard, menu, aviso, contribuyente,
consultar, solicitud, agregar_rango, borrador, definitivo, mensaje, ver_documento, firma, solicitar_clave,
firmar, anular, comunicados, resolucion; mail: "clave_dinamica" (or "mail") for the e-mail and
"comunicado" for the copy in Mis comunicados (mail_lost: never shown; mail_delay_s: shown that many
sandbox-clock seconds later). Portal version: `world.faults.set_version(nit or "*", "muisca", "legacy")`;
a per-client switch takes effect when the login identifies the client (the sandbox then redirects
to the other login; a "*" switch also changes the login page served before identification).

Journal actions (portal "muisca"): login, cuenta_bloqueada, agregar_rango, eliminar_rango, borrador,
definitivo, solicitar_clave, firmar (documento = solicitud_1302 | formalizacion), anular,
validacion_rechazada.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from lxml.etree import _Element
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.formato1876 import MODALIDADES, Declarante, FilaNumeracion, render_1302, render_1876
from sandbox.gates import fault_gate, posted_form
from sandbox.mail import build_dynamic_key_email
from sandbox.muisca_state import (
    PORTAL,
    Comunicado,
    MuiscaState,
    Solicitud,
    formalizar,
    issue_key,
    new_solicitud,
    set_stage,
    state_of,
)
from sandbox.render import Page, load_page
from sandbox.world import SandboxClient, World

__all__ = ["ERRORS", "routes", "set_stage", "state_of"]

FAMILY = "muisca"
DEFAULT_VERSION = "2026"
SESSION_COOKIE = "JSESSIONID"
# The sandbox's own cookie: the client last identified on this browser, so that a per-client version
# switch also decides which login page that browser gets before it identifies itself again.
CLIENT_COOKIE = "muisca_cliente"

ENTRY = "/WebArquitectura/DefLogin.faces"
LOGIN_URLS = {"2026": "/WebIdentidadLogin/", "legacy": "/WebArquitectura/DefLoginOld.faces"}
DASHBOARD = "/WebDashboard/DefDashboard.faces"
NUM = "/WebNumeracionFacturacion"
MENU = f"{NUM}/DefMenuNumeracion.faces"
AVISO = f"{NUM}/DefSolicitarNumeracion.faces"
CONTRIBUYENTE = f"{NUM}/DefInformacionContribuyente.faces"
CONSULTAR = f"{NUM}/DefConsultarNumeracion.faces"
SOLICITUD = f"{NUM}/DefSolicitudAutorizacion.faces"
MENSAJE = f"{NUM}/DefMensaje.faces"
RESOLUCION = f"{NUM}/DefResolucion.faces"
FIRMA = "/firmaelectronica/firma.html"
FIRMA_MARCO = f"{NUM}/DefFirmarDocumento.faces"
AVISO_VENCIMIENTO = f"{NUM}/DefAvisoVencimiento.faces"
COMUNICADOS = "/WebComunicaciones/DefComunicados.faces"

ASUNTO_CLAVE = "Se informa clave dinámica - Proceso de firma electrónica"
DOC_TYPES = {"CC": "Cédula de Ciudadanía", "CE": "Cédula de Extranjería", "PS": "Pasaporte", "NIT": "NIT"}
LEGACY_DOC_TYPES = {"13": "CC", "22": "CE", "41": "PS", "31": "NIT"}
TIPO_SOLICITUD = {"AUTORIZACION": "AUTORIZACIÓN", "HABILITACION": "HABILITACIÓN", "INHABILITACION": "INHABILITACIÓN"}
PREFIX_RE = re.compile(r"^[A-Za-z0-9]{1,4}$")
#: The login's mode buttons carry only their text (the Angular app keeps the mode in its model).
LOGIN_MODES = {
    "A nombre propio": "propio",
    "A nombre de un tercero": "tercero",
    "Servidor DIAN": "servidor",
    "Autorizaciones / Poderes": "poderes",
    "Organización no obligada a RUT": "no-rut",
}

# DIAN's own text where known; every other text here is INVENTED (see the manifest notes).
ERRORS = {
    "login": "Datos incorrectos o no encontrados. Verifique e intente de nuevo.",
    "tipo": "El campo Tipo Facturación es obligatorio.",
    "desde": "El campo Rango Desde es obligatorio.",
    "hasta": "El campo Rango Hasta es obligatorio.",
    "numerico": "Los campos Rango Desde y Rango Hasta deben ser numéricos.",
    "desde_cero": "El Rango Desde debe ser mayor que cero.",
    "orden": "El Rango Hasta debe ser mayor o igual al Rango Desde.",
    "prefijo": "El Prefijo admite máximo cuatro (4) caracteres entre letras y números.",
    "sin_filas": "Debe agregar al menos un rango a la solicitud.",
    "sin_clave": "Ingrese la clave dinámica.",
    "espera": "Debe esperar {segundos} seg para solicitar una nueva clave dinámica.",
}
FIRMA_STATES = {
    "sin_clave": "sin-clave",
    "clave_invalida": "clave-invalida",
    "clave_anterior": "clave-invalida",
    "clave_usada": "clave-invalida",
    "clave_vencida": "clave-vencida",
    "firma_incorrecta": "firma-incorrecta",
}


def _sel(ident: str) -> str:
    """CSS for a JSF id (colons and all)."""
    return f'[id="{ident}"]'


def _date(value: datetime) -> str:
    return f"{value:%d/%m/%Y}"


def _stamp12(value: datetime) -> str:
    hour = value.hour % 12 or 12
    return f"{value:%d/%m/%Y} {hour:02d}:{value:%M:%S} {'AM' if value.hour < 12 else 'PM'}"


def _mask(address: str) -> str:
    return "*****@" + address.split("@", 1)[-1]


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def _renumber(row: _Element, index: int) -> None:
    """Give a cloned JSF table row its own row index in the ids and names of its controls."""
    for control in row.iter("input"):
        for attr in ("id", "name"):
            control.set(attr, re.sub(r":\d+:", f":{index}:", control.get(attr, "")))


def _add_months(value: datetime, months: int) -> datetime:
    month = value.month - 1 + months
    return value.replace(year=value.year + month // 12, month=month % 12 + 1, day=min(value.day, 28))


@dataclass
class Session:
    """A MUISCA session (JSESSIONID): who logged in, for whom, and where they are in the numeración flow."""

    nit: str  # the client whose user logged in
    owner: str  # the NIT acted for: the company, or the user's own document ("a nombre propio")
    as_org: bool
    version: str
    editing: list[FilaNumeracion] = field(default_factory=list)
    editing_solicitud: str | None = None
    signing: str | None = None  # Nro. de Solicitud being signed
    message: tuple[str, str] | None = None  # (borrador | firma1 | firma2, Nro. de Solicitud) for M-08


@dataclass
class LoginForm:
    """A login attempt, from either form."""

    modo: str  # propio | tercero | servidor | poderes | no-rut
    org: str
    tipo: str  # CC, CE, PS, NIT
    doc: str
    password: str
    consent: bool


class Muisca:
    """The MUISCA site of one World. Handlers are methods; `routes()` lists them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.sessions: dict[str, Session] = {}

    # -- plumbing -------------------------------------------------------------------------------
    form = staticmethod(posted_form)

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))

    def client(self, session: Session) -> SandboxClient:
        return self.world.clients[session.nit]

    def state(self, session: Session) -> MuiscaState:
        return state_of(self.client(session))

    def record(self, nit: str, action: str, **details: Any) -> None:
        self.world.record(nit, PORTAL, action, **details)

    async def gate(self, request: Request, nit: str | None, step: str) -> Response | None:
        """Apply an armed fault: a response to send instead, or None to go on."""
        response, drop = await fault_gate(self.world, nit, step)
        if drop:
            self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
            if response is None:
                return RedirectResponse(ENTRY, status_code=302)
        if response is not None:
            return _server_error()
        return None

    def login_version(self, request: Request) -> str:
        """The portal version of the login page for this browser (global switch, else its last client's)."""
        remembered = request.cookies.get(CLIENT_COOKIE) or None
        version = self.world.faults.version_for(remembered, FAMILY, DEFAULT_VERSION)
        return version if version in LOGIN_URLS else DEFAULT_VERSION

    def guarded(
        self, step: str, handler: Callable[[Request, Session], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A page that needs a session (else back to the login) and honours the step's faults."""

        async def endpoint(request: Request) -> Response:
            session = self.session(request)
            if session is None:
                return RedirectResponse(ENTRY, status_code=302)
            blocked = await self.gate(request, session.nit, step)
            if blocked is not None:
                return blocked
            return await handler(request, session)

        return endpoint

    def page(self, session: Session, screen: str, state: str) -> Page:
        """A recorded page with the session's banner filled in."""
        page = load_page(FAMILY, session.version, screen, state)
        client = self.client(session)
        tipo = DOC_TYPES.get(client.muisca_user_doc_type, client.muisca_user_doc_type)
        page.set_text(
            '[id$=":frmEncabezado:lblUsuario"]', f"Usuario: {client.nombre_usuario} · {tipo} {client.muisca_user_doc}"
        )
        a_nombre = f"A nombre de: {client.razon_social} (NIT {client.nit})" if session.as_org else "A Nombre Propio"
        page.set_text('[id$=":frmEncabezado:lblANombreDe"]', a_nombre)
        return page

    def owner_identity(self, session: Session) -> tuple[str, str, str]:
        """(NIT, name, DV) of whom the numeración screens are for."""
        client = self.client(session)
        if session.as_org:
            return client.nit, client.razon_social, str(client.dv)
        return client.muisca_user_doc, client.nombre_usuario, ""

    # -- login ------------------------------------------------------------------------------------
    async def entry(self, request: Request) -> Response:
        return RedirectResponse(self.login_url(self.login_version(request)), status_code=302)

    @staticmethod
    def login_url(version: str) -> str:
        if version == "2026":
            ide = {
                "clientId": "sandbox-muisca",
                "redirect_uri": "/IdentidadRest_LoginFiltro/api/sts/v1/auth/callback?redirect_uri="
                + quote(ENTRY, safe=""),
                "responseType": "",
                "scope": "",
                "state": "",
                "nonce": "",
                "params": {"tipoUsuario": "muisca"},
            }
            encoded = base64.b64encode(json.dumps(ide, separators=(",", ":")).encode()).decode()
            return f"{LOGIN_URLS['2026']}?ideRequest={quote(encoded, safe='')}"
        return LOGIN_URLS.get(version, LOGIN_URLS["legacy"])

    async def login_angular(self, request: Request) -> Response:
        if request.method == "GET":
            if self.login_version(request) != "2026":
                return RedirectResponse(self.login_url(self.login_version(request)), status_code=302)
            blocked = await self.gate(request, None, "login")
            if blocked is None and self.world.faults.take(None, "login_notificaciones"):
                return self.angular_page("notificaciones", "propio")
            return blocked or self.angular_page("a-nombre-propio", "propio")
        f = await self.form(request)
        attempt = LoginForm(
            modo=f.get("modoIngreso", "propio"),
            org=f.get("numDocumentoOrg", ""),
            tipo=f.get("tipoDocumento", ""),
            doc=f.get("numDocumento", ""),
            password=f.get("password", ""),
            consent=f.get("aceptaTratamientoDatos") in ("true", "on", "1"),
        )
        return await self.login(request, attempt, "2026")

    async def login_legacy(self, request: Request) -> Response:
        if request.method == "GET":
            if self.login_version(request) != "legacy":
                return RedirectResponse(self.login_url(self.login_version(request)), status_code=302)
            blocked = await self.gate(request, None, "login")
            return blocked or HTMLResponse(load_page(FAMILY, "legacy", "M-01", "inicial").html())
        f = await self.form(request)
        p = "vistaLogin:frmLogin:"
        attempt = LoginForm(
            modo="tercero" if f.get(p + "selNit") == "2" else "propio",
            org=f.get(p + "txtNit", ""),
            tipo=LEGACY_DOC_TYPES.get(f.get(p + "selTipoDoc", ""), ""),
            doc=f.get(p + "txtUsuario", ""),
            password=f.get(p + "txtCadena", f.get(p + "txtPassword", "")),
            consent=True,
        )
        return await self.login(request, attempt, "legacy")

    def identify(self, attempt: LoginForm) -> tuple[SandboxClient | None, bool]:
        """(the client whose user this is, whether the user matched) for an attempt."""
        doc = _digits(attempt.doc)
        if attempt.modo == "tercero":
            org = _digits(attempt.org)
            client = self.world.clients.get(org)
            if client is None and len(org) > 1:
                candidate = self.world.clients.get(org[:-1])
                client = candidate if candidate is not None and org[-1] == str(candidate.dv) else None
            if client is None:
                return None, False
            return client, client.muisca_user_doc == doc and client.muisca_user_doc_type == attempt.tipo
        if attempt.modo == "propio":
            for client in self.world.clients.values():
                if client.muisca_user_doc and client.muisca_user_doc == doc:
                    return client, client.muisca_user_doc_type == attempt.tipo
        return None, False

    async def login(self, request: Request, attempt: LoginForm, version: str) -> Response:
        client, user_ok = self.identify(attempt)
        response = await self.attempt(request, attempt, version, client, user_ok)
        if client is not None:
            response.set_cookie(CLIENT_COOKIE, client.nit, path="/")
        return response

    async def attempt(
        self, request: Request, attempt: LoginForm, version: str, client: SandboxClient | None, user_ok: bool
    ) -> Response:
        """One login attempt: DIAN's answer (error, lock, version switch or the dashboard), journaled."""
        nit = client.nit if client else (_digits(attempt.org) or _digits(attempt.doc) or "?")
        blocked = await self.gate(request, client.nit if client else None, "login")
        if blocked is not None:
            return blocked
        details = {"modo": attempt.modo, "version": version}
        if version == "2026":
            # DIAN answers some attempts with its own message and nothing else: maintenance, or an
            # error text the robot does not know. Nothing is counted against the password.
            for answer in ("mantenimiento", "error-desconocido"):
                if self.world.faults.take(client.nit if client else None, f"login_{answer.replace('-', '_')}"):
                    self.record(nit, "login", ok=False, reason=answer.replace("-", "_"), **details)
                    return self.login_failed(version, answer, attempt)
        if client is not None:
            wanted = self.world.faults.version_for(client.nit, FAMILY, DEFAULT_VERSION)
            if wanted != version and wanted in LOGIN_URLS:
                self.record(nit, "login", ok=False, reason="version_cambiada", **details, to=wanted)
                return RedirectResponse(self.login_url(wanted), status_code=302)
        if client is None or not user_ok or not attempt.consent:
            reason = "sin_aceptar_tratamiento" if user_ok and not attempt.consent else "datos_no_encontrados"
            self.record(nit, "login", ok=False, reason=reason, **details)
            return self.login_failed(version, "error", attempt)
        state = state_of(client)
        if state.locked:
            self.record(nit, "login", ok=False, reason="cuenta_bloqueada", **details)
            return self.login_failed(version, "bloqueado", attempt)
        if attempt.password != client.muisca_password:
            state.failed_logins += 1
            self.record(nit, "login", ok=False, reason="clave", intento=state.failed_logins, **details)
            if state.failed_logins >= state.max_login_failures:
                state.locked = True
                self.record(nit, "cuenta_bloqueada", intentos=state.failed_logins)
                return self.login_failed(version, "bloqueado", attempt)
            return self.login_failed(version, "error", attempt)
        state.failed_logins = 0
        as_org = attempt.modo == "tercero"
        session = Session(
            nit=client.nit,
            owner=client.nit if as_org else client.muisca_user_doc,
            as_org=as_org,
            version=version,
        )
        sid = secrets.token_hex(16)
        self.sessions[sid] = session
        self.record(nit, "login", ok=True, **details)
        response = RedirectResponse(DASHBOARD, status_code=302)
        response.set_cookie(SESSION_COOKIE, sid, path="/", httponly=True)
        return response

    def angular_page(self, state: str, mode: str, attempt: LoginForm | None = None) -> HTMLResponse:
        page = load_page(FAMILY, "2026", "M-01", state)
        page.set_value('input[name="modoIngreso"]', mode)
        for button in page.select("[role=group] > button"):
            pressed = LOGIN_MODES.get(" ".join(button.text_content().split())) == mode
            button.set("aria-pressed", "true" if pressed else "false")
        org = page.one('input[name="numDocumentoOrg"]')
        field = next(a for a in org.iterancestors() if a.tag == "mat-form-field")
        if mode == "tercero":
            field.attrib.pop("hidden", None)
        else:
            field.set("hidden", "hidden")
        page.set_value('input[name="numDocumentoOrg"]', attempt.org if attempt else "")
        page.set_value('input[name="numDocumento"]', attempt.doc if attempt else "")
        page.set_attr('mat-select[name="tipoDocumento"]', "data-value", attempt.tipo if attempt else "")
        return HTMLResponse(page.html())

    def login_failed(self, version: str, state: str, attempt: LoginForm) -> HTMLResponse:
        if version == "2026":
            mode = attempt.modo if attempt.modo in ("propio", "tercero", "servidor", "poderes", "no-rut") else "propio"
            return self.angular_page(state, mode, attempt)
        page = load_page(FAMILY, "legacy", "M-01", state)
        page.set_value(_sel("vistaLogin:frmLogin:selNit"), "2" if attempt.modo == "tercero" else "1")
        page.set_value(_sel("vistaLogin:frmLogin:txtNit"), attempt.org)
        page.set_value(_sel("vistaLogin:frmLogin:txtUsuario"), attempt.doc)
        code = next((k for k, v in LEGACY_DOC_TYPES.items() if v == attempt.tipo), "13")
        page.set_value(_sel("vistaLogin:frmLogin:selTipoDoc"), code)
        return HTMLResponse(page.html())

    async def logout(self, request: Request) -> Response:
        self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        return RedirectResponse(ENTRY, status_code=302)

    # -- dashboard and menus ----------------------------------------------------------------------
    async def dashboard(self, request: Request, session: Session) -> Response:
        f = await self.form(request)
        if any(k.startswith("vistaDashboard:frmDashboard:btnFE") for k in f):
            return RedirectResponse(MENU, status_code=302)
        state = self.state(session)
        variant = "clave-caducada" if state.password_expired else ("botones-0x0" if state.tablero_0x0 else "inicio")
        return HTMLResponse(self.page(session, "M-02", variant).html())

    async def menu(self, request: Request, session: Session) -> Response:
        return HTMLResponse(self.page(session, "M-03", "menu").html())

    async def aviso(self, request: Request, session: Session) -> Response:
        if request.method == "POST":
            return RedirectResponse(CONTRIBUYENTE, status_code=302)
        return HTMLResponse(self.page(session, "M-04", "aviso").html())

    async def contribuyente(self, request: Request, session: Session) -> Response:
        if request.method == "POST":
            target = AVISO_VENCIMIENTO if self.state(session).vencimiento_cercano else CONSULTAR
            return RedirectResponse(target, status_code=302)
        page = self.page(session, "M-05", "contribuyente")
        nit, nombre, _ = self.owner_identity(session)
        client = self.client(session)
        p = "vistaContribuyente:frmContribuyente:"
        page.set_value(_sel(p + "txtNit"), nit)
        page.set_text(_sel(p + "lblRazonSocial"), nombre)
        page.set_value(
            _sel(p + "selTipoDocumento"), {"CC": "13", "CE": "22", "PS": "41"}.get(client.muisca_user_doc_type, "13")
        )
        page.set_value(_sel(p + "txtNumeroDocumento"), client.muisca_user_doc)
        return HTMLResponse(page.html())

    async def aviso_vencimiento(self, request: Request, session: Session) -> Response:
        """Micrositio paso 6: "autorizaciones de numeración cercanas a su vencimiento" → Aceptar."""
        if request.method == "POST":
            return RedirectResponse(CONSULTAR, status_code=302)
        return HTMLResponse(self.page(session, "M-04", "vencimiento").html())

    # -- M-06 / M-11 ------------------------------------------------------------------------------
    def fill_contribuyente(self, page: Page, session: Session) -> None:
        nit, nombre, _ = self.owner_identity(session)
        client = self.client(session)
        p = "vistaConsulta:frmConsulta:"
        page.set_text(_sel(p + "lblNit"), nit)
        page.set_text(_sel(p + "lblRazonSocial"), nombre)
        page.set_text(_sel(p + "lblTipoDocumento"), DOC_TYPES.get(client.muisca_user_doc_type, ""))
        page.set_text(_sel(p + "lblNumeroDocumento"), client.muisca_user_doc)
        page.set_text(_sel(p + "lblAutorizado"), client.nombre_usuario)
        page.set_value(_sel(p + "txtFechaHasta"), _date(self.world.clock.now()))

    def consult_page(self, session: Session) -> Page:
        """M-11 while a request awaits formalisation, else M-06 without results."""
        pendientes = self.state(session).pendientes(session.owner)
        if not pendientes:
            page = self.page(session, "M-06", "inicial")
            self.fill_contribuyente(page, session)
            return page
        page = self.page(session, "M-11", "pendiente")
        self.fill_contribuyente(page, session)
        page.fill_rows(
            "tr.fila_formaliza",
            [[s.numero, "", s.tipo, s.estado, s.formulario, None, None] for s in pendientes],
            _renumber,
        )
        return page

    async def consultar(self, request: Request, session: Session) -> Response:
        f = await self.form(request)
        state = self.state(session)
        if any(k.endswith(":btnAutorizarRangos") for k in f):
            session.editing, session.editing_solicitud = [], None
            return RedirectResponse(SOLICITUD, status_code=302)
        action = next((m for k in f if (m := re.search(r"tblFormaliza:(\d+):btn(Firmar|Anular)$", k))), None)
        if action is not None:
            pendientes = state.pendientes(session.owner)
            index = int(action.group(1))
            if index >= len(pendientes):
                return RedirectResponse(CONSULTAR, status_code=302)
            solicitud = pendientes[index]
            if action.group(2) == "Firmar":
                session.signing = solicitud.numero
                return RedirectResponse(self.firma_url(session), status_code=302)
            blocked = await self.gate(request, session.nit, "anular")
            if blocked is not None:
                return blocked
            solicitud.estado = "ANULADO"
            self.record(session.owner, "anular", solicitud=solicitud.numero, formulario=solicitud.formulario)
            return RedirectResponse(CONSULTAR, status_code=302)
        if "vistaConsulta:frmConsulta:btnConsultar" in f:
            return HTMLResponse(self.results_page(session, f).html())
        # "Habilitar Rangos" / "Inhabilitar Rangos" are not simulated: the page stays as it is.
        return HTMLResponse(self.consult_page(session).html())

    def results_page(self, session: Session, f: dict[str, str]) -> Page:
        p = "vistaConsulta:frmConsulta:"

        def parse(value: str) -> datetime | None:
            try:
                return datetime.strptime(value.strip(), "%d/%m/%Y")
            except ValueError:
                return None

        desde, hasta = parse(f.get(p + "txtFechaDesde", "")), parse(f.get(p + "txtFechaHasta", ""))
        tipo = TIPO_SOLICITUD.get(f.get(p + "selTipoSolicitud", ""), "")
        estado = f.get(p + "selEstadoSolicitud", "")
        found = [
            s
            for s in self.state(session).of(session.owner)
            if (desde is None or s.creada.date() >= desde.date())
            and (hasta is None or s.creada.date() <= hasta.date())
            and (not tipo or s.tipo == tipo)
            and (not estado or s.estado == estado)
        ]
        if not found:
            page = self.page(session, "M-06", "sin-resultados")
        else:
            page = self.page(session, "M-06", "resultados")
            rows = [(s, fila) for s in found for fila in s.filas]

            def customize(row: _Element, i: int) -> None:
                s = rows[i][0]
                cells = [c for c in row if c.tag == "td"]
                link = cells[0].find("a")
                if link is not None:
                    link.set("id", f"{p}tblResultados:{i}:lnkSolicitud")
                    link.set("href", f"{SOLICITUD}?solicitud={s.numero}")
                    link.text = s.numero
                    if s.estado != "BORRADOR":
                        cells[0].remove(link)
                        cells[0].text = s.numero
                res = cells[8].find("a")
                if res is not None:
                    if s.resolucion:
                        res.set("id", f"{p}tblResultados:{i}:lnkResolucion")
                        res.set("href", f"{RESOLUCION}?resolucion={s.resolucion}")
                        res.text = s.resolucion
                    else:
                        cells[8].remove(res)

            page.fill_rows(
                "tr.fila_resultado",
                [
                    [
                        None,
                        _date(s.creada),
                        s.tipo,
                        s.estado,
                        s.formulario,
                        fila.prefijo,
                        str(fila.desde),
                        str(fila.hasta),
                        None,
                        _date(s.formalizada_at) if s.formalizada_at else "",
                    ]
                    for s, fila in rows
                ],
                customize,
            )
        self.fill_contribuyente(page, session)
        for key in ("txtFechaDesde", "txtFechaHasta", "selTipoSolicitud", "selEstadoSolicitud"):
            if p + key in f:
                page.set_value(_sel(p + key), f[p + key])
        return page

    # -- M-07 -------------------------------------------------------------------------------------
    async def solicitud(self, request: Request, session: Session) -> Response:
        state = self.state(session)
        if request.method == "GET":
            numero = request.query_params.get("solicitud")
            if numero:
                s = state.find(session.owner, numero)
                if s is not None and s.estado == "BORRADOR":
                    session.editing, session.editing_solicitud = list(s.filas), s.numero
            return HTMLResponse(self.solicitud_page(session).html())
        f = await self.form(request)
        p = "vistaSolicitud:frmSolicitud:"
        if p + "btnAgregar" in f:
            if blocked := await self.gate(request, session.nit, "agregar_rango"):
                return blocked
            fila, errors = self.validate_row(f)
            if errors:
                self.record(session.owner, "validacion_rechazada", pantalla="M-07", errores=errors)
                return HTMLResponse(self.solicitud_page(session, errors, f).html())
            assert fila is not None
            session.editing.append(fila)
            self.record(
                session.owner,
                "agregar_rango",
                prefijo=fila.prefijo,
                modalidad=fila.modalidad,
                desde=fila.desde,
                hasta=fila.hasta,
            )
            return HTMLResponse(self.solicitud_page(session).html())
        remove = next((m for k in f if (m := re.search(r"tblRangos:(\d+):btnEliminar(\.x)?$", k))), None)
        if remove is not None:
            index = int(remove.group(1))
            if index < len(session.editing):
                fila = session.editing.pop(index)
                self.record(session.owner, "eliminar_rango", prefijo=fila.prefijo, desde=fila.desde, hasta=fila.hasta)
            return HTMLResponse(self.solicitud_page(session).html())
        if p + "btnBorrador" in f or p + "btnDefinitivo" in f:
            step = "borrador" if p + "btnBorrador" in f else "definitivo"
            if blocked := await self.gate(request, session.nit, step):
                return blocked
            if not session.editing:
                self.record(session.owner, "validacion_rechazada", pantalla="M-07", errores=[ERRORS["sin_filas"]])
                return HTMLResponse(self.solicitud_page(session, [ERRORS["sin_filas"]]).html())
            existing = state.find(session.owner, session.editing_solicitud or "")
            if existing is not None and existing.estado == "BORRADOR":
                existing.filas = list(session.editing)
                solicitud = existing
            else:
                solicitud = new_solicitud(self.world, session.owner, session.editing, state)
            if step == "borrador":
                session.editing_solicitud = solicitud.numero
                session.message = ("borrador", solicitud.numero)
                self.record(
                    session.owner,
                    "borrador",
                    solicitud=solicitud.numero,
                    formulario=solicitud.formulario,
                    filas=len(solicitud.filas),
                )
                return RedirectResponse(MENSAJE, status_code=302)
            solicitud.estado = "DEFINITIVO"
            solicitud.definitivo_at = self.world.clock.now()
            session.editing, session.editing_solicitud = [], None
            session.signing = solicitud.numero
            self.record(session.owner, "definitivo", solicitud=solicitud.numero, formulario=solicitud.formulario)
            return RedirectResponse(self.firma_url(session), status_code=302)
        if p + "btnSalir" in f:
            return RedirectResponse(CONSULTAR, status_code=302)
        return HTMLResponse(self.solicitud_page(session).html())  # "Limpiar" and anything else

    @staticmethod
    def validate_row(f: dict[str, str]) -> tuple[FilaNumeracion | None, list[str]]:
        p = "vistaSolicitud:frmSolicitud:"
        prefijo = f.get(p + "txtPrefijo", "").strip().upper()
        tipo = f.get(p + "selTipoFacturacion", "")
        desde_s, hasta_s = f.get(p + "txtRangoDesde", "").strip(), f.get(p + "txtRangoHasta", "").strip()
        errors = []
        if prefijo and not PREFIX_RE.match(prefijo):
            errors.append(ERRORS["prefijo"])
        if tipo not in MODALIDADES:
            errors.append(ERRORS["tipo"])
        if not desde_s:
            errors.append(ERRORS["desde"])
        if not hasta_s:
            errors.append(ERRORS["hasta"])
        if desde_s and hasta_s:
            if not (desde_s.isdigit() and hasta_s.isdigit()):
                errors.append(ERRORS["numerico"])
            elif int(desde_s) < 1:
                errors.append(ERRORS["desde_cero"])
            elif int(hasta_s) < int(desde_s):
                errors.append(ERRORS["orden"])
        if errors:
            return None, errors
        return FilaNumeracion(tipo, prefijo, int(desde_s), int(hasta_s)), []

    def solicitud_page(
        self, session: Session, errors: list[str] | None = None, f: dict[str, str] | None = None
    ) -> Page:
        p = "vistaSolicitud:frmSolicitud:"
        state = "error-validacion" if errors else ("con-fila" if session.editing else "vacia")
        page = self.page(session, "M-07", state)
        if state != "vacia":
            page.fill_rows(
                "tr.fila_rango",
                [
                    [fila.modalidad_texto, fila.prefijo, str(fila.desde), str(fila.hasta), None]
                    for fila in session.editing
                ],
                _renumber,
            )
        if errors:
            page.fill_rows(
                _sel(p + "msgErrores") + " > li", [[] for _ in errors], lambda li, i: setattr(li, "text", errors[i])
            )
        values = f or {}
        for key in ("txtPrefijo", "txtRangoDesde", "txtRangoHasta", "selTipoFacturacion"):
            page.set_value(_sel(p + key), values.get(p + key, ""))
        return page

    # -- M-08 -------------------------------------------------------------------------------------
    async def mensaje(self, request: Request, session: Session) -> Response:
        if session.message is None:
            return RedirectResponse(CONSULTAR, status_code=302)
        kind, numero = session.message
        solicitud = self.state(session).find(session.owner, numero)
        if solicitud is None:
            session.message = None
            return RedirectResponse(CONSULTAR, status_code=302)
        f = await self.form(request)
        p = "vistaMensaje:frmMensaje:"
        if p + "btnVerDocumento" in f:
            if blocked := await self.gate(request, session.nit, "ver_documento"):
                return blocked
            return self.document(session, solicitud, "1876" if kind == "firma2" else "1302")
        if p + "btnAceptar" in f:
            session.message = None
            if kind == "borrador":
                return RedirectResponse(f"{SOLICITUD}?solicitud={numero}", status_code=302)
            if kind == "firma2" and solicitud.resolucion:
                return RedirectResponse(f"{RESOLUCION}?resolucion={solicitud.resolucion}", status_code=302)
            return RedirectResponse(CONSULTAR, status_code=302)
        page = self.page(session, "M-08", "guardado")
        documento = f"1876-{solicitud.resolucion}" if kind == "firma2" else f"1302-{solicitud.formulario}"
        page.set_value(_sel(p + "hdnDocumento"), documento)
        return HTMLResponse(page.html())

    def document(self, session: Session, solicitud: Solicitud, formato: str) -> Response:
        nit, nombre, dv = self.owner_identity(session)
        declarante = Declarante(nit, int(dv) if dv else 0, nombre)
        if formato == "1876" and solicitud.resolucion and solicitud.formalizada_at:
            data = render_1876(
                numero=solicitud.resolucion,
                declarante=declarante,
                filas=solicitud.filas,
                vigencia_meses=solicitud.vigencia_meses,
                formalizada=solicitud.formalizada_at,
                numero_solicitud=solicitud.numero,
            )
            name = f"1876_{solicitud.resolucion}.pdf"
        else:
            data = render_1302(
                numero=solicitud.formulario,
                declarante=declarante,
                filas=solicitud.filas,
                estado=solicitud.estado,
                fecha=solicitud.creada,
                numero_solicitud=solicitud.numero,
            )
            name = f"1302_{solicitud.formulario}.pdf"
        return Response(
            data, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    # -- M-09 -------------------------------------------------------------------------------------
    def firma_url(self, session: Session) -> str:
        """Where MUISCA signs: the top-level window, or the page holding it in an iframe (TR 2026)."""
        return FIRMA_MARCO if self.state(session).firma_en_marco else FIRMA

    async def firma_marco(self, request: Request, session: Session) -> Response:
        """The page around the signing iframe: inert "Firmar"/"Desautorizar", the frame, the Ayuda panel."""
        state = self.state(session)
        solicitud = state.find(session.owner, session.signing or "")
        if solicitud is None or solicitud.estado != "DEFINITIVO":
            session.signing = None
            return RedirectResponse(CONSULTAR, status_code=302)
        page = self.page(session, "M-09", "marco")
        if not state.ayuda_sobre_firma:
            page.set_attr("aside.panel-ayuda", "hidden", "hidden")
        if state.capa_desconocida_sobre_firma:
            page.append_html(
                "body",
                '<div class="aviso-nuevo" style="position:fixed;inset:0;z-index:60;background:rgba(0,0,0,.3)">'
                "Nuevo aviso</div>",
            )
        return HTMLResponse(page.html())

    async def firma(self, request: Request, session: Session) -> Response:
        state = self.state(session)
        solicitud = state.find(session.owner, session.signing or "")
        if solicitud is None or solicitud.estado != "DEFINITIVO":
            session.signing = None
            return RedirectResponse(CONSULTAR, status_code=302)
        if state.firma_en_marco:
            return await self.firma_ventana(request, session, solicitud)
        if request.method == "GET":
            return HTMLResponse(self.firma_page(session, solicitud).html())
        f = await self.form(request)
        if f.get("solicitarClave") == "1":
            return await self.solicitar_clave(request, session, solicitud)
        if "btnFirmar" in f:
            return await self.firmar(request, session, solicitud, f.get("txtOTP", ""), f.get("txtPsw", ""))
        if "btnVolver" in f:
            session.signing = None
            return RedirectResponse(CONSULTAR, status_code=302)
        return HTMLResponse(self.firma_page(session, solicitud).html())

    async def firma_ventana(self, request: Request, session: Session, solicitud: Solicitud) -> Response:
        """The signing window inside the iframe: its buttons post with XHR and get JSON (no navigation)."""
        state = self.state(session)
        if request.method == "GET":
            page = self.page(session, "M-09", "ventana")
            client = self.client(session)
            page.set_text(".firmante-nombre", client.nombre_usuario)
            page.set_text(".firmante-nit", self.owner_identity(session)[0])
            page.set_attr("body", "data-autorizado", "true" if state.firmante_autorizado else "false")
            page.set_attr("body", "data-siguiente", MENSAJE)
            page.set_attr("body", "data-volver", CONSULTAR)
            page.set_text(".correo-clave", _mask(client.key_mailbox))
            return HTMLResponse(page.html())
        f = await self.form(request)
        accion = f.get("accion", "")
        if accion == "autorizar":
            state.firmante_autorizado = True
            self.record(session.owner, "autorizar_firmante", solicitud=solicitud.numero)
            return JSONResponse({"ok": True})
        if accion == "desautorizar":
            state.firmante_autorizado = False
            self.record(session.owner, "desautorizar_firmante", solicitud=solicitud.numero)
            return JSONResponse({"ok": True})
        if not state.firmante_autorizado:
            return JSONResponse({"ok": False, "error": "Debe autorizar al firmante."})
        if accion == "solicitar":
            if blocked := await self.gate(request, session.nit, "solicitar_clave"):
                return blocked
            error = self.emitir_clave(session, solicitud)
            left = state.resend_wait_left(self.world.clock.now())
            return JSONResponse({"ok": not error, "error": error, "segundos": left})
        if accion == "firmar":
            if blocked := await self.gate(request, session.nit, "firmar"):
                return blocked
            reason = self.validar_firma(session, solicitud, f.get("txtOTP", ""), f.get("txtPsw", ""))
            if reason:
                text = ERRORS["sin_clave"] if reason == "sin_clave" else _firma_error_text(FIRMA_STATES[reason])
                return JSONResponse({"ok": False, "error": text})
            return JSONResponse({"ok": True, "siguiente": MENSAJE})
        return JSONResponse({"ok": False, "error": ""}, status_code=400)

    def firma_page(self, session: Session, solicitud: Solicitud, error: str = "", reason: str = "") -> Page:
        state = self.state(session)
        now = self.world.clock.now()
        clave = state.clave
        left = state.resend_wait_left(now)
        if reason in FIRMA_STATES and reason != "sin_clave" and clave is not None:
            page_state = FIRMA_STATES[reason]  # variant B with DIAN's (invented) error text
        elif clave is not None and (now <= clave.vence or left > 0):
            page_state = "clave-enviada"
        else:
            page_state = "sin-clave"
        page = self.page(session, "M-09", page_state)
        page.set_value("#hdnDocumento", solicitud.formulario)
        page.set_text("#lblCorreo", _mask(self.client(session).key_mailbox))
        page.set_text("#lblSegundos", str(left))
        page.set_attr("#lblSegundos", "data-segundos", str(left))
        if error:
            page.set_text("#msgError", error)
            page.set_attr("#msgError", "hidden", None)
        return page

    async def solicitar_clave(self, request: Request, session: Session, solicitud: Solicitud) -> Response:
        if blocked := await self.gate(request, session.nit, "solicitar_clave"):
            return blocked
        error = self.emitir_clave(session, solicitud)
        return HTMLResponse(self.firma_page(session, solicitud, error).html())

    def emitir_clave(self, session: Session, solicitud: Solicitud) -> str:
        """Issue and deliver a clave dinámica; DIAN's "wait" text instead while the countdown runs."""
        state = self.state(session)
        client = self.client(session)
        now = self.world.clock.now()
        left = state.resend_wait_left(now)
        if left > 0:
            self.record(session.owner, "solicitar_clave", ok=False, reason="espera", segundos=left)
            return ERRORS["espera"].format(segundos=left)
        clave = issue_key(self.world, state)
        self.record(
            session.owner,
            "solicitar_clave",
            ok=True,
            documento=solicitud.documento_a_firmar,
            vence=clave.vence.isoformat(),
        )
        raw = build_dynamic_key_email(
            client.key_mailbox, client.nombre_usuario, clave.valor, clave.emitida, clave.vence, sent_at=now
        )
        self.world.send_mail(client.nit, client.key_mailbox, raw, kind="clave_dinamica")
        fault = self.world.faults.take(client.nit, "comunicado")
        visible: datetime | None = now
        if fault is not None and fault.mail_lost:
            visible = None
        elif fault is not None:
            visible = now + timedelta(seconds=fault.mail_delay_s)
        state.comunicados.append(
            Comunicado(
                len(state.comunicados) + 1, ASUNTO_CLAVE, now, visible, client.key_mailbox, client.nombre_usuario, clave
            )
        )
        return ""

    async def firmar(self, request: Request, session: Session, solicitud: Solicitud, otp: str, psw: str) -> Response:
        if blocked := await self.gate(request, session.nit, "firmar"):
            return blocked
        reason = self.validar_firma(session, solicitud, otp, psw)
        if reason:
            text = ERRORS["sin_clave"] if reason == "sin_clave" else _firma_error_text(FIRMA_STATES[reason])
            return HTMLResponse(self.firma_page(session, solicitud, text, reason).html())
        return RedirectResponse(MENSAJE, status_code=302)

    def validar_firma(self, session: Session, solicitud: Solicitud, otp: str, psw: str) -> str:
        """Check the key and the signature password and sign ("" when signed, else the reason), journaled."""
        state = self.state(session)
        client = self.client(session)
        now = self.world.clock.now()
        documento = solicitud.documento_a_firmar
        otp = otp.strip()
        clave = state.clave
        reason = ""
        if not otp:
            reason = "sin_clave"
        elif clave is None or otp != clave.valor:
            reason = "clave_anterior" if otp in state.claves_anteriores else "clave_invalida"
        elif clave.usada and state.key_single_use:
            reason = "clave_usada"
        elif now > clave.vence:
            reason = "clave_vencida"
        elif psw != client.firma_password:
            reason = "firma_incorrecta"
            state.firma_failures += 1
        if reason:
            self.record(
                session.owner, "firmar", ok=False, reason=reason, documento=documento, solicitud=solicitud.numero
            )
            return reason
        assert clave is not None
        clave.usada = True
        session.signing = None
        if documento == "solicitud_1302":
            solicitud.firmas = 1
            session.message = ("firma1", solicitud.numero)
            self.record(session.owner, "firmar", ok=True, documento=documento, solicitud=solicitud.numero)
        else:
            resolucion = formalizar(self.world, client, solicitud)
            session.message = ("firma2", solicitud.numero)
            self.record(
                session.owner, "firmar", ok=True, documento=documento, solicitud=solicitud.numero, resolucion=resolucion
            )
        return ""

    # -- M-10 -------------------------------------------------------------------------------------
    async def comunicados(self, request: Request, session: Session) -> Response:
        now = self.world.clock.now()
        p = "vistaComunicados:frmComunicados:"
        query = request.query_params.get(p + "txtBusqueda", "").strip().lower()
        visibles = sorted(
            (c for c in self.state(session).comunicados if c.visible_desde is not None and c.visible_desde <= now),
            key=lambda c: (c.enviado, c.id),
            reverse=True,
        )
        visibles = [c for c in visibles if query in c.asunto.lower()]
        wanted = request.query_params.get("comunicado")
        selected = next((c for c in visibles if str(c.id) == wanted), visibles[0] if visibles else None)
        page = self.page(session, "M-10", "detalle" if selected else "lista")

        def customize(row: _Element, i: int) -> None:
            link = row.find(".//a")
            if link is not None:
                link.set("id", f"{p}tblComunicados:{i}:lnkAsunto")
                link.set("href", f"{COMUNICADOS}?comunicado={visibles[i].id}")
                link.text = visibles[i].asunto

        page.fill_rows("tr.fila_comunicado", [[None, f"{c.enviado:%d/%m/%Y %H:%M}"] for c in visibles], customize)
        page.set_value(_sel(p + "txtBusqueda"), query)
        if selected is not None:
            page.set_text(_sel(p + "lblAsunto"), selected.asunto)
            page.set_text(_sel(p + "lblFecha"), f"{selected.enviado:%d/%m/%Y %H:%M}")
            page.set_text(_sel(p + "lblPara"), selected.para)
            page.set_text(_sel(p + "lblUsuario"), selected.nombre)
            page.set_text(_sel(p + "lblClave"), selected.clave.valor)
            page.set_text(_sel(p + "lblVigenteDesde"), _stamp12(selected.clave.emitida))
            page.set_text(_sel(p + "lblVigenteHasta"), _stamp12(selected.clave.vence))
        return HTMLResponse(page.html())

    # -- M-12 -------------------------------------------------------------------------------------
    async def resolucion(self, request: Request, session: Session) -> Response:
        f = await self.form(request)
        p = "vistaResolucion:frmResolucion:"
        numero = request.query_params.get("resolucion") or f.get(p + "hdnResolucion", "")
        solicitud = self.state(session).by_resolution(session.owner, numero)
        if solicitud is None or p + "btnAceptar" in f:
            return RedirectResponse(CONSULTAR, status_code=302)
        if p + "btnVerDocumento" in f:
            if blocked := await self.gate(request, session.nit, "ver_documento"):
                return blocked
            return self.document(session, solicitud, "1876")
        assert solicitud.formalizada_at is not None
        page = self.page(session, "M-12", "autorizada")
        page.set_value(_sel(p + "hdnResolucion"), numero)
        page.set_text(_sel(p + "lblNumeroResolucion"), numero)
        page.set_text(_sel(p + "lblFechaAutorizacion"), _date(solicitud.formalizada_at))
        page.set_text(_sel(p + "lblNumeroSolicitud"), solicitud.numero)
        page.set_text(_sel(p + "lblTipoSolicitud"), solicitud.tipo)
        page.set_text(_sel(p + "lblEstado"), solicitud.estado)
        hasta = _add_months(solicitud.formalizada_at, solicitud.vigencia_meses) - timedelta(days=1)
        page.fill_rows(
            "tr.fila_rango",
            [
                [
                    f.modalidad_texto,
                    f.prefijo,
                    str(f.desde),
                    str(f.hasta),
                    str(solicitud.vigencia_meses),
                    _date(solicitud.formalizada_at),
                    _date(hasta),
                ]
                for f in solicitud.filas
            ],
        )
        return HTMLResponse(page.html())

    # -- routes -----------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        both = ["GET", "POST"]
        g = self.guarded

        async def root(request: Request) -> Response:
            return RedirectResponse(ENTRY, status_code=302)

        return [
            Route("/", root),
            Route(ENTRY, self.entry, methods=both),
            Route(LOGIN_URLS["2026"], self.login_angular, methods=both),
            Route(LOGIN_URLS["legacy"], self.login_legacy, methods=both),
            Route("/WebArquitectura/DefLogout.faces", self.logout, methods=both),
            Route(DASHBOARD, g("dashboard", self.dashboard), methods=both),
            Route(MENU, g("menu", self.menu)),
            Route(AVISO, g("aviso", self.aviso), methods=both),
            Route(CONTRIBUYENTE, g("contribuyente", self.contribuyente), methods=both),
            Route(CONSULTAR, g("consultar", self.consultar), methods=both),
            Route(SOLICITUD, g("solicitud", self.solicitud), methods=both),
            Route(MENSAJE, g("mensaje", self.mensaje), methods=both),
            Route(FIRMA, g("firma", self.firma), methods=both),
            Route(FIRMA_MARCO, g("firma", self.firma_marco)),
            Route(AVISO_VENCIMIENTO, g("aviso", self.aviso_vencimiento), methods=both),
            Route(COMUNICADOS, g("comunicados", self.comunicados)),
            Route(RESOLUCION, g("resolucion", self.resolucion), methods=both),
        ]


def _firma_error_text(state: str) -> str:
    """The error text recorded in the M-09 error state (the recording is the source of the text)."""
    page = load_page(FAMILY, DEFAULT_VERSION, "M-09", state)
    return page.one("#msgError").text_content().strip()


def _server_error() -> Response:
    """What MUISCA's Java application server shows on an unhandled error."""
    body = (
        "<!DOCTYPE html><html><head><title>Error 500</title></head><body>"
        "<h1>Error 500: javax.servlet.ServletException</h1><p>Se ha presentado un error en la aplicación.</p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=500)


def routes(world: World) -> list[BaseRoute]:
    """MUISCA's routes for the app's muisca host."""
    return Muisca(world).routes()
