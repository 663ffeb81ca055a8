"""DIAN_NIGHTLY_SHARED_BROWSER: the nightly run's worker processes attach to one Chromium over CDP,
each client still in its own fresh context."""

from __future__ import annotations

from typing import Any

import pytest

from bots.state import HECHO, PIPELINE, Store
from sandbox import catalogo_state, muisca_state
from tests.fixtures_prefijo import add_resolution
from tests.fixtures_robot import RobotEnv
from tests.test_nightly import PIPELINE_ARGS, _debug, clients, night_env

pytestmark = [pytest.mark.browser]
NITS = ("900777002", "900555001")


def test_two_workers_share_one_chromium_and_each_client_gets_its_own_context(robot_env: RobotEnv) -> None:
    env, world = robot_env, robot_env.world
    with Store(env.output_dir / "estado.sqlite3") as store:
        for nit in NITS:
            env.add_client(nit)
            catalogo_state.set_stage(world, nit, "sincronizado", email=f"recepcion+{nit}@empresa-demo.test")
            muisca_state.set_stage(world, nit, "formalizada")
            world.resolutions = [r for r in world.resolutions if r.nit != nit]
            add_resolution(world, nit, number=f"1876{nit}")
            for step in PIPELINE[:-1]:  # only the prefix is left
                store.record(nit, step, HECHO)
    result = env.run("lote", *PIPELINE_ARGS, "--concurrencia", "2",
                     env={**night_env(env, 0), "DIAN_NIGHTLY_SHARED_BROWSER": "true"})
    rows = clients(result)
    assert all(rows[n]["paso_pendiente"] is None for n in NITS), _debug(result)
    assert all(world.journal.count(n, "asociar_prefijo") == 1 for n in NITS)
    events: list[dict[str, Any]] = result.log
    assert len([e for e in events if e.get("event") == "navegador compartido iniciado"]) == 1
    attached = [e for e in events if e.get("event") == "navegador elegido" and e.get("kind") == "cdp-attach"]
    assert attached, _debug(result)  # the workers attached to it ...
    assert not [e for e in events if e.get("event") == "navegador iniciado"]  # ... and none launched its own
    sessions = [e for e in events if e.get("event") == "inicio de la sesión del cliente"]
    assert {e.get("client") for e in sessions} >= set(NITS) and all(e.get("browser") == "cdp-attach" for e in sessions)
