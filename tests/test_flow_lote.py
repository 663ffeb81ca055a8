"""`python -m flows.lote asociar_prefijo ...`: one browser, one context per client, classified results,
a Spanish table, JSON, and the worst class as the exit code."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures_prefijo import add_resolution, ready_for_prefix
from tests.fixtures_robot import RobotEnv
from tests.fixtures_sandbox import DEMO_NIT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LISTO = DEMO_NIT  # resolution synced: gets associated
ESPERA = "800111222"  # resolution issued minutes ago: not offered yet
INACTIVO = "901234567"  # activo = false: skipped unless named with --solo


def test_batch_runs_each_client_in_its_own_context_and_exits_with_the_worst(robot_env: RobotEnv) -> None:
    world = robot_env.world
    ready_for_prefix(robot_env, LISTO)
    ready_for_prefix(robot_env, ESPERA)
    ready_for_prefix(robot_env, INACTIVO, profile={"activo": False})
    add_resolution(world, LISTO)
    add_resolution(world, ESPERA, issued_ago=timedelta(minutes=5))
    add_resolution(world, INACTIVO)

    result = robot_env.run("lote", "asociar_prefijo", "--prefijo", "FE", "--json")
    assert result.returncode == 3, result.stderr  # worst: esperando
    assert result.json is not None and result.json["status"] == "esperando"
    rows = {r["client"]: r for r in result.json["data"]["resultados"]}
    assert set(rows) == {LISTO, ESPERA}
    assert rows[LISTO]["status"] == "ok" and rows[LISTO]["data"]["prefijo"] == "FE"
    assert rows[ESPERA]["status"] == "esperando" and rows[ESPERA]["exit_code"] == 3 and rows[ESPERA]["retry_at"]
    assert result.json["retry_at"] == rows[ESPERA]["retry_at"]

    assert "Lote «asociar_prefijo»: 2 cliente(s)" in result.stderr
    assert "900123456-8" in result.stderr and "listo" in result.stderr and "en espera" in result.stderr
    assert len(result.events("navegador iniciado")) == 1  # one browser for the whole batch
    assert len(result.events("inicio de la sesión del cliente")) == 2  # a fresh context per client
    assert world.journal.count(LISTO, "asociar_prefijo") == 1
    assert world.journal.count(ESPERA, "asociar_prefijo") == 0
    assert world.journal.entries(INACTIVO) == []


def test_batch_input_errors_exit_2_before_any_browser(robot_env: RobotEnv) -> None:
    ready_for_prefix(robot_env, LISTO)
    add_resolution(robot_env.world, LISTO)

    unknown = robot_env.run("lote", "asociar_prefijo", "--prefijo", "FE", "--solo", "800111222", "--json")
    assert unknown.returncode == 2 and unknown.json is not None
    assert "800111222" in unknown.json["message"]

    bad_prefix = robot_env.run("lote", "asociar_prefijo", "--prefijo", "FE1", "--json")
    assert bad_prefix.returncode == 2 and bad_prefix.json is not None
    assert [r["status"] for r in bad_prefix.json["data"]["resultados"]] == ["error_entrada"]

    no_flow = robot_env.run("lote", "no_existe", "--json")
    assert no_flow.returncode == 2 and no_flow.json is not None and "no_existe" in no_flow.json["message"]

    for result in (unknown, bad_prefix, no_flow):
        assert result.events("navegador iniciado") == []
    assert robot_env.world.journal.entries() == []
