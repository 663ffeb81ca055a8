"""What a flow waits for: the matchers (one filter per layer) and the caller's handle, `PendingMail`.

The layers a DIAN e-mail passes before a waiter takes it, each tested by removing it
(tests/test_mail_parsers.py, tests/test_mail_imap.py):

1. sender: `parsers.from_dian` (every From address at dian.gov.co);
2. subject: the kind's subject ("Token Acceso DIAN", "clave dinámica");
3. watermark: only mail with a UID at or above the waiter's watermark (UIDNEXT when it registered),
   applied per waiter by the watcher (`Waiter.takes`);
4. client: the link's `rk` is the NIT of the client served (`token_matcher`);
5. host: the link's host is allow-listed (`parsers.host_allowed`); and not dated before the request.

A matcher returns the value, None for "not mine", or raises `MailUnreadable` (the wait ends at once).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from bots.log import get_logger
from bots.mail.errors import MailError, MailTimeout
from bots.mail.options import MailboxAccess, WatchOptions
from bots.mail.parsers import (
    DynamicKey,
    TokenLink,
    has_token_subject,
    host_allowed,
    parse_dynamic_key,
    read_token_email,
)

__all__ = ["Matcher", "PendingMail", "Waiter", "dynamic_key_matcher", "token_matcher"]

T = TypeVar("T")
log = get_logger("bots.mail")

#: A token mail dated this long before the request is an old one (clock differences allowed for).
MAIL_CLOCK_SKEW = timedelta(minutes=10)


#: Reads one raw e-mail: the value wanted, None when the mail is not for this waiter.
Matcher = Callable[[bytes], T | None]


def _nit_digits(nit: str) -> str:
    base = nit.strip().split("-")[0]
    digits = "".join(ch for ch in base if ch.isdigit())
    if not digits:
        raise ValueError("NIT vacío")
    return digits


def token_matcher(
    nit: str, allowed_hosts: Iterable[str] | None = None, *, not_before: datetime | None = None
) -> Matcher[TokenLink]:
    """Match DIAN's token e-mail for `nit` (the link's `rk`), on one of `allowed_hosts`.

    `allowed_hosts` defaults to DIAN's two catalogue hosts (see `parsers.host_allowed`). With
    `not_before` (aware), a mail dated more than `MAIL_CLOCK_SKEW` earlier is an old one.
    """
    want = _nit_digits(nit)
    hosts = None if allowed_hosts is None else tuple(allowed_hosts)
    oldest = None if not_before is None else not_before - MAIL_CLOCK_SKEW

    def match(raw: bytes) -> TokenLink | None:
        found = read_token_email(raw)
        if found is None:
            if has_token_subject(raw):
                log.warning("correo de token ignorado: el remitente no es de la DIAN")
            return None
        if oldest is not None and found.sent is not None and found.sent < oldest:
            log.warning("correo de token ignorado: es anterior a la solicitud", fecha=found.sent.isoformat())
            return None
        mine = [link for link in found.links if link.nit == want]
        if not mine:
            log.info("correo de token ignorado: es de otro cliente")
            return None
        allowed = [link for link in mine if host_allowed(link, hosts)]
        if not allowed:
            log.warning("correo de token ignorado: enlace de un servidor no permitido", hosts=[x.host for x in mine])
            return None
        return allowed[0]

    return match


def dynamic_key_matcher() -> Matcher[DynamicKey]:
    """Match DIAN's clave dinámica e-mail."""
    return parse_dynamic_key


@dataclass
class Hit:
    """A matching mail: where it is and what the matcher read from it."""

    folder: str
    uid: int
    arrived: datetime | None
    value: Any

    def newer_than(self, other: Hit) -> bool:
        if self.folder == other.folder:
            return self.uid > other.uid
        return (self.arrived or datetime.min, self.uid) > (other.arrived or datetime.min, other.uid)


