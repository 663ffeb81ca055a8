"""Helpers for the prefix-association scenarios (production site) on top of ``tests.fixtures_robot``.

- ``ready_for_prefix(env, nit)``: the client habilitado and synced to production (P-02 lists its software).
- ``add_resolution(world, nit, ...)``: a numbering resolution authorised in MUISCA at a given time.
- ``token_mail(...)`` / ``deliver_decoys_first(...)``: decoy "Token Acceso DIAN" mails delivered right
  after the robot asks for its token (after its UID watermark), before DIAN's real mail.
- ``LinkScanningSink``: a mail sink that opens every token link on delivery, as Microsoft 365 Safe Links
  does, before putting the mail in the mailbox.
- ``browser_marker(tmp_path)``: environment that makes any browser start leave a marker file.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from sandbox.catalogo_state import set_stage
from sandbox.mail import build_token_email
from sandbox.world import MailSink, Resolution, World

if TYPE_CHECKING:  # not imported at run time: conftest loads every fixtures_*.py as a plugin, in order
    from tests.fixtures_robot import RobotEnv

RESOLUTION = "18764031407250"
SOFTWARE_LABEL = "CADENA S. A. - 890930534efacturacadena"
SOFTWARE_ID = "49fab599-4556-4828-a30b-852a910c5bb1"
_LINK = re.compile(r"https?://[^\s\"'<>]+/User/AuthToken\?[^\s\"'<>]+")


def ready_for_prefix(env: RobotEnv, nit: str, **add_client: object) -> None:
    """Register the client (sandbox + robot files) and put it at "synced to production"."""
    env.add_client(nit, **add_client)  # type: ignore[arg-type]
    set_stage(env.world, nit, "sincronizado")


def add_resolution(
    world: World, nit: str, *, prefix: str = "FE", number: str = RESOLUTION, issued_ago: timedelta = timedelta(hours=3)
) -> Resolution:
    """A resolution issued ``issued_ago`` before the sandbox's now (synced after ``resolution_sync_delay``)."""
    resolution = Resolution(nit, number, prefix, 1, 100, "Factura electrónica de venta", world.clock.now() - issued_ago)
    world.resolutions.append(resolution)
    return resolution


def token_link(world: World, *, nit: str, portal: str = "produccion", host: str | None = None,
               doc: str = "1020304050", token: str | None = None) -> str:
    """An AuthToken link shaped like DIAN's (``host`` overrides the portal's host:port)."""
    base = f"http://{host}" if host else world.base_url(portal)
    return f"{base}/User/AuthToken?pk=10910094|{doc}&rk={nit}&token={token or uuid.uuid4()}"


def token_mail(to: str, link: str, *, sender: str | None = None, sent_at: datetime | None = None) -> bytes:
    """The recorded E-01 mail carrying ``link``; ``sender`` replaces the From header."""
    raw = build_token_email(to, link, sent_at=sent_at)
    if sender is None:
        return raw
    msg = message_from_bytes(raw, policy=policy.SMTP)
    msg.replace_header("From", sender)
    return msg.as_bytes()


def deliver_decoys_first(
    env: RobotEnv, nit: str, mails: Iterable[tuple[bytes, str]], *, timeout: float = 60.0
) -> threading.Thread:
    """Deliver ``(raw, folder)`` decoys into the client's mailbox as soon as the sandbox journals the
    robot's token request (so after its UID watermark), and hold DIAN's real token mail until they
    are all in. Returns the decoy thread (join it after the run)."""
    world = env.world
    client = world.clients[nit]
    pending = list(mails)
    before = world.journal.count(nit, "solicitar_token")
    done = threading.Event()
    world.mail = _HoldUntil(world.mail, done, client.email_rut)

    def work() -> None:
        try:
            deadline = time.monotonic() + timeout
            while world.journal.count(nit, "solicitar_token") == before:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.02)
            for raw, folder in pending:
                env.imap.deliver(client.email_rut, raw, folder=folder)
        finally:
            done.set()

    thread = threading.Thread(target=work, name="decoy-mails", daemon=True)
    thread.start()
    return thread


class _HoldUntil:
    """A mail sink that delivers mail for ``address`` only once ``event`` is set (from a thread, so
    the sandbox's request handler is not blocked)."""

    def __init__(self, inner: MailSink, event: threading.Event, address: str) -> None:
        self.inner = inner
        self.event = event
        self.address = address.lower()

    def deliver(self, address: str, raw: bytes) -> None:
        if address.lower() != self.address:
            self.inner.deliver(address, raw)
            return

        def later() -> None:
            self.event.wait(60)
            self.inner.deliver(address, raw)

        threading.Thread(target=later, name="held-mail", daemon=True).start()


class LinkScanningSink:
    """Opens each token link (HTTP GET, no redirects) on delivery, then delivers the mail: the way a
    link scanner in the client's mailbox (Microsoft 365 Safe Links, antivirus) consumes one-time links."""

    def __init__(self, inner: MailSink, world: World) -> None:
        self.inner = inner
        self.world = world
        self.opened: list[int] = []

    def deliver(self, address: str, raw: bytes) -> None:
        # Called from the sandbox's request handler: scan from another thread, or the server would
        # wait for itself.
        threading.Thread(target=self._scan_then_deliver, args=(address, raw), daemon=True).start()

    def _scan_then_deliver(self, address: str, raw: bytes) -> None:
        msg = message_from_bytes(raw, policy=policy.default)
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                found = _LINK.search(part.get_content().replace("&amp;", "&"))
                if found:
                    parts = urlsplit(found.group(0))
                    url = f"http://127.0.0.1:{self.world.port}{parts.path}?{parts.query}"
                    reply = httpx.get(url, headers={"Host": parts.netloc}, follow_redirects=False, timeout=10)
                    self.opened.append(reply.status_code)
                    break
        self.inner.deliver(address, raw)


def browser_marker(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Settings under which starting a browser runs a script that writes ``marker`` (and fails)."""
    marker = tmp_path / "navegador-iniciado"
    script = tmp_path / "chrome-falso"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> '{marker}'\nexit 1\n", encoding="utf-8")
    script.chmod(0o755)
    env = {"DIAN_BROWSER": "cdp", "DIAN_CHROME_PATH": str(script), "DIAN_BROWSER_START_TIMEOUT_S": "10"}
    return env, marker
