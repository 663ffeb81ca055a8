"""MUISCA's per-client state: login attempts, numbering requests, the clave dinámica and the inbox.

Lives in `SandboxClient.muisca` (see `state_of`). The HTTP side is `sandbox.muisca`; this module holds
the rules that do not depend on HTTP, so tests and the demo can also move a client to a stage with
`set_stage(world, nit, stage)`.

Request life cycle (DIAN's states after DEFINITIVO are unknown; FORMALIZADO is ours):

    (rows in the form) --Borrador--> BORRADOR --Definitivo--> DEFINITIVO, 0 signatures
    --Firmar documento(s)--> DEFINITIVO, 1 signature (listed in "Formaliza la Solicitud")
    --Firmar (2nd)--> FORMALIZADO + resolution 1876…; "Anular" → ANULADO at any point before that.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sandbox.formato1876 import MODALIDADES, FilaNumeracion
from sandbox.world import Resolution, SandboxClient, World

PORTAL = "muisca"
STAGES = ("sin_solicitud", "borrador", "definitivo", "firmada_una_vez", "formalizada")
KEY_ALPHABET = string.ascii_letters + string.digits


@dataclass
class Solicitud:
    """A numbering request (formato 1302) and, once formalised, its resolution (formato 1876)."""

    numero: str  # "Nro. de Solicitud", 8 digits
    formulario: str  # "Solicitud Numeración de Facturación", 1302 + 10 digits
    owner: str  # the NIT the request is made for (the person's document when logged in "a nombre propio")
    filas: list[FilaNumeracion]
    creada: datetime
    estado: str = "BORRADOR"
    tipo: str = "AUTORIZACIÓN"
    firmas: int = 0
    definitivo_at: datetime | None = None
    formalizada_at: datetime | None = None
    resolucion: str | None = None
    vigencia_meses: int = 24

    @property
    def pendiente_formalizar(self) -> bool:
        return self.estado == "DEFINITIVO"

    @property
    def documento_a_firmar(self) -> str:
        """Which document the next signature is for: the request (1302) or its formalisation."""
        return "solicitud_1302" if self.firmas == 0 else "formalizacion"


@dataclass
class ClaveDinamica:
    valor: str
    emitida: datetime
    vence: datetime
    usada: bool = False


@dataclass
class Comunicado:
    """A message in "Mis comunicados" (E-02 for a clave dinámica)."""

    id: int
    asunto: str
    enviado: datetime
    visible_desde: datetime | None  # None: lost
    para: str
    nombre: str
    clave: ClaveDinamica


@dataclass
class MuiscaState:
    """Everything MUISCA knows about one client; the settings are per client so tests can tune them."""

    failed_logins: int = 0
    locked: bool = False
    password_expired: bool = False
    solicitudes: list[Solicitud] = field(default_factory=list)
    clave: ClaveDinamica | None = None
    claves_anteriores: list[str] = field(default_factory=list)
    ultima_solicitud_clave: datetime | None = None
    comunicados: list[Comunicado] = field(default_factory=list)
    firma_failures: int = 0
    firmante_autorizado: bool = False  # the signer step ("Autorizar") was done once; DIAN keeps it
    # recorded variants of the same screens (what the 2026 sources show)
    tablero_0x0: bool = False  # M-02 tile images measure 0x0 (S7)
    firma_en_marco: bool = False  # M-09 inside an iframe /firmaelectronica/firma.html (TR 2026-09-20)
    ayuda_sobre_firma: bool = False  # the "Ayuda" panel covers the signing frame (TR 2026-09-20)
    capa_desconocida_sobre_firma: bool = False  # drift: an overlay nobody has seen covers the frame
    vencimiento_cercano: bool = False  # "autorizaciones cercanas a su vencimiento" notice (micrositio paso 6)
    # settings
    max_login_failures: int = 3
    key_validity: timedelta = timedelta(minutes=10)
    key_resend_wait: timedelta = timedelta(seconds=60)
    key_single_use: bool = False  # the seed shows one key signing both documents
    vigencia_meses: int = 24

    def of(self, owner: str) -> list[Solicitud]:
        return [s for s in self.solicitudes if s.owner == owner]

    def find(self, owner: str, numero: str) -> Solicitud | None:
        return next((s for s in self.of(owner) if s.numero == numero), None)

    def by_resolution(self, owner: str, resolucion: str) -> Solicitud | None:
        return next((s for s in self.of(owner) if s.resolucion == resolucion), None)

    def pendientes(self, owner: str) -> list[Solicitud]:
        """Requests shown in "Formaliza la Solicitud Numeración de Facturación", oldest first."""
        return [s for s in self.of(owner) if s.pendiente_formalizar]

    def resend_wait_left(self, now: datetime) -> int:
        """Seconds before "Solicítala aquí" may be used again (0 when it may)."""
        if self.ultima_solicitud_clave is None:
            return 0
        left = self.ultima_solicitud_clave + self.key_resend_wait - now
        return max(0, int(left.total_seconds() + 0.999))


def state_of(client: SandboxClient) -> MuiscaState:
    """The client's MUISCA state (created on first use)."""
    if client.muisca is None:
        client.muisca = MuiscaState()
    return client.muisca


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def new_solicitud(world: World, owner: str, filas: list[FilaNumeracion], state: MuiscaState) -> Solicitud:
    numero = str(11_000_000 + secrets.randbelow(8_999_999))
    solicitud = Solicitud(
        numero=numero,
        formulario="1302" + _digits(10),
        owner=owner,
        filas=list(filas),
        creada=world.clock.now(),
        vigencia_meses=state.vigencia_meses,
    )
    state.solicitudes.append(solicitud)
    return solicitud


