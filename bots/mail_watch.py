"""IMAP watchers: wait for DIAN's e-mails with IMAP IDLE, one connection per watched folder.

Every client waiting on a mailbox shares that mailbox's watcher (many clients may share one
mailbox). Correlation by UID watermark: `expect()` records, per folder, the next UID *before* the
caller acts; `wait()` then returns the newest matching message at or above the watermark.

    watchers = MailWatchers()
    with watchers.expect_token(access, nit="900123456") as pending:
        page.click("Entrar")
    link = pending.wait(timeout=180)

Threads block on sockets and events with deadlines; there are no fixed sleeps. Logs and exception
messages name the mailbox, folder and UID only, never a password, token, link or key.
"""

from __future__ import annotations

import atexit
import imaplib
import ipaddress
import logging
import select
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception

from bots.errors import RobotError
from bots.log import get_logger, register_secret
from bots.mail_parse import DynamicKey, TokenLink, parse_dynamic_key, parse_token_email

__all__ = [
    "JUNK_FOLDER_NAMES",
    "MailError",
    "MailTimeout",
    "MailWatchers",
    "MailboxAccess",
    "MailboxUnavailable",
    "MailboxWatcher",
    "PendingMail",
    "WatchOptions",
    "default_watchers",
    "dynamic_key_matcher",
    "token_matcher",
]

T = TypeVar("T")
log = get_logger("bots.mail")

# imapclient traces the whole protocol (FETCH bodies included, so links and keys) at DEBUG level.
if logging.getLogger("imapclient.imaplib").level == logging.NOTSET:
    logging.getLogger("imapclient.imaplib").setLevel(logging.INFO)

#: Folder names (case-insensitive, full name or last path segment) watched besides `folders`.
JUNK_FOLDER_NAMES = frozenset(
    {
        "junk",
        "spam",
        "junk mail",
        "junk e-mail",
        "junk email",
        "bulk mail",
        "[gmail]/spam",
        "correo no deseado",
        "correo electrónico no deseado",
    }
)
MAX_MESSAGE_BYTES = 5_000_000


class MailError(RobotError):
    """Base of this module's errors; messages never carry secrets."""


class MailTimeout(MailError, TimeoutError):
    """The expected e-mail did not arrive before the deadline (asking DIAN again may help)."""

    retryable = True


class MailboxUnavailable(MailError):
    """The mailbox cannot be watched (login refused, server unreachable, folder missing)."""


class _Fatal(MailError):
    """Raised inside a watcher thread for errors that retrying will not fix."""


@dataclass(frozen=True)
class MailboxAccess:
    """How to reach one mailbox. `password` or `xoauth2_token` (plain strings become SecretStr)."""

    host: str
    port: int
    username: str
    password: SecretStr | None = None
    xoauth2_token: SecretStr | None = None
    ssl: bool = True
    starttls: bool = False
    ca_file: str | None = None
    folders: tuple[str, ...] = ("INBOX",)
    watch_junk: bool = True

    def __post_init__(self) -> None:
        for name in ("password", "xoauth2_token"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, SecretStr(value))
        object.__setattr__(self, "folders", tuple(self.folders))
        if (self.password is None) == (self.xoauth2_token is None):
            raise ValueError("MailboxAccess needs exactly one of password or xoauth2_token")
        if self.ssl and self.starttls:
            raise ValueError("MailboxAccess: ssl and starttls are exclusive")
        if not self.folders:
            raise ValueError("MailboxAccess: no folder to watch")
        register_secret(self.password)
        register_secret(self.xoauth2_token)

    @property
    def key(self) -> tuple[object, ...]:
        """Identity of the watched mailbox (what watchers are shared by)."""
        return (
            self.host.lower(),
            self.port,
            self.username.lower(),
            self.folders,
            self.ssl,
            self.starttls,
            self.watch_junk,
        )


