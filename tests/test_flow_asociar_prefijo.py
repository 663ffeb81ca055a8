"""`python -m flows.asociar_prefijo` against the simulated DIAN: real Chromium, real IMAP (pymap; Dovecot
in the last test), run as a subprocess exactly as an operator would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bots import text
from bots.locators import Locators, check, load_set, recognised_screens
from bots.portals.catalogo import Option, find_option
from bots.portals.catalogo.login import IngresoEmpresa, InicioIngreso, TokenRechazado
from bots.portals.catalogo.produccion import AsociacionPrefijos, RangeOption, parse_range_text
from sandbox.catalogo import MESSAGES
from sandbox.catalogo_state import issue_token, set_stage, state_of
from sandbox.catalogo_state import token_link as sandbox_token_link
from sandbox.faults import Fault
from sandbox.server import SandboxServer
from tests.fixtures_prefijo import (
    RESOLUTION,
    SOFTWARE_ID,
    SOFTWARE_LABEL,
    LinkScanningSink,
    add_resolution,
    browser_marker,
    deliver_decoys_first,
    ready_for_prefix,
    token_link,
    token_mail,
)
from tests.fixtures_robot import FlowResult, RobotEnv
from tests.fixtures_sandbox import DEMO_NIT, demo_client

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NIT = DEMO_NIT
REPO = Path(__file__).resolve().parents[1]
DIAN_SENDER = "DIAN <facturacionelectronica@dian.gov.co>"


def run_flow(env: RobotEnv, *args: str, env_vars: dict[str, str] | None = None) -> FlowResult:
    return env.run("asociar_prefijo", "--cliente", NIT, "--prefijo", "FE", "--json", *args, env=env_vars)


def assert_no_token_leak(env: RobotEnv, result: FlowResult) -> None:
    """No token (GUID) the sandbox issued shows up in the output, the logs or any saved file."""
    tokens = [t.guid for c in env.world.clients.values() if c.catalogo for t in c.catalogo.tokens.values()]
    assert tokens
    for guid in tokens:
        assert guid not in result.stdout and guid not in result.stderr
        for path, data in env.artifact_bytes():
            assert guid.encode() not in data, path


def test_catalogo_selectors_match_2026_and_not_the_redesign(page: Page) -> None:
    report = check(REPO / "selectors", REPO / "recordings", ["catalogo"], page=page)
    assert report.ok, "\n".join(report.lines)
    assert report.screens_checked == len(load_set(REPO / "selectors" / "catalogo" / "2026.toml").screens)
    selector_set = load_set(REPO / "selectors" / "catalogo" / "2026.toml")
    redesign = {
        "login_empresa": "s-02-empresa.html",
        "login_persona": "s-02-persona.html",
        "prefijos": "p-02-con-opciones.html",
    }
    for screen, name in redesign.items():
        matched = recognised_screens(page, selector_set, REPO / "recordings" / "catalogo" / "2027-rediseno" / name)
        assert screen not in matched, f"{screen} would be recognised on the redesign {name}"


@pytest.mark.parametrize(
    ("shown", "typed"),
    [
        ("CADENA S. A. - 890930534efacturacadena", "cadena s.a. – 890930534EFACTURACADENA"),
        ("LOGGRO S.A.S – Loggro FE", "LOGGRO S. A. S - Loggro  FE"),
        ("Nit de otro país", "NIT de otro país"),
        ("FE - 18764031407250 (1 - 100)", "FE—18764031407250 (1-100)"),
    ],
)
def test_labels_match_across_case_dashes_and_spacing(shown: str, typed: str) -> None:
    assert text.same(shown, typed)
    assert not text.same("Cédula de ciudadanía", "Cedula de ciudadania")  # accents are kept
    options = [Option("", "Seleccione..."), Option("a", "CADENA S. A. - otro"), Option("b", shown)]
    assert find_option(options, typed) == options[2]


def test_range_option_text_is_parsed() -> None:
    parsed = RangeOption.parse(Option("k", "FE – 18764031407250 (1 - 5000)"))
    assert parsed is not None and (parsed.prefijo, parsed.resolucion, parsed.rango) == (
        "FE", "18764031407250", {"desde": 1, "hasta": 5000}
    )
    none = RangeOption.parse(Option("k", "Sin prefijo - 18760000001 (990000000 - 995000000)"))
    assert none is not None and none.prefijo == "" and none.desde == 990000000
    assert RangeOption.parse(Option("k", "FE 18764031407250")) is None
    # The option value is DIAN's RowKey (prefijo|tipo|resolución): it must name the same range as the text.
    assert RangeOption.parse(Option("FE|01|18764031407250", "FE - 18764031407250 (1 - 100)")) is not None
    assert RangeOption.parse(Option("SETP|01|18764031407250", "FE - 18764031407250 (1 - 100)")) is None
    assert parse_range_text("FE - 18764031407250 (100 - 1)") is None


RECS = REPO / "recordings" / "catalogo" / "2026"


@pytest.mark.parametrize("rel", ["s-02-inicio.html", "s-02-token-expirado.html"])
def test_landing_is_recognised_without_href_user_login(page: Page, rel: str) -> None:
    """Point 1: Login.cshtml's active tab is <a href="#">; the fingerprint does not need /User/Login."""
    page.goto((RECS / rel).as_uri())
    assert page.locator("a[href='/User/Login'].active").count() == 0
    InicioIngreso.recognise(page, Locators("catalogo", root=REPO / "selectors"), timeout_s=5)


