"""Habilitación flows against the simulated DIAN (real Chromium, real IMAP), plus their building blocks.

End-to-end scenarios (one test each, with its own client and simulated DIAN; flows run as
``python -m flows.<name>`` processes; pytest-xdist spreads them over its workers):

- a new client goes from "Pendiente de registro" to synchronised with production, flow by flow,
  including DIAN's sign-out after "Registrar" (a second token login); every flow run again does nothing;
- the process is killed after every click (test hook ``DIAN_TEST_EXIT_AFTER_CLICK``) and each re-run
  finishes by reading the portal, with exactly one state-changing action per step on DIAN's side;
- the chain (``flows.habilitacion``) reports where it stopped and why;
- DIAN's refusals and errors end with the right class and DIAN's own text.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from argparse import Namespace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page

from bots.config import ProductionApproval, Software
from bots.errors import InvalidInput, NeedsHuman, PortalError
from bots.locators import check, load_set, recognised_screens
from bots.mensajes import Kind, MensajeDian, clasificar, error_para, mensajes
from bots.portals.habilitacion.entrega import HANDOFF_NAME
from bots.portals.habilitacion.modelos import ModoOperacion, SetPruebas, is_uuid
from bots.portals.habilitacion.procesos import check_ids
from bots.steps import TEST_HOOK_EXIT_CODE, Phase, StepJournal, StepStatus, exit_hook
from flows.salida_produccion import approval_from
from sandbox.catalogo import MESSAGES as SANDBOX_MESSAGES
from sandbox.catalogo_state import PROVIDERS, set_stage, state_of
from sandbox.faults import Fault
from tests.fixtures_habilitacion import (
    accept_test_set,
    actions,
    catalogo,
    flow,
    step_records,
    text_outputs,
    wait_for_record,
)
from tests.fixtures_robot import RobotEnv

REPO = Path(__file__).resolve().parent.parent
SELECTORS = REPO / "selectors"
RECORDINGS = REPO / "recordings" / "catalogo"
PIN = PROVIDERS[0].pin  # CADENA's software, the one every profile here names
KILLED = TEST_HOOK_EXIT_CODE

NIT_NUEVO = "901000001"
NIT_KILL = "901000002"
NIT_CADENA = "901000003"
NIT_PENDIENTE = "901000004"
NIT_OTRO_CORREO = "901000005"
NIT_OTRO_SOFTWARE = "901000006"
NIT_FALLA_FECHA = "901000007"
NIT_YA_REGISTRADA = "901000008"
NIT_KILL_PROD = "901000009"
#: The client's approval of the production date, in the profiles of the scenarios that go to production.
APPROVAL = {"fecha_inicio": date.today(), "aprobado_por": "Ana Gómez (acta 12)", "aprobado_en": datetime.now(UTC)}


def recepcion(nit: str) -> str:
    return f"recepcion+{nit}@empresa-demo.test"


# === building blocks (no browser) ========================================================================


def test_selectors_pass_the_contract_check_against_the_catalogue_recordings(page: Page) -> None:
    # The set points at recordings/catalogo (shared by both catalogue hosts) through "../catalogo/...".
    report = check(SELECTORS, REPO / "recordings", ["habilitacion"], page=page)
    assert report.ok, "\n".join(report.lines)
    assert report.screens_checked == 11


@pytest.mark.parametrize(
    ("recording", "screens"),
    [
        ("h-01.html", {"inicio"}),
        ("h-08.html", {"inicio", "fecha_produccion"}),
        ("h-09.html", {"inicio", "confirmacion_s2"}),
        ("h-10.html", {"inicio", "resultado_s2"}),
        ("h-02.html", {"tipos_documento"}),
        ("h-03-pendiente-de-registro.html", {"facturador"}),
        ("h-03-habilitado.html", {"facturador"}),
        ("h-04.html", {"facturador", "confirmar_registro"}),
        ("h-11-confirmacion.html", {"facturador", "confirmar_sincronizacion"}),
        ("h-11-resultado.html", {"facturador", "resultado_sincronizacion"}),
        ("h-06-en-proceso.html", {"modos_operacion"}),
        ("h-09-cancelar.html", {"inicio", "confirmacion_s2"}),
        ("h-04-cancelar.html", {"facturador", "confirmar_registro"}),
        ("h-07-en-proceso.html", {"set_pruebas"}),
    ],
)
def test_each_recorded_screen_is_recognised_as_itself_only(page: Page, recording: str, screens: set[str]) -> None:
    selector_set = load_set(SELECTORS / "habilitacion" / "2026.toml")
    assert recognised_screens(page, selector_set, RECORDINGS / "2026" / recording) == screens


HAB_MESSAGES = [m for m in mensajes().values() if "habilitacion" in m.portals]


@pytest.mark.parametrize("message", HAB_MESSAGES, ids=lambda m: m.key)
def test_every_known_dian_message_is_classified_with_dians_text(message: MensajeDian) -> None:
    shown = f"Aviso. {message.text.upper()}"  # inside a notification, in another case
    assert clasificar(shown, "habilitacion") == message
    if message.kind in (Kind.EXITO, Kind.YA_HECHO, Kind.NO_SINCRONIZADO):
        return
    error = error_para(shown, "habilitacion", "probar")
    assert error.dian_text == shown
    expected = NeedsHuman if message.kind is Kind.HUMANO else PortalError
    assert type(error) is expected and error.message.startswith("Al probar: ")


def test_the_sandbox_texts_are_all_known() -> None:
    # Every DIAN text the simulated habilitación site can answer with is recognised (its screens' replies
    # on the habilitación site, its login refusals on the catalogue login).
    for key in ("email_invalid", "pending", "in_test", "need_software", "duplicate_set", "s2_ok", "s2_again",
                "no_contributor", "bad_date", "sync_ok", "sync_not_enabled"):
        assert clasificar(SANDBOX_MESSAGES[key], "habilitacion") is not None, key
    for key in ("prod_not_enabled", "prod_not_biller", "person_not_enabled", "person_not_biller", "captcha",
                "invalid", "type_mismatch", "not_associated", "person_type_mismatch", "person_no_permissions",
                "token_expired"):
        assert clasificar(SANDBOX_MESSAGES[key], "catalogo_ingreso") is not None, key


@pytest.mark.parametrize(
    ("shown", "portal", "key"),
    [
        ("¡Importante! No puede agregar modo de operación si se encuentra pendiente de registro.", "habilitacion",
         "pendiente_registro"),
        ("Responsabilidad S2-Facturador Electrónico fue ejecutada satisfactoriamente", "habilitacion",
         "s2_exito"),  # seed OCR
        ("Empresa no se encuentra habilitada como facturador electrónico.", "catalogo_ingreso", "prod_no_facturador"),
        ("Empresa no se encuentra habilitada.", "catalogo_ingreso", "prod_no_habilitada"),
    ],
)
def test_variants_of_dian_texts(shown: str, portal: str, key: str) -> None:
    found = clasificar(shown, portal)
    assert found is not None and found.key == key


def test_an_unknown_reply_is_a_portal_error_that_quotes_it() -> None:
    error = error_para("error: Internal Server Error", "habilitacion", "sincronizar", retryable=True)
    assert isinstance(error, PortalError) and error.retryable
    assert error.dian_text == "error: Internal Server Error"


def test_step_journal_records_before_and_after_and_settles_uncertain_steps(tmp_path: Path) -> None:
    journal = StepJournal(tmp_path / "900123456" / "pasos.jsonl")
    assert journal.status("x.aceptar") is StepStatus.NEVER
    with journal.step("x.aceptar", correo="a@b.co") as step:
        step.note(respuesta="ok")
    assert [r.phase for r in journal.records()] == [Phase.BEFORE, Phase.AFTER]
    assert journal.records()[0].details == {"correo": "a@b.co"}
    assert journal.status("x.aceptar") is StepStatus.DONE
    assert oct(journal.path.stat().st_mode & 0o777) == "0o600"

    with pytest.raises(RuntimeError), journal.step("y.asociar"):
        raise RuntimeError("el clic falló")
    assert journal.status("y.asociar") is StepStatus.UNCERTAIN
    assert [r.step for r in journal.uncertain()] == ["y.asociar"]
    # A read that shows the effect: confirmed, nothing clicked again.
    assert journal.reconcile("y.asociar", lambda: True) is StepStatus.DONE
    assert journal.last("y.asociar").phase is Phase.CONFIRMED

    journal.append("z.sync", Phase.BEFORE)
    journal.path.write_text(journal.path.read_text() + '{"torn', encoding="utf-8")  # a kill mid-write
    assert journal.reconcile("z.sync", lambda: False) is StepStatus.NEVER  # DIAN never got it: may run again
    journal.append("w.fecha", Phase.BEFORE)
    with pytest.raises(NeedsHuman) as stop:
        journal.reconcile("w.fecha", lambda: None)  # the portal cannot tell
    assert stop.value.reason == "paso_incierto"


def test_the_exit_hook_kills_only_at_the_named_click() -> None:
    code = "from bots.steps import exit_hook; exit_hook('a.otro'); exit_hook('a.clic'); print('vivo')"
    env = {**os.environ, "DIAN_TEST_EXIT_AFTER_CLICK": "a.clic"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == KILLED and "vivo" not in proc.stdout
    exit_hook("a.clic")  # not armed in this process: nothing happens


def test_ids_are_checked_before_the_hand_off() -> None:
    software = Software(proveedor="CADENA S. A.", nombre="890930534efacturacadena", id_esperado=str(uuid.uuid4()))
    modo = ModoOperacion(
        modo="Software de un proveedor tecnológico", registro=None, estado="En proceso",
        software="890930534efacturacadena", software_id=PROVIDERS[0].software_id, pin=PIN, url="https://x",
    )
    good_set = SetPruebas(test_set_id=str(uuid.uuid4()), estado="En proceso", aviso="")
    with pytest.raises(NeedsHuman) as stop:  # DIAN shows another Software Id than the provider's
        check_ids(modo, good_set, software)
    assert stop.value.reason == "id_software_distinto" and stop.value.dian_text == modo.software_id
    ocr_like = SetPruebas(test_set_id="ea09391-85cb-486a-95a2-ea87d3b7e01c", estado="En proceso", aviso="")
    with pytest.raises(PortalError, match="TestSetId"):  # 35 characters: never handed over
        check_ids(modo, ocr_like, software.model_copy(update={"id_esperado": None}))
    check_ids(modo, good_set, software.model_copy(update={"id_esperado": modo.software_id}))


def test_approval_comes_from_both_options_or_the_profile() -> None:
    profile = ProductionApproval(fecha_inicio=date(2026, 4, 1), aprobado_por="Ana", aprobado_en=datetime.now(UTC))
    client = SimpleNamespace(aprobacion_produccion=profile)
    assert approval_from(Namespace(aprobado_por=None, fecha=None), client) is profile
    given = approval_from(Namespace(aprobado_por="  Luis  Pérez ", fecha="15-04-2026"), client)
    assert given.fecha_inicio == date(2026, 4, 15) and given.aprobado_por == "Luis Pérez"
    for by, when in (("Luis", None), (None, "2026-04-15"), ("Luis", "15/13/2026"), (" ", "2026-04-15")):
        with pytest.raises(InvalidInput):
            approval_from(Namespace(aprobado_por=by, fecha=when), client)


# === command lines: input errors before any browser =====================================================


def test_bad_input_stops_with_exit_2_before_any_browser(robot_env: RobotEnv) -> None:
    env = robot_env
    env.add_client(NIT_NUEVO, profile={"software": None, "correo_recepcion": None})
    cases = [
        (("asociar_software", "--cliente", NIT_NUEVO), "[cliente.software]"),
        (("registrar_facturador", "--cliente", NIT_NUEVO), "correo_recepcion"),
        (("salida_produccion", "--cliente", NIT_NUEVO, "--fecha", "2026-04-01"), "--aprobado-por y --fecha"),
        (("verificar_habilitacion", "--cliente", "900.123.456-1"), "dígito de verificación"),
    ]
    for args, expected in cases:
        result = env.run(*args, "--json")
        assert result.returncode == 2, result.stderr
        assert result.json is not None and result.json["status"] == "error_entrada"
        assert expected in result.json["message"]
        assert not result.events("navegador iniciado")
    assert env.world.journal.entries() == []

    help_text = env.run("salida_produccion", "--help")
    assert help_text.returncode == 0
    assert "uso:" in help_text.stdout and "--aprobado-por" in help_text.stdout and "irreversible" in help_text.stdout


# === end-to-end scenarios ================================================================================


@pytest.mark.browser
@pytest.mark.timeout(600)  # a loaded machine is slow
def test_new_client_reaches_production(robot_env: RobotEnv) -> None:
    env = robot_env
    nit = NIT_NUEVO
    env.add_client(nit)
    # Given a new client, "Pendiente de registro".
    # When it is registered: DIAN signs it out and the robot logs in again with a second token.
    result = flow(env, "registrar_facturador", nit)
    assert result.returncode == 0, result.stderr
    assert result.json["status"] == "ok"
    opened = [e.details["ok"] for e in env.world.journal.entries(nit, "abrir_token")]
    assert opened == [True, True]
    assert catalogo(env, nit).status == "registrado" and catalogo(env, nit).exchange_email == recepcion(nit)

    # When its provider's software is associated: Software Id, PIN and TestSetId for the provider.
    result = flow(env, "asociar_software", nit)
    assert result.returncode == 0, result.stderr
    handoff_path = env.output_dir / nit / HANDOFF_NAME
    handoff = json.loads(handoff_path.read_text(encoding="utf-8"))
    operation = catalogo(env, nit).operations[0]
    assert is_uuid(handoff["software_id"]) and handoff["software_id"] == operation.software.software_id
    assert is_uuid(handoff["test_set_id"]) and handoff["test_set_id"] == operation.test_set_id
    assert handoff["pin"] == PIN and oct(handoff_path.stat().st_mode & 0o777) == "0o600"
    assert result.json["data"]["test_set_id"] == operation.test_set_id and "pin" not in result.json["data"]
    assert PIN not in result.stdout and PIN not in result.stderr

    # While the provider has not sent the test set: waiting, with when to look again.
    before = datetime.now(UTC)
    result = flow(env, "verificar_habilitacion", nit)
    assert result.returncode == 3, result.stderr
    assert result.json["status"] == "esperando" and result.json["dian_text"] == "En proceso"
    assert operation.test_set_id in result.json["message"]
    retry_at = datetime.fromisoformat(result.json["retry_at"])
    assert before + timedelta(minutes=29) < retry_at < datetime.now(UTC) + timedelta(minutes=31)

    # Once accepted, with the client's approval on the command line: the date (S2), then the synchronisation.
    accept_test_set(env, nit)
    fecha = catalogo(env, nit).habilitation_date.date() + timedelta(days=10)
    result = flow(env, "salida_produccion", nit, "--aprobado-por", "Ana Gómez (correo)", "--fecha", fecha.isoformat())
    assert result.returncode == 0, result.stderr
    assert result.json["data"]["respuesta_fecha"] == SANDBOX_MESSAGES["s2_ok"]
    assert result.json["data"]["respuesta_sincronizacion"] == SANDBOX_MESSAGES["sync_ok"]
    state = catalogo(env, nit)
    assert state.production_date == fecha and state.productive

    # Then running everything again does nothing more on DIAN's side.
    result = flow(env, "habilitacion", nit)
    assert result.returncode == 0, result.stderr
    assert [p["estado"] for p in result.json["data"]["pasos"]] == ["ya_hecho", "ya_hecho", "ok", "ya_hecho"]
    assert "aceptado" in result.json["message"]
    counts = actions(env, nit)
    for action in ("registrar_facturador", "asociar_software", "registrar_fecha_produccion", "sincronizar_produccion"):
        assert counts.get(action) == 1, (action, counts)
    # The PIN is only in the hand-off files: not in logs, results, evidence or the step journals.
    assert not [p for p, text in text_outputs(env) if PIN in text and p.name != HANDOFF_NAME]


def killed(env: RobotEnv, nit: str, name: str, click: str) -> None:
    """Run a flow that the test hook kills right after ``click``."""
    result = flow(env, name, nit, kill_after=click)
    assert result.returncode == KILLED, (click, result.returncode, result.stderr[-2000:])


@pytest.mark.browser
@pytest.mark.timeout(600)  # a loaded machine is slow
def test_killed_while_registering_and_associating_resumes_by_reading(robot_env: RobotEnv) -> None:
    env = robot_env
    nit = NIT_KILL
    env.add_client(nit)
    # Killed after "Registrar" (nothing sent yet), then right after "Aceptar" (sent, never confirmed).
    killed(env, nit, "registrar_facturador", "registrar_facturador.registrar")
    assert "registrar_facturador" not in actions(env, nit)
    killed(env, nit, "registrar_facturador", "registrar_facturador.aceptar")
    assert actions(env, nit)["registrar_facturador"] == 1
    assert step_records(env, nit)[-1]["phase"] == "antes"
    # The re-run reads "Registrado" with the e-mail and clicks nothing.
    result = flow(env, "registrar_facturador", nit)
    assert result.returncode == 0 and result.json["status"] == "ya_hecho", result.stderr
    assert "se confirmó leyendo el portal" in result.json["message"]

    killed(env, nit, "asociar_software", "asociar_software.asociar")
    result = flow(env, "asociar_software", nit)
    assert result.returncode == 0 and result.json["status"] == "ya_hecho", result.stderr
    handoff = json.loads((env.output_dir / nit / HANDOFF_NAME).read_text(encoding="utf-8"))
    assert is_uuid(handoff["software_id"]) and is_uuid(handoff["test_set_id"]) and handoff["pin"] == PIN

    counts = actions(env, nit)
    assert counts.get("registrar_facturador") == 1 and counts.get("asociar_software") == 1, counts
    confirmed = [r["step"] for r in step_records(env, nit) if r["phase"] == "confirmado"]
    assert confirmed == ["registrar_facturador.aceptar", "asociar_software.asociar"]


@pytest.mark.browser
@pytest.mark.timeout(600)  # a loaded machine is slow
def test_killed_while_going_to_production_resumes_by_reading(robot_env: RobotEnv) -> None:
    env = robot_env
    nit = NIT_KILL_PROD  # accepted; its profile carries the client's approval of the date
    env.add_client(nit, profile={"aprobacion_produccion": APPROVAL})
    set_stage(env.world, nit, "aceptado", email=recepcion(nit))
    for click in (
        "salida_produccion.aceptar_fecha",  # H-08 → H-09: nothing sent
        "salida_produccion.confirmar_fecha",  # H-09 "Aceptar": the irreversible one
        "salida_produccion.abrir_sincronizacion",  # the confirmation of the synchronisation opened
        "salida_produccion.sincronizar",  # "Aceptar": synchronised, never confirmed
    ):
        killed(env, nit, "salida_produccion", click)
    result = flow(env, "salida_produccion", nit)
    assert result.returncode == 0 and result.json["status"] == "ya_hecho", result.stderr

    counts = actions(env, nit)
    assert counts.get("registrar_fecha_produccion") == 1 and counts.get("sincronizar_produccion") == 1, counts
    assert catalogo(env, nit).productive
    # Each unconfirmed click was settled by reading: the date on H-03; the synchronisation by
    # logging in on the production site, which only lets synchronised companies in.
    confirmed = [r["step"] for r in step_records(env, nit) if r["phase"] == "confirmado"]
    assert confirmed == ["salida_produccion.confirmar_fecha", "salida_produccion.sincronizar"]
    assert any(e.portal == "produccion" and e.details["ok"] for e in env.world.journal.entries(nit, "abrir_token"))


@pytest.mark.browser
@pytest.mark.timeout(600)  # a loaded machine is slow
def test_chain_reports_where_it_stopped(robot_env: RobotEnv) -> None:
    env = robot_env
    nit = NIT_CADENA
    env.add_client(nit)
    # From "Pendiente de registro": registered, associated, then waiting for the provider's test set.
    result = flow(env, "habilitacion", nit)
    assert result.returncode == 3, result.stderr
    data = result.json["data"]
    assert data["detenido_en"] == "verificacion"
    assert [(p["paso"], p["estado"]) for p in data["pasos"]] == [
        ("registro", "ok"),
        ("asociacion", "ok"),
        ("verificacion", "esperando"),
    ]
    message = result.json["message"]
    assert message.startswith("Se detuvo en «verificación del set de pruebas»")
    assert "el proveedor todavía debe enviar el set de pruebas" in message and result.json["retry_at"]

    # Accepted, but the client has not approved the production date: the exact question, with
    # DIAN's dates, and nothing irreversible done.
    accept_test_set(env, nit)
    result = flow(env, "habilitacion", nit)
    assert result.returncode == 4, result.stderr
    data = result.json["data"]
    assert data["detenido_en"] == "salida_produccion" and data["reason"] == "aprobacion"
    hoy = catalogo(env, nit).habilitation_date.date()
    assert data["fecha_habilitacion"] == hoy.isoformat() and data["fecha_propuesta"] == hoy.isoformat()
    assert f"¿Aprueba registrar el {hoy:%d-%m-%Y}" in data["pregunta"] and data["pregunta"] in result.json["message"]
    counts = actions(env, nit)
    assert "registrar_fecha_produccion" not in counts and "sincronizar_produccion" not in counts


@pytest.mark.browser
@pytest.mark.timeout(600)  # a loaded machine is slow
def test_pending_client_cannot_associate(robot_env: RobotEnv) -> None:
    env = robot_env
    env.add_client(NIT_PENDIENTE)
    result = flow(env, "asociar_software", NIT_PENDIENTE)
    assert result.returncode == 5, result.stderr
    assert result.json["status"] == "error_portal"
    assert SANDBOX_MESSAGES["pending"] in result.json["dian_text"]
    assert "registrar_facturador" in result.json["message"]
    assert "asociar_software" not in actions(env, NIT_PENDIENTE)


@pytest.mark.browser
@pytest.mark.timeout(600)  # a loaded machine is slow
def test_registered_with_another_email_stops(robot_env: RobotEnv) -> None:
    env = robot_env
    nit = NIT_OTRO_CORREO
    env.add_client(nit)
    set_stage(env.world, nit, "registrado", email="otra.direccion@empresa-demo.test")
    result = flow(env, "registrar_facturador", nit)
    assert result.returncode == 4, result.stderr
    assert result.json["data"]["reason"] == "correo_distinto"
    assert "otra.direccion@empresa-demo.test" in result.json["message"] and recepcion(nit) in result.json["message"]
    assert "registrar_facturador" not in actions(env, nit)


@pytest.mark.browser
@pytest.mark.timeout(600)  # a loaded machine is slow
def test_another_software_already_associated_stops(robot_env: RobotEnv) -> None:
    env = robot_env
    nit = NIT_OTRO_SOFTWARE
    env.add_client(nit)
    set_stage(env.world, nit, "software_asociado", software=PROVIDERS[1])
    result = flow(env, "asociar_software", nit)
    assert result.returncode == 4, result.stderr
    assert result.json["data"]["reason"] == "otro_software"
    assert PROVIDERS[1].software in result.json["message"] and PROVIDERS[0].software in result.json["message"]
    assert "asociar_software" not in actions(env, nit)
    assert not (env.output_dir / nit / HANDOFF_NAME).exists()


@pytest.mark.browser
@pytest.mark.timeout(600)  # a loaded machine is slow
def test_dian_failure_on_the_date_is_retried_only_after_reading(robot_env: RobotEnv) -> None:
    env = robot_env
    nit = NIT_FALLA_FECHA
    env.add_client(nit, profile={"aprobacion_produccion": APPROVAL})
    set_stage(env.world, nit, "aceptado")
    # DIAN fails the production-date request before recording it (HTTP 500).
    env.world.faults.inject(nit, "registrar_fecha_produccion", Fault(http_500=True))
    result = flow(env, "salida_produccion", nit)
    assert result.returncode == 5, result.stderr
    assert result.json["status"] == "error_portal" and result.json["retryable"]
    assert result.json["dian_text"] == "HTTP 500"  # the real view's Ajax error handler shows nothing
    assert step_records(env, nit)[-1]["phase"] == "error"
    # The next run reads first: no date on the portal, the dialog is back, so it may click again.
    result = flow(env, "salida_produccion", nit)
    assert result.returncode == 0, result.stderr
    assert "no_aplicado" in [r["phase"] for r in step_records(env, nit)]
    assert actions(env, nit).get("registrar_fecha_produccion") == 1


@pytest.mark.browser
@pytest.mark.timeout(600)  # a loaded machine is slow
def test_date_already_registered_goes_on_to_synchronise(robot_env: RobotEnv) -> None:
    env = robot_env
    nit = NIT_YA_REGISTRADA
    env.add_client(nit, profile={"aprobacion_produccion": APPROVAL})
    set_stage(env.world, nit, "aceptado")
    fecha = date.today()
    # Someone registers the date while the robot's confirmation is on its way: DIAN answers
    # "Contribuyente ya registró fecha de inicio en producción."
    env.world.faults.inject(nit, "registrar_fecha_produccion", Fault(latency_s=3))

    def meanwhile() -> None:
        wait_for_record(env, nit, "salida_produccion.confirmar_fecha", "antes")
        state_of(env.world.clients[nit]).production_date = fecha

    other = threading.Thread(target=meanwhile, daemon=True)
    other.start()
    result = flow(env, "salida_produccion", nit)
    other.join(timeout=5)
    assert result.returncode == 0, result.stderr
    assert result.json["data"]["respuesta_fecha"] == SANDBOX_MESSAGES["s2_again"]
    assert result.json["data"]["respuesta_sincronizacion"] == SANDBOX_MESSAGES["sync_ok"]
    assert actions(env, nit).get("sincronizar_produccion") == 1