@dataclass(frozen=True)
class WatchOptions:
    """Timings of the watchers (seconds)."""

    idle_renew: float = 540.0  # re-issue IDLE before 10 min (providers drop idle links near that)
    poll_interval: float = 5.0  # only where IDLE is missing or disabled
    use_idle: bool = True
    io_timeout: float = 30.0  # connect and per-command read timeout
    ready_timeout: float = 30.0  # how long expect() waits for the watcher to be connected
    settle_timeout: float = 5.0  # final sync in wait(), so the newest match wins
    # Servers do not push a message stored while we were out of IDLE after our last SEARCH (see
    # _FolderWatch._idle). While someone waits: look again this soon after leaving IDLE on our own
    # (a sync) or finding new mail, and every `busy_recheck` seconds in any case.
    recheck_after_mail: float = 1.0
    busy_recheck: float = 10.0
    min_backoff: float = 0.1
    max_backoff: float = 30.0


@dataclass
class _Hit:
    folder: str
    uid: int
    arrived: datetime | None
    value: Any


def _newer(a: _Hit, b: _Hit) -> bool:
    if a.folder == b.folder:
        return a.uid > b.uid
    return (a.arrived or datetime.min, a.uid) > (b.arrived or datetime.min, b.uid)


@dataclass(eq=False)
class _Waiter:
    match: Callable[[bytes], Any]
    since: datetime = field(default_factory=datetime.now)  # naive local, like imapclient's INTERNALDATE
    tickets: dict[str, int] = field(default_factory=dict)
    watermarks: dict[str, int] = field(default_factory=dict)
    floors: dict[str, datetime] = field(default_factory=dict)
    best: _Hit | None = None
    first_match: float | None = None  # time.monotonic() of the first match
    error: MailError | None = None
    closed: bool = False
    event: threading.Event = field(default_factory=threading.Event)