@pytest.mark.parametrize("rel", ["s-02-empresa-token-expirado.html", "s-02-persona-token-expirado.html",
                                 "s-02-token-expirado.html"])
def test_every_auth_token_refusal_variant_is_recognised(page: Page, rel: str) -> None:
    """Point 2: the login view re-rendered at /User/AuthToken (message hidden in *LoginFailed) and the
    2025 /User/Login variant all read as DIAN's "Token expirado…" refusal."""
    page.goto((RECS / rel).as_uri())
    refused = TokenRechazado.recognise(page, Locators("catalogo", root=REPO / "selectors"), timeout_s=5)
    assert refused.mensaje() == MESSAGES["token_expired"]


@pytest.mark.parametrize(("rel", "header"), [("p-04-con-fila.html", "Prefijo"),
                                             ("p-04-con-fila-2022.html", "Prefijo Asociado")])
def test_associated_ranges_are_read_by_header_text(page: Page, rel: str, header: str) -> None:
    """Point 10: "FE - 18764031407250 (1 - 100)" parsed; 7 columns with "Tipo" (2026) or the 2022 six;
    data-rk cross-checked; an extra column tolerated; a missing needed column is "portal changed"."""
    from bots.errors import PortalChanged

    locators = Locators("catalogo", root=REPO / "selectors")
    page.goto((RECS / rel).as_uri())
    assert page.locator("thead th", has_text=header).count() >= 1
    [row] = AsociacionPrefijos.recognise(page, locators, timeout_s=5).prefijos_asociados()
    assert (row.prefijo, row.resolucion, row.desde, row.hasta) == ("FE", "18764031407250", 1, 100)
    assert row.software_id == SOFTWARE_ID and row.row_key == "FE|01|18764031407250"
    page.evaluate("""() => {  // an extra column in front of every row
        document.querySelectorAll('table tr').forEach(tr => tr.insertBefore(
            document.createElement(tr.parentElement.tagName === 'THEAD' ? 'th' : 'td'), tr.firstChild));
        document.querySelector('thead th').textContent = 'Nueva'; }""")
    [row] = AsociacionPrefijos.recognise(page, locators, timeout_s=5).prefijos_asociados()
    assert row.prefijo == "FE" and row.fecha_asociacion == "12-02-2026"
    page.evaluate("() => document.querySelectorAll('thead th').forEach(th => { "
                  "if (th.textContent.startsWith('Código')) th.textContent = 'Id'; })")
    with pytest.raises(PortalChanged):
        AsociacionPrefijos.recognise(page, locators, timeout_s=5).prefijos_asociados()