def issue_key(world: World, state: MuiscaState) -> ClaveDinamica:
    """A new clave dinámica (e.g. "AODU1Mzg=": 8 characters and "="); the previous one stops working."""
    now = world.clock.now()
    if state.clave is not None:
        state.claves_anteriores.append(state.clave.valor)
    clave = ClaveDinamica("".join(secrets.choice(KEY_ALPHABET) for _ in range(8)) + "=", now, now + state.key_validity)
    state.clave = clave
    state.ultima_solicitud_clave = now
    return clave


def formalizar(world: World, client: SandboxClient, solicitud: Solicitud) -> str:
    """Second signature: issue the resolution (1876 + 10 digits) and publish it to world.resolutions."""
    now = world.clock.now()
    solicitud.estado = "FORMALIZADO"
    solicitud.firmas = 2
    solicitud.formalizada_at = now
    solicitud.resolucion = "1876" + _digits(10)
    for fila in solicitud.filas:
        world.resolutions.append(
            Resolution(
                nit=solicitud.owner,
                number=solicitud.resolucion,
                prefix=fila.prefijo,
                desde=fila.desde,
                hasta=fila.hasta,
                tipo=MODALIDADES.get(fila.modalidad, fila.modalidad),
                issued_at=now,
                vigencia_meses=solicitud.vigencia_meses,
            )
        )
    return solicitud.resolucion


def set_stage(
    world: World,
    nit: str,
    stage: str,
    *,
    prefijo: str = "FE",
    modalidad: str = "1",
    desde: int = 1,
    hasta: int = 1000,
) -> Solicitud | None:
    """Put a client's numbering request at a stage (replacing its requests); for tests and the demo.

    Stages: sin_solicitud, borrador, definitivo (Definitivo pressed, not signed), firmada_una_vez
    (signed once, waiting in "Formaliza la Solicitud"), formalizada (resolution issued now).
    Nothing is journaled: the journal only shows what happened over HTTP.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown MUISCA stage {stage!r}; expected one of {STAGES}")
    client = world.clients[nit]
    state = state_of(client)
    state.solicitudes = [s for s in state.solicitudes if s.owner != nit]
    if stage == "sin_solicitud":
        return None
    solicitud = new_solicitud(world, nit, [FilaNumeracion(modalidad, prefijo, desde, hasta)], state)
    if stage == "borrador":
        return solicitud
    solicitud.estado = "DEFINITIVO"
    solicitud.definitivo_at = world.clock.now()
    if stage == "definitivo":
        return solicitud
    solicitud.firmas = 1
    if stage == "formalizada":
        formalizar(world, client, solicitud)
    return solicitud
