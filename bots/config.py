"""Configuration: ``Settings`` (environment / ``.env``), the clients file, and secrets.

- ``Settings``: pydantic-settings, variables ``DIAN_*`` (see ``.env.example`` for every one).
- ``load_clients(path)``: the clients file (TOML, no secrets) → ``{nit: Client}``; errors are
  ``InvalidInput`` with Spanish messages.
- ``resolve_secret(name)``: env var ``DIAN_SECRET_<NAME>`` → secrets file (TOML, mode 0600) → OS
  keyring. Returns ``SecretStr`` and registers the value with the log redaction.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bots.clock import BOGOTA
from bots.errors import InvalidInput
from bots.log import get_logger, register_secret
from bots.mail import MailboxAccess
from bots.spanish_errors import spanish_errors
from bots.validation import (
    nit_check_digit,
    validate_document_number,
    validate_email,
    validate_nit,
    validate_uuid,
)

log = get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DIAN_HOSTS = frozenset({"catalogo-vpfe-hab.dian.gov.co", "catalogo-vpfe.dian.gov.co", "muisca.dian.gov.co"})
Portal = Literal["habilitacion", "produccion", "muisca"]


# --- identification types ---------------------------------------------------------------------


@dataclass(frozen=True)
class IdType:
    """An identification type and its codes on each portal.

    ``catalogo``: option value of ``IdentificationType`` on catalogo-vpfe(-hab) (DIAN catalogue
    1091xxxx). ``muisca``: DIAN's numeric document code (legacy MUISCA login, RUT, UBL: 13 = CC).
    ``muisca_sigla``: the code of the current MUISCA (Angular) login, where known (CC, CE, PS, NIT).
    """

    name: str
    label: str
    catalogo: str
    muisca: str
    muisca_sigla: str | None
    alphanumeric: bool = False


ID_TYPES: dict[str, IdType] = {
    t.name: t
    for t in (
        IdType("cedula_ciudadania", "Cédula de ciudadanía", "10910094", "13", "CC"),
        IdType("cedula_extranjeria", "Cédula de extranjería", "10910096", "22", "CE", alphanumeric=True),
        IdType("registro_civil", "Registro civil", "10910097", "11", None),
        IdType("tarjeta_identidad", "Tarjeta de identidad", "10910098", "12", None),
        IdType("tarjeta_extranjeria", "Tarjeta de extranjería", "10910099", "21", None, alphanumeric=True),
        IdType("nit", "NIT", "10910100", "31", "NIT"),
        IdType("pasaporte", "Pasaporte", "10910101", "41", "PS", alphanumeric=True),
        IdType("documento_extranjero", "Documento de identificación de extranjero", "10910102", "42", None, True),
        IdType("pep", "Permiso especial de permanencia (PEP)", "10910103", "47", None, alphanumeric=True),
        IdType("nit_otro_pais", "NIT de otro país", "10910104", "50", None, alphanumeric=True),
    )
}


# --- settings ---------------------------------------------------------------------------------


def _split_hosts(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(h.strip().lower() for h in value.split(",") if h.strip())
    return value


class Settings(BaseSettings):
    """Robot settings from ``DIAN_*`` environment variables and ``.env`` (see ``.env.example``)."""

    model_config = SettingsConfigDict(
        env_prefix="DIAN_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        validate_default=True,
    )

    # Portals (point them at the sandbox in tests and CI).
    habilitacion_url: str = "https://catalogo-vpfe-hab.dian.gov.co"
    produccion_url: str = "https://catalogo-vpfe.dian.gov.co"
    muisca_url: str = "https://muisca.dian.gov.co"
    extra_allowed_hosts: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_hosts)] = ()

    # Files and folders.
    clients_file: Path = Path("clients.toml")
    secrets_file: Path = Path("secrets.toml")
    keyring_service: str = "robot-dian"
    use_keyring: bool = True
    selectors_dir: Path = REPO_ROOT / "selectors"
    artifacts_dir: Path = Path("artifacts")
    output_dir: Path = Path("output")
    keep_trace: bool = False

    # Browser.
    headless: Literal["auto"] | bool = "auto"
    browser: Literal["auto", "bundled", "system", "cdp"] = "auto"
    cdp_url: str | None = None
    chrome_path: Path | None = None
    profiles_dir: Path = Path(".run/profiles")
    slow_mo_ms: int = Field(0, ge=0)

    # Timeouts, in seconds.
    page_timeout_s: float = Field(30, gt=0)
    navigation_timeout_s: float = Field(60, gt=0)
    browser_start_timeout_s: float = Field(60, gt=0)
    token_mail_timeout_s: float = Field(300, gt=0)
    dynamic_key_mail_timeout_s: float = Field(300, gt=0)
    idle_renew_s: float = Field(540, gt=0, le=1740)

    # Retries of idempotent reads and navigations (bots.retry).
    read_attempts: int = Field(3, ge=1, le=10)
    read_backoff_max_s: float = Field(20, gt=0)

    # Logging.
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Batch.
    batch_browser_recycle: int = Field(20, ge=1)

    # Nightly run (flows.lote without a flow name).
    state_url: str | None = None  # sqlite:///path, a path or postgresql://...; default <output_dir>/estado.sqlite3
    broker_url: str | None = None  # redis://host:6379/0: the distributed run's queue and shared limits
    lease_ttl_s: float = Field(60, ge=2)  # a client's lock in the store expires this long after its holder dies
    worker_max_tasks: int = Field(50, ge=1)  # a Celery worker process (and its browser) is renewed after this many
    nightly_workers: int | None = Field(None, ge=1, le=32)  # default: fitted to cores and memory
    nightly_shared_browser: bool = False  # workers attach to one Chromium over CDP (less memory; see bots.browser)
    nightly_max_attempts: int = Field(3, ge=1, le=10)  # application failures of a step in one night
    nightly_retry_delay_min: int = Field(30, ge=1)  # a wait without retry_at: look again after this
    rate_per_host_s: float = Field(1.0, ge=0)  # seconds between two requests to one DIAN host
    retry_backoff_s: float = Field(60, ge=0)  # first wait after an application failure (doubles)
    breaker_threshold: int = Field(3, ge=1)  # consecutive portal errors that pause a portal
    breaker_pause_min: float = Field(60, gt=0)
    sync_delay_min: float = Field(120, ge=0)  # MUISCA resolution → production site
    report_dir: Path | None = None  # default <output_dir>/informes
    nightly_now: datetime | None = None  # replay or tests: the "now" used for not-before times

    @field_validator("habilitacion_url", "produccion_url", "muisca_url", "cdp_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"URL inválida: {value!r} (se espera http(s)://servidor[:puerto])")
        return value.rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("headless", mode="before")
    @classmethod
    def _headless_word(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    def portal_url(self, portal: Portal) -> str:
        """Base URL of ``habilitacion``, ``produccion`` or ``muisca`` (no trailing slash)."""
        return {"habilitacion": self.habilitacion_url, "produccion": self.produccion_url, "muisca": self.muisca_url}[
            portal
        ]

    def allowed_hosts(self) -> frozenset[str]:
        """Hosts the robot may open from a mail link: DIAN's, the configured portals', the extras."""
        hosts = set(DIAN_HOSTS) | set(self.extra_allowed_hosts)
        for url in (self.habilitacion_url, self.produccion_url, self.muisca_url):
            parts = urlsplit(url)
            hosts.add(parts.netloc.lower())
            hosts.add((parts.hostname or "").lower())
        return frozenset(h for h in hosts if h)

    def is_allowed_url(self, url: str) -> bool:
        """True if ``url`` points to an allowed host (https, or http only for non-DIAN test hosts)."""
        parts = urlsplit(url)
        host, netloc = (parts.hostname or "").lower(), parts.netloc.lower().rsplit("@", 1)[-1]
        allowed = self.allowed_hosts()
        if host in DIAN_HOSTS:
            return parts.scheme == "https"
        return parts.scheme in ("http", "https") and (host in allowed or netloc in allowed)

    @property
    def is_headless(self) -> bool:
        """Resolved headless flag: ``auto`` means headless when no display is available."""
        if isinstance(self.headless, bool):
            return self.headless
        if os.name == "posix" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return True
        return bool(os.environ.get("CI"))


def load_settings(**overrides: Any) -> Settings:
    """``Settings(**overrides)`` with configuration errors as ``InvalidInput`` in Spanish."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = spanish_errors(exc, prefix="DIAN_")
        raise InvalidInput("Configuración inválida:\n  " + "\n  ".join(problems)) from None