def test_company_form_chooses_the_id_type_by_its_text(page: Page, sandbox: SandboxServer) -> None:
    locators = Locators("catalogo", root=REPO / "selectors")
    page.goto(f"{sandbox.url('produccion')}/User/CompanyLogin")  # straight to the form, as 2025/2026 bots do
    form = IngresoEmpresa.recognise(page, locators, timeout_s=10)
    form.elegir_representante_legal()
    native = page.locator("#CompanyIdentificationType")
    widget = page.locator("button.dropdown-toggle[data-id='CompanyIdentificationType']")

    form.elegir_tipo_identificacion("NIT de otro país", codigo="10910104")  # config label vs DIAN's "Nit de otro país"
    expect(native).to_have_value("10910104")
    expect(widget).to_have_attribute("title", "Nit de otro país")  # bootstrap-select followed the change
    form.elegir_tipo_identificacion("Permiso especial de permanencia (PEP)", codigo="10910103")
    expect(native).to_have_value("10910103")
    form.elegir_tipo_identificacion("Cédula de extranjería")
    expect(widget).to_have_attribute("title", "Cédula de extranjería")


def test_associates_prefix_then_rerun_is_noop(robot_env: RobotEnv) -> None:
    ready_for_prefix(robot_env, NIT)
    add_resolution(robot_env.world, NIT)
    journal = robot_env.world.journal

    first = run_flow(robot_env)
    assert first.returncode == 0, first.stderr
    assert first.json is not None and first.json["status"] == "ok"
    data = first.json["data"]
    assert data["prefijo"] == "FE" and data["resolucion"] == RESOLUTION
    assert data["rango"] == {"desde": 1, "hasta": 100}
    assert data["software"] == SOFTWARE_LABEL and data["software_id"] == SOFTWARE_ID
    assert data["fecha_asociacion"] == robot_env.world.clock.now().strftime("%d-%m-%Y")
    assert Path(data["evidencia"]["captura"]).is_file() and Path(data["evidencia"]["html"]).is_file()
    assert "LISTO" in first.stderr and "Prefijo FE" in first.stderr
    assert journal.count(NIT, "asociar_prefijo") == 1
    assert journal.count(NIT, "solicitar_token") == 1
    assert_no_token_leak(robot_env, first)

    again = run_flow(robot_env)
    assert again.returncode == 0, again.stderr
    assert again.json is not None and again.json["status"] == "ya_hecho"
    assert again.json["data"]["software_id"] == SOFTWARE_ID
    assert again.json["data"]["resolucion"] == RESOLUTION and again.json["data"]["rango"] == {"desde": 1, "hasta": 100}
    assert journal.count(NIT, "asociar_prefijo") == 1  # nothing clicked the second time


def test_killed_right_after_aceptar_then_rerun_never_associates_twice(robot_env: RobotEnv) -> None:
    ready_for_prefix(robot_env, NIT)
    add_resolution(robot_env.world, NIT)
    killed = run_flow(robot_env, env_vars={"DIAN_TEST_EXIT_AFTER_CLICK": "asociar_prefijo.aceptar"})
    assert killed.returncode == 86, killed.stderr
    assert robot_env.world.journal.count(NIT, "asociar_prefijo") == 1
    again = run_flow(robot_env)
    assert again.returncode == 0, again.stderr
    assert again.json is not None and again.json["status"] in ("ok", "ya_hecho")
    assert robot_env.world.journal.count(NIT, "asociar_prefijo") == 1


def test_resolution_not_synced_waits_then_succeeds(robot_env: RobotEnv) -> None:
    ready_for_prefix(robot_env, NIT)
    add_resolution(robot_env.world, NIT, issued_ago=timedelta(minutes=10))  # MUISCA → catalogue takes ~2 h

    waiting = run_flow(robot_env)
    assert waiting.returncode == 3, waiting.stderr
    assert waiting.json is not None and waiting.json["status"] == "esperando"
    retry_at = datetime.fromisoformat(waiting.json["retry_at"])
    assert timedelta(minutes=20) < retry_at - datetime.now(UTC) < timedelta(minutes=40)
    assert "dos horas" in waiting.json["message"]
    assert "no tiene autorizados rangos de numeración" in (waiting.json["dian_text"] or "")
    assert robot_env.world.journal.count(NIT, "asociar_prefijo") == 0

    robot_env.world.clock.advance(hours=2)
    done = run_flow(robot_env)
    assert done.returncode == 0, done.stderr
    assert done.json is not None and done.json["status"] == "ok"
    assert robot_env.world.journal.count(NIT, "asociar_prefijo") == 1


