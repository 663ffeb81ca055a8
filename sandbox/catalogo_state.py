"""The catalogue's per-client state, shared by the habilitación and production hosts.

Lives in `SandboxClient.catalogo` (see `state_of`). The HTTP side is `sandbox.catalogo`; this module
holds the rules that do not depend on HTTP, so tests and the demo can put a client at a stage with
`set_stage(world, nit, stage)`.

Life cycle (DIAN's ContributorStatus / TestSetStatus names):

    Pendiente de registro --Registrar (reception e-mail)--> Registrado
    --Asociar (Software de un proveedor tecnológico)--> operation "En proceso" (TestSetId)
    --test_set_delay on the sandbox clock--> operation "Aceptado"; contributor "Habilitado"
    --production date (H-08/H-09)--> production date set
    --Sincronizar Contribuyente a producción--> synced: the production site lets the company in
    production: resolutions from MUISCA appear in "Prefijo" `world.resolution_sync_delay` after issue
    --Agregar + Aceptar--> prefix associated with the software
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sandbox.world import Resolution, SandboxClient, World

HABILITACION = "habilitacion"
PRODUCCION = "produccion"
STAGES = ("pendiente_registro", "registrado", "software_asociado", "aceptado", "fecha_produccion", "sincronizado")
STATUS_TEXT = {"pendiente": "Pendiente de registro", "registrado": "Registrado", "habilitado": "Habilitado"}
TOKEN_VALIDITY = timedelta(minutes=60)
WS_URL_HAB = "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc?wsdl"
OPERATION_MODES = {"1": "Facturador gratuito", "2": "Software propio", "3": "Software de un proveedor tecnológico"}
PROVIDER_MODE = "3"
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class ProviderSoftware:
    """A technology provider's software as the catalogue lists it (Id and PIN are the provider's)."""

    provider_id: str
    provider: str
    software_id: str
    software: str
    pin: str

    @property
    def label(self) -> str:
        """The P-02 "Proveedor - Software" option text."""
        return f"{self.provider} - {self.software}"


# The providers every sandbox client can choose (tests may append to this list).
PROVIDERS: list[ProviderSoftware] = [
    ProviderSoftware(
        "8816", "CADENA S. A.", "49fab599-4556-4828-a30b-852a910c5bb1", "890930534efacturacadena", "75315"
    ),
    ProviderSoftware("9120", "LOGGRO S.A.S", "0b7d61c2-3a54-4f0e-9d3e-5f2a8c7e1b44", "Loggro FE", "40217"),
]


def find_software(software_id: str) -> ProviderSoftware | None:
    return next((s for s in PROVIDERS if s.software_id == software_id), None)


@dataclass
class Operation:
    """An associated operation mode ("Listado de modos de operación asociados")."""

    id: int
    mode_id: str
    software: ProviderSoftware
    test_set_id: str
    registered_at: datetime
    accepted_at: datetime | None = None

    @property
    def accepted(self) -> bool:
        return self.accepted_at is not None

    @property
    def status(self) -> str:
        return "Aceptado" if self.accepted else "En proceso"  # EnumHelper TestSetStatus


@dataclass
class AuthToken:
    """The one live access token of a user on one host (a new request replaces it)."""

    guid: str
    pk: str  # "<IdentificationType>|<UserCode>"
    rk: str  # the company NIT (Persona: the natural person's contributor code)
    issued_at: datetime
    used: bool = False


@dataclass
class Association:
    """A numbering range (resolution) associated with a software on the production site."""

    resolution: Resolution
    software: ProviderSoftware
    associated_at: datetime

    @property
    def row_key(self) -> str:
        return range_key(self.resolution)


@dataclass
class CatalogoState:
    """What both catalogue hosts know about one client."""

    contributor_id: int
    status: str = "pendiente"  # pendiente | registrado | habilitado
    exchange_email: str | None = None
    operations: list[Operation] = field(default_factory=list)
    habilitation_date: datetime | None = None
    production_date: date | None = None
    synced_at: datetime | None = None
    associations: list[Association] = field(default_factory=list)
    tokens: dict[str, AuthToken] = field(default_factory=dict)  # portal -> newest token
    test_set_delay: timedelta | None = None  # None: the world's
    # Recorded variants where DIAN's sources disagree (login and production screens):
    #   "auth_token_fallo": "vista" (default: the login view re-rendered at /User/AuthToken, UserController)
    #                       | "login" (a 2025 live note: redirect to /User/Login with the alert)
    #   "tabla_prefijos":   "2026" (default: FEL's 7 columns with "Tipo") | "2022" (_associatedRanges.cshtml)
    variants: dict[str, str] = field(default_factory=dict)

    @property
    def habilitado(self) -> bool:
        return self.status == "habilitado"

    @property
    def in_test(self) -> bool:
        return any(not op.accepted for op in self.operations)

    @property
    def productive(self) -> bool:
        """Habilitado with its software in production: the production site lets the company in."""
        return self.habilitado and self.synced_at is not None

    def operation(self, software_id: str) -> Operation | None:
        return next((op for op in self.operations if op.software.software_id == software_id), None)


def state_of(client: SandboxClient) -> CatalogoState:
    """The client's catalogue state (created on first use)."""
    if client.catalogo is None:
        digits = "".join(ch for ch in client.nit if ch.isdigit()) or "0"
        client.catalogo = CatalogoState(contributor_id=100000 + int(digits) % 900000)
    return client.catalogo


