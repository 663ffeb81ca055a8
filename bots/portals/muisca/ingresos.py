"""Logins DIAN rejected, so the same MUISCA password is never sent twice (DIAN locks accounts).

File ``<output_dir>/<nit>/muisca-ingresos-rechazados.jsonl`` (mode 0600). A rejected password is
kept only as a salted scrypt fingerprint with the date and DIAN's text; never the password.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bots import artifacts

ARCHIVO = "muisca-ingresos-rechazados.jsonl"


class IngresosRechazados:
    """The rejected-login fingerprints of one client."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def para(cls, output_dir: Path, nit: str) -> IngresosRechazados:
        return cls(output_dir / artifacts.safe_name(nit) / ARCHIVO)

    def recordar(self, password: SecretStr, dian_text: str | None) -> None:
        """Remember that DIAN rejected this password."""
        salt = secrets.token_bytes(16)
        line = json.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "sal": salt.hex(),
                "huella": _huella(password, salt),
                "dian_text": dian_text,
            },
            ensure_ascii=False,
        )
        artifacts.append_line(self.path, line)

    def rechazo_de(self, password: SecretStr) -> dict[str, Any] | None:
        """The record of an earlier rejection of this very password, if any."""
        if not self.path.is_file():
            return None
        for line in reversed(self.path.read_text(encoding="utf-8").splitlines()):
            try:
                record = json.loads(line)
                salt = bytes.fromhex(record["sal"])
            except (ValueError, KeyError, TypeError):
                continue
            if hmac.compare_digest(_huella(password, salt), str(record.get("huella", ""))):
                return dict(record)
        return None


def _huella(password: SecretStr, salt: bytes) -> str:
    return hashlib.scrypt(password.get_secret_value().encode("utf-8"), salt=salt, n=2**14, r=8, p=1).hex()
