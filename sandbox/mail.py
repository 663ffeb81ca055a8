"""The simulated DIAN's mail side: e-mails built from the recordings, and IMAP servers on loopback.

- `build_token_email` / `build_dynamic_key_email` fill the recorded E-01 / E-02 `.eml` files
  (`recordings/mail/`); the recordings are the only source of the mails' shape.
- `PymapServer` (pure Python, in-process, several accounts, the demo default) and `DovecotServer`
  (the Debian binary, config rendered from `sandbox/dovecot/dovecot.conf.in`) serve the mailboxes.
  Both deliver by IMAP APPEND, into INBOX or another folder such as "Junk".
- `ImapMailSink` is what `World.mail` uses: `deliver(address, raw)`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import grp
import html
import os
import pwd
import re
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import threading
import time
import tomllib
from abc import ABC, abstractmethod
from argparse import Namespace
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Self

from imapclient import IMAPClient

__all__ = [
    "RECORDINGS",
    "DovecotServer",
    "ImapAccount",
    "ImapMailSink",
    "ImapServer",
    "PymapServer",
    "build_dynamic_key_email",
    "build_token_email",
    "find_dovecot",
    "free_port",
]

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "mail"
DOVECOT_TEMPLATE = Path(__file__).resolve().parent / "dovecot" / "dovecot.conf.in"
BOGOTA = timezone(timedelta(hours=-5), "America/Bogota")
JUNK = "Junk"
_APPENDUID = re.compile(rb"APPENDUID\s+\d+\s+(\d+)", re.IGNORECASE)


# --- e-mails from the recordings -------------------------------------------------------------------


def _recording(screen: str) -> tuple[EmailMessage, dict[str, str]]:
    manifest = tomllib.loads((RECORDINGS / "manifest.toml").read_text(encoding="utf-8"))
    for entry in manifest["mail"]:
        if entry["screen"] == screen:
            raw = (RECORDINGS / entry["file"]).read_bytes()
            msg = message_from_bytes(raw, policy=policy.default)
            return msg, dict(entry.get("slots", {}))  # type: ignore[return-value]
    raise LookupError(f"no recorded e-mail for screen {screen}")


def _fill(msg: EmailMessage, plain: list[tuple[str, str]], *, screen: str) -> None:
    """Replace recorded values in each text part, in order; HTML parts get HTML-escaped values."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        text = part.get_content()
        pairs = plain if kind == "text/plain" else [(html.escape(a), html.escape(b)) for a, b in plain]
        pos = 0
        for old, new in pairs:
            at = text.find(old, pos)
            if at < 0:
                raise ValueError(f"recording {screen}: slot value not found in {kind} part")
            text = text[:at] + new + text[at + len(old) :]
            pos = at + len(new)
        cte = part.get("Content-Transfer-Encoding", "quoted-printable")
        part.set_content(text, subtype=part.get_content_subtype(), charset="utf-8", cte=cte)
        del part["MIME-Version"]


def _headers(msg: EmailMessage, to_addr: str, sent_at: datetime) -> None:
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=BOGOTA)
    msg.replace_header("To", to_addr)
    msg.replace_header("Date", format_datetime(sent_at.astimezone(BOGOTA)))
    msg.replace_header("Message-ID", make_msgid(domain="dian.gov.co"))
    del msg["X-Recording"]


def _wire(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=policy.SMTP)


def _dian_stamp(value: datetime) -> str:
    """DIAN's 12-hour stamp: `03/11/2022 04:58:56 PM` (Bogotá time)."""
    if value.tzinfo is not None:
        value = value.astimezone(BOGOTA)
    hour = value.hour % 12 or 12
    return f"{value:%d/%m/%Y} {hour:02d}:{value:%M:%S} {'AM' if value.hour < 12 else 'PM'}"


def build_token_email(to_addr: str, link: str, *, sent_at: datetime | None = None) -> bytes:
    """The E-01 "Token Acceso DIAN" e-mail for `to_addr` carrying `link` (raw, CRLF)."""
    msg, slots = _recording("E-01")
    # Order matters: greeting, then link, as they appear in the recording.
    _fill(msg, [(slots["to"], to_addr), (slots["link"], link)], screen="E-01")
    _headers(msg, to_addr, sent_at or datetime.now(BOGOTA))
    return _wire(msg)