def refresh(world: World, state: CatalogoState) -> None:
    """Apply what the clock has done: test sets accepted after the delay make the company Habilitado."""
    delay = state.test_set_delay if state.test_set_delay is not None else world.test_set_delay
    now = world.clock.now()
    for op in state.operations:
        if op.accepted_at is None and now >= op.registered_at + delay:
            op.accepted_at = op.registered_at + delay
            if state.status == "registrado":
                state.status = "habilitado"
                state.habilitation_date = op.accepted_at


# -- tokens --------------------------------------------------------------------------------------

def issue_token(world: World, state: CatalogoState, portal: str, pk: str, rk: str) -> AuthToken:
    """A new access token; it replaces (and so invalidates) the previous one on that host."""
    token = AuthToken(guid=str(uuid.uuid4()), pk=pk, rk=rk, issued_at=world.clock.now())
    state.tokens[portal] = token
    return token


def use_token(world: World, state: CatalogoState, portal: str, pk: str, guid: str) -> str | None:
    """Consume a token from a link. None when it opens a session, else why not
    ("desconocido", "reemplazado", "usado", "vencido")."""
    token = state.tokens.get(portal)
    if token is None or token.pk != pk:
        return "desconocido"
    if token.guid != guid:
        return "reemplazado"
    if token.used:
        return "usado"
    if world.clock.now() - token.issued_at > TOKEN_VALIDITY:
        return "vencido"
    token.used = True
    return None


def token_link(world: World, portal: str, token: AuthToken) -> str:
    return f"{world.base_url(portal)}/User/AuthToken?pk={token.pk}&rk={token.rk}&token={token.guid}"


def mask_email(address: str) -> str:
    """DIAN's HideUserEmailParts: the second half of the local part becomes '*'."""
    local, _, domain = address.partition("@")
    keep = (len(local) + 1) // 2
    return f"{local[:keep]}{'*' * (len(local) - keep)}@{domain}"


# -- habilitación --------------------------------------------------------------------------------

def register(state: CatalogoState, email: str) -> None:
    state.status = "registrado"
    state.exchange_email = email


def add_operation(world: World, state: CatalogoState, software: ProviderSoftware, mode_id: str = PROVIDER_MODE,
                  *, registered_at: datetime | None = None) -> Operation:
    op = Operation(
        id=5500 + len(state.operations) + 1,
        mode_id=mode_id,
        software=software,
        test_set_id=str(uuid.uuid4()),
        registered_at=registered_at or world.clock.now(),
    )
    state.operations.append(op)
    return op


def fmt_date(value: date | datetime | None) -> str:
    """dd-mm-yyyy, as the catalogue writes dates."""
    return value.strftime("%d-%m-%Y") if value else ""


def parse_date(text: str) -> date | None:
    try:
        return datetime.strptime(text.strip(), "%d-%m-%Y").date()
    except ValueError:
        return None


# -- production ----------------------------------------------------------------------------------

def range_key(resolution: Resolution) -> str:
    """The option value of a range in "Prefijo": DIAN's RowKey "prefijo|tipo|resolución" (as a 2026
    scraper reads it; the 2022 source only says it contains '|'). Document type 01 = invoice."""
    return f"{resolution.prefix}|01|{resolution.number}"


def range_label(resolution: Resolution) -> str:
    """The "Prefijo" option text: "<prefijo or 'Sin prefijo'> - <resolución> (<desde> - <hasta>)"."""
    return f"{resolution.prefix or 'Sin prefijo'} - {resolution.number} ({resolution.desde} - {resolution.hasta})"


def available_softwares(state: CatalogoState) -> list[ProviderSoftware]:
    """Software whose test set was accepted, once the company is in production ("Productivo")."""
    if not state.productive:
        return []
    seen: dict[str, ProviderSoftware] = {}
    for op in state.operations:
        if op.accepted:
            seen.setdefault(op.software.software_id, op.software)
    return sorted(seen.values(), key=lambda s: s.label)


def available_ranges(world: World, client: SandboxClient) -> list[Resolution]:
    """Synced, still valid, not yet associated ranges of the client."""
    state = state_of(client)
    taken = {a.row_key for a in state.associations}
    now = world.clock.now()
    return sorted(
        (r for r in world.visible_resolutions(client.nit) if range_key(r) not in taken and r.valid_until >= now),
        key=lambda r: (r.prefix, r.number),
    )


def associate(world: World, state: CatalogoState, software: ProviderSoftware, resolution: Resolution) -> Association:
    assoc = Association(resolution=resolution, software=software, associated_at=world.clock.now())
    state.associations.append(assoc)
    return assoc


# -- stages for tests and the demo ------------------------------------------------------------------

def set_stage(world: World, nit: str, stage: str, *, software: ProviderSoftware | None = None,
              email: str | None = None) -> CatalogoState:
    """Put a client at a stage of the catalogue processes (cumulative; nothing is journaled).

    Stages: pendiente_registro, registrado (reception e-mail registered), software_asociado (provider
    software associated now, test set "En proceso"), aceptado (test set accepted now, Habilitado),
    fecha_produccion (production date = today), sincronizado (synced to production).
    """
    if stage not in STAGES:
        raise ValueError(f"unknown catalogue stage {stage!r}; expected one of {STAGES}")
    client = world.clients[nit]
    client.catalogo = None
    state = state_of(client)
    level = STAGES.index(stage)
    if level == 0:
        return state
    register(state, email or client.email_rut)
    if level == 1:
        return state
    now = world.clock.now()
    chosen = software or PROVIDERS[0]
    if level == 2:
        add_operation(world, state, chosen)
        return state
    delay = state.test_set_delay if state.test_set_delay is not None else world.test_set_delay
    add_operation(world, state, chosen, registered_at=now - delay)
    refresh(world, state)
    if level >= 4:
        state.production_date = now.date()
    if level >= 5:
        state.synced_at = now
    return state