@dataclass(eq=False)
class Waiter:
    """One caller's wait, as the watcher sees it."""

    match: Matcher[Any]
    since: datetime = field(default_factory=datetime.now)  # naive local, like imapclient's INTERNALDATE
    tickets: dict[str, int] = field(default_factory=dict)
    #: Per folder, the first UID that counts (UIDNEXT when the waiter registered).
    watermarks: dict[str, int] = field(default_factory=dict)
    #: Per folder, after a UIDVALIDITY change: mail that arrived before this time is old.
    floors: dict[str, datetime] = field(default_factory=dict)
    best: Hit | None = None
    first_match: float | None = None  # time.monotonic() of the first match
    error: BaseException | None = None
    closed: bool = False
    event: threading.Event = field(default_factory=threading.Event)

    def takes(self, folder: str, uid: int, arrived: datetime | None) -> bool:
        """The watermark layer: True for mail that came to `folder` after this waiter registered."""
        mark = self.watermarks.get(folder)
        if mark is None or uid < mark:
            return False
        floor = self.floors.get(folder)
        return not (floor is not None and arrived is not None and arrived < floor)


class Source(Protocol):
    """The watcher side a `PendingMail` talks to (`watcher.MailboxWatcher`)."""

    access: MailboxAccess
    options: WatchOptions

    def sync(self, deadline: float) -> bool: ...

    def stats(self) -> dict[str, dict[str, Any]]: ...

    def unregister(self, waiter: Waiter) -> None: ...


class PendingMail(Generic[T]):
    """One caller's wait for one e-mail; created by `MailWatchers.expect()` or `watch()`."""

    def __init__(self, source: Source, waiter: Waiter) -> None:
        self._source = source
        self._waiter = waiter
        self._finalizer = weakref.finalize(self, source.unregister, waiter)

    @property
    def watermarks(self) -> dict[str, int]:
        """Per folder, the first UID that counts (messages below it were there before)."""
        return dict(self._waiter.watermarks)

    @property
    def matched_at(self) -> float | None:
        """`time.monotonic()` when the first matching message was seen (for latency measurements)."""
        return self._waiter.first_match

    def wait(self, timeout: float = 180.0) -> T:
        """Block until a matching e-mail arrives; return what the matcher read from the newest one.

        Raises MailTimeout at the deadline, MailUnreadable at once for a DIAN mail of the expected
        kind that does not parse, MailboxUnavailable if the mailbox cannot be watched, and MailError
        if `close()` is called meanwhile (from another thread). The waiter is released either way.
        """
        waiter, source = self._waiter, self._source
        user = source.access.username
        deadline = time.monotonic() + timeout
        try:
            if not waiter.event.is_set():
                # Look once now: mail that came while the caller acted needs no push (Dovecot
                # pushes ~0.5 s late, and no server pushes a message it already announced).
                source.sync(min(deadline, time.monotonic() + source.options.settle_timeout))
            if not waiter.event.wait(max(0.0, deadline - time.monotonic())):
                down = [f for f, s in source.stats().items() if not s["connected"]]
                log.warning("mail.timeout", mailbox=user, timeout=timeout, down=down)
                detail = " (sin conexión IMAP con: " + ", ".join(down) + ")" if down else ""
                raise MailTimeout(f"No llegó el correo esperado al buzón {user} en {timeout:g} s{detail}.")
            if waiter.best is None:
                if waiter.error is not None:
                    raise waiter.error
                raise MailError(f"Se canceló la espera del correo en el buzón {user}.")
            # A match is in. Let every folder catch up so that the newest matching mail wins.
            now = time.monotonic()
            source.sync(min(max(deadline, now + 0.5), now + source.options.settle_timeout))
            best = waiter.best
            log.info("mail.received", mailbox=user, folder=best.folder, uid=best.uid)
            return best.value
        finally:
            self.close()

    def close(self) -> None:
        """Stop waiting (idempotent)."""
        self._finalizer()

    def __enter__(self) -> PendingMail[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