class PendingMail(Generic[T]):
    """One caller's wait for one e-mail; created by `MailWatchers.expect()`."""

    def __init__(self, watcher: MailboxWatcher, waiter: _Waiter) -> None:
        self._watcher = watcher
        self._waiter = waiter
        self._finalizer = weakref.finalize(self, watcher.unregister, waiter)

    @property
    def watermarks(self) -> dict[str, int]:
        """Per folder, the first UID that counts (messages below it were there before)."""
        return dict(self._waiter.watermarks)

    @property
    def matched_at(self) -> float | None:
        """`time.monotonic()` when the first matching message was seen (for latency measurements)."""
        return self._waiter.first_match

    def wait(self, timeout: float = 180.0) -> T:
        """Block until a matching e-mail arrives; return `match(raw)` of the newest one.

        Raises MailTimeout at the deadline, MailboxUnavailable if the mailbox cannot be watched, and
        MailError if `close()` is called meanwhile (from another thread). The waiter is released
        either way.
        """
        waiter, watcher = self._waiter, self._watcher
        deadline = time.monotonic() + timeout
        try:
            if not waiter.event.is_set():
                # Look once now: mail that came while the caller acted needs no push (Dovecot
                # pushes ~0.5 s late, and no server pushes a message it already announced).
                watcher.sync(min(deadline, time.monotonic() + watcher.options.settle_timeout))
            if not waiter.event.wait(max(0.0, deadline - time.monotonic())):
                down = [f for f, s in watcher.stats().items() if not s["connected"]]
                log.warning("mail.timeout", mailbox=watcher.access.username, timeout=timeout, down=down)
                detail = " (sin conexión IMAP con: " + ", ".join(down) + ")" if down else ""
                raise MailTimeout(
                    f"No llegó el correo esperado al buzón {watcher.access.username} en {timeout:g} s{detail}."
                )
            if waiter.best is None:
                if waiter.error is not None:
                    raise waiter.error
                raise MailError(f"Se canceló la espera del correo en el buzón {watcher.access.username}.")
            # A match is in. Let every folder catch up so that the newest matching mail wins.
            now = time.monotonic()
            watcher.sync(min(max(deadline, now + 0.5), now + watcher.options.settle_timeout))
            best = waiter.best
            log.info("mail.received", mailbox=watcher.access.username, folder=best.folder, uid=best.uid)
            return best.value  # type: ignore[no-any-return]
        finally:
            self.close()

    def close(self) -> None:
        """Stop waiting (idempotent)."""
        self._finalizer()

    def __enter__(self) -> PendingMail[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MailboxWatcher:
    """Watches one mailbox: one thread and one IMAP connection per folder (INBOX, then junk folders)."""

    def __init__(self, access: MailboxAccess, options: WatchOptions) -> None:
        self.access = access
        self.options = options
        self.stopped = threading.Event()
        self.ready = threading.Event()
        self.error: MailError | None = None
        self._lock = threading.RLock()  # re-entrant: PendingMail finalizers may run during GC anywhere
        self._folders: dict[str, _FolderWatch] = {}
        self._waiters: list[_Waiter] = []

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        for index, name in enumerate(self.access.folders):
            self._add_folder(name, primary=index == 0)

    def close(self, timeout: float = 5.0) -> None:
        self.stopped.set()
        with self._lock:
            folders = list(self._folders.values())
        for fw in folders:
            fw.wake()
        end = time.monotonic() + timeout
        for fw in folders:
            fw.join(max(0.0, end - time.monotonic()))

    @property
    def usable(self) -> bool:
        return self.error is None and not self.stopped.is_set()

    @property
    def folders(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._folders)

    @property
    def connections(self) -> int:
        """How many folder connections are up right now."""
        return sum(1 for s in self.stats().values() if s["connected"])

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            folders = list(self._folders.values())
        return {fw.folder: fw.stats() for fw in folders}

    def _add_folder(self, name: str, *, primary: bool = False) -> None:
        with self._lock:
            if name in self._folders or self.stopped.is_set():
                return
            fw = _FolderWatch(self, name, primary=primary)
            self._folders[name] = fw
        fw.start()

    # --- called from folder threads --------------------------------------------------------------

    def discovered(self, names: Iterable[str]) -> None:
        for name in names:
            self._add_folder(name)
        self.ready.set()

    def folder_failed(self, fw: _FolderWatch, exc: BaseException) -> None:
        """A folder thread gave up: fatal for the mailbox, except for a junk folder that went away."""
        user = self.access.username
        if isinstance(exc, LoginError):
            self.fail(MailboxUnavailable(f"El servidor de correo rechazó el inicio de sesión del buzón {user}."))
        elif fw.folder in self.access.folders:
            message = (
                str(exc) if isinstance(exc, _Fatal) else f"No se puede vigilar la carpeta {fw.folder} del buzón {user}."
            )
            self.fail(MailboxUnavailable(message))
        else:
            log.warning("mail.watch.folder_dropped", mailbox=user, folder=fw.folder, error=type(exc).__name__)

    def fail(self, error: MailError) -> None:
        log.error("mail.watch.failed", mailbox=self.access.username, error=type(error).__name__)
        self.error = error
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.error = error
            waiter.event.set()
        self.ready.set()
        self.stopped.set()
        with self._lock:
            folders = list(self._folders.values())
        for fw in folders:
            fw.wake()

    def assign_watermarks(self, folder: str, target: int, next_uid: int) -> None:
        with self._lock:
            for w in self._waiters:
                if not w.closed and folder not in w.watermarks and w.tickets.get(folder, 0) <= target:
                    w.watermarks[folder] = next_uid

    def reset_watermarks(self, folder: str) -> None:
        """After a UIDVALIDITY change: old UIDs mean nothing; fall back to arrival time."""
        with self._lock:
            for w in self._waiters:
                if folder in w.watermarks:
                    w.watermarks[folder] = 1
                    w.floors[folder] = w.since - timedelta(seconds=120)

    def consider(self, folder: str, client: IMAPClient, uids: list[int]) -> None:
        """Fetch the new messages some waiter may want and offer them to those waiters."""
        with self._lock:
            waiters = [w for w in self._waiters if folder in w.watermarks and not w.closed]
        if not waiters:
            return
        lowest = min(w.watermarks[folder] for w in waiters)
        wanted = [u for u in uids if u >= lowest]
        if not wanted:
            return
        meta = client.fetch(wanted, ["RFC822.SIZE", "INTERNALDATE"])
        floors = [w.floors.get(folder) for w in waiters]
        take = []
        for uid in wanted:
            info = meta.get(uid, {})
            arrived = info.get(b"INTERNALDATE")
            if int(info.get(b"RFC822.SIZE", 0)) > MAX_MESSAGE_BYTES:
                log.warning("mail.skipped_large", mailbox=self.access.username, folder=folder, uid=uid)
                continue
            if all(f is not None and arrived is not None and arrived < f for f in floors):
                continue
            take.append(uid)
        if not take:
            return
        bodies = client.fetch(take, ["BODY.PEEK[]"])
        for uid in take:
            raw = bodies.get(uid, {}).get(b"BODY[]")
            if not raw:
                continue
            arrived = meta.get(uid, {}).get(b"INTERNALDATE")
            for w in waiters:
                floor = w.floors.get(folder)
                if uid < w.watermarks[folder] or (floor and arrived and arrived < floor):
                    continue
                self._offer(w, folder, uid, arrived, raw)

    def _offer(self, w: _Waiter, folder: str, uid: int, arrived: datetime | None, raw: bytes) -> None:
        try:
            value = w.match(raw)
        except Exception as exc:  # a matcher bug must not kill the watcher
            log.warning(
                "mail.match_error", mailbox=self.access.username, folder=folder, uid=uid, error=type(exc).__name__
            )
            return
        if value is None:
            return
        _register_found(value)
        hit = _Hit(folder, uid, arrived, value)
        with self._lock:
            if w.best is None or _newer(hit, w.best):
                w.best = hit
            if w.first_match is None:
                w.first_match = time.monotonic()
        log.info("mail.matched", mailbox=self.access.username, folder=folder, uid=uid)
        w.event.set()

    # --- waiters ---------------------------------------------------------------------------------

    def register(self, match: Callable[[bytes], T | None], timeout: float) -> PendingMail[T]:
        """Add a waiter and return once every folder has noted its watermark."""
        deadline = time.monotonic() + timeout
        if not self.ready.wait(timeout):
            raise MailboxUnavailable(
                f"El buzón {self.access.username} no respondió (IMAP {self.access.host}) en {timeout:g} s."
            )
        if self.error is not None:
            raise self.error
        waiter = _Waiter(match)
        with self._lock:
            self._waiters.append(waiter)
            folders = list(self._folders.values())
            waiter.tickets = {fw.folder: fw.request_sync() for fw in folders}
        synced = all(fw.wait_synced(waiter.tickets[fw.folder], deadline) for fw in folders)
        if self.error is not None or not synced:
            self.unregister(waiter)
            raise self.error or MailboxUnavailable(
                f"El buzón {self.access.username} no respondió (IMAP {self.access.host}) en {timeout:g} s."
            )
        log.debug("mail.expect", mailbox=self.access.username, watermarks=waiter.watermarks)
        return PendingMail(self, waiter)

    def unregister(self, waiter: _Waiter) -> None:
        waiter.closed = True
        waiter.event.set()  # a wait() blocked in another thread returns
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def has_waiters(self, folder: str) -> bool:
        with self._lock:
            return any(folder in w.watermarks and not w.closed for w in self._waiters)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiters)

    def sync(self, deadline: float) -> bool:
        """Make every folder leave IDLE and look for new mail; True when all did before `deadline`."""
        with self._lock:
            folders = list(self._folders.values())
        tickets = [(fw, fw.request_sync()) for fw in folders]
        return all(fw.wait_synced(ticket, deadline) for fw, ticket in tickets)


