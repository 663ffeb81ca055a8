"""Demo companies and the robot's files that point at the sandbox.

Used by the demo command (`python -m sandbox`) and by the tests' `robot_env` fixture, so both
describe a client to the robot the same way a real operator would: a clients file with no
secrets, a private secrets file, and `DIAN_*` settings.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sandbox.nit import digito_verificacion
from sandbox.world import SandboxClient, World

DEMO_NIT = "900123456"  # the placeholder NIT used throughout the recordings (DV 8)
MAILBOX_PASSWORD = "buzon-sandbox-1"


def demo_client(nit: str, razon_social: str = "EMPRESA DEMO S.A.S.", **overrides: Any) -> SandboxClient:
    """A client company with placeholder data (no real person or company)."""
    values: dict[str, Any] = {
        "nit": nit,
        "dv": digito_verificacion(nit),  # the sandbox's own rule, not the robot's
        "razon_social": razon_social,
        "rep_id_number": "1020304050",
        "email_rut": f"facturacion+{nit}@empresa-demo.test",
        "nombre_usuario": "USUARIO DEMO",
        "muisca_user_doc": "1020304050",
        "muisca_password": "Muisca-Clave-1",
        "firma_password": "Firma-Clave-1",
    }
    values.update(overrides)
    return SandboxClient(**values)


def robot_profile(client: SandboxClient, imap_host: str, imap_port: int) -> dict[str, Any]:
    """The robot's clients-file entry for a sandbox client (see clients.example.toml)."""
    mailbox = {
        "host": imap_host,
        "puerto": imap_port,
        "tls": "ninguno",
        "usuario": client.email_rut.lower(),
        "autenticacion": "password",
        "carpetas": ["INBOX", "Junk"],
    }
    profile: dict[str, Any] = {
        "nit": client.nit,
        "razon_social": client.razon_social,
        "tipo_ingreso": client.login_type,
        "correo_recepcion": f"recepcion+{client.nit}@empresa-demo.test",
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
        profile["buzon_clave_dinamica"] = {**mailbox, "usuario": client.key_mailbox.lower()}
    return profile


def robot_secrets(client: SandboxClient) -> dict[str, str]:
    """The secrets the robot needs for a sandbox client (goes to a 0600 secrets file)."""
    return {
        "muisca_password": client.muisca_password,
        "firma_password": client.firma_password,
        "buzon_token_password": MAILBOX_PASSWORD,
        "buzon_clave_dinamica_password": MAILBOX_PASSWORD,
    }


def robot_settings(world: World, clients_file: Path, secrets_file: Path, workdir: Path) -> dict[str, str]:
    """`DIAN_*` settings that point the robot at this sandbox."""
    return {
        "DIAN_HABILITACION_URL": world.base_url("habilitacion"),
        "DIAN_PRODUCCION_URL": world.base_url("produccion"),
        "DIAN_MUISCA_URL": world.base_url("muisca"),
        "DIAN_EXTRA_ALLOWED_HOSTS": ",".join(
            f"{getattr(world.hosts, p)}:{world.port}" for p in ("habilitacion", "produccion")
        ),
        "DIAN_CLIENTS_FILE": str(clients_file),
        "DIAN_SECRETS_FILE": str(secrets_file),
        "DIAN_USE_KEYRING": "false",
        "DIAN_ARTIFACTS_DIR": str(workdir / "artifacts"),
        "DIAN_OUTPUT_DIR": str(workdir / "output"),
        "DIAN_PROFILES_DIR": str(workdir / "profiles"),
    }


def write_robot_files(
    clients_file: Path, secrets_file: Path, profiles: list[dict[str, Any]], secrets: dict[str, dict[str, str]]
) -> None:
    """Write the clients file and the owner-only secrets file."""
    clients_file.write_text(toml_dumps({"cliente": profiles}), encoding="utf-8")
    secrets_file.touch(mode=0o600, exist_ok=True)
    secrets_file.chmod(0o600)
    secrets_file.write_text(toml_dumps(secrets), encoding="utf-8")


def toml_dumps(tables: dict[str, Any]) -> str:
    """A small TOML writer for these files: `[[cliente]]` blocks and `["<nit>"]` tables."""

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

    def table(path: str, data: dict[str, Any], header: str) -> list[str]:
        lines = [header]
        nested = [(k, v) for k, v in data.items() if isinstance(v, dict)]
        lines += [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict) and v is not None]
        for k, v in nested:
            lines += ["", *table(f"{path}.{k}", v, f"[{path}.{k}]")]
        return lines

    out: list[str] = []
    for key, data in tables.items():
        if isinstance(data, list):
            for item in data:
                out += ["", *table(key, item, f"[[{key}]]")]
        else:
            quoted = json.dumps(key)
            out += ["", *table(quoted, data, f"[{quoted}]")]
    return "\n".join(out).lstrip() + "\n"
