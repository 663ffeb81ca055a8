"""The nightly run at scale (opt-in: ``DIAN_TEST_NIGHTLY_CLIENTS=50 scripts/test tests/test_nightly_scale.py``):
many simulated clients in mixed stages with injected faults (latency, 500s, interactive CAPTCHA, a locked
MUISCA account, missing approvals) over two simulated nights with an approval recorded between them."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from sandbox import catalogo_state, muisca_state
from sandbox.faults import Fault
from tests.fixtures_prefijo import add_resolution
from tests.fixtures_robot import RobotEnv
from tests.test_nightly import _debug, assert_no_duplicate_irreversible, clients, night_env

COUNT = int(os.environ.get("DIAN_TEST_NIGHTLY_CLIENTS", "0"))
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(COUNT < 5, reason="opt-in: DIAN_TEST_NIGHTLY_CLIENTS=50"),
    pytest.mark.timeout(3600),
]
ARGS = ("--prefijo", "FE", "--desde", "1", "--hasta", "1000", "--json")
KINDS = ("nuevo", "aceptado", "listo", "captcha", "aceptado_aprobado")


def test_many_clients_two_nights(robot_env: RobotEnv) -> None:
    env, world = robot_env, robot_env.world
    plan: dict[str, str] = {}
    for i in range(COUNT):
        nit = str(910000000 + i * 7)
        kind = KINDS[i % len(KINDS)]
        plan[nit] = kind
        env.add_client(nit)
        email = f"recepcion+{nit}@empresa-demo.test"
        stages = {"nuevo": "pendiente_registro", "listo": "sincronizado", "captcha": "sincronizado"}
        stage = stages.get(kind, "aceptado")
        catalogo_state.set_stage(world, nit, stage, email=email)
        if kind == "listo":
            muisca_state.set_stage(world, nit, "formalizada")
            add_resolution(world, nit, number=f"1876{nit}")
        if kind == "captcha":
            world.clients[nit].turnstile = "interactive"
        if i % 4 == 0:
            world.faults.inject(nit, "login", Fault(latency_s=1.5, times=1))
        if i % 9 == 4:
            world.faults.inject(nit, "login", Fault(http_500=True, times=1))
    locked = next(n for n, k in plan.items() if k == "aceptado_aprobado")
    plan[locked] = "bloqueado"
    muisca_state.state_of(world.clients[locked]).locked = True

    first = env.run("lote", *ARGS, env=night_env(env, 0), timeout=3000)
    rows = clients(first)
    for nit, kind in plan.items():
        expected = {"nuevo": "set_aceptado", "listo": None, "captcha": "registrar"}.get(kind, "fecha_produccion")
        assert rows[nit]["paso_pendiente"] == expected, (nit, kind, _debug(first))
    assert_no_duplicate_irreversible(env)

    world.clock.advance(days=1)
    fecha = (world.clock.now() + timedelta(days=1)).date().isoformat()
    for nit, kind in plan.items():
        if kind in ("aceptado_aprobado", "bloqueado"):
            assert env.run("aprobar", "--cliente", nit, "--fecha", fecha, "--aprobado-por", "Gerente").returncode == 0

    second = env.run("lote", *ARGS, env=night_env(env, 1), timeout=3000)
    rows = clients(second)
    for nit, kind in plan.items():
        row = rows[nit]
        if kind == "nuevo" or kind == "aceptado":
            assert row["paso_pendiente"] == "fecha_produccion" and "flows.aprobar" in row["accion"], (nit, row)
        elif kind == "listo":
            assert row["paso_pendiente"] is None
        elif kind == "captcha":
            assert "CAPTCHA" in row["accion"]
        elif kind == "aceptado_aprobado":
            assert row["paso_pendiente"] == "asociar_prefijo" and row["resultado"] == "esperando", (nit, row)
        else:
            assert row["paso_pendiente"] == "solicitar_numeracion" and "bloqueada" in row["accion"], (nit, row)
    assert_no_duplicate_irreversible(env)
