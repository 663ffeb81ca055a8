"""The robot against the sandbox: run `python -m flows.<name>` as an operator would.

`robot_env` starts the simulated DIAN on loopback with its mail delivered into a real IMAP server
(pymap; `robot_env_dovecot` uses Dovecot), writes a clients file, a private secrets file and the
`DIAN_*` environment that point the robot at the sandbox, and runs flows as subprocesses:

    env = robot_env
    env.add_client()                                   # the demo client 900123456, mailbox created
    result = env.run("asociar_prefijo", "--cliente", "900123456", "--prefijo", "FE", "--json")
    assert result.returncode == 0 and result.json["status"] == "ok"
    assert env.world.journal.count("900123456", "asociar_prefijo") == 1

Every env also feeds the session's secret scan (`tests.secret_scan.SESSION`): each flow run's stdout
and stderr, and when the env ends the secrets its sandbox issued or used and the bytes of every file
the robot wrote. The autouse `secret_scan` fixture fails the session (at the last test's teardown) if
any of those secrets shows up anywhere, raw or encoded; see tests/secret_scan.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sandbox import catalogo_state, demo
from sandbox.demo import DEMO_NIT, demo_client
from sandbox.mail import ImapMailSink, ImapServer
from sandbox.server import SandboxServer
from sandbox.world import SandboxClient, World
from tests.secret_scan import (
    KIND_CLAVE_DINAMICA,
    KIND_FIRMA_PASSWORD,
    KIND_MAILBOX_PASSWORD,
    KIND_MUISCA_PASSWORD,
    KIND_TOKEN,
    SESSION,
    SecretRegistry,
    report,
)

REPO = Path(__file__).resolve().parent.parent
MAILBOX_PASSWORD = demo.MAILBOX_PASSWORD
#: The kind of each key of the robot's secrets file (others are reported as "secret <key>").
SECRET_FILE_KINDS = {
    "muisca_password": KIND_MUISCA_PASSWORD,
    "firma_password": KIND_FIRMA_PASSWORD,
    "buzon_token_password": KIND_MAILBOX_PASSWORD,
    "buzon_clave_dinamica_password": KIND_MAILBOX_PASSWORD,
}


@dataclass
class FlowResult:
    """What an operator sees: exit code, stdout (JSON with --json), stderr and the JSON log lines."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float
    json: dict[str, Any] | None = None
    log: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Every flow run's output goes to the session's secret scan (whoever started the process)."""
        flow = self.args[2] if len(self.args) > 2 and self.args[1] == "-m" else " ".join(self.args[:1])
        test = os.environ.get("PYTEST_CURRENT_TEST", "outside a test")
        for stream, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            SESSION.add_stream(f"{stream} of {flow} ({test})", text or "")

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.log if e.get("event") == name]


class RobotEnv:
    """A sandbox, an IMAP server and the files that point the robot at them."""

    def __init__(
        self,
        root: Path,
        world: World,
        server: SandboxServer,
        imap: ImapServer,
        *,
        registry: SecretRegistry | None = None,
    ) -> None:
        self.root = root
        self.world = world
        self.server = server
        self.imap = imap
        world.mail = ImapMailSink(imap, default_password=MAILBOX_PASSWORD)
        self.clients_file = root / "clients.toml"
        self.secrets_file = root / "secrets.toml"
        self.artifacts_dir = root / "artifacts"
        self.output_dir = root / "output"
        self.profiles: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, str]] = {}
        self.registry = SESSION if registry is None else registry
        self.closed = False
        self.registry.on_finish(self, self.close)  # envs nobody closes (module fixtures) end with the session
        self.env = {
            **demo.robot_settings(world, self.clients_file, self.secrets_file, root),
            "DIAN_LOG_FORMAT": "json",
            "DIAN_LOG_LEVEL": "INFO",
            "DIAN_HEADLESS": "true",
            "DIAN_PAGE_TIMEOUT_S": "15",
            "DIAN_TOKEN_MAIL_TIMEOUT_S": "30",
            "DIAN_DYNAMIC_KEY_MAIL_TIMEOUT_S": "30",
        }

    # -- clients -------------------------------------------------------------------------------
    def add_client(
        self,
        nit: str = DEMO_NIT,
        *,
        sandbox: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
    ) -> SandboxClient:
        """Register a client in the sandbox (DIAN's side), its mailbox, and the robot's profile."""
        client = self.world.client(nit) or self.world.add_client(demo_client(nit))
        for key, val in (sandbox or {}).items():
            setattr(client, key, val)
        for address in {client.email_rut, client.key_mailbox}:
            if address.lower() not in self.imap.accounts:
                self.imap.add_account(address, MAILBOX_PASSWORD)
            self.registry.add_secret(self.imap.account(address).password, KIND_MAILBOX_PASSWORD)
        data = demo.robot_profile(client, self.imap.host, self.imap.port)
        _merge(data, profile or {})
        self.profiles[nit] = data
        self.secrets[nit] = demo.robot_secrets(client)
        self.write_files()
        return client

    def write_files(self) -> None:
        demo.write_robot_files(self.clients_file, self.secrets_file, list(self.profiles.values()), self.secrets)
        for values in self.secrets.values():  # what the robot holds, wrong passwords set by a test included
            for key, value in values.items():
                self.registry.add_secret(value, SECRET_FILE_KINDS.get(key, f"secret {key}"))

    # -- running flows ---------------------------------------------------------------------------
    def run(self, flow: str, *args: str, timeout: float = 180, env: dict[str, str] | None = None) -> FlowResult:
        """Run `python -m flows.<flow> args...` like an operator, with the sandbox settings."""
        cmd = [sys.executable, "-m", f"flows.{flow}", *args]
        full_env = {**os.environ, **self.env, **(env or {})}
        full_env.pop("FORCE_COLOR", None)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)
        result = FlowResult(cmd, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
        if "--json" in args and proc.stdout.strip():
            try:
                result.json = json.loads(proc.stdout)
            except json.JSONDecodeError:
                result.json = None
        for line in proc.stderr.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    result.log.append(json.loads(line))
        return result

    # -- the end ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Feed the secret scan with what this env's sandbox issued or used and with the robot's files.

        Not scanned, on purpose: the clients and secrets files this fixture writes (they are not the
        robot's; they live in the env's root, outside the scanned folders). The hand-off JSON of
        flows.asociar_software holds the provider's PIN by design; the PIN is not a registered secret, so
        that file is scanned like any other.
        """
        if self.closed:
            return
        self.closed = True
        self.registry.done(self)
        for secret, kind in self.sandbox_secrets():
            self.registry.add_secret(secret, kind)
        for folder in (self.artifacts_dir, self.output_dir):
            self.registry.add_tree(folder, exclude=(self.clients_file, self.secrets_file))

    def sandbox_secrets(self) -> Iterator[tuple[str, str]]:
        """(value, kind) of each password DIAN's side knows and each token and clave dinámica it issued."""
        for client in self.world.clients.values():
            yield client.muisca_password, KIND_MUISCA_PASSWORD
            yield client.firma_password, KIND_FIRMA_PASSWORD
            if client.catalogo is not None:
                for token in client.catalogo.tokens.values():
                    yield token.guid, KIND_TOKEN
            if client.muisca is not None:
                state = client.muisca
                keys = [*state.claves_anteriores, *([state.clave.valor] if state.clave else [])]
                keys += [c.clave.valor for c in state.comunicados]
                for key in keys:
                    yield key, KIND_CLAVE_DINAMICA
        for values in self.secrets.values():
            for key, value in values.items():
                yield value, SECRET_FILE_KINDS.get(key, f"secret {key}")

    def artifact_bytes(self) -> Iterator[tuple[Path, bytes]]:
        """Every file the robot wrote (artifacts and evidence), to scan for secrets."""
        for folder in (self.artifacts_dir, self.output_dir):
            if folder.exists():
                for path in folder.rglob("*"):
                    if path.is_file():
                        yield path, path.read_bytes()


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, val in extra.items():
        if isinstance(val, dict) and isinstance(base.get(key), dict):
            _merge(base[key], val)
        elif val is None:
            base.pop(key, None)
        else:
            base[key] = val


@pytest.fixture(scope="session", autouse=True)
def secret_scan() -> Iterator[SecretRegistry]:
    """The suite-wide secret scan: at the session's end, no registered secret in any robot output.

    Also records every token the sandboxes issue while the session runs: the catalogue state keeps only
    the newest token per host, and a replaced one was mailed all the same (`issue_token` builds its
    tokens from the module's `AuthToken`, so a recording subclass sees them all).
    """

    @dataclass
    class RecordedToken(catalogo_state.AuthToken):
        def __post_init__(self) -> None:
            SESSION.add_secret(self.guid, KIND_TOKEN)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(catalogo_state, "AuthToken", RecordedToken)
        yield SESSION
    findings = SESSION.finish()
    if findings:
        pytest.fail(report(findings), pytrace=False)


#: Under xdist: the secret scan's line of each worker, as the workers reported it to the controller.
_WORKER_SCAN_LINES: list[str] = []


@pytest.hookimpl(tryfirst=True)  # before xdist sends the worker's output to the controller
def pytest_sessionfinish(session: pytest.Session) -> None:
    """In an xdist worker, hand the scan's line to the controller (each worker scans its own outputs)."""
    output = getattr(session.config, "workeroutput", None)
    stats = SESSION.stats
    if output is not None and stats is not None and (stats.streams or stats.files or stats.secrets):
        output["secret_scan"] = stats.line()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: keep each worker's scan line for the summary."""
    line = getattr(node, "workeroutput", {}).get("secret_scan")
    if line:
        _WORKER_SCAN_LINES.append(f"[{node.gateway.id}] {line}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line on what the secret scan covered (one per worker under xdist)."""
    for line in sorted(_WORKER_SCAN_LINES):
        terminalreporter.write_line(line)
    stats = SESSION.stats
    if stats is not None and (stats.streams or stats.files or stats.secrets):
        terminalreporter.write_line(stats.line())


@pytest.fixture
def robot_env(tmp_path: Path, world: World, sandbox: SandboxServer, pymap_server: ImapServer) -> Iterator[RobotEnv]:
    """The robot pointed at a fresh sandbox, mail in pymap."""
    env = RobotEnv(tmp_path, world, sandbox, pymap_server)
    yield env
    env.close()


@pytest.fixture
def robot_env_dovecot(
    tmp_path: Path, world: World, sandbox: SandboxServer, dovecot_server: ImapServer
) -> Iterator[RobotEnv]:
    """The robot pointed at a fresh sandbox, mail in Dovecot."""
    env = RobotEnv(tmp_path, world, sandbox, dovecot_server)
    yield env
    env.close()
