"""Structured logging (structlog) with secret redaction.

- JSON lines by default; a readable console renderer when stderr is a terminal (or by setting).
- Every event carries ``run_id``, ``client`` and ``step`` from context variables (``bind``/``bound``).
- Standard-library ``logging`` records go through the same chain and the same redaction.
- Redaction: every value given to ``register_secret`` (``bots.config`` registers each secret it
  resolves; the mail code registers each token link and clave dinámica it reads), plus patterns:
  AuthToken links and ``token=<guid>``, values of keys named like password/clave/token/pin/secret/
  authorization, and the shape of a clave dinámica. Exception text and tracebacks included.

The same functions scrub artifacts (``redact_bytes``), see ``bots.artifacts``.
"""

from __future__ import annotations

import html
import json
import logging
import re
import secrets as _random
import sys
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import IO, Any, Protocol
from urllib.parse import quote, quote_plus

import structlog
from pydantic import SecretBytes, SecretStr

from bots.clock import now_bogota

REDACTED = "***"
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary text; they are not registered

_lock = threading.Lock()
_secrets: set[str] = set()
_variants_cache: tuple[tuple[str, ...], tuple[bytes, ...]] | None = None

# --- patterns ---------------------------------------------------------------------------------

# DIAN's magic login link: /User/AuthToken?pk=...&rk=...&token=<guid> (keep the path, drop the query).
_AUTH_TOKEN_URL = re.compile(r"(?i)(/User/AuthToken\?)[^\s\"'<>)\]\\]+")
# token=<value> in URLs, forms and JSON, also percent-encoded (token%3D...).
_TOKEN_PARAM = re.compile(r"(?i)(\b(?:token|access_token|id_token|refresh_token|auth_token|key)=)[^&\s\"'<>\\]+")
_TOKEN_PARAM_ENCODED = re.compile(r"(?i)(\btoken%3D)[0-9a-z%-]{8,}")
# key: value / key=value / "key": "value" for sensitive key names (value may be quoted, or "Bearer x").
_SENSITIVE_WORDS = (
    r"password|passwd|pwd|contrase(?:ñ|n)a|clave(?:[_ ]din[aá]mica)?|secret|secreto|token|pin"
    r"|authorization|xoauth2?|api[_-]?key|cookie|set-cookie"
)
_KEY_VALUE = re.compile(
    r"(?i)([\"']?\b(?:" + _SENSITIVE_WORDS + r")\b[\"']?\s*[:=]\s*)"
    r"(?:(?:bearer|basic)\s+)?(\"[^\"]*\"|'[^']*'|[^\s,;&}\]\"']+)"
)
# A clave dinámica as DIAN mails it: "... para realizar el trámite:\n AODU1Mzg=" (base64-looking).
_DYNAMIC_KEY_AFTER_LABEL = re.compile(r"(?i)(para realizar el tr[aá]mite:\s*)(\S+)")
_DYNAMIC_KEY_SHAPE = re.compile(
    r"(?<![A-Za-z0-9+/=])(?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*[A-Za-z])[A-Za-z0-9+/]{6,24}={1,2}(?![A-Za-z0-9+/=])"
)
# Key names whose values are always hidden in structured events.
_SENSITIVE_KEY = re.compile(
    r"(?i)(pass(word|wd)?|pwd|contrase|clave|secret|token|authoriz|xoauth|cookie|api_?key|(^|[_.-])pin($|[_.-]))"
)
# Inside traces (HAR-like JSON): headers, query and form parameters by name
# ({"name":"Cookie","value":"..."}, {"name":"token","value":"..."}) and every parsed cookie value.
_HAR_PAIR = re.compile(
    rb'(?i)("name"\s*:\s*"(?:cookie|set-cookie|authorization|proxy-authorization|token|access_token|id_token'
    rb"|refresh_token|auth_token|password|passwd|clave|clave_dinamica|contrase\xc3\xb1a|contrasena|secret|pin)"
    rb'"\s*,\s*"value"\s*:\s*")(?:[^"\\]|\\.)*(")'
)
_HAR_COOKIES = re.compile(rb'("cookies"\s*:\s*\[)([^\]]*)(\])')
_JSON_VALUE = re.compile(rb'("value"\s*:\s*")(?:[^"\\]|\\.)*(")')
_AUTH_TOKEN_URL_B = re.compile(rb"(?i)(/User/AuthToken(?:\?|%3F))[^\s\"'<>)\]\\]+")
_TOKEN_PARAM_B = re.compile(rb"(?i)(\btoken(?:=|%3D|\\u003d))[^&\s\"'<>\\]+")


