"""Fixtures for the MUISCA numeración flows run as an operator would (see ``tests.fixtures_robot``).

- ``numeracion``: the demo client registered in the sandbox and the robot's files, with a short
  clave dinámica countdown (3 s) so tests stay fast.
- ``Numeracion.solicitar(...)``: ``python -m flows.solicitar_numeracion ... --json``.
- ``Numeracion.solicitar_hasta(accion, ...)``: the same, killed (SIGKILL, whole process group) the
  moment the sandbox journals ``accion`` — i.e. right after an irreversible click reached DIAN and
  before the robot saw the answer.
- ``Numeracion.sin_secretos(*results)``: no password or clave dinámica in any output, log line or
  file the robot wrote (traces unzipped).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from sandbox.journal import Entry
from sandbox.muisca_state import MuiscaState, Solicitud, state_of
from sandbox.world import SandboxClient, World
from tests.fixtures_robot import MAILBOX_PASSWORD, REPO, FlowResult, RobotEnv
from tests.fixtures_sandbox import DEMO_NIT

RESEND_WAIT = timedelta(seconds=3)


@dataclass
class Numeracion:
    """The robot, the sandbox and the demo client, ready for the numeración flows."""

    env: RobotEnv
    nit: str = DEMO_NIT
    results: list[FlowResult] = field(default_factory=list)

    @property
    def world(self) -> World:
        return self.env.world

    @property
    def client(self) -> SandboxClient:
        return self.world.clients[self.nit]

    @property
    def state(self) -> MuiscaState:
        return state_of(self.client)

    # -- running ------------------------------------------------------------------------------------
    def args(self, prefijo: str = "FE", desde: int = 1, hasta: int = 5000, *extra: str) -> list[str]:
        return [
            "--cliente",
            self.nit,
            "--prefijo",
            prefijo,
            "--desde",
            str(desde),
            "--hasta",
            str(hasta),
            "--json",
            *extra,
        ]

    def solicitar(self, *extra: str, prefijo: str = "FE", desde: int = 1, hasta: int = 5000, **kw: Any) -> FlowResult:
        result = self.env.run("solicitar_numeracion", *self.args(prefijo, desde, hasta, *extra), **kw)
        self.results.append(result)
        return result

    def flujo(self, flow: str, *args: str, **kw: Any) -> FlowResult:
        result = self.env.run(flow, *args, **kw)
        self.results.append(result)
        return result

    def solicitar_hasta(self, accion: str, *, vez: int = 1, timeout: float = 120, **match: Any) -> FlowResult:
        """Run the request and SIGKILL it as soon as the sandbox journals ``accion`` (``vez``-th time)."""
        cmd = [sys.executable, "-m", "flows.solicitar_numeracion", *self.args()]
        env = {**os.environ, **self.env.env}
        env.pop("FORCE_COLOR", None)
        journal = self.world.journal
        original = journal.record
        seen = 0
        fired = threading.Event()
        proc: subprocess.Popen[str] | None = None

        def record(at: Any, nit: str, portal: str, action: str, **details: Any) -> Entry:
            nonlocal seen
            entry = original(at, nit, portal, action, **details)
            if action == accion and all(details.get(k) == v for k, v in match.items()):
                seen += 1
                if seen == vez and proc is not None and not fired.is_set():
                    fired.set()
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
            return entry

        journal.record = record  # type: ignore[method-assign]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            stdout, stderr = proc.communicate(timeout=timeout)
        finally:
            journal.record = original  # type: ignore[method-assign]
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert fired.is_set(), f"el robot terminó sin llegar a {accion!r}:\n{stderr[-3000:]}"
        result = FlowResult(cmd, proc.returncode, stdout, stderr, time.monotonic() - started)
        for line in stderr.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    result.log.append(json.loads(line))
        self.results.append(result)
        return result

    # -- what DIAN saw ---------------------------------------------------------------------------
    def count(self, action: str, **match: Any) -> int:
        return self.world.journal.count(self.nit, action, **match)

    def solicitudes(self) -> list[Solicitud]:
        """The client's requests that are not ANULADO."""
        return [s for s in self.state.of(self.nit) if s.estado != "ANULADO"]

    def on_request(self, action: str, callback: Callable[[Entry], None]) -> None:
        """Call ``callback`` (in the server thread) whenever the sandbox journals ``action``."""
        journal = self.world.journal
        original = journal.record

        def record(at: Any, nit: str, portal: str, act: str, **details: Any) -> Entry:
            entry = original(at, nit, portal, act, **details)
            if act == action:
                callback(entry)
            return entry

        journal.record = record  # type: ignore[method-assign]

    # -- secrets ---------------------------------------------------------------------------------
    def secretos(self) -> list[str]:
        """Every password and every clave dinámica DIAN issued to this client."""
        state = self.state
        keys = [*state.claves_anteriores, *([state.clave.valor] if state.clave else [])]
        keys += [c.clave.valor for c in state.comunicados]
        return sorted({self.client.muisca_password, self.client.firma_password, MAILBOX_PASSWORD, *keys})

    def sin_secretos(self, *extra: str) -> None:
        """No secret (nor ``extra`` ones) in the outputs and log lines of every run, nor in any file the
        robot wrote (Playwright traces unzipped)."""
        forms = {f for s in (*self.secretos(), *extra) for f in (s, quote(s, safe=""), quote_plus(s))}
        for result in self.results:
            for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
                leaked = [f for f in forms if f in text]
                assert not leaked, f"secreto en {name}: {len(leaked)} coincidencias"
        for path, data in self.env.artifact_bytes():
            blobs = [data]
            if path.suffix == ".zip":
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    blobs += [archive.read(n) for n in archive.namelist()]
            for blob in blobs:
                leaked = [f for f in forms if f.encode() in blob]
                assert not leaked, f"secreto en {path}"


@pytest.fixture
def numeracion(robot_env: RobotEnv) -> Numeracion:
    """The demo client in the sandbox and in the robot's files; 3 s between clave dinámica requests."""
    robot_env.add_client()
    num = Numeracion(robot_env)
    num.state.key_resend_wait = RESEND_WAIT
    return num
