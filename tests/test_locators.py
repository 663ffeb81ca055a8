"""Selector sets: loading and validation, the static contract check, and the live version choice."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest

from bots import artifacts
from bots.errors import PortalChanged
from bots.locators import Locators, SelectorSetError, Unsupported, check, load_set, main, static_matches
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
    assert v1.screens["login"].fingerprint == ("form#loginForm", "#UserCode")
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


# --- static evaluation against recordings ------------------------------------------------------


@pytest.fixture(scope="module")
def login_doc():
    return lxml.html.parse(str(RECORDINGS / "demo" / "v1" / "login.html")).getroot()


@pytest.mark.parametrize(
    ("selector", "count"),
    [
        ("#UserCode", 1),
        ("input[name='Password']", 1),
        ("form#loginForm button:has-text('Entrar')", 1),
        ("button:has-text('entrar')", 1),  # has-text is case-insensitive
        ("button:text-is('entrar')", 0),  # text-is is exact
        ("text=Ingrese sus datos", 1),
        ("text=ingrese SUS datos", 1),
        ('text="Iniciar sesión"', 1),
        ('text="Iniciar"', 0),
        (r"text=/iniciar\s+SESIÓN/i", 1),
        ("'Ayuda'", 1),
        ("role=link[name='Ayuda']", 1),
        ("role=button[name='Entrar']", 1),
        ("role=textbox", 1),
        ("select#IdentificationType >> option", 2),
        ("select#IdentificationType >> option >> nth=1", 1),
        ("xpath=//input", 2),
        ("//form//button", 1),
        ("form:has(#UserCode)", 1),
        ("css=#UserCode:visible", 1),
        ("id=UserCode", 1),
        ("#noexiste", 0),
    ],
)
def test_static_matches(login_doc, selector: str, count: int) -> None:
    assert static_matches(login_doc, selector) == count


@pytest.mark.parametrize("selector", ["button:near(#UserCode)", "role=spinbutton", "internal:control=enter-frame"])
def test_static_matches_unsupported(login_doc, selector: str) -> None:
    with pytest.raises(Unsupported):
        static_matches(login_doc, selector)


def test_check_passes_on_the_test_sets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--selectors", str(SELECTORS), "--recordings", str(RECORDINGS)]) == 0
    out = capsys.readouterr().out
    assert "ok: login" in out and "ok: confirmado" in out
    assert "Resultado correcto: 2 conjuntos, 3 pantallas verificadas, 0 fallas" in out


def test_check_reports_broken_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
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

    report = check(selectors, RECORDINGS)
    text = "\n".join(report.lines)
    assert not report.ok
    assert "contiene archivos .py" in text
    assert "login.usuario: '#UsuarioNuevo' no aparece en ninguna grabación" in text
    assert "no existe la grabación" in text
    assert "la huella 'main' no aparece en v1/login.html" in text
    assert "versiones ambiguas" in text
    assert "v0.toml" in text
    assert main(["check", "--selectors", str(selectors), "--recordings", str(RECORDINGS)]) == 1
    assert "Resultado CON FALLAS" in capsys.readouterr().out


def test_recordings_of_a_sibling_family_by_relative_path(tmp_path: Path) -> None:
    # habilitación screens are recorded once under recordings/catalogo/: "../catalogo/2026/x.html".
    family = tmp_path / "otra"
    family.mkdir()
    (family / "v1.toml").write_text(
        '[meta]\nportal = "otra"\nversion = "v1"\n[screens.login]\nfingerprint = ["#UserCode"]\n'
        'recordings = ["../demo/v1/login.html"]\n',
        encoding="utf-8",
    )
    report = check(tmp_path, RECORDINGS)
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
    assert screen.get("entrar").count() == 1

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
    assert "no coincide con ninguna versión conocida" in err.message and "no se hizo clic" in err.message
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