# --- registered secrets -----------------------------------------------------------------------


def register_secret(value: str | SecretStr | SecretBytes | bytes | None) -> None:
    """Remember a secret value so logs, errors and artifacts never show it.

    Call it for every secret revealed at run time (``bots.config.resolve_secret`` does it for you)
    and for every token link and clave dinámica read from a mailbox. Values shorter than
    ``MIN_SECRET_LENGTH`` characters are ignored.
    """
    global _variants_cache
    if value is None:
        return
    if isinstance(value, SecretStr | SecretBytes):
        value = value.get_secret_value()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    candidates = {text, text.strip()}
    with _lock:
        for item in candidates:
            if len(item) >= MIN_SECRET_LENGTH and item not in _secrets:
                _secrets.add(item)
                _variants_cache = None


def forget_secrets() -> None:
    """Clear the registered secrets (tests only)."""
    global _variants_cache
    with _lock:
        _secrets.clear()
        _variants_cache = None


def secret_variants(secret: str) -> set[str]:
    """The forms a secret takes in logs and artifacts: raw, JSON-escaped, URL-encoded, HTML-escaped."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        quote(secret),
        html.escape(secret),
        html.escape(secret, quote=False),  # HTML text node
        secret.replace("&", "&amp;").replace('"', "&quot;"),  # attribute value, classic serialisation
        secret.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"),
    }
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}  # e.g. an HTML-escaped value inside JSON
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def _variants() -> tuple[tuple[str, ...], tuple[bytes, ...]]:
    global _variants_cache
    with _lock:
        if _variants_cache is None:
            forms: set[str] = set()
            for s in _secrets:
                forms |= secret_variants(s)
            ordered = tuple(sorted(forms, key=len, reverse=True))  # longest first
            _variants_cache = (ordered, tuple(f.encode("utf-8") for f in ordered))
        return _variants_cache


def _replace_key_value(match: re.Match[str]) -> str:
    value = match.group(2)
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{quote_char}{REDACTED}{quote_char}"


def redact_text(text: str, *, key_values: bool = True) -> str:
    """Hide registered secrets and secret-looking patterns in a text.

    ``key_values=False`` skips the ``password: x`` / ``clave=x`` pattern, for operator prose
    (error messages) where "clave: ..." is ordinary Spanish; registered secrets, token links and
    the clave dinámica shape are always hidden.
    """
    if not text:
        return text
    for form in _variants()[0]:
        if form in text:
            text = text.replace(form, REDACTED)
    text = _AUTH_TOKEN_URL.sub(rf"\1{REDACTED}", text)
    text = _TOKEN_PARAM.sub(rf"\1{REDACTED}", text)
    text = _TOKEN_PARAM_ENCODED.sub(rf"\1{REDACTED}", text)
    if key_values:
        text = _KEY_VALUE.sub(_replace_key_value, text)
    text = _DYNAMIC_KEY_AFTER_LABEL.sub(rf"\1{REDACTED}", text)
    return _DYNAMIC_KEY_SHAPE.sub(REDACTED, text)


def redact_bytes(data: bytes) -> bytes:
    """Scrub an artifact (trace entry, saved HTML): registered secrets in every encoded form,
    AuthToken links, ``token=`` values, and in trace JSON the Cookie/Authorization headers, secret
    query/form parameters and all cookie values.

    Patterns that could corrupt scripts or styles (key: value, the clave dinámica shape) are
    applied to logs only; clave dinámica values must be registered, as the mail code does.
    """
    for form in _variants()[1]:
        if form in data:
            data = data.replace(form, REDACTED.encode())
    data = _AUTH_TOKEN_URL_B.sub(rb"\1" + REDACTED.encode(), data)
    data = _TOKEN_PARAM_B.sub(rb"\1" + REDACTED.encode(), data)
    data = _HAR_PAIR.sub(rb"\1" + REDACTED.encode() + rb"\2", data)
    return _HAR_COOKIES.sub(
        lambda m: m.group(1) + _JSON_VALUE.sub(rb"\1" + REDACTED.encode() + rb"\2", m.group(2)) + m.group(3), data
    )


def redact_value(value: Any, key: str | None = None) -> Any:
    """Redact a structured value (dicts and lists recursively; sensitive key names hide the value)."""
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    # Under a sensitive key, numbers (timeouts, counts) and empty values stay readable; the rest is hidden.
    sensitive = key is not None and bool(_SENSITIVE_KEY.search(key))
    if sensitive and value is not None and value != "" and not isinstance(value, int | float | bool):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return redact_text(str(value))


def redact_event(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    """structlog processor: redact every field of the event (run after ``format_exc_info``)."""
    return {k: redact_value(v, k if k not in ("event", "exception") else None) for k, v in event_dict.items()}


# --- context ----------------------------------------------------------------------------------


def new_run_id() -> str:
    """A run id that sorts by time: ``20260301-221500-3fa85f`` (Bogotá time)."""
    now = now_bogota()
    return f"{now:%Y%m%d-%H%M%S}-{_random.token_hex(3)}"


def bind(*, run_id: str | None = None, client: str | None = None, step: str | None = None, **extra: Any) -> None:
    """Bind run id, client and step (and extra keys) to every following event of this context."""
    values = {k: v for k, v in {"run_id": run_id, "client": client, "step": step, **extra}.items() if v is not None}
    structlog.contextvars.bind_contextvars(**values)


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind keys (e.g. ``step="login"``) for the duration of the block, then restore the old ones."""
    tokens = structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def current_context() -> dict[str, Any]:
    """The keys currently bound (``run_id``, ``client``, ``step``, ...)."""
    return dict(structlog.contextvars.get_contextvars())


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; events go through the redaction whether or not logging is configured."""
    return structlog.get_logger(name)


# --- configuration ----------------------------------------------------------------------------

_HANDLER_FLAG = "_robot_dian_handler"


class LogSettings(Protocol):
    """What ``configure_logging`` reads of ``bots.config.Settings`` (this module sits below config)."""

    @property
    def log_format(self) -> str: ...

    @property
    def log_level(self) -> str: ...


class _StderrHandler(logging.StreamHandler[IO[str]]):
    """Writes to whatever ``sys.stderr`` is at emit time (stdout is kept for JSON results)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def _redacting(renderer: Any) -> Any:
    """Wrap the final renderer so the rendered line itself is scrubbed once more."""

    def render(logger: Any, method: str, event_dict: dict[str, Any]) -> str:
        return redact_text(str(renderer(logger, method, event_dict)))

    return render


def configure_logging(
    settings: LogSettings | None = None,
    *,
    fmt: str | None = None,
    level: str | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Set up structlog and the standard ``logging`` root logger (output: ``stream``, else the
    current ``sys.stderr``).

    ``fmt`` is ``auto`` (console on a terminal, JSON otherwise), ``json`` or ``console``; by default
    it comes from ``settings.log_format``, as does ``level``. Safe to call again.
    """
    fmt = fmt or (settings.log_format if settings else "auto")
    level_name = (level or (settings.log_level if settings else "INFO")).upper()
    is_tty = bool(getattr(stream or sys.stderr, "isatty", lambda: False)())
    console = fmt == "console" or (fmt == "auto" and is_tty)

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_event,
    ]
    renderer: Any
    if console:
        renderer = structlog.dev.ConsoleRenderer(colors=is_tty)
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False, default=str)

    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _redacting(renderer)],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_FLAG, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level_name, logging.INFO))
    for noisy in ("asyncio", "urllib3", "keyring"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _configure_default() -> None:
    """Until ``configure_logging`` runs, structlog still redacts (JSON lines to stderr)."""
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_event,
            _redacting(structlog.processors.JSONRenderer(ensure_ascii=False, default=str)),
        ],
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )


_configure_default()
