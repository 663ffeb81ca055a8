"""The robot against the sandbox: run `python -m flows.<name>` as an operator would.

`robot_env` starts the simulated DIAN on loopback with its mail delivered into a real IMAP server
(pymap; `robot_env_dovecot` uses Dovecot), writes a clients file, a private secrets file and the
`DIAN_*` environment that point the robot at the sandbox, and runs flows as subprocesses:

    env = robot_env
    env.add_client()                                   # the demo client 900123456, mailbox created
    result = env.run("asociar_prefijo", "--cliente", "900123456", "--prefijo", "FE", "--json")
    assert result.returncode == 0 and result.json["status"] == "ok"
    assert env.world.journal.count("900123456", "asociar_prefijo") == 1
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

from sandbox import demo
from sandbox.demo import DEMO_NIT, demo_client
from sandbox.mail import ImapMailSink, ImapServer
from sandbox.server import SandboxServer
from sandbox.world import SandboxClient, World

REPO = Path(__file__).resolve().parent.parent
MAILBOX_PASSWORD = demo.MAILBOX_PASSWORD


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

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.log if e.get("event") == name]


class RobotEnv:
    """A sandbox, an IMAP server and the files that point the robot at them."""

    def __init__(self, root: Path, world: World, server: SandboxServer, imap: ImapServer) -> None:
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
        data = demo.robot_profile(client, self.imap.host, self.imap.port)
        _merge(data, profile or {})
        self.profiles[nit] = data
        self.secrets[nit] = demo.robot_secrets(client)
        self.write_files()
        return client

    def write_files(self) -> None:
        demo.write_robot_files(self.clients_file, self.secrets_file, list(self.profiles.values()), self.secrets)

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


@pytest.fixture
def robot_env(tmp_path: Path, world: World, sandbox: SandboxServer, pymap_server: ImapServer) -> RobotEnv:
    """The robot pointed at a fresh sandbox, mail in pymap."""
    return RobotEnv(tmp_path, world, sandbox, pymap_server)


@pytest.fixture
def robot_env_dovecot(tmp_path: Path, world: World, sandbox: SandboxServer, dovecot_server: ImapServer) -> RobotEnv:
    """The robot pointed at a fresh sandbox, mail in Dovecot."""
    return RobotEnv(tmp_path, world, sandbox, dovecot_server)