class _FolderWatch:
    """The thread that keeps one folder selected and waits in IDLE (or polls)."""

    def __init__(self, owner: MailboxWatcher, folder: str, *, primary: bool) -> None:
        self.owner = owner
        self.folder = folder
        self.primary = primary
        self.next_uid: int | None = None
        self.uidvalidity: int | None = None
        self.mode = "connecting"
        self.connects = self.renewals = self.drops = 0
        self.alive = True
        self._cond = threading.Condition()
        self._requested = self._completed = 0
        self._established = False
        self._failures = 0
        self._in_idle = False
        self._recheck_soon = False  # the last cycle found mail or answered a sync: look again soon
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(
            target=self._run, name=f"mail-watch:{owner.access.username}:{folder}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def stats(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "connected": self.mode in ("idle", "poll"),
            "connects": self.connects,
            "renewals": self.renewals,
            "drops": self.drops,
        }

    # --- sync tickets ----------------------------------------------------------------------------

    def wake(self) -> None:
        with suppress(OSError):  # buffer full (already woken) or closed
            self._wake_w.send(b"!")

    def request_sync(self) -> int:
        with self._cond:
            self._requested += 1
            ticket = self._requested
        self.wake()
        return ticket

    def wait_synced(self, ticket: int, deadline: float) -> bool:
        with self._cond:
            while self._completed < ticket and self.alive:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _sync_pending(self) -> bool:
        with self._cond:
            return self._requested > self._completed

    def _drain(self) -> None:
        try:
            while self._wake_r.recv(512):
                pass
        except OSError:
            pass

    # --- thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        stop = self.owner.stopped
        retrying = Retrying(
            retry=retry_if_exception(self._retryable),
            wait=self._backoff,
            stop=lambda _state: stop.is_set(),
            sleep=stop.wait,  # backoff ends early on close()
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            retrying(self._session)
        except Exception as exc:
            if not stop.is_set():
                self.owner.folder_failed(self, exc)
        finally:
            self.mode = "stopped"
            with self._cond:
                self.alive = False
                self._cond.notify_all()
            self._wake_r.close()
            self._wake_w.close()

    def _retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, LoginError) and self.connects > 0:
            return True  # refused after working before: the server is restarting or briefly unwell
        return _transient(exc)

    def _backoff(self, state: RetryCallState) -> float:
        if self._established:  # the link was up: count a drop and reconnect quickly
            self._established = False
            self._failures = 0
            self.drops += 1
        self._failures += 1
        opts = self.owner.options
        return float(min(opts.max_backoff, opts.min_backoff * 2 ** (self._failures - 1)))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "mail.watch.reconnect",
            mailbox=self.owner.access.username,
            folder=self.folder,
            error=type(exc).__name__,
            wait=round(wait, 2),
        )

    def _session(self) -> None:
        owner, stop = self.owner, self.owner.stopped
        if stop.is_set():
            return
        self.mode = "connecting"
        client = _connect(owner.access, owner.options.io_timeout)
        try:
            self.connects += 1
            if self.primary:
                owner.discovered(_junk_folders(client, owner.access) if owner.access.watch_junk else ())
            self._select(client)
            use_idle = owner.options.use_idle and client.has_capability("IDLE")
            self.mode = "idle" if use_idle else "poll"
            self._established = True
            log.info("mail.watch.connected", mailbox=owner.access.username, folder=self.folder, mode=self.mode)
            woken_by_sync = True  # the first cycle answers expect()'s sync
            while not stop.is_set():
                target = self._cycle(client, woken_by_sync)
                if use_idle:
                    woken_by_sync = self._idle(client, target)
                else:
                    self._complete(target)
                    self._poll(client)
        finally:
            self.mode = "stopped" if stop.is_set() else "reconnecting"
            _close(client, polite=not self._in_idle)
            self._in_idle = False

    def _select(self, client: IMAPClient) -> None:
        try:
            info = client.select_folder(self.folder, readonly=True)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            raise _Fatal(f"No se puede abrir la carpeta {self.folder} del buzón {self.owner.access.username}.") from exc
        validity = info.get(b"UIDVALIDITY")
        uidnext = info.get(b"UIDNEXT")
        if self.uidvalidity is not None and validity != self.uidvalidity:
            log.warning("mail.watch.uidvalidity_changed", mailbox=self.owner.access.username, folder=self.folder)
            self.owner.reset_watermarks(self.folder)
            self.next_uid = 1
        elif self.next_uid is None:
            if uidnext is None:
                top = client.search(["UID", "*"])
                uidnext = max(top) + 1 if top else 1
            self.next_uid = int(uidnext)
        self.uidvalidity = validity

    def _cycle(self, client: IMAPClient, woken_by_sync: bool = False) -> int:
        """Look for messages at or above `next_uid`, hand them to waiters, note new watermarks.

        Returns the sync ticket this cycle answers (completed by the caller once it is back in IDLE).
        """
        assert self.next_uid is not None
        with self._cond:
            target = self._requested
        # imaplib keeps the untagged responses it reads (and nothing here needs them later).
        untagged: dict[str, Any] | None = getattr(client._imap, "untagged_responses", None)
        for attempt in range(5):
            if untagged is not None:
                untagged.clear()
            found = sorted(u for u in client.search(["UID", f"{self.next_uid}:*"]) if u >= self.next_uid)
            if found:
                log.debug("mail.watch.new", mailbox=self.owner.access.username, folder=self.folder, uids=found)
                self.owner.consider(self.folder, client, found)
                self.next_uid = found[-1] + 1
            # Servers announce a message that arrived during SEARCH with EXISTS but leave it out of
            # the result (Dovecot and pymap both do); it will not be notified again in IDLE. Without
            # imaplib's record we cannot tell, so we search once more.
            announced = attempt == 0 if untagged is None else bool({"EXISTS", "RECENT"} & set(untagged))
            if not announced:
                break
        if untagged is not None:
            untagged.clear()
        self._recheck_soon = woken_by_sync or bool(found) or attempt > 0
        self.owner.assign_watermarks(self.folder, target, self.next_uid)
        return target

    def _complete(self, target: int) -> None:
        with self._cond:
            self._completed = max(self._completed, target)
            self._cond.notify_all()

    def _idle(self, client: IMAPClient, target: int) -> bool:
        """Wait in IDLE until the server speaks, a sync is requested, or it is time to renew.

        Returns True when a sync request ended the wait.
        """
        stop = self.owner.stopped
        client.idle()
        self._in_idle = True
        # Syncs complete only now: mail sent after expect() returns finds the server already in IDLE.
        self._complete(target)
        # Neither Dovecot nor pymap pushes a message stored between our last SEARCH and the start of
        # IDLE (it was neither in the SEARCH result nor announced). Leaving IDLE on our own and
        # finding new mail are when that happens, so while someone waits, look again soon after
        # those, and every `busy_recheck` seconds in any case (a timer look does not chain).
        opts = self.owner.options
        interval = opts.idle_renew
        if self.owner.has_waiters(self.folder):
            interval = min(interval, opts.recheck_after_mail if self._recheck_soon else opts.busy_recheck)
        renew_at = time.monotonic() + interval
        sock = client.socket()
        by_sync = False
        while True:
            if stop.is_set():
                return False  # the session closes the socket without DONE
            if self._sync_pending():
                by_sync = True
                break
            if _pending_input(client):
                break
            remaining = renew_at - time.monotonic()
            if remaining <= 0:
                self.renewals += 1
                break
            readable, _, _ = select.select([sock, self._wake_r], [], [], remaining)
            if self._wake_r in readable:
                self._drain()
                continue
            if readable:
                break  # EXISTS, EXPUNGE, "OK still here", BYE or EOF: idle_done() reads it all
        # Blocking read with the I/O timeout: no partial lines, unlike idle_check() (imapclient#519).
        client.idle_done()
        self._in_idle = False
        return by_sync

    def _poll(self, client: IMAPClient) -> None:
        stop = self.owner.stopped
        due = time.monotonic() + self.owner.options.poll_interval
        while not stop.is_set() and not self._sync_pending():
            remaining = due - time.monotonic()
            if remaining <= 0:
                break
            readable, _, _ = select.select([self._wake_r], [], [], remaining)
            if readable:
                self._drain()
        if not stop.is_set():
            client.noop()


