"""The nightly run's decisions without a browser: which steps run now, how a result is stored, what the
report tells the operator, and flows.aprobar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bots.cli import Outcome, Status
from bots.clock import BOGOTA
from bots.config import Client
from bots.state import AGOTADO, ESPERANDO, FALLIDO, HECHO, PIPELINE, REQUIERE_HUMANO, StepRow, Store
from bots.state.report import build_report, render_html
from flows.lote import _classify, _step_results, default_workers, next_steps, night_of

NIT = "900123456"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=BOGOTA)


def rows(**status: str) -> dict[str, StepRow]:
    before = NOW - timedelta(hours=1)
    return {s: StepRow(NIT, s, status=status.get(s, "pendiente"), updated_at=before) for s in PIPELINE}


def done_until(step: str) -> dict[str, str]:
    return {s: HECHO for s in PIPELINE[: PIPELINE.index(step)]}


def test_the_habilitacion_steps_run_together_then_muisca_then_the_prefix() -> None:
    assert next_steps(rows(), NOW, None)[0] == list(PIPELINE[:5])
    assert next_steps(rows(**done_until("set_aceptado")), NOW, None)[0] == [
        "set_aceptado", "fecha_produccion", "sincronizar"]
    assert next_steps(rows(**done_until("solicitar_numeracion")), NOW, None)[0] == ["solicitar_numeracion"]
    assert next_steps(rows(**dict.fromkeys(PIPELINE, HECHO)), NOW, None) == ([], "completo")


def test_waiting_needs_a_human_and_exhausted_steps_wait() -> None:
    r = rows(**done_until("set_aceptado"), set_aceptado=ESPERANDO)
    r["set_aceptado"].not_before = NOW + timedelta(hours=12)
    assert next_steps(r, NOW, None)[0] == []
    assert next_steps(r, NOW + timedelta(hours=13), None)[0][0] == "set_aceptado"
    human = rows(**done_until("fecha_produccion"), fecha_produccion=REQUIERE_HUMANO)
    assert next_steps(human, NOW, None)[0] == []  # not again tonight...
    assert next_steps(human, NOW + timedelta(days=1), None)[0] == ["fecha_produccion", "sincronizar"]  # next night
    tired = rows(registrar=AGOTADO)
    assert next_steps(tired, NOW, None)[0] == [] and next_steps(tired, NOW + timedelta(days=1), None)[0]


def test_an_approval_recorded_after_the_question_unblocks_the_same_night() -> None:
    from bots.state import Approval

    human = rows(**done_until("fecha_produccion"), fecha_produccion=REQUIERE_HUMANO)
    approval = Approval(1, NIT, date(2026, 3, 3), "Ana", NOW, None, None)
    assert next_steps(human, NOW, approval)[0] == ["fecha_produccion", "sincronizar"]
    old = Approval(1, NIT, date(2026, 3, 3), "Ana", NOW - timedelta(days=2), None, None)
    assert next_steps(human, NOW, old)[0] == []


def test_failures_back_off_on_the_clock() -> None:
    r = rows(registrar=FALLIDO)
    r["registrar"].not_before = datetime.now(UTC) + timedelta(minutes=5)
    assert next_steps(r, NOW, None, datetime.now(UTC))[0] == []
    assert next_steps(r, NOW, None, datetime.now(UTC) + timedelta(minutes=6))[0]


def test_outcomes_map_to_stored_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    from bots.config import Settings

    settings = Settings(_env_file=None)
    retry = datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert _classify(Outcome.ok("x"), NOW, settings) == (HECHO, False, None)
    assert _classify(Outcome(status=Status.ESPERANDO, message="x", retry_at=retry), NOW, settings)[2] == retry
    assert _classify(Outcome(status=Status.ERROR_PORTAL, message="500"), NOW, settings)[:2] == (FALLIDO, True)
    assert _classify(Outcome(status=Status.ERROR, message="Timeout"), NOW, settings)[:2] == (FALLIDO, True)
    assert _classify(Outcome(status=Status.PORTAL_CAMBIO, message="x"), NOW, settings)[0] == AGOTADO
    stopped = Outcome(
        status=Status.REQUIERE_HUMANO, message="falta aprobación",
        data={"pasos": [{"paso": "registro", "estado": "ya_hecho"}, {"paso": "asociacion", "estado": "ok"},
                        {"paso": "verificacion", "estado": "ok"}, {"paso": "salida_produccion",
                                                                    "estado": "requiere_humano"}]},
    )
    got = _step_results("habilitacion", list(PIPELINE[:5]), rows(), stopped, NOW, settings)
    assert {s: v[0] for s, v in got.items()} == {
        "registrar": HECHO, "asociar_software": HECHO, "set_aceptado": HECHO, "fecha_produccion": REQUIERE_HUMANO}


def test_night_boundaries_and_workers() -> None:
    assert night_of(datetime(2026, 3, 2, 1, tzinfo=BOGOTA)) == date(2026, 3, 1)
    assert night_of(datetime(2026, 3, 1, 22, tzinfo=BOGOTA)) == date(2026, 3, 1)
    assert 1 <= default_workers() <= (os.cpu_count() or 1)


def _client(nit: str, proveedor: str = "CADENA S. A.") -> Client:
    return Client.model_validate({
        "nit": nit, "razon_social": "EMPRESA DEMO S.A.S.", "representante": {"numero_documento": "1020304050"},
        "buzon_token": {"host": "127.0.0.1", "tls": "ninguno", "usuario": "a@b.test"},
        "software": {"proveedor": proveedor, "nombre": "x"},
    })


def test_report_names_the_action_of_each_client_that_needs_a_person(tmp_path: Path) -> None:
    with Store(tmp_path / "e.db") as store:
        for step in PIPELINE[:3]:
            store.record("900123456", step, HECHO)
        store.record("900123456", "fecha_produccion", REQUIERE_HUMANO, outcome={
            "status": "requiere_humano", "message": "Falta la aprobación", "data": {"reason": "aprobacion"}})
        store.record("900555001", "registrar", REQUIERE_HUMANO, outcome={
            "status": "requiere_humano", "message": "Captcha", "data": {"reason": "captcha"}})
        for step in PIPELINE[:5]:
            store.record("900777002", step, HECHO)
        store.record("900777002", "solicitar_numeracion", REQUIERE_HUMANO, outcome={
            "status": "requiere_humano", "message": "Cuenta bloqueada", "data": {"reason": "cuenta_bloqueada"}})
        store.record("901234567", "registrar", "error_entrada", outcome={
            "status": "error_entrada", "message": "Falta el secreto «901234567.buzon_token_password»."})
        for step in PIPELINE:
            store.record("900888003", step, HECHO)
        store.portal_error("muisca", "HTTP 500", threshold=1, pause=timedelta(hours=1))
        clients = [_client(n) for n in ("900123456", "900555001", "900777002", "901234567")]
        clients.append(_client("900888003", "FACTURATECH S.A.S."))
        data = build_report(store, clients, [], now=NOW, run_id="r1")
    actions = {a["nit"]: a["accion"] for a in data["acciones"]}
    assert "python -m flows.aprobar --cliente 900123456" in actions["900123456"]
    assert "CAPTCHA" in actions["900555001"] and "DIAN_HEADLESS=false" in actions["900555001"]
    assert "bloqueada" in actions["900777002"]
    assert "secreto" in actions["901234567"]
    assert "Sincronizar Numeraciones" in actions["900888003"]
    assert data["status"] == "error_entrada" and data["exit_code"] == 2
    assert data["portales_en_pausa"][0]["portal"] == "muisca"
    page = render_html(data, tmp_path)
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert "Portal <b>muisca</b> en pausa" in page


def test_aprobar_records_the_approval(tmp_path: Path) -> None:
    clients = tmp_path / "clients.toml"
    clients.write_text(
        '[[cliente]]\nnit = "900123456"\nrazon_social = "EMPRESA DEMO S.A.S."\n[cliente.representante]\n'
        'numero_documento = "1020304050"\n[cliente.buzon_token]\nhost = "127.0.0.1"\ntls = "ninguno"\n'
        'usuario = "a@b.test"\n', encoding="utf-8")
    env = {**os.environ, "DIAN_CLIENTS_FILE": str(clients), "DIAN_OUTPUT_DIR": str(tmp_path / "out"),
           "DIAN_USE_KEYRING": "false", "DIAN_LOG_FORMAT": "json"}
    base = [sys.executable, "-m", "flows.aprobar", "--cliente", "900123456-8", "--json"]
    bad = subprocess.run([*base, "--fecha", "mañana", "--aprobado-por", "Ana"], env=env, capture_output=True,
                         text=True, cwd=Path(__file__).parents[1])
    assert bad.returncode == 2 and "--fecha" in json.loads(bad.stdout)["message"]
    good = subprocess.run([*base, "--fecha", "2026-04-01", "--aprobado-por", " Ana  Gómez "], env=env,
                          capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert good.returncode == 0, good.stderr
    with Store(tmp_path / "out" / "estado.sqlite3") as store:
        approval = store.approval("900123456")
    assert approval is not None and approval.fecha_inicio == date(2026, 4, 1) and approval.aprobado_por == "Ana Gómez"
