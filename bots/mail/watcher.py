"""The shared IMAP watcher: per mailbox, one thread and one IMAP IDLE connection per watched folder.

Every client waiting on a mailbox shares that mailbox's watcher (many clients may share one
mailbox). `expect()` notes each folder's UIDNEXT as the waiter's watermark *before* the caller acts;
`wait()` then returns the newest matching message at or above it.

    watchers = MailWatchers()
    with watchers.expect_token(access, nit="900123456") as pending:
        page.click("Entrar")
    link = pending.wait(timeout=180)

Only imapclient's public API is used. Each look at a folder ends with a SELECT (EXAMINE) whose UIDNEXT
says whether mail came since the last one: whatever is stored after that snapshot is announced to the
session in IDLE. Threads block on sockets and events with deadlines; there are no fixed sleeps. Logs
and exception messages name the mailbox, folder and UID only, never a password, token, link or key.
"""

from __future__ import annotations

import atexit
import dataclasses
import ipaddress
import logging
import select
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from tenacity import RetryCallState, Retrying, retry_if_exception

from bots.log import bound, get_logger, register_secret
from bots.mail.errors import MailboxUnavailable, MailError, MailUnreadable
from bots.mail.options import JUNK_FOLDER_NAMES, MAX_MESSAGE_BYTES, MailboxAccess, WatchOptions
from bots.mail.parsers import DynamicKey, TokenLink
from bots.mail.waiters import Hit, Matcher, PendingMail, Waiter, dynamic_key_matcher, token_matcher

__all__ = ["MailWatchers", "MailboxWatcher", "default_watchers"]

T = TypeVar("T")
log = get_logger("bots.mail")

# imapclient traces the whole protocol (FETCH bodies included, so links and keys) at DEBUG level.
if logging.getLogger("imapclient.imaplib").level == logging.NOTSET:
    logging.getLogger("imapclient.imaplib").setLevel(logging.INFO)


