"""Pure parsers of the two DIAN e-mails the robot reads: the login link (E-01) and the clave dinámica (E-02).

A mail is DIAN's when `from_dian` says so (the one rule) and its subject names the kind. Such a mail
either parses or raises `MailUnreadable` (DIAN changed its e-mail); any other mail gives None. No I/O;
nothing here logs, and no exception carries a link, token or key.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from bots.clock import BOGOTA
from bots.mail.errors import MailUnreadable
from bots.text import squash

__all__ = [
    "DEFAULT_TOKEN_HOSTS",
    "DIAN_MAIL_DOMAIN",
    "DIAN_TOKEN_SENDER",
    "DynamicKey",
    "TokenEmail",
    "TokenLink",
    "from_dian",
    "has_token_subject",
    "host_allowed",
    "parse_dynamic_key",
    "parse_dynamic_key_email",
    "parse_token_email",
    "read_token_email",
]

#: Hosts whose `/User/AuthToken` links are accepted when no host list is given (https, port 443 only).
DEFAULT_TOKEN_HOSTS: frozenset[str] = frozenset({"catalogo-vpfe.dian.gov.co", "catalogo-vpfe-hab.dian.gov.co"})
#: DIAN's senders rotate among several mailboxes of this domain (research dian-portals.md §2.5).
DIAN_MAIL_DOMAIN = "dian.gov.co"
#: The sender seen on the "Token Acceso DIAN" mails (one of DIAN's; `from_dian` accepts the whole domain).
DIAN_TOKEN_SENDER = "facturacionelectronica@dian.gov.co"

_TOKEN_SUBJECT = "token acceso dian"
_TOKEN_PATH = "/user/authtoken"
_LINK_TEXTS = ("acceder", "ingrese aqui")
_URL_RE = re.compile(r"https?://[^\s\"'<>)\]]+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[A-Za-z0-9-]{8,64}")
_DIGITS_RE = re.compile(r"\d{3,20}")
_USER_CODE_RE = re.compile(r"[A-Za-z0-9]{3,30}")

_KEY_SUBJECT = "clave dinamica"
_KEY_INTRO_RE = re.compile(r"para\s+realizar\s+el\s+tramite\s*:", re.IGNORECASE)
_KEY_RE = re.compile(r"[A-Za-z0-9+/_-]{3,64}={0,3}")
_STAMP = r"(\d{1,2}/\d{1,2}/\d{4})\s+(\d{1,2}:\d{2}(?::\d{2})?)\s*(?:([ap])\.?\s*m\.?)?"
_WINDOW_RE = re.compile(rf"vigente\s+desde\s*:?\s*{_STAMP}\s+hasta\s*:?\s*{_STAMP}", re.IGNORECASE)


@dataclass(frozen=True)
class TokenLink:
    """The one-time login link of a "Token Acceso DIAN" e-mail. `repr` hides the link and the token.

    `host` is the link's host, with its port unless it is the scheme's default.
    """

    url: str = field(repr=False)
    host: str
    nit: str
    id_type: str
    user_code: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class TokenEmail:
    """A "Token Acceso DIAN" e-mail: when DIAN dated it, and its well-formed login links."""

    sent: datetime | None
    links: tuple[TokenLink, ...] = field(repr=False)


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


# --- the rules ----------------------------------------------------------------------------------


def from_dian(msg: Message) -> bool:
    """The one "mail from DIAN" rule: every From address is at dian.gov.co or one of its subdomains.

    The raw header and the parsed one are both read (they disagree on odd headers such as
    ``x@dian.gov.co <y@other.test>``); every address either finds must be DIAN's.
    """
    raw = [str(value) for name, value in msg.raw_items() if name.lower() == "from"]
    parsed = [str(value) for value in msg.get_all("From", [])]
    senders = [addr.lower() for _, addr in getaddresses([*raw, *parsed])]
    return bool(senders) and all(_dian_address(a) for a in senders)


def host_allowed(link: TokenLink, hosts: Iterable[str] | None = None) -> bool:
    """True when the link may be opened: no user info, and its host is one of `hosts`.

    Entries are "host" or "host:port" (default `DEFAULT_TOKEN_HOSTS`). DIAN's hosts count over https on
    port 443 only; other hosts (the sandbox) over http or https.
    """
    allowed = {h.strip().lower() for h in (DEFAULT_TOKEN_HOSTS if hosts is None else hosts) if h and h.strip()}
    parts = urlsplit(link.url)
    try:
        port = parts.port
    except ValueError:
        return False
    hostname = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    if parts.username is not None or parts.password is not None or not hostname:
        return False
    if hostname.endswith("." + DIAN_MAIL_DOMAIN) or hostname == DIAN_MAIL_DOMAIN:
        return scheme == "https" and port in (None, 443) and hostname in allowed
    default_port = {"https": 443, "http": 80}.get(scheme)
    if default_port is None:
        return False
    return f"{hostname}:{port}" in allowed or (hostname in allowed and port in (None, default_port))


# --- E-01 -----------------------------------------------------------------------------------------


def has_token_subject(raw: bytes) -> bool:
    """True when the subject names the token e-mail, whoever sent it (to report a spoofed sender)."""
    msg = _message(raw)
    return msg is not None and _TOKEN_SUBJECT in _fold(str(msg.get("Subject", "")))


def read_token_email(raw: bytes) -> TokenEmail | None:
    """The token e-mail's date and links; None when it is not DIAN's "Token Acceso DIAN" e-mail.

    Raises MailUnreadable when it is, but holds no well-formed `/User/AuthToken` link.
    """
    msg = _message(raw)
    if msg is None or not from_dian(msg) or _TOKEN_SUBJECT not in _fold(str(msg.get("Subject", ""))):
        return None
    texts, htmls = _bodies(msg)
    candidates: list[str] = []
    for body in htmls:
        anchors = _Anchors.collect(body)
        candidates += [href for href, text in anchors if _fold(text) in _LINK_TEXTS]
        candidates += [href for href, _ in anchors]
        candidates += _URL_RE.findall(html.unescape(body))
    for body in texts:
        candidates += _URL_RE.findall(html.unescape(body))
    links: dict[str, TokenLink] = {}
    for url in candidates:
        link = _token_link(url.strip())
        if link is not None:
            links.setdefault(link.url, link)
    if not links:
        raise MailUnreadable("El correo «Token Acceso DIAN» no trae un enlace /User/AuthToken con la forma conocida")
    return TokenEmail(sent=_sent(msg), links=tuple(links.values()))


def parse_token_email(raw: bytes, *, allowed_hosts: Iterable[str] | None = None) -> TokenLink | None:
    """The first link of a DIAN token e-mail on DIAN's catalogue hosts or on `allowed_hosts`, or None.

    Raises MailUnreadable like `read_token_email`.
    """
    found = read_token_email(raw)
    if found is None:
        return None
    hosts = DEFAULT_TOKEN_HOSTS | {h for h in allowed_hosts or () if h}
    return next((link for link in found.links if host_allowed(link, hosts)), None)


# --- E-02 -----------------------------------------------------------------------------------------


def parse_dynamic_key(raw: bytes) -> DynamicKey | None:
    """The clave dinámica (verbatim, trailing '=' included) and its window; None when not DIAN's E-02.

    Raises MailUnreadable when the mail is DIAN's clave dinámica mail but the key is not where expected.
    """
    msg = _message(raw)
    if msg is None or not from_dian(msg) or _KEY_SUBJECT not in _fold(str(msg.get("Subject", ""))):
        return None
    texts, htmls = _bodies(msg)
    for body in [*texts, *(_html_text(h) for h in htmls)]:
        folded = _strip_accents(body)
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
    raise MailUnreadable("El correo de la clave dinámica no trae la clave después de «para realizar el trámite:»")


def parse_dynamic_key_email(raw: bytes) -> str | None:
    """Only the clave dinámica of an E-02 e-mail, or None (raises like `parse_dynamic_key`)."""
    found = parse_dynamic_key(raw)
    return found.key if found else None


# ---------------------------------------------------------------------------------------------------


def _dian_address(address: str) -> bool:
    domain = address.rpartition("@")[2]
    return domain == DIAN_MAIL_DOMAIN or domain.endswith("." + DIAN_MAIL_DOMAIN)


def _token_link(url: str) -> TokenLink | None:
    """A well-formed `/User/AuthToken` link on any http(s) host; whether it may be opened is `host_allowed`."""
    url = html.unescape(url)  # idempotent for hrefs already unescaped by the HTML parser
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    hostname = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not hostname:
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
    default = port is None or port == {"https": 443, "http": 80}[scheme]
    host = hostname if default else f"{hostname}:{port}"
    return TokenLink(url=url, host=host, nit=rk, id_type=id_type, user_code=user_code, token=token)


def _message(raw: bytes) -> EmailMessage | None:
    if not isinstance(raw, (bytes, bytearray)) or not raw:
        return None
    return email.message_from_bytes(bytes(raw), policy=email.policy.default)


def _sent(msg: Message) -> datetime | None:
    """The Date header, when it is a valid date with a zone."""
    value = msg.get("Date")
    if not value:
        return None
    try:
        sent = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return sent if sent.tzinfo is not None else None


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
        except (LookupError, ValueError):  # unknown or lying charset: decode leniently
            payload = part.get_payload(decode=True) or b""
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
        (texts if kind == "text/plain" else htmls).append(content)
    return texts, htmls


def _strip_accents(text: str) -> str:
    """Drop diacritics one character at a time (same length as the input)."""
    return "".join(unicodedata.normalize("NFKD", ch)[:1] or ch for ch in text)


def _fold(text: str) -> str:
    return squash(_strip_accents(text).casefold())


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
        parser.feed(body)
        parser.close()
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
            self.found.append((self._href, squash("".join(self._text))))
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
    parser.feed(body)
    parser.close()
    return "".join(parser.parts)
