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
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.mail import ImapMailSink, ImapServer
from sandbox.server import SandboxServer
from sandbox.world import SandboxClient, World
from tests.fixtures_sandbox import DEMO_NIT, demo_client

REPO = Path(__file__).resolve().parent.parent
MAILBOX_PASSWORD = "buzon-sandbox-1"


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


def toml_dumps(tables: dict[str, Any]) -> str:
    """A small TOML writer for the clients and secrets files (strings, numbers, dates, lists, tables)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, datetime | date):
            return v.isoformat()
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v), ensure_ascii=False)

    def table(prefix: str, data: dict[str, Any], header: str) -> list[str]:
        lines = [header] if header else []
        nested = []
        for k, v in data.items():
            if isinstance(v, dict):
                nested.append((k, v))
            elif v is not None:
                lines.append(f"{k} = {value(v)}")
        for k, v in nested:
            lines += ["", *table(f"{prefix}.{k}", v, f"[{prefix}.{k}]")]
        return lines

    out: list[str] = []
    for key, data in tables.items():
        if isinstance(data, list):  # array of tables, e.g. [[cliente]]
            for item in data:
                out += ["", *table(key, item, f"[[{key}]]")]
        else:
            out += ["", *table(json.dumps(key), data, f"[{json.dumps(key)}]")]
    return "\n".join(out).lstrip() + "\n"


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
            "DIAN_HABILITACION_URL": world.base_url("habilitacion"),
            "DIAN_PRODUCCION_URL": world.base_url("produccion"),
            "DIAN_MUISCA_URL": world.base_url("muisca"),
            "DIAN_EXTRA_ALLOWED_HOSTS": ",".join(
                f"{getattr(world.hosts, p)}:{world.port}" for p in ("habilitacion", "produccion")
            ),
            "DIAN_CLIENTS_FILE": str(self.clients_file),
            "DIAN_SECRETS_FILE": str(self.secrets_file),
            "DIAN_USE_KEYRING": "false",
            "DIAN_ARTIFACTS_DIR": str(self.artifacts_dir),
            "DIAN_OUTPUT_DIR": str(self.output_dir),
            "DIAN_PROFILES_DIR": str(root / "profiles"),
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
        mailbox = {
            "host": self.imap.host,
            "puerto": self.imap.port,
            "tls": "ninguno",
            "usuario": client.email_rut.lower(),
            "autenticacion": "password",
            "carpetas": ["INBOX", "Junk"],
        }
        data: dict[str, Any] = {
            "nit": nit,
            "razon_social": client.razon_social,
            "tipo_ingreso": client.login_type,
            "correo_recepcion": f"recepcion+{nit}@empresa-demo.test",
            "representante": {"tipo_documento": "cedula_ciudadania", "numero_documento": client.rep_id_number},
            "buzon_token": mailbox,
            "software": {"proveedor": "CADENA S. A.", "nombre": "890930534efacturacadena"},
            "muisca": {
                "tipo_documento": "cedula_ciudadania",
                "numero_documento": client.muisca_user_doc or client.rep_id_number,
                "acepta_tratamiento_datos": True,
            },
        }
        if client.key_mailbox.lower() != client.email_rut.lower():
            data["buzon_clave_dinamica"] = {**mailbox, "usuario": client.key_mailbox.lower()}
        _merge(data, profile or {})
        self.profiles[nit] = data
        self.secrets[nit] = {
            "muisca_password": client.muisca_password,
            "firma_password": client.firma_password,
            "buzon_token_password": MAILBOX_PASSWORD,
            "buzon_clave_dinamica_password": MAILBOX_PASSWORD,
        }
        self.write_files()
        return client

    def write_files(self) -> None:
        self.clients_file.write_text(toml_dumps({"cliente": list(self.profiles.values())}), encoding="utf-8")
        self.secrets_file.write_text(toml_dumps(self.secrets), encoding="utf-8")
        self.secrets_file.chmod(0o600)

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
