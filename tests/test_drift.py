"""Drift: the sandbox's pages changed the way sites change (sandbox.drift), every flow run against them.

- Benign changes (wrappers, layout classes removed, options reordered, a column inserted, labels
  re-cased and re-spaced), all at once: the flow's result and the sandbox journal are unchanged.
- Renamed ids: the flow completes through fallback candidates (a warning names each control found
  that way) or stops safely; never a wrong value, never an irreversible action done twice.
- A relabelled button or an announcement overlay: a safe stop (exit 5 or 4) that names what
  changed, and no irreversible action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lxml.html
import pytest

from sandbox import drift
from tests.fixtures_prefijo import RESOLUTION, SOFTWARE_ID, add_resolution, ready_for_prefix
from tests.fixtures_robot import FlowResult, RobotEnv
from tests.fixtures_sandbox import DEMO_NIT

NIT = DEMO_NIT

# --- the transformations themselves (no browser) -----------------------------------------------------

PAGE = b"""<!DOCTYPE html><html><body><form id="f" class="form-horizontal row">
<label for="UserCode" class="col-md-4 control-label">NIT Empresa:</label><input id="UserCode" class="form-control">
<select id="s"><option value="">Seleccione...</option><option value="1">Uno</option><option value="2">Dos</option>
</select><button class="btn btn-primary">Entrar</button></form>
<table><thead><tr><th>Prefijo</th><th>Tipo</th></tr></thead><tbody><tr><td>FE</td><td>Factura</td></tr></tbody></table>
<form id="logoutForm" action="/User/LogOut"></form></body></html>"""


def transformed(*names: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(drift.apply(PAGE, set(names)).decode("utf-8"))


def test_benign_transformations_keep_ids_and_texts() -> None:
    root = transformed(*drift.BENIGN)
    assert root.get_element_by_id("UserCode") is not None
    assert root.xpath("//form[@id='f']/div[@class='drift-envoltura']//input[@id='UserCode']")
    assert "form-control" not in (root.get_element_by_id("UserCode").get("class") or "")
    assert [o.text for o in root.xpath("//select/option")] == ["Seleccione...", "Dos", "Uno"]
    headers = [" ".join(th.text_content().split()) for th in root.xpath("//thead//th")]
    assert headers == ["PREFIJO", "OBSERVACIONES", "TIPO"]
    assert [td.text_content() for td in root.xpath("//tbody//td")] == ["FE", "—", "Factura"]
    assert root.xpath("//label")[0].text.startswith("  NIT  EMPRESA:")


def test_breaking_transformations() -> None:
    root = transformed("ids", "boton", "superposicion")
    assert root.get_element_by_id("UserCodeNuevo") is not None and root.xpath("//label/@for") == ["UserCodeNuevo"]
    assert root.xpath("//button")[0].text == "Continuar al portal"
    assert root.get_element_by_id("anuncio-drift").get("role") == "dialog"
    unsigned = lxml.html.document_fromstring(drift.apply(PAGE.replace(b"logoutForm", b"x"), {"superposicion"}).decode())
    assert not unsigned.xpath("//*[@id='anuncio-drift']")  # only signed-in pages get the overlay


def test_unknown_transformation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown drift"):
        drift.apply(PAGE, {"nada"})


# --- every flow under drift -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A flow, how to put the client at the right stage, and the irreversible sandbox actions it causes."""

    flow: str
    args: tuple[str, ...]
    prepare: Callable[[RobotEnv], None]
    actions: tuple[str, ...]
    check: Callable[[FlowResult], None]


def _prefix_ready(env: RobotEnv) -> None:
    ready_for_prefix(env, NIT)
    add_resolution(env.world, NIT)


def _prefix_done(result: FlowResult) -> None:
    assert result.json is not None, result.stderr
    data = result.json["data"]
    assert (data["prefijo"], data["resolucion"], data["software_id"]) == ("FE", RESOLUTION, SOFTWARE_ID)


SCENARIOS = {
    "asociar_prefijo": Scenario(
        "asociar_prefijo", ("--prefijo", "FE"), _prefix_ready, ("asociar_prefijo",), _prefix_done
    ),
}


def run(env: RobotEnv, scenario: Scenario, names: set[str]) -> FlowResult:
    scenario.prepare(env)
    env.world.drift = set(names)
    try:
        return env.run(scenario.flow, "--cliente", NIT, *scenario.args, "--json")
    finally:
        env.world.drift = set()


def irreversible_counts(env: RobotEnv, scenario: Scenario) -> dict[str, int]:
    return {action: env.world.journal.count(NIT, action) for action in scenario.actions}




@pytest.mark.browser
@pytest.mark.parametrize("flow", sorted(SCENARIOS))
def test_benign_drift_changes_neither_result_nor_journal(robot_env: RobotEnv, flow: str) -> None:
    scenario = SCENARIOS[flow]
    result = run(robot_env, scenario, set(drift.BENIGN))
    assert result.returncode == 0, result.stderr
    assert result.json is not None and result.json["status"] == "ok", result.stderr
    scenario.check(result)
    assert all(n == 1 for n in irreversible_counts(robot_env, scenario).values())


@pytest.mark.browser
@pytest.mark.parametrize("flow", sorted(SCENARIOS))
def test_renamed_ids_complete_through_fallbacks_or_stop_safely(robot_env: RobotEnv, flow: str) -> None:
    scenario = SCENARIOS[flow]
    result = run(robot_env, scenario, {"ids"})
    counts = irreversible_counts(robot_env, scenario)
    assert result.returncode in (0, 5), result.stderr
    if result.returncode == 0:
        scenario.check(result)
        assert all(n == 1 for n in counts.values())
        assert "control hallado por un candidato alternativo" in result.stderr  # drift is seen
    else:
        assert all(n <= 1 for n in counts.values())
        assert result.json is not None and result.json["selector"], result.stderr


@pytest.mark.browser
@pytest.mark.parametrize("flow", sorted(SCENARIOS))
@pytest.mark.parametrize("change", ["boton", "superposicion"])
def test_relabelled_button_or_overlay_stops_safely(robot_env: RobotEnv, flow: str, change: str) -> None:
    scenario = SCENARIOS[flow]
    result = run(robot_env, scenario, {change})
    assert result.returncode in (4, 5), result.stderr
    assert all(n == 0 for n in irreversible_counts(robot_env, scenario).values())
    assert result.json is not None
    said = f"{result.json['message']} {result.json.get('selector') or ''}"
    if change == "superposicion":
        assert "Anuncio importante" in said or "cubre" in said, said
    assert "no se hizo ningún clic irreversible" in result.stderr
