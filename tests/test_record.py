"""Recording (bots/record.py through ``flows.reconocer --grabar``) against the sandbox: the folder passes
``python -m bots.locators check``, a broken selector in a copy of a set fails it by name, and no planted
personal value survives in any recorded file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from bots.record import Recorder, Scrubber
from sandbox import catalogo_state, muisca_state
from sandbox.demo import demo_client
from sandbox.muisca import ASUNTO_CLAVE
from sandbox.server import SandboxServer
from sandbox.world import World
from tests.fixtures_robot import FlowResult, RobotEnv

REPO = Path(__file__).resolve().parent.parent
NIT = "901234567"
#: Personal values planted in the sandbox's client: none may reach a recorded file.
PLANTED = {
    "razon_social": "COMERCIALIZADORA PLANTADA LTDA",
    "rep_id_number": "79311452",
    "email_rut": "gerencia.plantada@correo-real.test",
    "nombre_usuario": "JUANA PLANTADA RUIZ",
    "muisca_user_doc": "79311452",
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, pymap_server: Any) -> Iterator[RobotEnv]:
    world = World()
    with SandboxServer(world) as server:
        robot = RobotEnv(tmp_path_factory.mktemp("grabar"), world, server, pymap_server)
        client = world.add_client(demo_client(NIT, PLANTED["razon_social"], **{
            k: v for k, v in PLANTED.items() if k != "razon_social"
        }))  # fmt: skip
        robot.add_client(NIT)
        catalogo_state.set_stage(world, NIT, "sincronizado")
        muisca_state.set_stage(world, NIT, "formalizada")
        sent = world.clock.now() - timedelta(days=2)
        key = muisca_state.ClaveDinamica("UGxhbnRhZGExMjM=", sent, sent + timedelta(minutes=30), usada=True)
        muisca_state.state_of(client).comunicados.append(
            muisca_state.Comunicado(1, ASUNTO_CLAVE, sent, sent, client.key_mailbox, client.nombre_usuario, key)
        )
        yield robot
        robot.close()


@pytest.fixture(scope="module")
def recorded(env: RobotEnv) -> tuple[FlowResult, Path]:
    salida = env.output_dir / "grabacion"
    result = env.run("reconocer", "--cliente", NIT, "--grabar", "--salida", str(salida), "--json", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, salida


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bots.locators", "check", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


@pytest.mark.robot
def test_recorded_folder_is_laid_out_like_recordings(recorded: tuple[FlowResult, Path]) -> None:
    _, salida = recorded
    assert (salida / "manifest.toml").is_file()
    assert (salida / "catalogo" / "manifest.toml").is_file() and (salida / "muisca" / "manifest.toml").is_file()
    assert list((salida / "catalogo" / "2026").glob("*.html")) and list((salida / "catalogo" / "2026").glob("*.png"))
    assert (salida / "red.har").is_file()
    assert not list(salida.parent.glob(".grabacion-*")), "the temporary folder was left behind"
    for html in salida.rglob("*.html"):
        assert "<script" not in html.read_text(encoding="utf-8").lower(), html


@pytest.mark.robot
def test_recorded_folder_passes_the_check(recorded: tuple[FlowResult, Path]) -> None:
    _, salida = recorded
    done = _check("--recordings", str(salida))
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Grabación con manifiesto" in done.stdout
    assert "prefijos" in done.stdout and "consulta" in done.stdout
    assert re.search(r"Resultado correcto: \d+ conjuntos, (1\d|[2-9]\d) pantallas", done.stdout), done.stdout[-500:]


@pytest.mark.robot
def test_a_broken_selector_in_a_copy_fails_the_check_naming_it(
    recorded: tuple[FlowResult, Path], tmp_path: Path
) -> None:
    _, salida = recorded
    copy = tmp_path / "selectors"
    shutil.copytree(REPO / "selectors", copy)
    path = copy / "catalogo" / "2026.toml"
    text = path.read_text(encoding="utf-8")
    # Every candidate of the control broken, as a DIAN change would break a selector set.
    broken = re.sub(r"(?m)^nit_facturador = \{.*\}$", 'nit_facturador = { candidates = ["#NoExiste"] }', text)
    assert broken != text
    path.write_text(broken, "utf-8")
    done = _check("--recordings", str(salida), "--selectors", str(copy))
    assert done.returncode == 1, done.stdout[-3000:]
    assert "prefijos.nit_facturador" in done.stdout


def _forms(value: str) -> set[str]:
    forms = {value, value.lower(), quote(value), quote_plus(value), json.dumps(value)[1:-1]}
    return {f for f in forms if len(f) >= 4}


@pytest.mark.robot
def test_no_planted_personal_value_in_any_recorded_file(env: RobotEnv, recorded: tuple[FlowResult, Path]) -> None:
    _, salida = recorded
    client = env.world.clients[NIT]
    planted = {*PLANTED.values(), f"{NIT}{client.dv}", f"{NIT}-{client.dv}", f"{int(NIT):,}".replace(",", "."), NIT}
    planted |= {t.guid for t in (client.catalogo.tokens.values() if client.catalogo else [])}
    planted.add(client.muisca_password)
    files = [p for p in salida.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        data = path.read_bytes().decode("utf-8", "replace").lower()
        for value in planted:
            for form in _forms(value):
                assert form.lower() not in data, f"{value!r} in {path.relative_to(salida)}"
    # The placeholders took their place, consistently.
    prefix_page = next((salida / "catalogo" / "2026").glob("p-02*.html")).read_text(encoding="utf-8")
    assert "900123456" in prefix_page and "EMPRESA DEMO S.A.S." in prefix_page


@pytest.mark.robot
def test_har_holds_the_portal_hosts_only_without_cookies(env: RobotEnv, recorded: tuple[FlowResult, Path]) -> None:
    _, salida = recorded
    har = json.loads((salida / "red.har").read_text(encoding="utf-8"))
    entries = har["log"]["entries"]
    hosts = {urlsplit(e["request"]["url"]).hostname for e in entries}
    assert hosts <= {env.world.hosts.habilitacion, env.world.hosts.produccion, env.world.hosts.muisca}
    assert any("/Software/AddNumberRange" in e["request"]["url"] for e in entries)
    assert any("/User/AuthToken?token=TOKEN-GRABADO" in e["request"]["url"] for e in entries)
    for e in entries:
        for part in (e["request"], e["response"]):
            assert not part.get("cookies")
            assert not [h for h in part.get("headers", []) if h["name"].lower() in ("cookie", "set-cookie")]


# --- no browser ---------------------------------------------------------------------------------------


def test_scrubber_maps_every_shape_to_stable_placeholders() -> None:
    scrubber = Scrubber()
    scrubber.add_nit(NIT, 3)
    scrubber.add(PLANTED["razon_social"], "EMPRESA DEMO S.A.S.")
    text = (
        f'<td>{NIT}-3</td><td>901.234.567-3</td><input value="9012345673"> Comercializadora Plantada Ltda '
        '<a href="mailto:otra.persona@real.test">x</a> otra.persona@real.test facturacion@dian.gov.co '
        '<input name="__RequestVerificationToken" type="hidden" value="CfDJ8abc-XYZ">'
        " /User/AuthToken?pk=1|2&rk=901234567&token=5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b "
        "__RequestVerificationToken=CfDJ8abc-XYZ&CompanyCode=901234567 99012345670"
    )
    out = scrubber.text(text)
    for value in ("CfDJ8abc", "otra.persona", "5f0c1a2b", "Plantada"):
        assert value.lower() not in out.lower(), value
    assert not re.search(rf"(?<![0-9]){NIT}(?![0-9])", out)
    assert "900123456-8" in out and "900.123.456-8" in out and "9001234568" in out
    assert out.count("facturacion@empresa-demo.test") == 2 and "facturacion@dian.gov.co" in out
    assert "99012345670" in out  # digits around: another number, untouched
    assert scrubber.text(text) == out


def test_an_aborted_recording_promotes_nothing(tmp_path: Path) -> None:
    from bots.config import Settings

    salida = tmp_path / "salida"
    recorder = Recorder(salida, Scrubber(), Settings(), herramienta="prueba")
    assert recorder.tmp.is_dir()
    (recorder.tmp / "catalogo").mkdir()
    recorder.abort()
    assert not recorder.tmp.exists() and not salida.exists()


@pytest.mark.robot
def test_record_command_saves_the_entry_screen_and_passes_the_check(tmp_path: Path, env: RobotEnv) -> None:
    """``python -m bots.record`` (without a window here: nobody walks) saves the page it opens, the person's
    Enter ends it cleanly, and the folder passes the check."""
    salida = tmp_path / "manual"
    done = subprocess.run(
        [sys.executable, "-m", "bots.record", "--portal", "catalogo", "--cliente", NIT, "--salida", str(salida),
         "--sin-ventana"],
        cwd=REPO, env={**os.environ, **env.env}, input="\n", capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = (salida / "catalogo" / "manifest.toml").read_text(encoding="utf-8")
    assert 'screen = "S-02"' in manifest and "catalogo/2026/login_inicio" in manifest
    assert (salida / "red.har").is_file()
    checked = _check("--recordings", str(salida))
    assert checked.returncode == 0, checked.stdout[-3000:]


def test_snapshot_inlines_the_portal_frames_and_drops_scripts_and_tracking(page: Any) -> None:
    from bots.record import snapshot

    page.set_content(
        '<html><head><script>var s = 1;</script></head><body onload="go()">'
        '<iframe id="marco" srcdoc="<p id=dentro>hola</p><script>x()</script>"></iframe>'
        '<a id="enlace" href="javascript:go()">ir</a>'
        '<img src="https://www.google-analytics.com/collect?v=1"></body></html>'
    )
    html = snapshot(page)
    assert "dentro" in html and 'id="marco"' in html  # the frame's document, as srcdoc
    assert "<script" not in html.lower() and "onload" not in html.lower()
    assert "google-analytics" not in html and "javascript:" not in html