class _Fatal(MailError):
    """Raised inside a watcher thread for errors that retrying will not fix."""


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
        self._waiters: list[Waiter] = []

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
        """Waiters whose sync request `target` answers count mail of `folder` from UID `next_uid` on."""
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
        take = []
        for uid in wanted:
            info = meta.get(uid, {})
            arrived = info.get(b"INTERNALDATE")
            if int(info.get(b"RFC822.SIZE", 0)) > MAX_MESSAGE_BYTES:
                log.warning("mail.skipped_large", mailbox=self.access.username, folder=folder, uid=uid)
                continue
            if any(w.takes(folder, uid, arrived) for w in waiters):
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
                if w.takes(folder, uid, arrived):
                    self._offer(w, folder, uid, arrived, raw)

    def _offer(self, w: Waiter, folder: str, uid: int, arrived: datetime | None, raw: bytes) -> None:
        """Give one mail to one waiter. A mail it cannot read ends its wait now (not at the deadline)."""
        user = self.access.username
        try:
            with bound(mailbox=user, folder=folder, uid=uid):
                value = w.match(raw)
        except MailUnreadable as exc:
            log.error("mail.unreadable", mailbox=user, folder=folder, uid=uid, reason=exc.message)
            self._end(w, MailUnreadable(f"{exc.message} (buzón {user}, carpeta {folder}, correo UID {uid})."))
            return
        except Exception as exc:  # a matcher bug ends that wait, never the watcher
            log.error("mail.match_error", mailbox=user, folder=folder, uid=uid, error=type(exc).__name__)
            self._end(w, exc)
            return
        if value is None:
            return
        _register_found(value)
        hit = Hit(folder, uid, arrived, value)
        with self._lock:
            if w.best is None or hit.newer_than(w.best):
                w.best = hit
            if w.first_match is None:
                w.first_match = time.monotonic()
        log.info("mail.matched", mailbox=user, folder=folder, uid=uid)
        w.event.set()

    def _end(self, w: Waiter, error: BaseException) -> None:
        """End a wait with `error`, unless a readable match already came."""
        with self._lock:
            if w.best is None and w.error is None:
                w.error = error
        w.event.set()

    # --- waiters ---------------------------------------------------------------------------------

    def register(self, match: Matcher[T], timeout: float) -> PendingMail[T]:
        """Add a waiter and return once every folder has noted its watermark."""
        deadline = time.monotonic() + timeout
        if not self.ready.wait(timeout):
            raise MailboxUnavailable(
                f"El buzón {self.access.username} no respondió (IMAP {self.access.host}) en {timeout:g} s."
            )
        if self.error is not None:
            raise self.error
        waiter = Waiter(match)
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

    def unregister(self, waiter: Waiter) -> None:
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

        def pause(seconds: float) -> None:
            stop.wait(seconds)  # backoff ends early on close()

        retrying = Retrying(
            retry=retry_if_exception(self._retryable),
            wait=self._backoff,
            stop=lambda _state: stop.is_set(),
            sleep=pause,
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

    def _select(self, client: IMAPClient) -> int:
        """EXAMINE the folder and return its UIDNEXT (re-selecting also empties imaplib's response store)."""
        try:
            info = client.select_folder(self.folder, readonly=True)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            raise _Fatal(f"No se puede abrir la carpeta {self.folder} del buzón {self.owner.access.username}.") from exc
        validity = info.get(b"UIDVALIDITY")
        uidnext = info.get(b"UIDNEXT")
        if uidnext is None:  # required since RFC 3501; a server without it gets the highest UID + 1
            top = client.search(["UID", "*"])
            uidnext = max(top) + 1 if top else 1
        if self.uidvalidity is not None and validity != self.uidvalidity:
            log.warning("mail.watch.uidvalidity_changed", mailbox=self.owner.access.username, folder=self.folder)
            self.owner.reset_watermarks(self.folder)
            self.next_uid = 1
        elif self.next_uid is None:
            self.next_uid = int(uidnext)
        self.uidvalidity = validity
        return int(uidnext)

    def _cycle(self, client: IMAPClient, woken_by_sync: bool = False) -> int:
        """Note watermarks, hand the messages from `next_uid` on to the waiters, until UIDNEXT stands still.

        The watermark of a waiter whose sync request this cycle answers is the UIDNEXT of the cycle's
        first SELECT (mail below it was there before). The last command before IDLE is always a SELECT
        that found nothing new: a message stored after that snapshot is announced in IDLE (a SEARCH
        instead may announce a message it leaves out of its result, and the announcement is not
        repeated). Returns the sync ticket this cycle answers (completed once back in IDLE).
        """
        with self._cond:
            target = self._requested
        found_any = False
        for attempt in range(5):  # mail pouring in faster than this is read on the next wake
            uidnext = self._select(client)
            if attempt == 0:
                self.owner.assign_watermarks(self.folder, target, uidnext)
            start = self.next_uid
            assert start is not None
            if uidnext <= start:
                break
            found = sorted(u for u in client.search(["UID", f"{start}:{uidnext - 1}"]) if start <= u < uidnext)
            if found:
                found_any = True
                log.debug("mail.watch.new", mailbox=self.owner.access.username, folder=self.folder, uids=found)
                self.owner.consider(self.folder, client, found)
            self.next_uid = uidnext
        self._recheck_soon = woken_by_sync or found_any
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
        # A notification that reached us together with the "+ idling" line sits in imaplib's read
        # buffer, where select() cannot see it (and imapclient's public API offers no way to ask).
        # It is likeliest right after a look that found mail or answered a sync, so while someone
        # waits, look again soon after those, and every `busy_recheck` seconds in any case (a timer
        # look does not chain).
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
    if isinstance(exc, IMAPClientAbortError | OSError | EOFError | TimeoutError):
        return True
    if isinstance(exc, IMAPClientError):
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
    """True when TLS already holds decrypted bytes that select() on the socket would not report."""
    sock = client.socket()
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


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


class MailWatchers:
    """Registry of mailbox watchers (one per mailbox, shared by all its waiters); closes all at exit."""

    def __init__(self, options: WatchOptions | None = None, **overrides: Any) -> None:
        """`options` (default `WatchOptions()`), with any of its fields overridden by keyword."""
        self.options = dataclasses.replace(options or WatchOptions(), **overrides)
        self._lock = threading.Lock()
        self._watchers: dict[tuple[object, ...], MailboxWatcher] = {}
        self._closed = False
        ref = weakref.ref(self)

        def close_at_exit() -> None:
            registry = ref()
            if registry is not None:
                registry.close()

        self._atexit = close_at_exit
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

    def watch(self, access: MailboxAccess, match: Matcher[T]) -> PendingMail[T]:
        """Start waiting for a message `match` accepts; watermarks are noted before this returns."""
        return self.watcher(access).register(match, self.options.ready_timeout)

    @contextmanager
    def expect(self, access: MailboxAccess, match: Matcher[T]) -> Iterator[PendingMail[T]]:
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
