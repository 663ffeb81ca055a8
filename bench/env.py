"""The simulated DIAN for the flow benchmarks: sandbox + IMAP server in this process, flows as subprocesses.

Built on `sandbox.demo` (the same files the demo and the tests write), not on the test fixtures: a
clients file, an owner-only secrets file and the `DIAN_*` settings; each client gets a fresh NIT so
every run does the whole flow (nothing "ya hecho").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.common import REPO
from sandbox import demo
from sandbox.catalogo_state import set_stage
from sandbox.demo import demo_client
from sandbox.mail import ImapMailSink, PymapServer
from sandbox.muisca_state import state_of
from sandbox.server import SandboxServer
from sandbox.world import Resolution, SandboxClient, World

RESOLUTION = "18764031407250"


@dataclass
class FlowRun:
    """One flow process: its exit code, wall time and JSON answer."""

    returncode: int
    elapsed_s: float
    status: str | None
    stderr_tail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class BenchEnv:
    """A sandbox and a pymap server on loopback, and the robot's files pointing at them."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-")
        self.root = Path(self._tmp.name)
        self.world = World()
        self.imap = PymapServer()
        self.server = SandboxServer(self.world)
        self.profiles: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, str]] = {}
        self._next = 0

    def __enter__(self) -> BenchEnv:
        self.imap.start()
        self.server.start()
        self.world.mail = ImapMailSink(self.imap, default_password=demo.MAILBOX_PASSWORD)
        self.clients_file = self.root / "clients.toml"
        self.secrets_file = self.root / "secrets.toml"
        self.env = {
            **demo.robot_settings(self.world, self.clients_file, self.secrets_file, self.root),
            "DIAN_LOG_FORMAT": "json",
            "DIAN_LOG_LEVEL": "WARNING",
            "DIAN_HEADLESS": "true",
            "DIAN_PAGE_TIMEOUT_S": "30",
            "DIAN_TOKEN_MAIL_TIMEOUT_S": "60",
            "DIAN_DYNAMIC_KEY_MAIL_TIMEOUT_S": "60",
        }
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.server.stop()
        self.imap.stop()
        self._tmp.cleanup()

    def new_nit(self) -> str:
        """A fresh 9-digit NIT (the sandbox computes its DV)."""
        self._next += 1
        return str(900200000 + self._next)

    def add_client(self, nit: str) -> SandboxClient:
        client = self.world.add_client(demo_client(nit))
        for address in {client.email_rut, client.key_mailbox}:
            if address.lower() not in self.imap.accounts:
                self.imap.add_account(address, demo.MAILBOX_PASSWORD)
        self.profiles[nit] = demo.robot_profile(client, self.imap.host, self.imap.port)
        self.secrets[nit] = demo.robot_secrets(client)
        return client

    def write_files(self) -> None:
        demo.write_robot_files(self.clients_file, self.secrets_file, list(self.profiles.values()), self.secrets)

    def ready_for_prefix(self, nit: str) -> None:
        """Synced to production with a resolution MUISCA issued 3 h ago (the catalogue shows it)."""
        self.add_client(nit)
        set_stage(self.world, nit, "sincronizado")
        issued = self.world.clock.now() - timedelta(hours=3)
        self.world.resolutions.append(Resolution(nit, RESOLUTION, "FE", 1, 100, "Factura electrónica de venta", issued))

    def ready_for_numbering(self, nit: str) -> None:
        """A client with a MUISCA account; 3 s between clave dinámica requests, as in the tests."""
        self.add_client(nit)
        state_of(self.world.clients[nit]).key_resend_wait = timedelta(seconds=3)

    def command(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-m", module, *args]

    def popen(self, module: str, *args: str) -> subprocess.Popen[str]:
        full = {**os.environ, **self.env}
        full.pop("FORCE_COLOR", None)
        return subprocess.Popen(self.command(module, *args), cwd=REPO, env=full, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, module: str, *args: str, timeout: float = 300) -> FlowRun:
        started = time.monotonic()
        proc = self.popen(module, *args)
        out, err = proc.communicate(timeout=timeout)
        return finished(proc.returncode, time.monotonic() - started, out, err)


def finished(returncode: int, elapsed: float, out: str, err: str) -> FlowRun:
    status, data = None, {}
    try:
        answer = json.loads(out) if out.strip() else {}
        status, data = answer.get("status"), answer.get("data") or {}
    except json.JSONDecodeError:
        pass
    return FlowRun(returncode, elapsed, status, err[-800:], data)
