"""The hand-off file for the technology provider: Software Id, PIN and TestSetId of the client.

``<output_dir>/<nit>/entrega-proveedor-habilitacion.json``, mode 0600. It is the one place where the
PIN is written in clear (the provider's platform needs it); logs, results and evidence never show it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bots import artifacts
from bots.log import current_context

if TYPE_CHECKING:
    from bots.config import Client, Settings
    from bots.portals.habilitacion.modelos import ModoOperacion, SetPruebas

HANDOFF_NAME = "entrega-proveedor-habilitacion.json"
HANDOFF_KIND = "robot-dian/habilitacion-software"


def handoff_path(settings: Settings, nit: str) -> Path:
    return settings.output_dir / artifacts.safe_name(nit) / HANDOFF_NAME


def write_handoff(
    settings: Settings, client: Client, proveedor: str, modo: ModoOperacion, set_pruebas: SetPruebas
) -> Path:
    """Write (replace) the hand-off file and return its path."""
    payload: dict[str, Any] = {
        "tipo": HANDOFF_KIND,
        "version": 1,
        "generado_en": datetime.now(UTC).isoformat(),
        "ejecucion": current_context().get("run_id"),
        "ambiente": "habilitacion",
        "nit": client.nit,
        "dv": client.dv,
        "razon_social": client.razon_social,
        "proveedor": proveedor,
        "modo_operacion": modo.modo,
        "software": modo.software,
        "software_id": modo.software_id,
        "pin": modo.pin,
        "test_set_id": set_pruebas.test_set_id,
        "estado_modo": modo.estado,
        "estado_set_pruebas": set_pruebas.estado,
        "fecha_registro": modo.registro.isoformat() if modo.registro else None,
        "url_servicio_habilitacion": modo.url,
    }
    path = handoff_path(settings, client.nit)
    artifacts.private_dir(path.parent)
    text = json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    return artifacts.write_private(path, text.encode("utf-8"))