def test_ignores_stale_foreign_lookalike_and_spoofed_token_mails(robot_env: RobotEnv) -> None:
    world = robot_env.world
    ready_for_prefix(robot_env, NIT)
    add_resolution(world, NIT)
    other = world.add_client(demo_client("800111222"))  # a client whose token must not be used
    client = world.clients[NIT]
    port = world.port

    # A genuine earlier token mail, already in the mailbox (before the robot's request).
    pk = f"{client.rep_id_type}|{client.rep_id_number}"
    stale_token = issue_token(world, state_of(client), "produccion", pk, NIT)
    stale_link = sandbox_token_link(world, "produccion", stale_token)
    stale_sent = world.clock.now() - timedelta(minutes=40)
    robot_env.imap.deliver(client.email_rut, token_mail(client.email_rut, stale_link, sent_at=stale_sent))

    # Right after the robot's request, decoys land in INBOX and Junk; DIAN's real mail comes after them.
    to = client.email_rut
    decoys = [
        (token_mail(to, token_link(world, nit=other.nit)), "INBOX"),  # another client's token
        (token_mail(to, token_link(world, nit=NIT, host=f"catalogo-vpfe.localhost.evil.test:{port}")), "INBOX"),
        (token_mail(to, token_link(world, nit=NIT, host=f"catalogo-vpfe-localhost:{port}")), "Junk"),
        (token_mail(to, token_link(world, nit=NIT), sender="DIAN <facturacionelectronica@dian-gov.co>"), "INBOX"),
        (token_mail(to, stale_link, sender=DIAN_SENDER, sent_at=stale_sent), "Junk"),  # the old one, re-delivered
    ]
    thread = deliver_decoys_first(robot_env, NIT, decoys)
    result = run_flow(robot_env)
    thread.join(timeout=10)

    assert result.returncode == 0, result.stderr
    assert result.json is not None and result.json["status"] == "ok"
    opened = world.journal.entries(action="abrir_token")
    assert [(e.nit, e.details["ok"]) for e in opened] == [(NIT, True)]  # only the real link was opened
    ignored = [e.get("event", "") for e in result.log if e.get("event", "").startswith("correo de token ignorado")]
    assert any("remitente" in e for e in ignored) and any("anterior" in e for e in ignored), ignored
    assert_no_token_leak(robot_env, result)


def test_person_login_associates_the_prefix(robot_env: RobotEnv) -> None:
    ready_for_prefix(robot_env, NIT, sandbox={"login_type": "persona"})  # the profile says tipo_ingreso = persona
    add_resolution(robot_env.world, NIT)

    result = run_flow(robot_env)
    assert result.returncode == 0, result.stderr
    assert result.json is not None and result.json["status"] == "ok"
    requests = robot_env.world.journal.entries(NIT, "solicitar_token")
    assert [e.details["tipo"] for e in requests] == ["persona"]


def test_session_lost_mid_flow_logs_in_again_once(robot_env: RobotEnv) -> None:
    ready_for_prefix(robot_env, NIT)
    add_resolution(robot_env.world, NIT)
    robot_env.world.faults.inject(NIT, "rangos", Fault(drop_session=True))  # "Rangos de numeración" → /User/Login

    result = run_flow(robot_env)
    assert result.returncode == 0, result.stderr
    assert result.json is not None and result.json["status"] == "ok"
    journal = robot_env.world.journal
    assert journal.count(NIT, "solicitar_token") == 2
    assert journal.count(NIT, "abrir_token", ok=True) == 2
    assert journal.count(NIT, "asociar_prefijo") == 1
    assert len(result.events("sesión perdida: nuevo ingreso con otro token")) == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("representante_equivocado", MESSAGES["not_associated"]),
        ("sin_produccion", MESSAGES["prod_not_biller"]),
    ],
)
def test_dian_login_refusal_exits_5_quoting_dian(robot_env: RobotEnv, case: str, expected: str) -> None:
    if case == "representante_equivocado":
        ready_for_prefix(robot_env, NIT, profile={"representante": {"numero_documento": "79111222"}})
    else:
        robot_env.add_client(NIT)
        set_stage(robot_env.world, NIT, "fecha_produccion")  # habilitado, not synced to production

    result = run_flow(robot_env)
    assert result.returncode == 5, result.stderr
    assert result.json is not None and result.json["status"] == "error_portal"
    assert result.json["dian_text"] == expected
    assert f'La DIAN dice: "{expected}"' in result.stderr
    assert result.json["artifacts"] and Path(result.json["artifacts"]).is_dir()
    assert robot_env.world.journal.count(NIT, "solicitar_token") == 0