# --- secrets -----------------------------------------------------------------------------------


def secret_env_var(name: str) -> str:
    """Environment variable of a secret: ``900123456.muisca_password`` → ``DIAN_SECRET_900123456_MUISCA_PASSWORD``."""
    return "DIAN_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _check_private(path: Path) -> None:
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"El archivo de secretos {path} tiene permisos {stat.filemode(mode)}: otros usuarios pueden "
            f"leerlo o modificarlo. Déjelo solo para su dueño con: chmod 600 {path}"
        )


def _from_secrets_file(name: str, path: Path) -> str | None:
    if not path.is_file():
        return None
    _check_private(path)
    try:
        data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"El archivo de secretos {path} no es TOML válido: {exc}") from None
    for part in name.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    if not isinstance(data, str):
        raise InvalidInput(f"El secreto «{name}» en {path} debe ser texto entre comillas.")
    return data


def _from_keyring(name: str, service: str) -> str | None:
    try:
        import keyring
        import keyring.errors

        return keyring.get_password(service, name)
    except Exception as exc:  # no backend, locked backend, D-Bus missing, ...: the keyring is optional
        log.debug("llavero no disponible", error=type(exc).__name__)
        return None


def resolve_secret(name: str, settings: Settings | None = None) -> SecretStr:
    """Find a secret by name: env var → secrets file (must be mode 0600) → OS keyring.

    ``name`` is dotted, e.g. ``900123456.muisca_password``: the env var is
    ``DIAN_SECRET_900123456_MUISCA_PASSWORD``, the secrets file entry is ``["900123456"]
    muisca_password = "..."`` and the keyring entry is (service ``robot-dian``, user ``name``).
    The value is registered with the log redaction. Missing everywhere → ``InvalidInput``.
    """
    settings = settings or load_settings()
    env_var = secret_env_var(name)
    value = os.environ.get(env_var) or None
    source = "entorno"
    if value is None:
        value, source = _from_secrets_file(name, settings.secrets_file), "archivo"
    if value is None and settings.use_keyring:
        value, source = _from_keyring(name, settings.keyring_service), "llavero"
    if not value:
        raise InvalidInput(
            f"Falta el secreto «{name}». Defínalo en la variable de entorno {env_var}, en el archivo de "
            f"secretos {settings.secrets_file} (permisos 600) o en el llavero del sistema "
            f"(servicio {settings.keyring_service})."
        )
    register_secret(value)
    log.debug("secreto resuelto", secret=name, source=source)
    return SecretStr(value)


