"""The simulated DIAN's whole state: clients, clock, journal, faults, resolutions and mail."""

from __future__ import annotations

import calendar
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sandbox.clock import Clock
from sandbox.faults import Faults
from sandbox.journal import Entry, Journal

PORTALS = ("habilitacion", "produccion", "muisca")


class MailSink(Protocol):
    def deliver(self, address: str, raw: bytes) -> None: ...


class MemoryMailSink:
    """Keeps mail in memory: for plain-HTTP tests that need no IMAP server."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def deliver(self, address: str, raw: bytes) -> None:
        with self._lock:
            self.messages.append((address, raw))

    def to(self, address: str) -> list[bytes]:
        with self._lock:
            return [raw for addr, raw in self.messages if addr == address]


@dataclass
class SandboxClient:
    """A client company as DIAN knows it (identity and credentials; portal state lives in slots)."""

    nit: str
    dv: int
    razon_social: str
    rep_id_number: str
    email_rut: str  # receives the "Token Acceso DIAN" mail
    rep_id_type: str = "10910094"  # catalogue code: Cédula de ciudadanía
    login_type: str = "empresa"  # or "persona"
    nombre_usuario: str = "USUARIO DEMO"
    email_clave: str | None = None  # receives the clave dinámica; defaults to email_rut
    muisca_user_doc_type: str = "CC"
    muisca_user_doc: str = ""
    muisca_password: str = ""
    firma_password: str = ""
    turnstile: str = "auto"  # "auto": passes by itself; "interactive": only a human passes it
    catalogo: Any = None  # state object owned by sandbox.catalogo
    muisca: Any = None  # state object owned by sandbox.muisca

    @property
    def key_mailbox(self) -> str:
        return self.email_clave or self.email_rut


@dataclass(frozen=True)
class Resolution:
    """A numbering authorisation (formato 1876) issued by MUISCA."""

    nit: str
    number: str
    prefix: str
    desde: int
    hasta: int
    tipo: str
    issued_at: datetime
    vigencia_meses: int = 24

    @property
    def valid_until(self) -> datetime:
        """Last day of validity: issue date plus `vigencia_meses`, minus one day (22/03/2026 → 21/03/2028)."""
        month = self.issued_at.month - 1 + self.vigencia_meses
        year = self.issued_at.year + month // 12
        day = min(self.issued_at.day, calendar.monthrange(year, month % 12 + 1)[1])
        return self.issued_at.replace(year=year, month=month % 12 + 1, day=day) - timedelta(days=1)


@dataclass
class HostNames:
    habilitacion: str = "catalogo-vpfe-hab.localhost"
    produccion: str = "catalogo-vpfe.localhost"
    muisca: str = "muisca.localhost"

    def portal_for(self, host: str) -> str | None:
        name = host.split(":", 1)[0].lower()
        for portal in PORTALS:
            if getattr(self, portal) == name:
                return portal
        return None


@dataclass
class World:
    """Everything the simulated DIAN knows. Portal modules read and change it; tests inspect it."""

    clock: Clock = field(default_factory=Clock)
    journal: Journal = field(default_factory=Journal)
    faults: Faults = field(default_factory=Faults)
    mail: MailSink = field(default_factory=MemoryMailSink)
    hosts: HostNames = field(default_factory=HostNames)
    clients: dict[str, SandboxClient] = field(default_factory=dict)
    resolutions: list[Resolution] = field(default_factory=list)
    resolution_sync_delay: timedelta = timedelta(hours=2)
    test_set_delay: timedelta = timedelta(minutes=30)
    port: int = 0  # set by SandboxServer
    #: Active drift transformations of the portals' HTML (sandbox.drift), e.g. {"ids"}.
    drift: set[str] = field(default_factory=set)

    def add_client(self, client: SandboxClient) -> SandboxClient:
        self.clients[client.nit] = client
        return client

    def client(self, nit: str) -> SandboxClient | None:
        return self.clients.get(nit)

    def record(self, nit: str, portal: str, action: str, **details: Any) -> Entry:
        """Journal a state-changing action at the sandbox's current time."""
        return self.journal.record(self.clock.now(), nit, portal, action, **details)

    def base_url(self, portal: str) -> str:
        host = getattr(self.hosts, portal)
        return f"http://{host}:{self.port}" if self.port else f"http://{host}"

    def send_mail(self, nit: str, address: str, raw: bytes, kind: str = "mail") -> None:
        """Deliver a DIAN e-mail, unless a fault delays or loses it (step "mail" or the kind)."""
        fault = self.faults.take(nit, kind) or self.faults.take(nit, "mail")
        if fault and fault.mail_lost:
            self.record(nit, "mail", "correo_perdido", kind=kind, to=address)
            return
        self.record(nit, "mail", "correo_enviado", kind=kind, to=address)
        if fault and fault.mail_delay_s > 0:
            timer = threading.Timer(fault.mail_delay_s, self.mail.deliver, args=(address, raw))
            timer.daemon = True
            timer.start()
        else:
            self.mail.deliver(address, raw)

    def visible_resolutions(self, nit: str) -> list[Resolution]:
        """Resolutions the production site already shows (MUISCA → catalogue sync takes a while)."""
        now = self.clock.now()
        return [r for r in self.resolutions if r.nit == nit and r.issued_at + self.resolution_sync_delay <= now]