def test_interactive_turnstile_needs_a_person(robot_env: RobotEnv) -> None:
    ready_for_prefix(robot_env, NIT, sandbox={"turnstile": "interactive"})
    add_resolution(robot_env.world, NIT)

    result = run_flow(robot_env)
    assert result.returncode == 4, result.stderr
    assert result.json is not None and result.json["status"] == "requiere_humano"
    assert result.json["data"]["reason"] == "captcha"
    assert robot_env.world.journal.count(NIT, "solicitar_token") == 0  # "Entrar" never clicked


def test_link_scanner_that_consumed_the_token_needs_a_person(robot_env: RobotEnv) -> None:
    ready_for_prefix(robot_env, NIT)
    add_resolution(robot_env.world, NIT)
    scanner = LinkScanningSink(robot_env.world.mail, robot_env.world)
    robot_env.world.mail = scanner

    result = run_flow(robot_env)
    assert result.returncode == 4, result.stderr
    assert result.json is not None and result.json["data"]["reason"] == "escaner_enlaces"
    assert "Safe Links" in result.json["message"]
    assert result.json["dian_text"] == MESSAGES["token_expired"]
    journal = robot_env.world.journal
    assert scanner.opened == [302]
    assert journal.count(NIT, "solicitar_token") == 1  # no loop of new tokens
    assert [e.details["motivo"] for e in journal.entries(NIT, "abrir_token")] == ["", "usado"]
    assert_no_token_leak(robot_env, result)


def test_unknown_portal_version_stops_with_the_page_saved(robot_env: RobotEnv) -> None:
    ready_for_prefix(robot_env, NIT)
    add_resolution(robot_env.world, NIT)
    robot_env.world.faults.set_version(NIT, "catalogo", "2027-rediseno")  # the prefix page is redesigned

    result = run_flow(robot_env, env_vars={"DIAN_PAGE_TIMEOUT_S": "4"})
    assert result.returncode == 5, result.stderr
    assert result.json is not None and result.json["status"] == "portal_cambio"
    page = Path(result.json["data"]["page_path"])
    assert page.is_file() and "asociacion-prefijos" in page.read_text(encoding="utf-8")
    assert result.json["selector"] == "prefijos"
    assert robot_env.world.journal.count(NIT, "asociar_prefijo") == 0


def test_invalid_input_exits_2_before_any_browser(robot_env: RobotEnv, tmp_path: Path) -> None:
    ready_for_prefix(robot_env, NIT)
    marker_env, marker = browser_marker(tmp_path)
    cases = [
        ["--cliente", "900123456-1", "--prefijo", "FE"],  # wrong check digit
        ["--cliente", NIT, "--prefijo", "FE1"],  # a prefix cannot end in a digit
        ["--cliente", "800111222", "--prefijo", "FE"],  # valid NIT, not in the clients file
        ["--cliente", NIT, "--prefijo", "FE", "--software-id", "no-es-uuid"],
    ]
    for args in cases:
        result = robot_env.run("asociar_prefijo", *args, "--json", env=marker_env)
        assert result.returncode == 2, (args, result.stderr)
        assert result.json is not None and result.json["status"] == "error_entrada", args
        assert "DATOS DE ENTRADA INVÁLIDOS" in result.stderr
        assert not marker.exists(), f"a browser was started for {args}"
    assert robot_env.world.journal.entries() == []

    # Control: with valid input the same settings do start the (fake) browser.
    control = robot_env.run("asociar_prefijo", "--cliente", NIT, "--prefijo", "FE", "--json", env=marker_env)
    assert control.returncode != 0 and marker.exists()


@pytest.mark.dovecot
def test_whole_flow_against_dovecot(robot_env_dovecot: RobotEnv) -> None:
    # Dovecot's default auth_username_chars has no "+": use a plain address for this mailbox.
    ready_for_prefix(robot_env_dovecot, NIT, sandbox={"email_rut": f"facturacion-{NIT}@empresa-demo.test"})
    add_resolution(robot_env_dovecot.world, NIT)

    result = run_flow(robot_env_dovecot)
    assert result.returncode == 0, result.stderr
    assert result.json is not None and result.json["status"] == "ok"
    assert robot_env_dovecot.world.journal.count(NIT, "asociar_prefijo") == 1
    assert_no_token_leak(robot_env_dovecot, result)