# --- helpers ---------------------------------------------------------------------------------------


def _transient(exc: BaseException) -> bool:
    """Errors worth a reconnect: dropped links, timeouts, BYE, temporary server refusals."""
    if isinstance(exc, LoginError | _Fatal | ssl.SSLCertVerificationError):
        return False
    if isinstance(exc, imaplib.IMAP4.abort | OSError | EOFError | TimeoutError):
        return True
    if isinstance(exc, imaplib.IMAP4.error):
        text = str(exc).upper()
        codes = ("UNAVAILABLE", "INUSE", "LIMIT", "SERVERBUG", "BYE", "UNEXPECTED IDLE RESPONSE")
        return any(code in text for code in codes)
    return False


def _register_found(value: object) -> None:
    """Links and keys read from a mailbox become registered secrets (redacted from every log)."""
    if isinstance(value, TokenLink):
        register_secret(value.url)
        register_secret(value.token)
    elif isinstance(value, DynamicKey):
        register_secret(value.key)
    elif isinstance(value, str):
        register_secret(value)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connect(access: MailboxAccess, timeout: float) -> IMAPClient:
    context = None
    if access.ssl or access.starttls:
        context = ssl.create_default_context(cafile=access.ca_file)
    elif not _is_loopback(access.host):
        raise _Fatal(f"El buzón {access.username} está configurado sin TLS; solo se permite en el equipo local.")
    try:
        client = IMAPClient(access.host, port=access.port, ssl=access.ssl, ssl_context=context, timeout=timeout)
    except ssl.SSLCertVerificationError as exc:
        raise _Fatal(f"El certificado TLS del servidor de correo {access.host} no es válido.") from exc
    try:
        _keepalive(client.socket())
        if access.starttls:
            try:
                client.starttls(context)
            except ssl.SSLCertVerificationError as exc:
                raise _Fatal(f"El certificado TLS del servidor de correo {access.host} no es válido.") from exc
        if access.xoauth2_token is not None:
            client.oauth2_login(access.username, access.xoauth2_token.get_secret_value())
        else:
            assert access.password is not None
            client.login(access.username, access.password.get_secret_value())
    except BaseException:
        _close(client, polite=False)
        raise
    return client