def build_dynamic_key_email(
    to_addr: str,
    nombre: str,
    key: str,
    valid_from: datetime,
    valid_to: datetime,
    *,
    sent_at: datetime | None = None,
) -> bytes:
    """The E-02 clave dinámica e-mail (raw, CRLF); naive datetimes are taken as Bogotá time."""
    msg, slots = _recording("E-02")
    pairs = [
        (slots["nombre"], nombre),
        (slots["key"], key),
        (slots["valid_from"], _dian_stamp(valid_from)),
        (slots["valid_to"], _dian_stamp(valid_to)),
    ]
    _fill(msg, pairs, screen="E-02")
    _headers(msg, to_addr, sent_at or valid_from)
    return _wire(msg)


# --- IMAP servers ---------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_dovecot() -> str | None:
    """Path of the dovecot binary, or None."""
    found = shutil.which("dovecot") or "/usr/sbin/dovecot"
    return found if os.access(found, os.X_OK) else None


@dataclass(frozen=True)
class ImapAccount:
    """Where and how to log in to one sandbox mailbox (plain IMAP on loopback)."""

    host: str
    port: int
    username: str
    password: str


class ImapServer(ABC):
    """An IMAP server on loopback with sandbox accounts; deliveries are IMAP APPENDs."""

    host: str
    port: int

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._accounts: dict[str, str] = {}
        self._lock = threading.Lock()

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def _create_account(self, address: str, password: str) -> None: ...

    @abstractmethod
    def drop_connections(self) -> int:
        """Close every client connection from the server side; return how many were closed."""

    @abstractmethod
    def restart(self) -> None:
        """Stop and start again on the same port, keeping accounts and mail (clients see EOF, then
        refused connections for a moment)."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    def add_account(self, address: str, password: str, *, folders: Iterable[str] = (JUNK,)) -> ImapAccount:
        """Create a mailbox for `address` (login name = address) with INBOX plus `folders`.

        Adding an existing account again with the same password returns it (several clients may
        share one mailbox); another password is an error.
        """
        key = address.strip().lower()
        if not key or any(c in key for c in ":/\r\n\t ") or ":" in password or "\n" in password:
            raise ValueError("invalid sandbox account")
        with self._lock:
            if key in self._accounts:
                if self._accounts[key] != password:
                    raise ValueError(f"account exists with another password: {key}")
                return self.account(key)
            self._create_account(key, password)
            self._accounts[key] = password
        extra = [f for f in folders if f.upper() != "INBOX"]
        if extra:
            with self.client(key) as imap:
                for folder in extra:
                    if not imap.folder_exists(folder):
                        imap.create_folder(folder)
        return self.account(key)

    def account(self, address: str) -> ImapAccount:
        key = address.strip().lower()
        return ImapAccount(self.host, self.port, key, self._accounts[key])

    def client(self, address: str) -> IMAPClient:
        """A logged-in IMAPClient for `address` (the caller closes it)."""
        acc = self.account(address)
        imap = IMAPClient(acc.host, port=acc.port, ssl=False, timeout=10)
        try:
            imap.login(acc.username, acc.password)
        except BaseException:
            imap.shutdown()
            raise
        return imap

    def deliver(self, address: str, raw: bytes, *, folder: str = "INBOX") -> int | None:
        """APPEND `raw` into `folder` of `address` (created when missing); return the new UID if told."""
        data = re.sub(rb"\r?\n", b"\r\n", raw)
        with self.client(address) as imap:
            if folder.upper() != "INBOX" and not imap.folder_exists(folder):
                imap.create_folder(folder)
            response = imap.append(folder, data)
        found = _APPENDUID.search(response if isinstance(response, bytes) else str(response).encode())
        return int(found.group(1)) if found else None


class PymapServer(ImapServer):
    """pymap's in-memory (dict) backend served in-process from a background thread.

    Any number of accounts (pymap's dict backend stores users in its `Login`; we add them through
    pymap's own `Identity.set`). Passwords use pysasl's Cleartext hash, so LOGIN is fast (the CLI
    default, PBKDF2 with 500k rounds, costs 0.3-1 s per login). `idle=False` hides the IDLE
    capability (a server without IDLE, for the polling fallback).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, idle: bool = True) -> None:
        super().__init__(host, port)
        self.idle = idle
        self.start_seconds: float | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signal: asyncio.Future[str] | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._login: Any = None
        self._config: Any = None

    def start(self) -> None:
        if self._thread is not None:
            return
        began = time.perf_counter()
        self._ready.clear()
        self._thread = threading.Thread(target=self._thread_main, name="sandbox-pymap", daemon=True)
        self._thread.start()
        if not self._ready.wait(15) or self._error is not None:
            self.stop()
            raise RuntimeError("pymap did not start") from self._error
        self.start_seconds = time.perf_counter() - began

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._send, "stop")
        thread.join(10)
        self._thread = self._loop = self._signal = None
        self._accounts.clear()

    def restart(self) -> None:
        if self._loop is None:
            raise RuntimeError("pymap is not running")
        self._ready.clear()
        self._loop.call_soon_threadsafe(self._send, "restart")
        if not self._ready.wait(10):
            raise RuntimeError("pymap did not restart")

    def _send(self, action: str) -> None:
        if self._signal is not None and not self._signal.done():
            self._signal.set_result(action)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        from proxyprotocol.reader import ProxyProtocolReader
        from pymap.backend.dict import Config, Login
        from pymap.config import BackendCapability
        from pymap.imap import IMAPServer
        from pysasl.hashing import Cleartext

        idle = self.idle

        class SandboxConfig(Config):
            @property
            def backend_capability(self) -> BackendCapability:
                return BackendCapability(idle=idle, object_id=True, multi_append=True)

            @property
            def greeting(self) -> bytes:
                return b"Server ready sandbox-pymap"

        args = Namespace(passlib_cfg=None, proxy_protocol=None, inherited_sockets=None, debug=False)
        config = SandboxConfig(
            args,
            host=self.host,
            port=self.port,
            demo_data=False,
            demo_user="",
            demo_password="",
            tls_enabled=False,
            hash_context=Cleartext(),
            invalid_user_sleep=0.0,
            reject_dnsbl=False,
        )
        config.apply_context()
        self._config, self._login = config, Login(config)
        imap = IMAPServer(self._login, config)

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: Any) -> None:
            self._writers.add(writer)
            try:
                await imap(reader, writer, info)
            finally:
                self._writers.discard(writer)

        callback = ProxyProtocolReader(config.proxy_protocol).get_callback(tracked)
        self._loop = asyncio.get_running_loop()
        action = "start"
        while action != "stop":
            server = await asyncio.start_server(callback, host=self.host, port=self.port)
            self.port = int(server.sockets[0].getsockname()[1])
            self._signal = self._loop.create_future()
            self._ready.set()
            async with server:
                action = await self._signal
                server.close()
                self._abort_all()

    def _abort_all(self) -> int:
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        return len(writers)

    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        if self._loop is None:
            raise RuntimeError("pymap is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _create_account(self, address: str, password: str) -> None:
        from pymap.backend.dict import Identity
        from pymap.user import UserMetadata

        async def create() -> None:
            identity = Identity(address, self._login, None, frozenset())
            await identity.set(UserMetadata(self._config, address, password=password))

        self._call(create())

    def drop_connections(self) -> int:
        async def drop() -> int:
            return self._abort_all()

        return int(self._call(drop()))


class DovecotServer(ImapServer):
    """Dovecot 2.3 run in the foreground from a config rendered from `sandbox/dovecot/dovecot.conf.in`.

    Everything (config, passwd-file, Maildirs, sockets, log) lives in a temporary directory; no
    system configuration is read or written. As root, mail is stored as uid/gid 65534 (nobody) and
    Dovecot's own users run the internal and login processes; as another user, everything runs as
    that user.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        binary: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        super().__init__(host, port)
        self.binary = binary or find_dovecot()
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.imaps_port = 0
        self.root: Path | None = None
        self.conf: Path | None = None
        self.start_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._proc is not None:
            return
        if self.binary is None:
            raise FileNotFoundError("dovecot binary not found (apt-get install dovecot-imapd)")
        began = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - began

    def _start(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="robot-dian-dovecot-"))
        root.chmod(0o755)  # mail and login processes run as other users
        self.root = root
        (root / "mail").mkdir()
        (root / "users").mkdir()
        if os.geteuid() == 0:
            mail_uid = mail_gid = 65534
            internal_user, internal_group, login_user = "dovecot", "dovecot", "dovenull"
            os.chown(root / "mail", mail_uid, mail_gid)
        else:
            mail_uid, mail_gid = os.getuid(), os.getgid()
            internal_user = login_user = pwd.getpwuid(mail_uid).pw_name
            internal_group = grp.getgrgid(mail_gid).gr_name
        if self.port == 0:
            self.port = free_port(self.host)
        tls = self.tls_cert is not None and self.tls_key is not None
        if tls:
            self.imaps_port = free_port(self.host)
        settings = {
            "root": str(root),
            "instance": f"robot-dian-{self.port}",
            "host": self.host,
            "port": str(self.port),
            "imaps_port": str(self.imaps_port),
            "ssl": "yes" if tls else "no",
            "ssl_settings": f"ssl_cert = <{self.tls_cert}\nssl_key = <{self.tls_key}" if tls else "",
            "internal_user": internal_user,
            "internal_group": internal_group,
            "login_user": login_user,
            "mail_uid": str(mail_uid),
            "mail_gid": str(mail_gid),
        }
        template = string.Template(DOVECOT_TEMPLATE.read_text(encoding="utf-8"))
        self.conf = root / "dovecot.conf"
        self.conf.write_text(template.substitute(settings), encoding="utf-8")
        atexit.register(self.stop)
        self._spawn()

    def restart(self) -> None:
        if self._proc is None or self.conf is None:
            raise RuntimeError("dovecot is not running")
        self._terminate()
        self._spawn()

    def _spawn(self) -> None:
        assert self.root is not None and self.conf is not None
        log = open(self.root / "dovecot.stderr", "ab")  # noqa: SIM115 - owned by the process
        self._proc = subprocess.Popen(
            [self.binary or "dovecot", "-F", "-c", str(self.conf)],
            stdout=log,
            stderr=log,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self._wait_ready(deadline=time.monotonic() + 15)

    def _terminate(self) -> None:
        if self._proc is None:
            return
        # The master leaves running `imap` processes serving their clients when it exits; a real
        # restart drops them, and stop() must not leave them behind.
        self.drop_connections()
        proc, self._proc = self._proc, None
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                pass
            try:
                self._proc.wait(timeout=0.01)  # doubles as the retry pause, and notices an early exit
            except subprocess.TimeoutExpired:
                if time.monotonic() < deadline:
                    continue
            raise RuntimeError(f"dovecot did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        if self.root is None:
            return ""
        out: list[str] = []
        for name in ("dovecot.stderr", "dovecot.log"):
            path = self.root / name
            if path.exists():
                out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)

    def stop(self) -> None:
        atexit.unregister(self.stop)
        self._terminate()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        self._accounts.clear()

    def _create_account(self, address: str, password: str) -> None:
        assert self.root is not None, "start() first"
        path = self.root / "users" / f"{address}.passwd"
        path.write_text(f"{address}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
        path.chmod(0o644)  # read by Dovecot's auth process (sandbox passwords only)

    def drop_connections(self) -> int:
        """Kill the per-connection `imap` processes (children of our dovecot master)."""
        if self._proc is None:
            return 0
        killed = 0
        for pid in _children(self._proc.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if cmdline.split(b" ")[0].rsplit(b"/", 1)[-1] == b"imap":  # "dovecot-<instance>/imap"
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
                    killed += 1
        return killed


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the process that started us dies (Linux), so no Dovecot outlives it."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


# --- the World's mail side ------------------------------------------------------------------------


class ImapMailSink:
    """Delivers the sandbox's e-mails into an IMAP server (the World's `mail`).

    Unknown addresses get an account with `default_password` when `auto_create` is true. Addresses in
    `junk` receive their mail in the "Junk" folder (as DIAN mail sometimes lands in spam).
    """

    def __init__(
        self,
        server: ImapServer,
        *,
        auto_create: bool = True,
        default_password: str = "clave-buzon-sandbox",
        junk: Iterable[str] = (),
    ) -> None:
        self.server = server
        self.auto_create = auto_create
        self.default_password = default_password
        self.junk = {a.lower() for a in junk}

    def deliver(self, address: str, raw: bytes, *, folder: str | None = None) -> None:
        key = address.strip().lower()
        if key not in self.server.accounts:
            if not self.auto_create:
                raise LookupError(f"no sandbox mailbox for {key}")
            self.server.add_account(key, self.default_password)
        self.server.deliver(key, raw, folder=folder or (JUNK if key in self.junk else "INBOX"))
