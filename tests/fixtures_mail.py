"""IMAP server fixtures: pymap (in-process) and Dovecot (subprocess), fresh mailboxes, watchers.

- `pymap_server`, `dovecot_server`: one server per session (Dovecot skips when the binary is missing;
  it also serves IMAPS and STARTTLS with a self-signed certificate when openssl is available).
- `imap_server`: parametrized, runs the test once per server.
- `mailbox`: a new account on `imap_server` (INBOX + Junk) with its `MailboxAccess`.
- `mail_watchers`: a `MailWatchers` with test timings, closed after the test.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bots.mail import MailboxAccess, MailWatchers
from sandbox.mail import DovecotServer, ImapAccount, ImapServer, PymapServer, find_dovecot

_serial = itertools.count(1)


@pytest.fixture(scope="session")
def pymap_server() -> Iterator[PymapServer]:
    with PymapServer() as server:
        yield server


def self_signed_cert(folder: Path) -> tuple[str, str] | None:
    """(cert, key) PEM files for 127.0.0.1 and localhost, or None without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "imap-cert.pem", folder / "imap-key.pem"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    command = [
        openssl,
        "req",
        "-x509",
        *ec_key,
        "-nodes",
        "-days",
        "2",
        *subject,
        "-keyout",
        str(key),
        "-out",
        str(cert),
    ]
    subprocess.run(command, check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture(scope="session")
def dovecot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    if find_dovecot() is None:
        pytest.skip("dovecot binary not found (Debian package dovecot-imapd; see scripts/setup)")
    tls = self_signed_cert(tmp_path_factory.mktemp("imap-tls"))
    with DovecotServer(tls_cert=tls and tls[0], tls_key=tls and tls[1]) as server:
        yield server


@pytest.fixture(params=["pymap", pytest.param("dovecot", marks=pytest.mark.dovecot)])
def imap_server(request: pytest.FixtureRequest) -> ImapServer:
    """Each test using it runs against pymap and against Dovecot."""
    server: ImapServer = request.getfixturevalue(f"{request.param}_server")
    return server


def access_for(account: ImapAccount, **overrides: object) -> MailboxAccess:
    """The robot's view of a sandbox account (plain IMAP on loopback)."""
    values: dict[str, object] = {
        "host": account.host,
        "port": account.port,
        "username": account.username,
        "password": account.password,
        "ssl": False,
    }
    values.update(overrides)
    return MailboxAccess(**values)  # type: ignore[arg-type]


@dataclass
class Mailbox:
    """A fresh sandbox account: where to deliver, and how the robot logs in."""

    server: ImapServer
    account: ImapAccount
    access: MailboxAccess

    @property
    def address(self) -> str:
        return self.account.username

    def deliver(self, raw: bytes, *, folder: str = "INBOX") -> int | None:
        return self.server.deliver(self.address, raw, folder=folder)


def new_mailbox(server: ImapServer, prefix: str = "buzon") -> Mailbox:
    account = server.add_account(f"{prefix}-{next(_serial)}@empresa-demo.test", "clave-sandbox")
    return Mailbox(server, account, access_for(account))


@pytest.fixture
def mailbox(imap_server: ImapServer) -> Mailbox:
    return new_mailbox(imap_server)


@pytest.fixture
def mail_watchers() -> Iterator[MailWatchers]:
    watchers = MailWatchers(poll_interval=0.2, ready_timeout=10.0, io_timeout=10.0, settle_timeout=3.0)
    try:
        yield watchers
    finally:
        watchers.close()