def _keepalive(sock: socket.socket) -> None:
    """TCP keepalive, so a silently dead link is noticed within minutes instead of at the IDLE renewal."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def _close(client: IMAPClient, *, polite: bool) -> None:
    try:
        if polite:
            client.socket().settimeout(2.0)
            client.logout()
            return
    except Exception:
        pass
    with suppress(Exception):
        client.shutdown()


def _pending_input(client: IMAPClient) -> bool:
    """True when imaplib or TLS already holds unread bytes (select() on the socket would miss them)."""
    sock = client.socket()
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    reader = getattr(client._imap, "file", None)  # imaplib's buffered reader (Python < 3.14)
    peek = getattr(reader, "peek", None)
    if peek is None:
        return False
    previous = sock.gettimeout()
    try:
        sock.setblocking(False)
        return bool(peek(1))
    except (OSError, ValueError):
        return False
    finally:
        sock.settimeout(previous)


def _junk_folders(client: IMAPClient, access: MailboxAccess) -> list[str]:
    found = []
    for flags, delimiter, name in client.list_folders():
        if name in access.folders:
            continue
        marks = {f.decode(errors="replace").lower() if isinstance(f, bytes) else str(f).lower() for f in flags}
        if "\\noselect" in marks or "\\nonexistent" in marks:
            continue
        sep = delimiter.decode() if isinstance(delimiter, bytes) else (delimiter or "/")
        leaf = name.rsplit(sep, 1)[-1] if sep else name
        if "\\junk" in marks or name.lower() in JUNK_FOLDER_NAMES or leaf.lower() in JUNK_FOLDER_NAMES:
            found.append(name)
    return found


def _nit_digits(nit: str) -> str:
    base = nit.strip().split("-")[0]
    digits = "".join(ch for ch in base if ch.isdigit())
    if not digits:
        raise ValueError("NIT vacío")
    return digits


def token_matcher(nit: str, allowed_hosts: Iterable[str] | None = None) -> Callable[[bytes], TokenLink | None]:
    """Match a DIAN token e-mail whose link is for `nit` (the `rk`) on an allowed host."""
    want = _nit_digits(nit)
    hosts = tuple(allowed_hosts or ())

    def match(raw: bytes) -> TokenLink | None:
        link = parse_token_email(raw, allowed_hosts=hosts)
        return link if link is not None and link.nit == want else None

    return match


def dynamic_key_matcher() -> Callable[[bytes], DynamicKey | None]:
    """Match a clave dinámica e-mail."""
    return parse_dynamic_key


class MailWatchers:
    """Registry of mailbox watchers (one per mailbox, shared by all its waiters); closes all at exit."""

    def __init__(
        self,
        *,
        idle_renew: float = 540.0,
        poll_interval: float = 5.0,
        use_idle: bool = True,
        io_timeout: float = 30.0,
        ready_timeout: float = 30.0,
        settle_timeout: float = 5.0,
        busy_recheck: float = 10.0,
        recheck_after_mail: float = 1.0,
        min_backoff: float = 0.1,
        max_backoff: float = 30.0,
    ) -> None:
        self.options = WatchOptions(
            idle_renew=idle_renew,
            poll_interval=poll_interval,
            use_idle=use_idle,
            io_timeout=io_timeout,
            ready_timeout=ready_timeout,
            settle_timeout=settle_timeout,
            busy_recheck=busy_recheck,
            recheck_after_mail=recheck_after_mail,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
        )
        self._lock = threading.Lock()
        self._watchers: dict[tuple[object, ...], MailboxWatcher] = {}
        self._closed = False
        ref = weakref.ref(self)
        self._atexit = lambda: (w := ref()) is not None and w.close()
        atexit.register(self._atexit)

    def watcher(self, access: MailboxAccess) -> MailboxWatcher:
        """The running watcher of `access`'s mailbox (started on first use, replaced after a failure)."""
        with self._lock:
            if self._closed:
                raise MailError("MailWatchers cerrado")
            current = self._watchers.get(access.key)
            if current is not None and current.usable:
                return current
            watcher = MailboxWatcher(access, self.options)
            self._watchers[access.key] = watcher
        if current is not None:
            current.close(timeout=1.0)
        watcher.start()
        return watcher

    def watch(self, access: MailboxAccess, match: Callable[[bytes], T | None]) -> PendingMail[T]:
        """Start waiting for a message `match` accepts; watermarks are noted before this returns."""
        return self.watcher(access).register(match, self.options.ready_timeout)

    @contextmanager
    def expect(self, access: MailboxAccess, match: Callable[[bytes], T | None]) -> Iterator[PendingMail[T]]:
        """Note the watermarks, run the block (the caller's action), then `pending.wait()`.

        The wait may happen inside or after the block; an exception in the block cancels it.
        """
        pending: PendingMail[T] = self.watch(access, match)
        try:
            yield pending
        except BaseException:
            pending.close()
            raise

    def expect_token(
        self, access: MailboxAccess, nit: str, allowed_hosts: Iterable[str] | None = None
    ) -> AbstractContextManager[PendingMail[TokenLink]]:
        """`expect()` for the "Token Acceso DIAN" e-mail of `nit` (other clients' tokens are ignored)."""
        return self.expect(access, token_matcher(nit, allowed_hosts))

    def expect_dynamic_key(self, access: MailboxAccess) -> AbstractContextManager[PendingMail[DynamicKey]]:
        """`expect()` for the clave dinámica e-mail."""
        return self.expect(access, dynamic_key_matcher())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            watchers = list(self._watchers.values())
            self._watchers.clear()
        for watcher in watchers:
            watcher.stopped.set()
        for watcher in watchers:
            watcher.close()
        atexit.unregister(self._atexit)

    def __enter__(self) -> MailWatchers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: MailWatchers | None = None
_default_lock = threading.Lock()


def default_watchers() -> MailWatchers:
    """The process-wide registry (created on first use, closed at exit)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = MailWatchers()
        return _default
