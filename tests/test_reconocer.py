"""flows.reconocer against the sandbox: every read-only screen of the three portals walked, nothing
journaled but the login, every locator found; with one screen's ids renamed it exits 5 naming it.

Also the review of the allow-list (bots/recon_permitidos.toml): nothing irreversible may be on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.locators import load_family
from bots.recon import PALABRAS_PROHIBIDAS, Permitidos
from bots.text import fold
from sandbox import catalogo_state, drift, muisca_state
from sandbox.demo import DEMO_NIT
from sandbox.muisca import ASUNTO_CLAVE
from sandbox.server import SandboxServer
from sandbox.world import World
from tests.fixtures_robot import FlowResult, RobotEnv

REPO = Path(__file__).resolve().parent.parent
#: What logging in needs and the journal shows: one token per catalogue host, its mail, the MUISCA login.
LOGIN_ACTIONS = {"solicitar_token", "abrir_token", "correo_enviado", "login"}
WALKED = {
    "habilitacion": {"catalogo.login_empresa", "habilitacion.inicio", "catalogo.sesion", "habilitacion.tipos_documento",
                     "habilitacion.facturador", "habilitacion.modos_operacion", "habilitacion.set_pruebas"},
    "produccion": {"catalogo.login_empresa", "catalogo.produccion_inicio", "catalogo.sesion", "catalogo.prefijos"},
    "muisca": {"muisca.login", "muisca.tablero", "muisca.menu_numeracion", "muisca.consulta", "muisca.comunicados"},
}


def recon_world_env(root: Path, imap: Any) -> Iterator[RobotEnv]:
    """A sandbox with the demo client where every read-only screen has something to show."""
    world = World()
    with SandboxServer(world) as server:
        env = RobotEnv(root, world, server, imap)
        env.add_client()
        catalogo_state.set_stage(world, DEMO_NIT, "sincronizado")  # production open; modes list with its test set
        muisca_state.set_stage(world, DEMO_NIT, "formalizada")  # consult results with a resolution
        client = world.clients[DEMO_NIT]
        sent = world.clock.now() - timedelta(days=2)  # an old, used clave dinámica in "Mis comunicados"
        key = muisca_state.ClaveDinamica("UmVjb25vY2UxMjM=", sent, sent + timedelta(minutes=30), usada=True)
        muisca_state.state_of(client).comunicados.append(
            muisca_state.Comunicado(1, ASUNTO_CLAVE, sent, sent, client.key_mailbox, client.nombre_usuario, key)
        )
        yield env
        env.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, pymap_server: Any) -> Iterator[RobotEnv]:
    yield from recon_world_env(tmp_path_factory.mktemp("reconocer"), pymap_server)


@pytest.fixture(scope="module")
def walk(env: RobotEnv) -> tuple[FlowResult, list[Any]]:
    before = len(env.world.journal.entries())
    result = env.run("reconocer", "--cliente", DEMO_NIT, "--json", timeout=300)
    return result, env.world.journal.entries()[before:]


@pytest.mark.robot
def test_walks_every_read_only_screen_and_finds_every_locator(walk: tuple[FlowResult, list[Any]]) -> None:
    result, _ = walk
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.json is not None
    screens = result.json["data"]["pantallas"]
    for portal, names in WALKED.items():
        assert {s["pantalla"] for s in screens if s["portal"] == portal} == names, portal
    for s in screens:
        assert s["version"], s
        assert not s["faltan"], s
        assert s["hallados"], s
        assert s["archivos"], s
    # M-06 before and after "Consultar": both states were inspected.
    assert len([s for s in screens if s["pantalla"] == "muisca.consulta"]) == 2


@pytest.mark.robot
def test_clicks_nothing_the_journal_records_but_the_login(walk: tuple[FlowResult, list[Any]]) -> None:
    _, entries = walk
    actions = [(e.portal, e.action) for e in entries]
    assert {a for _, a in actions} <= LOGIN_ACTIONS, actions
    # One token per catalogue host, one MUISCA login.
    assert sorted(p for p, a in actions if a == "solicitar_token") == ["habilitacion", "produccion"]
    assert [p for p, a in actions if a == "login"] == ["muisca"]


@pytest.mark.robot
def test_one_screen_with_renamed_ids_exits_5_naming_it(env: RobotEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the prefix page (P-02) is altered: its ids renamed by sandbox/drift.py's "ids". The robot
    still finds its controls through id-free fallback candidates, so a plain reconnaissance holds
    (exit 0, the fallbacks reported); ``--estricto`` makes the drift a break naming screen and controls."""
    real_apply = drift.apply

    def only_prefix_page(html: bytes, names: set[str] | frozenset[str]) -> bytes:
        return real_apply(html, names) if b"add-prefix-form" in html else html

    monkeypatch.setattr(drift, "apply", only_prefix_page)
    env.world.drift = {"ids"}
    try:
        before = len(env.world.journal.entries())
        result = env.run(
            "reconocer", "--cliente", DEMO_NIT, "--portal", "produccion", "--estricto", "--json", timeout=180
        )
        entries = env.world.journal.entries()[before:]
    finally:
        env.world.drift = set()
    assert result.returncode == 5, result.stderr[-3000:]
    assert result.json is not None
    assert "catalogo.prefijos" in result.json["message"]
    broken = [s for s in result.json["data"]["pantallas"] if s["pantalla"] == "catalogo.prefijos"]
    assert broken
    drifted = {f["localizador"] for f in broken[0]["solo_alternativa"]} | set(broken[0]["faltan"])
    assert {"nit_facturador", "proveedor_software", "prefijo"} <= drifted
    for name in ("nit_facturador", "proveedor_software"):
        assert name in result.json["message"]
    others = [s for s in result.json["data"]["pantallas"] if s["pantalla"] != "catalogo.prefijos"]
    assert others and all(s["version"] and not s["faltan"] and not s["solo_alternativa"] for s in others)
    assert {e.action for e in entries} <= LOGIN_ACTIONS
    assert "catalogo.prefijos" in result.stderr  # the operator's summary names it too


