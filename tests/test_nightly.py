"""The nightly run (`python -m flows.lote` with no flow name) against the sandbox: real Chromium, real
IMAP, clients in mixed stages over two simulated nights, approvals between nights, an injected 500,
an interactive CAPTCHA, the report's operator actions, no duplicate irreversible action."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bots.state import Store
from sandbox import catalogo_state, muisca_state
from sandbox.faults import Fault
from tests.fixtures_prefijo import add_resolution
from tests.fixtures_robot import REPO, FlowResult, RobotEnv

pytestmark = [pytest.mark.browser]

NUEVO = "900123456"  # pendiente de registro, sin solicitud en MUISCA
ACEPTADO = "900555001"  # set aceptado; solicitud DEFINITIVO por firmar; sin aprobación la primera noche
LISTO = "900777002"  # sincronizado; resolución formalizada hace 3 horas; un 500 en su primer ingreso
CAPTCHA = "900888003"  # Turnstile interactivo: requiere una persona
SIN_SECRETO = "901234567"  # falta la contraseña de su buzón: se informa, nunca se abre el navegador
IRREVERSIBLE = (
    "registrar_facturador", "asociar_software", "registrar_fecha_produccion", "sincronizar_produccion",
    "asociar_prefijo", "definitivo", "firmar",
)
PIPELINE_ARGS = ("--prefijo", "FE", "--desde", "1", "--hasta", "1000", "--json")


def night_env(env: RobotEnv, days: int) -> dict[str, str]:
    """Settings of a night ``days`` after today (the sandbox clock moves the same)."""
    now = datetime.now(UTC) + timedelta(days=days)
    return {"DIAN_NIGHTLY_NOW": now.isoformat(), "DIAN_RATE_PER_HOST_S": "0.02", "DIAN_RETRY_BACKOFF_S": "0"}


def run_night(env: RobotEnv, days: int, *args: str, timeout: float = 400) -> FlowResult:
    return env.run("lote", *PIPELINE_ARGS, "--concurrencia", "2", *args, env=night_env(env, days), timeout=timeout)


def clients(result: FlowResult) -> dict[str, dict[str, Any]]:
    assert result.json is not None, result.stderr[-3000:]
    return {c["nit"]: c for c in result.json["data"]["clientes"]}


def setup_world(env: RobotEnv) -> None:
    world = env.world
    for nit, hab, muisca in ((NUEVO, "pendiente_registro", "sin_solicitud"), (ACEPTADO, "aceptado", "definitivo"),
                             (LISTO, "sincronizado", "formalizada"), (CAPTCHA, "sincronizado", "sin_solicitud")):
        env.add_client(nit)
        catalogo_state.set_stage(world, nit, hab, email=f"recepcion+{nit}@empresa-demo.test")
        muisca_state.set_stage(world, nit, muisca)
    world.clients[CAPTCHA].turnstile = "interactive"
    env.add_client(SIN_SECRETO)
    del env.secrets[SIN_SECRETO]["buzon_token_password"]
    env.write_files()
    world.resolutions = [r for r in world.resolutions if r.nit != LISTO]
    add_resolution(world, LISTO, number="18764000000001")
    world.faults.inject(LISTO, "login", Fault(http_500=True, times=1))


def irreversible_counts(env: RobotEnv) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for entry in env.world.journal.entries():
        if entry.action in IRREVERSIBLE and entry.details.get("ok", True):
            counts[(entry.nit, entry.action)] = counts.get((entry.nit, entry.action), 0) + 1
    return counts


def assert_no_duplicate_irreversible(env: RobotEnv) -> None:
    for (nit, action), count in irreversible_counts(env).items():
        assert count <= (2 if action == "firmar" else 1), f"{nit} {action} x{count}"


def test_two_nights_mixed_stages(robot_env: RobotEnv, page: Any) -> None:
    env, world = robot_env, robot_env.world
    setup_world(env)

    first = run_night(env, 0)
    rows = clients(first)
    assert rows[LISTO]["paso_pendiente"] is None, _debug(first)  # after one injected 500 on its login
    assert rows[LISTO]["accion"].startswith("Avisar a CADENA S. A.")  # the provider's own step
    assert rows[NUEVO]["paso_pendiente"] == "set_aceptado" and rows[NUEVO]["resultado"] == "esperando"
    assert rows[ACEPTADO]["paso_pendiente"] == "fecha_produccion"
    assert rows[ACEPTADO]["resultado"] == "requiere_humano" and "flows.aprobar" in rows[ACEPTADO]["accion"]
    assert rows[CAPTCHA]["resultado"] == "requiere_humano" and "CAPTCHA" in rows[CAPTCHA]["accion"]
    assert rows[SIN_SECRETO]["resultado"] == "error_entrada" and "secreto" in rows[SIN_SECRETO]["accion"]
    assert first.returncode == 2 and first.json is not None  # invalid data is the worst news here
    assert world.journal.count(LISTO, "falla_inyectada") == 1
    assert any(p.endswith("entrega-proveedor-habilitacion.json") for p in rows[NUEVO]["evidencia"])
    assert any(p.endswith(".pdf") for p in rows[LISTO]["evidencia"])  # the formato 1876
    with Store(env.output_dir / "estado.sqlite3") as store:  # every worker took its request slots there
        hosts = {r["host"] for r in store.query("SELECT host FROM rate_slots")}
    assert {urlsplit(env.env[f"DIAN_{p}_URL"]).netloc for p in ("HABILITACION", "MUISCA")} <= hosts
    assert_no_duplicate_irreversible(env)
    after_first = irreversible_counts(env)

    # Between nights: a day passes at DIAN, and the client approves the production date.
    world.clock.advance(days=1)
    fecha = (world.clock.now() + timedelta(days=1)).date().isoformat()
    approved = env.run("aprobar", "--cliente", ACEPTADO, "--fecha", fecha, "--aprobado-por", "Ana Gómez (correo)",
                       "--json")
    assert approved.returncode == 0, approved.stderr

    second = run_night(env, 1)
    rows = clients(second)
    assert rows[NUEVO]["paso_pendiente"] == "fecha_produccion", _debug(second)  # accepted, now needs approval
    assert "flows.aprobar" in rows[NUEVO]["accion"]
    assert rows[ACEPTADO]["paso_pendiente"] == "asociar_prefijo", _debug(second)  # signed; resolution not synced yet
    assert rows[ACEPTADO]["resultado"] == "esperando" and rows[ACEPTADO]["cuando"]
    assert rows[LISTO]["paso_pendiente"] is None and rows[CAPTCHA]["resultado"] == "requiere_humano"
    assert world.journal.count(ACEPTADO, "registrar_fecha_produccion") == 1
    assert irreversible_counts(env).get((LISTO, "asociar_prefijo")) == after_first[(LISTO, "asociar_prefijo")] == 1
    assert_no_duplicate_irreversible(env)

    # The HTML report, offline, in Chromium: one row per client and the operator's actions.
    assert second.json is not None
    report = Path(second.json["data"]["informe"])
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    assert page.locator("#clientes tbody tr").count() == 5
    assert "flows.aprobar --cliente 900123456" in page.locator(f"#acciones li[data-nit='{NUEVO}']").inner_text()
    assert "CAPTCHA" in page.locator(f"#clientes tr[data-nit='{CAPTCHA}'] td.accion").inner_text()
    assert all(u.startswith("file:") for u in requests)
    assert page.locator(f"#clientes tr[data-nit='{LISTO}'] a[href$='.pdf']").count() >= 1


def _debug(result: FlowResult) -> str:
    return json.dumps(result.json, ensure_ascii=False, indent=1)[:6000] if result.json else result.stderr[-6000:]


def _runner(env: RobotEnv, *args: str, extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full = {**os.environ, **env.env, **night_env(env, 0), **(extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "flows.lote", *PIPELINE_ARGS, *args], cwd=REPO, env=full,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for(condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_worker_dying_after_a_click_then_kill_9_of_the_runner_lose_nothing(robot_env: RobotEnv) -> None:
    env, world = robot_env, robot_env.world
    env.add_client(NUEVO)
    # The worker exits hard right after "Aceptar" of the registration; the runner starts another worker,
    # which settles that click from the portal and goes on; the runner is killed -9 right after the
    # next irreversible click (the software's association).
    runner = _runner(env, "--concurrencia", "1", extra={"DIAN_TEST_EXIT_AFTER_CLICK": "registrar_facturador.aceptar"})
    try:
        _wait_for(lambda: world.journal.count(NUEVO, "asociar_software") == 1)
    finally:
        runner.send_signal(signal.SIGKILL)
        _, err = runner.communicate(timeout=30)
    assert "un proceso de trabajo terminó de forma abrupta" in err
    # Its worker died with it (and the client's lock with the worker): the re-run takes over at once.
    again = env.run("lote", *PIPELINE_ARGS, "--concurrencia", "1", env=night_env(env, 0))
    rows = clients(again)
    assert rows[NUEVO]["paso_pendiente"] == "set_aceptado", _debug(again)
    assert rows[NUEVO]["pasos"]["registrar"]["estado"] == "hecho"
    assert world.journal.count(NUEVO, "registrar_facturador") == 1
    assert world.journal.count(NUEVO, "asociar_software") == 1
    assert_no_duplicate_irreversible(env)


def test_two_runs_at_once_never_process_the_same_client(robot_env: RobotEnv) -> None:
    env, world = robot_env, robot_env.world
    for nit in (NUEVO, ACEPTADO):
        env.add_client(nit)
    catalogo_state.set_stage(world, ACEPTADO, "registrado", email=f"recepcion+{ACEPTADO}@empresa-demo.test")
    world.faults.inject(NUEVO, "login", Fault(latency_s=1, times=0))  # NUEVO takes a while
    first = _runner(env, "--concurrencia", "1")
    _wait_for(lambda: world.journal.count(NUEVO, "solicitar_token") >= 1)  # the first run holds NUEVO
    second = _runner(env, "--concurrencia", "1")
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    skipped = sum(err.count("cliente en proceso por otra ejecución") for _, err in outputs)
    assert skipped >= 1, outputs[0][1][-2000:]
    for nit in (NUEVO, ACEPTADO):
        assert world.journal.count(nit, "asociar_software") == 1
        assert world.journal.count(nit, "solicitar_token") <= 2  # one session per run that held the lock
    assert world.journal.count(NUEVO, "registrar_facturador") == 1
    assert_no_duplicate_irreversible(env)
    final = json.loads(outputs[1][0] or outputs[0][0])
    assert final["status"] in ("esperando", "requiere_humano")


def test_repeated_portal_errors_pause_the_portal_and_solo_fallidos_reruns_only_the_failed(
    robot_env: RobotEnv,
) -> None:
    from bots.state import HECHO, PIPELINE

    env, world = robot_env, robot_env.world
    first_nit, second_nit = LISTO, CAPTCHA
    with Store(env.output_dir / "estado.sqlite3") as store:
        for nit in (first_nit, second_nit):
            env.add_client(nit)
            catalogo_state.set_stage(world, nit, "sincronizado", email=f"recepcion+{nit}@empresa-demo.test")
            for step in PIPELINE[:5]:  # the state says habilitación is done: MUISCA is next
                store.record(nit, step, HECHO)
    world.faults.inject("*", "login", Fault(http_500=True, times=0))
    settings = {**night_env(env, 0), "DIAN_BREAKER_THRESHOLD": "2", "DIAN_READ_ATTEMPTS": "1"}

    result = env.run("lote", *PIPELINE_ARGS, "--concurrencia", "1", env=settings)
    assert result.json is not None, result.stderr[-3000:]
    data = result.json["data"]
    assert [p["portal"] for p in data["portales_en_pausa"]] == ["muisca"], _debug(result)
    assert result.returncode == 5
    rows = clients(result)
    tried = [n for n in (first_nit, second_nit) if rows[n]["pasos"]["solicitar_numeracion"]["estado"] != "pendiente"]
    assert len(tried) == 1  # the other client was not sent to a paused portal
    assert "en pausa" in rows[({first_nit, second_nit} - set(tried)).pop()]["detalle"]
    assert world.journal.count(None, "falla_inyectada") == 2

    again = env.run("lote", *PIPELINE_ARGS, "--solo-fallidos", env=settings)
    assert again.json is not None and [c["nit"] for c in again.json["data"]["clientes"]] == tried