# --- clients file ------------------------------------------------------------------------------


def _to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _nit(value: Any) -> str:
    return validate_nit(str(_to_str(value)))


def _email(value: Any) -> str:
    return validate_email(str(value))


def _uuid(value: Any) -> str:
    return validate_uuid(str(value))


Nit = Annotated[str, BeforeValidator(_nit)]
Email = Annotated[str, BeforeValidator(_email)]
Text = Annotated[str, BeforeValidator(_to_str), Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Document(_Model):
    """A person's identity document: type name (see ``ID_TYPES``) and number."""

    tipo_documento: str = "cedula_ciudadania"
    numero_documento: Text

    @field_validator("tipo_documento")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in ID_TYPES:
            raise ValueError(f"tipo de documento {value!r} desconocido; use uno de: {', '.join(ID_TYPES)}")
        return value

    @model_validator(mode="after")
    def _number_shape(self) -> Document:
        number = validate_document_number(self.numero_documento, alphanumeric=self.id_type.alphanumeric)
        object.__setattr__(self, "numero_documento", number)
        return self

    @property
    def id_type(self) -> IdType:
        """Codes of this document type on each portal."""
        return ID_TYPES[self.tipo_documento]


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class Mailbox(_Model):
    """An IMAP mailbox the robot reads (token e-mails, claves dinámicas). No password here:
    ``secreto`` names the secret (filled in by ``Client`` as ``<nit>.buzon_token_password`` etc.)."""

    host: Text
    puerto: int | None = Field(None, ge=1, le=65535)
    tls: Literal["ssl", "starttls", "ninguno"] = "ssl"
    usuario: Text
    autenticacion: Literal["password", "xoauth2"] = "password"
    carpetas: tuple[Text, ...] = Field(("INBOX",), min_length=1)
    ca_file: Path | None = None
    secreto: Text

    @model_validator(mode="after")
    def _plain_only_local(self) -> Mailbox:
        host = self.host.lower()
        if self.tls == "ninguno" and not (host in _LOOPBACK or host.endswith(".localhost")):
            raise ValueError(f'tls = "ninguno" solo se permite con un servidor local, no con {self.host}')
        if self.puerto is None:
            object.__setattr__(self, "puerto", 993 if self.tls == "ssl" else 143)
        return self

    def access(self, settings: Settings | None = None) -> MailboxAccess:
        """Connection data for ``bots.mail`` with the password or XOAUTH2 token resolved."""
        secret = resolve_secret(self.secreto, settings)
        return MailboxAccess(
            host=self.host,
            port=int(self.puerto or 993),
            username=self.usuario,
            password=secret if self.autenticacion == "password" else None,
            xoauth2_token=secret if self.autenticacion == "xoauth2" else None,
            ssl=self.tls == "ssl",
            starttls=self.tls == "starttls",
            ca_file=str(self.ca_file) if self.ca_file else None,
            folders=tuple(self.carpetas),
        )


class Software(_Model):
    """The provider's software the client operates with (habilitación "modo de operación")."""

    proveedor: Text
    nombre: Text
    id_esperado: Annotated[str, BeforeValidator(_uuid)] | None = None


class MuiscaUser(Document):
    """The MUISCA user acting for the company ("A nombre de un tercero")."""

    acepta_tratamiento_datos: bool = False


class ProductionApproval(_Model):
    """The client's written approval of the production start date (an irreversible RUT update)."""

    fecha_inicio: date
    aprobado_por: Text
    aprobado_en: datetime

    @field_validator("aprobado_en")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=BOGOTA)