# --- the allow-list review (no browser) -------------------------------------------------------------


def _flagged() -> dict[str, Any]:
    """Every locator of every selector set, by qualified name ("family.screen.name")."""
    found: dict[str, Any] = {}
    for family in ("catalogo", "habilitacion", "muisca"):
        for selector_set in load_family(family, REPO / "selectors"):
            for screen, spec in selector_set.screens.items():
                for name, locator in spec.locators.items():
                    found.setdefault(f"{family}.{screen}.{name}", []).append(locator)
    return found


def test_allow_list_holds_no_irreversible_or_state_changing_control() -> None:
    allowed = Permitidos.load()
    assert allowed.recorrido and allowed.ingreso
    locators = _flagged()
    words = re.compile("|".join(PALABRAS_PROHIBIDAS))
    for qualified in allowed.todos:
        assert qualified in locators, f"{qualified} no existe en selectors/"
        for locator in locators[qualified]:
            assert not locator.irreversible, f"{qualified} es irreversible"
            for text in (qualified, *locator.candidates):
                assert not words.search(fold(text)), f"{qualified}: {text!r}"


def test_allow_list_review_catches_an_irreversible_entry(tmp_path: Path) -> None:
    """The review itself works: every flagged control would be refused."""
    flagged = [q for q, specs in _flagged().items() if any(s.irreversible for s in specs)]
    assert flagged
    assert not set(flagged) & Permitidos.load().todos
    bad = tmp_path / "permitidos.toml"
    bad.write_text(f'[recorrido]\npermitidos = ["{flagged[0]}"]\n', encoding="utf-8")
    assert flagged[0] in Permitidos.load(bad).recorrido


def test_walk_refuses_a_click_not_on_the_allow_list() -> None:
    from bots.recon import ClicNoPermitido

    allowed = Permitidos.load()
    allowed.exigir("muisca", "tablero", "numeracion")
    with pytest.raises(ClicNoPermitido):
        allowed.exigir("habilitacion", "facturador", "registrar")


def test_table_names_screens_versions_and_what_broke() -> None:
    from bots.recon import ALTERNATIVA, FALTA, OK, InformePantalla, Veredicto, tabla

    good = InformePantalla("produccion", "catalogo", "produccion_inicio", "/Home/Dashboard", "2026",
                           [Veredicto("menu", OK, 0), Veredicto("configuracion", ALTERNATIVA, 1, "#x")])  # fmt: skip
    bad = InformePantalla("produccion", "catalogo", "prefijos", "/Software/AddNumberRange", None,
                          [Veredicto("nit_facturador", FALTA)], nota="la página no coincide")  # fmt: skip
    lines = tabla([good, bad])
    assert "versión" in lines[0] and "faltan" in lines[0]
    assert any("catalogo.produccion_inicio" in line and "2026" in line for line in lines)
    assert any("catalogo.prefijos" in line and "NO RECONOCIDA" in line for line in lines)
    assert any("FALTA: catalogo.prefijos.nit_facturador" in line for line in lines)
    assert any("alternativa: catalogo.produccion_inicio.configuracion" in line for line in lines)
    assert good.ok and not bad.ok


@pytest.mark.robot
def test_a_screen_a_page_object_does_not_know_is_reported_and_nothing_clicked_on_it(
    env: RobotEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MUISCA's Numeración menu (M-03) altered: the page object stops on it (portal changed); the walk
    reports that screen as not recognised, saves it as an unknown screen, and exits 5."""
    real_apply = drift.apply

    def only_menu(html: bytes, names: set[str] | frozenset[str]) -> bytes:
        return real_apply(html, names) if b"vistaMenu:frmMenu" in html else html

    monkeypatch.setattr(drift, "apply", only_menu)
    env.world.drift = {"ids"}
    try:
        before = len(env.world.journal.entries())
        result = env.run("reconocer", "--cliente", DEMO_NIT, "--portal", "muisca", "--json", timeout=180)
        entries = env.world.journal.entries()[before:]
    finally:
        env.world.drift = set()
    assert result.returncode == 5, result.stderr[-3000:]
    assert result.json is not None
    screens = {s["pantalla"]: s for s in result.json["data"]["pantallas"]}
    assert screens["muisca.tablero"]["version"] and not screens["muisca.tablero"]["faltan"]
    assert screens["muisca.menu_numeracion"]["version"] is None
    assert "muisca.menu_numeracion" in result.json["message"]
    assert "muisca.consulta" not in screens  # nothing past the unknown page
    assert [e.action for e in entries] == ["login"]
    saved = Path(result.json["data"]["carpeta"])
    assert "desconocida" in (saved / "muisca" / "manifest.toml").read_text(encoding="utf-8")
