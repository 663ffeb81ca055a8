"""Parsers for the two DIAN e-mails the robot reads: the login link (E-01) and the clave dinámica (E-02).

Pure functions over raw RFC 5322 bytes; no I/O. Nothing here logs or raises with a link, token or key.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "BOGOTA",
    "DEFAULT_TOKEN_HOSTS",
    "DIAN_TOKEN_SENDER",
    "DynamicKey",
    "TokenLink",
    "parse_dynamic_key",
    "parse_dynamic_key_email",
    "parse_token_email",
]

#: Hosts whose `/User/AuthToken` links are accepted without being passed explicitly (https only).
DEFAULT_TOKEN_HOSTS: frozenset[str] = frozenset({"catalogo-vpfe.dian.gov.co", "catalogo-vpfe-hab.dian.gov.co"})
DIAN_TOKEN_SENDER = "facturacionelectronica@dian.gov.co"
#: Colombia keeps UTC-5 all year (no daylight saving time); DIAN prints local times.
BOGOTA = timezone(timedelta(hours=-5), "America/Bogota")

_TOKEN_SUBJECT = "token acceso dian"
_TOKEN_PATH = "/user/authtoken"
_LINK_TEXTS = ("acceder", "ingrese aqui")
_URL_RE = re.compile(r"https?://[^\s\"'<>)\]]+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[A-Za-z0-9-]{8,64}")
_DIGITS_RE = re.compile(r"\d{3,20}")
_USER_CODE_RE = re.compile(r"[A-Za-z0-9]{3,30}")

_KEY_SUBJECT = "clave dinamica"
_KEY_BODY = "se ha generado una clave dinamica"
_KEY_INTRO_RE = re.compile(r"para\s+realizar\s+el\s+tramite\s*:", re.IGNORECASE)
_KEY_RE = re.compile(r"[A-Za-z0-9+/_-]{3,64}={0,3}")
_STAMP = r"(\d{1,2}/\d{1,2}/\d{4})\s+(\d{1,2}:\d{2}(?::\d{2})?)\s*(?:([ap])\.?\s*m\.?)?"
_WINDOW_RE = re.compile(rf"vigente\s+desde\s*:?\s*{_STAMP}\s+hasta\s*:?\s*{_STAMP}", re.IGNORECASE)


@dataclass(frozen=True)
class TokenLink:
    """The one-time login link of a "Token Acceso DIAN" e-mail. `repr` hides the link and the token."""

    url: str = field(repr=False)
    host: str
    nit: str
    id_type: str
    user_code: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class DynamicKey:
    """A MUISCA clave dinámica and the validity window printed next to it (Bogotá time)."""

    key: str = field(repr=False)
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """True when the mail states a real window (`hasta` after `desde`) and `now` is past it."""
        if self.valid_from is None or self.valid_to is None or self.valid_to <= self.valid_from:
            return False
        return now > self.valid_to


def parse_token_email(raw: bytes, *, allowed_hosts: Iterable[str] | None = None) -> TokenLink | None:
    """Return the login link of a DIAN token e-mail, or None.

    The mail must come from DIAN's sender or have the subject "Token Acceso DIAN" (any case), and the
    link must point to `/User/AuthToken` on a DIAN catalogue host over https, or on one of
    `allowed_hosts` ("host" or "host:port", http or https; for the sandbox).
    """
    msg = _message(raw)
    if msg is None:
        return None
    subject = _fold(str(msg.get("Subject", "")))
    if _TOKEN_SUBJECT not in subject and DIAN_TOKEN_SENDER not in _senders(msg):
        return None
    extra = {h.strip().lower() for h in allowed_hosts or () if h and h.strip()}
    texts, htmls = _bodies(msg)
    candidates: list[str] = []
    for body in htmls:
        anchors = _Anchors.collect(body)
        candidates += [href for href, text in anchors if _fold(text) in _LINK_TEXTS]
        candidates += [href for href, _ in anchors]
        candidates += _URL_RE.findall(html.unescape(body))
    for body in texts:
        candidates += _URL_RE.findall(html.unescape(body))
    for url in candidates:
        link = _token_link(url.strip(), extra)
        if link is not None:
            return link
    return None


def parse_dynamic_key(raw: bytes) -> DynamicKey | None:
    """Return the clave dinámica (kept verbatim, trailing '=' included) and its window, or None."""
    msg = _message(raw)
    if msg is None:
        return None
    subject = _fold(str(msg.get("Subject", "")))
    texts, htmls = _bodies(msg)
    for body in [*texts, *(_html_text(h) for h in htmls)]:
        folded = _strip_accents(body)
        if _KEY_SUBJECT not in subject and _KEY_BODY not in _fold(body):
            continue
        intro = _KEY_INTRO_RE.search(folded)
        if intro is None:
            continue
        # _strip_accents keeps offsets (one char per char), so positions map back onto `body`.
        words = body[intro.end() :].split()
        if not words or not _KEY_RE.fullmatch(words[0]):
            continue
        window = _WINDOW_RE.search(folded)
        valid_from = valid_to = None
        if window is not None:
            valid_from = _stamp(*window.group(1, 2, 3))
            valid_to = _stamp(*window.group(4, 5, 6))
        return DynamicKey(key=words[0], valid_from=valid_from, valid_to=valid_to)
    return None


def parse_dynamic_key_email(raw: bytes) -> str | None:
    """Return only the clave dinámica of an E-02 e-mail, or None."""
    found = parse_dynamic_key(raw)
    return found.key if found else None


# ---------------------------------------------------------------------------------------------------


def _token_link(url: str, extra_hosts: set[str]) -> TokenLink | None:
    url = html.unescape(url)  # idempotent for hrefs already unescaped by the HTML parser
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    hostname = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None or not hostname:
        return None
    scheme = parts.scheme.lower()
    netloc = f"{hostname}:{port}" if port is not None else hostname
    default_port = {"https": 443, "http": 80}.get(scheme)
    if hostname in DEFAULT_TOKEN_HOSTS and scheme == "https" and port in (None, 443):
        host = hostname
    elif scheme in ("http", "https") and (
        netloc in extra_hosts or (hostname in extra_hosts and port in (None, default_port))
    ):
        host = netloc
    else:
        return None
    if parts.path.rstrip("/").lower() != _TOKEN_PATH:
        return None
    query = parse_qs(parts.query, keep_blank_values=True)
    pk, rk, token = (query.get(k, [""])[0].strip() for k in ("pk", "rk", "token"))
    id_type, sep, user_code = pk.partition("|")
    if not (sep and _DIGITS_RE.fullmatch(id_type) and _USER_CODE_RE.fullmatch(user_code)):
        return None
    if not (_DIGITS_RE.fullmatch(rk) and _TOKEN_RE.fullmatch(token)):
        return None
    return TokenLink(url=url, host=host, nit=rk, id_type=id_type, user_code=user_code, token=token)


def _message(raw: bytes) -> EmailMessage | None:
    if not isinstance(raw, (bytes, bytearray)) or not raw:
        return None
    try:
        return email.message_from_bytes(bytes(raw), policy=email.policy.default)  # type: ignore[return-value]
    except Exception:
        return None


def _senders(msg: Message) -> set[str]:
    values = [str(v) for key in ("From", "Sender") for v in msg.get_all(key, [])]
    return {addr.lower() for _, addr in getaddresses(values) if addr}


def _bodies(msg: EmailMessage) -> tuple[list[str], list[str]]:
    """Decoded text/plain and text/html parts that are not attachments."""
    texts: list[str] = []
    htmls: list[str] = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        try:
            content = part.get_content()
        except Exception:
            payload = part.get_payload(decode=True) or b""
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
        (texts if kind == "text/plain" else htmls).append(content)
    return texts, htmls


def _strip_accents(text: str) -> str:
    """Drop diacritics one character at a time (same length as the input)."""
    return "".join(unicodedata.normalize("NFKD", ch)[:1] or ch for ch in text)


def _fold(text: str) -> str:
    return " ".join(_strip_accents(text).casefold().split())


def _stamp(day: str, clock: str, meridiem: str | None) -> datetime | None:
    fmt = "%d/%m/%Y %H:%M:%S" if clock.count(":") == 2 else "%d/%m/%Y %H:%M"
    try:
        value = datetime.strptime(f"{day} {clock}", fmt)
    except ValueError:
        return None
    if meridiem:
        if not 1 <= value.hour <= 12:
            return None
        hour = value.hour % 12 + (12 if meridiem.lower() == "p" else 0)
        value = value.replace(hour=hour)
    return value.replace(tzinfo=BOGOTA)


class _Anchors(HTMLParser):
    """Collects (href, text) of every <a href> in an HTML body (attribute values come unescaped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    @classmethod
    def collect(cls, body: str) -> list[tuple[str, str]]:
        parser = cls()
        try:
            parser.feed(body)
            parser.close()
        except Exception:
            pass
        return parser.found

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []
        elif tag == "img" and self._href is not None:
            self._text.append(dict(attrs).get("alt") or "")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.found.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


class _Text(HTMLParser):
    """HTML to plain text with a line break at each block element."""

    _BLOCKS = frozenset({"p", "div", "br", "tr", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6", "td"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html_text(body: str) -> str:
    parser = _Text()
    try:
        parser.feed(body)
        parser.close()
    except Exception:
        return ""
    return "".join(parser.parts)
