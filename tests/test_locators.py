"""Selector sets: loading and validation, the static contract check, and the live version choice."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots import artifacts
from bots.errors import PortalChanged
from bots.locators import (
    IrreversibleOutsideStep,
    Locators,
    SelectorSetError,
    check,
    fallback_hits,
    irreversible_scope,
    load_set,
)
from bots.locators.__main__ import main
from bots.log import forget_secrets, register_secret

DATA = Path(__file__).parent / "data"
SELECTORS = DATA / "selectors"
RECORDINGS = DATA / "recordings"


def recording(name: str) -> str:
    return (RECORDINGS / "demo" / name).as_uri()


# --- loading ---------------------------------------------------------------------------------------


def test_family_loads_newest_first() -> None:
    locators = Locators("demo", root=SELECTORS)
    assert locators.versions == ["v2", "v1"]
    v1 = locators.sets[1]
    assert [f.candidates for f in v1.screens["login"].fingerprint] == [("form#loginForm",), ("#UserCode",)]
    entrar = v1.screens["login"].locators["entrar"]
    assert entrar.candidates[1] == "form#loginForm button:has-text('Entrar')" and entrar.invented
    assert v1.screens["login"].locators["registrar"].irreversible
    assert v1.screens["login"].locators["usuario"].source == ("unknown",)  # a plain string: unsourced
    assert v1.screens["login"].runtime_only == ("modal_error",)


def test_missing_family_is_reported() -> None:
    with pytest.raises(SelectorSetError, match="No hay conjuntos de selectores para «nada»"):
        Locators("nada", root=SELECTORS)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[screens.login]\nfingerprint = []\n", "huella|vacío|fingerprint"),
        ('[screens.login]\nfingerprint = ["#a"]\n[screens.login.locators]\nEntrar = "#b"\n', "nombre lógico inválido"),
        ('[screens.login]\nfingerprint = ["#a"]\nruntime_only = ["x"]\n', "runtime_only nombra"),
        ('[screens.login]\nfingerprint = ["#a"]\nfingerprnt = ["#b"]\n', "campo desconocido"),
        ('[screens.Login]\nfingerprint = ["#a"]\n', "nombre de pantalla inválido"),
        ("[screens.login\n", "No se pudo leer"),
        (
            '[screens.login]\nfingerprint = ["#a"]\n[screens.login.locators]\n'
            'x = { candidates = ["#b"], source = "b" }\n',
            "fuente inválida",
        ),
        ('[screens.login]\nfingerprint = ["#a"]\n[screens.login.locators]\nx = { candidates = [] }\n', "candidates"),
    ],
)
def test_invalid_sets_are_explained_in_spanish(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "demo" / "v9.toml"
    path.parent.mkdir()
    path.write_text('[meta]\nportal = "demo"\nversion = "v9"\n' + body, encoding="utf-8")
    with pytest.raises(SelectorSetError, match=message):
        load_set(path)


def test_meta_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "demo" / "v3.toml"
    path.parent.mkdir()
    path.write_text('[meta]\nportal = "demo"\nversion = "v4"\n[screens.a]\nfingerprint = ["#a"]\n', encoding="utf-8")
    with pytest.raises(SelectorSetError, match=r"debe llamarse demo/v4\.toml"):
        load_set(path)


def test_selectors_folder_has_no_python_package() -> None:
    root = Path(__file__).resolve().parents[1]
    assert not (root / "selectors" / "__init__.py").exists()
    assert not (SELECTORS / "__init__.py").exists()


# --- the contract check in Chromium --------------------------------------------------------------


@pytest.mark.browser
def test_check_passes_on_the_test_sets(page) -> None:
    report = check(SELECTORS, RECORDINGS, page=page)
    text = "\n".join(report.lines)
    assert report.ok, text
    assert "ok: confirmado" in text
    assert "login.entrar: el primer candidato no aparece; se halla solo por el candidato 1" in text
    assert "Resultado correcto: 2 conjuntos, 3 pantallas" in report.summary()
    assert report.fallbacks == 1
    strict = check(SELECTORS, RECORDINGS, strict=True, page=page)
    assert not strict.ok and strict.failures == 1


def test_check_command_runs_its_own_chromium() -> None:
    # A separate process: the command starts Chromium itself (not the suite's Playwright).
    command = [sys.executable, "-m", "bots.locators", "check"]
    done = subprocess.run(
        [*command, "--selectors", str(SELECTORS), "--recordings", str(RECORDINGS)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Resultado correcto" in done.stdout
    broken = subprocess.run(
        [sys.executable, "-m", "bots.locators", "check", "--estricto", "--selectors", str(SELECTORS),
         "--recordings", str(RECORDINGS)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert broken.returncode == 1 and "login.entrar" in broken.stdout


def test_report_counts_sourced_and_invented(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--selectors", str(SELECTORS), "--detalle"]) == 0
    out = capsys.readouterr().out
    v1 = next(line for line in out.splitlines() if line.startswith("demo/v1"))
    assert v1.split()[1:5] == ["13", "1", "1", "11"], out  # total, sourced, invented, unknown
    assert "inventado: login.entrar" in out


@pytest.mark.browser
def test_check_reports_broken_sets(page, tmp_path: Path) -> None:
    selectors = tmp_path / "selectors"
    shutil.copytree(SELECTORS, selectors)
    v1 = selectors / "demo" / "v1.toml"
    text = v1.read_text(encoding="utf-8")
    text = text.replace('usuario = "#UserCode"', 'usuario = "#UsuarioNuevo"')
    text = text.replace('"v1/confirmado.html"', '"v1/no-existe.html"')
    text = text.replace('fingerprint = ["form#loginForm", "#UserCode"]', 'fingerprint = ["main"]')
    v1.write_text(text, encoding="utf-8")
    (selectors / "demo" / "v2.toml").write_text(
        (selectors / "demo" / "v2.toml")
        .read_text(encoding="utf-8")
        .replace("[\"[data-screen='login-v2']\"]", '["main"]'),
        encoding="utf-8",
    )
    (selectors / "__init__.py").write_text("", encoding="utf-8")
    (selectors / "demo" / "v0.toml").write_text("[meta]\nportal = 'demo'\n", encoding="utf-8")

    report = check(selectors, RECORDINGS, page=page)
    text = "\n".join(report.lines)
    assert not report.ok
    assert "contiene archivos .py" in text
    assert "login.usuario: ningún candidato aparece en v1/login.html" in text
    assert "no existe la grabación" in text
    assert "la huella 'main' no aparece en v1/login.html" in text
    assert "versiones ambiguas" in text
    assert "v0.toml" in text
    assert "Resultado CON FALLAS" in report.summary()


@pytest.mark.browser
def test_recordings_of_a_sibling_family_by_relative_path(page, tmp_path: Path) -> None:
    # habilitación screens are recorded once under recordings/catalogo/: "../catalogo/2026/x.html".
    family = tmp_path / "otra"
    family.mkdir()
    (family / "v1.toml").write_text(
        '[meta]\nportal = "otra"\nversion = "v1"\n[screens.login]\nfingerprint = ["#UserCode"]\n'
        'recordings = ["../demo/v1/login.html"]\n',
        encoding="utf-8",
    )
    report = check(tmp_path, RECORDINGS, page=page)
    assert report.ok and report.screens_checked == 1, report.lines


def test_check_with_no_sets_is_not_an_error(tmp_path: Path) -> None:
    report = check(tmp_path, RECORDINGS)
    assert report.ok and "nada que verificar" in report.lines[0]


# --- live choice in Chromium ------------------------------------------------------------------


@pytest.fixture
def scope(tmp_path: Path) -> Iterator[artifacts.ArtifactScope]:
    with artifacts.scope(artifacts.ArtifactScope(base=tmp_path / "artifacts", run_id="r1", client="900123456")) as s:
        yield s
    forget_secrets()


@pytest.mark.browser
def test_fingerprint_picks_the_live_version(page, scope) -> None:
    locators = Locators("demo", root=SELECTORS)
    page.goto(recording("v1/login.html"))
    screen = locators.screen(page, "login", timeout_s=5)
    assert (screen.version, screen.screen) == ("v1", "login")
    assert screen.qualified("entrar") == "login.entrar"
    screen.get("usuario").fill("1020304050")
    assert screen.get("entrar").count() == 1  # by its fallback candidate
    assert any(h.control == "login.entrar" and h.index == 1 for h in fallback_hits())

    page.goto(recording("v2/login.html"))
    screen = locators.screen(page, "login", timeout_s=5)
    assert screen.version == "v2"
    assert screen.get("entrar").inner_text() == "Ingresar"  # role= selector, live


@pytest.mark.browser
def test_first_of_several_screens_wins(page, scope) -> None:
    locators = Locators("demo", root=SELECTORS)
    page.goto(recording("v1/confirmado.html"))
    screen = locators.screen(page, "login", "confirmado", timeout_s=5)
    assert screen.screen == "confirmado"
    assert screen.get("mensaje").inner_text().startswith("Se ha enviado la ruta de acceso")


@pytest.mark.browser
def test_waits_for_a_fingerprint_that_appears_later(page, scope) -> None:
    page.set_content(
        "<main id='m'></main><script>setTimeout(() => {"
        "document.getElementById('m').setAttribute('data-screen', 'login-v2')}, 300)</script>"
    )
    screen = Locators("demo", root=SELECTORS).screen(page, "login", timeout_s=5)
    assert screen.version == "v2"


@pytest.mark.browser
def test_unknown_page_saves_it_and_raises_portal_changed(page, scope) -> None:
    register_secret("Clave-Prueba-Locators-9")
    page.goto(recording("desconocida.html"))
    page.fill("input[name=secreto]", "Clave-Prueba-Locators-9")
    page.evaluate("document.querySelector('input[name=documento]').setAttribute('value', 'Clave-Prueba-Locators-9')")
    with pytest.raises(PortalChanged) as info:
        Locators("demo", root=SELECTORS).screen(page, "login", timeout_s=1)
    err = info.value
    assert err.exit_code == 5 and err.status == "portal_cambio"
    assert "no coincide con ninguna versión conocida" in err.message
    assert "no se hizo clic" not in err.message  # what the run did is said by the CLI, from the journal
    assert err.page_path and err.page_path.is_file()
    assert err.screenshot_path and err.screenshot_path.is_file()
    assert err.page_path.parent == scope.base / "r1" / "900123456" / "general"
    saved = err.page_path.read_text(encoding="utf-8")
    assert "nuevo-login" in saved and "Clave-Prueba-Locators-9" not in saved
    assert oct(err.page_path.stat().st_mode & 0o777) == oct(0o600)


@pytest.mark.browser
def test_require_names_the_logical_selector(page, scope) -> None:
    page.goto(recording("v1/login.html"))
    screen = Locators("demo", root=SELECTORS).screen(page, "login", timeout_s=5)
    assert screen.require("usuario", timeout_s=2).count() == 1
    with pytest.raises(PortalChanged) as info:
        screen.require("modal_error", timeout_s=0.3)  # present but hidden
    assert info.value.selector == "login.modal_error"
    assert "login.modal_error" in str(info.value)
    with pytest.raises(SelectorSetError, match=r"login\.no_existe"):
        screen.get("no_existe")


@pytest.mark.browser
def test_irreversible_control_resolves_only_inside_the_irreversible_function(page, scope) -> None:
    page.goto(recording("v1/login.html"))
    screen = Locators("demo", root=SELECTORS).screen(page, "login", timeout_s=5)
    with pytest.raises(IrreversibleOutsideStep, match=r"login\.registrar"):
        screen.get("registrar")
    with pytest.raises(IrreversibleOutsideStep):
        screen.require("registrar", timeout_s=1)
    with irreversible_scope("demo.registrar"):
        assert screen.get("registrar").count() == 1