class Client(_Model):
    """One client company as described in the clients file (never holds secrets)."""

    nit: Nit
    razon_social: Text
    tipo_ingreso: Literal["empresa", "persona"] = "empresa"
    activo: bool = True
    representante: Document
    correo_recepcion: Email | None = None
    buzon_token: Mailbox
    buzon_clave_dinamica: Mailbox | None = None
    software: Software | None = None
    muisca: MuiscaUser | None = None
    aprobacion_produccion: ProductionApproval | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_secret_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        try:
            nit = validate_nit(str(_to_str(data.get("nit", ""))))
        except ValueError:
            return data  # the field validator reports it
        data = dict(data)
        for key in ("buzon_token", "buzon_clave_dinamica"):
            box = data.get(key)
            if isinstance(box, dict) and "secreto" not in box:
                auth = box.get("autenticacion", "password")
                data[key] = {**box, "secreto": f"{nit}.{key}_{auth}"}
        return data

    @property
    def dv(self) -> int:
        """Check digit of the NIT."""
        return nit_check_digit(self.nit)

    @property
    def nit_con_dv(self) -> str:
        """NIT with its check digit, ``900123456-8``."""
        return f"{self.nit}-{self.dv}"

    @property
    def dynamic_key_mailbox(self) -> Mailbox:
        """Mailbox of the clave dinámica: ``buzon_clave_dinamica``, else the token mailbox."""
        return self.buzon_clave_dinamica or self.buzon_token

    def secret(self, key: str, settings: Settings | None = None) -> SecretStr:
        """This client's secret ``key`` (``muisca_password``, ``firma_password``, ...)."""
        return resolve_secret(f"{self.nit}.{key}", settings)


# Secret keys per client (``Client.secret(...)``).
MUISCA_PASSWORD = "muisca_password"
FIRMA_PASSWORD = "firma_password"

_SECRET_KEY = re.compile(r"(?i)(password|passwd|contrase|^clave$|^pin$|^token$|_token$|^secret$|xoauth)")
_ALLOWED_KEYS = {"buzon_token", "buzon_clave_dinamica", "secreto"}


def _secret_keys(data: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if key not in _ALLOWED_KEYS and _SECRET_KEY.search(str(key)):
                found.append(here)
            found += _secret_keys(value, here)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found += _secret_keys(item, f"{path}[{i}]")
    return found


def load_clients(path: Path | str) -> dict[str, Client]:
    """Read the clients file (TOML ``[[cliente]]`` tables) → ``{nit: Client}``.

    Every problem is reported at once, in Spanish, as ``InvalidInput``.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"No existe el archivo de clientes {path} (vea clients.example.toml).")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"El archivo de clientes {path} no es TOML válido: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"El archivo de clientes {path} debe estar en UTF-8.") from None

    problems: list[str] = []
    unknown = sorted(set(data) - {"cliente"})
    if unknown:
        problems.append(f"secciones desconocidas: {', '.join(unknown)} (use [[cliente]])")
    entries = data.get("cliente", [])
    if not isinstance(entries, list) or not entries:
        problems.append("no hay clientes: agregue al menos una tabla [[cliente]]")
        entries = []

    clients: dict[str, Client] = {}
    for index, entry in enumerate(entries, start=1):
        label = f"cliente #{index}" + (f" (NIT {entry.get('nit')})" if isinstance(entry, dict) else "")
        leaked = _secret_keys(entry)
        if leaked:
            problems.append(
                f"{label}: los secretos no van en el archivo de clientes (campos {', '.join(leaked)}); use "
                "variables DIAN_SECRET_*, el archivo de secretos o el llavero del sistema"
            )
            continue
        try:
            client = Client.model_validate(entry)
        except ValidationError as exc:
            problems += [f"{label}: {line}" for line in spanish_errors(exc)]
            continue
        if client.nit in clients:
            problems.append(f"{label}: el NIT {client.nit} está repetido")
            continue
        clients[client.nit] = client

    if problems:
        raise InvalidInput(f"Archivo de clientes {path} con errores:\n  " + "\n  ".join(problems))
    return clients


def get_client(nit: str, settings: Settings | None = None) -> Client:
    """The client with this NIT (with or without DV) from ``settings.clients_file``."""
    settings = settings or load_settings()
    base = validate_nit(nit)
    clients = load_clients(settings.clients_file)
    if base not in clients:
        raise InvalidInput(f"El NIT {base} no está en el archivo de clientes {settings.clients_file}.")
    return clients[base]
