"""Every irreversible click of the robot, enumerated: each goes through ``bots.steps.irreversible`` and
each has a test that kills the robot right after it and proves the re-run never repeats it.

The controls come from the data (``irreversible = true`` in selectors/); ``IRREVERSIBLE`` below must
name every one of them with the journal step that ``irreversible(...)`` records and the kill/resume
test that covers it. At run time a flagged control resolves only inside ``irreversible`` (see
tests/test_locators.py), so a click that skips the protocol cannot pass unnoticed.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from bots.locators import load_set

REPO = Path(__file__).resolve().parents[1]
HAB = "tests/test_flows_habilitacion.py"
NUM = "tests/test_flow_solicitar_numeracion.py"

#: "family/version:screen.control" → (journal step recorded by irreversible(), kill/resume test, the
#: kill point that test names: the step itself, or the sandbox action the kill waits for).
IRREVERSIBLE: dict[str, tuple[str, str, str]] = {
    "catalogo/2026:prefijos_confirmacion.aceptar": (
        "asociar_prefijo.aceptar",
        "tests/test_flow_asociar_prefijo.py::test_killed_right_after_aceptar_then_rerun_never_associates_twice",
        "asociar_prefijo.aceptar",
    ),
    "habilitacion/2026:confirmar_registro.aceptar": (
        "registrar_facturador.aceptar",
        f"{HAB}::test_killed_while_registering_and_associating_resumes_by_reading",
        "registrar_facturador.aceptar",
    ),
    "habilitacion/2026:modos_operacion.asociar": (
        "asociar_software.asociar",
        f"{HAB}::test_killed_while_registering_and_associating_resumes_by_reading",
        "asociar_software.asociar",
    ),
    # H-08 only opens H-09, but both are flagged: one step holds the two clicks.
    "habilitacion/2026:fecha_produccion.aceptar": (
        "salida_produccion.confirmar_fecha",
        f"{HAB}::test_killed_while_going_to_production_resumes_by_reading",
        "salida_produccion.aceptar_fecha",
    ),
    "habilitacion/2026:confirmacion_s2.aceptar": (
        "salida_produccion.confirmar_fecha",
        f"{HAB}::test_killed_while_going_to_production_resumes_by_reading",
        "salida_produccion.confirmar_fecha",
    ),
    "habilitacion/2026:confirmar_sincronizacion.aceptar": (
        "salida_produccion.sincronizar",
        f"{HAB}::test_killed_while_going_to_production_resumes_by_reading",
        "salida_produccion.sincronizar",
    ),
    # MUISCA: the journal step is per request, muisca.numeracion.<prefijo>.<desde>-<hasta>.<step>.
    **{
        f"muisca/2026:{control}": (step, f"{NUM}::test_interrumpido_en_cada_clic_irreversible", kill)
        for control, step, kill in (
            ("solicitud.agregar", "agregar_rango", "agregar_rango"),
            ("solicitud.borrador", "borrador", "borrador"),
            ("solicitud.definitivo", "definitivo", "definitivo"),
            ("firma.solicitar_clave", "solicitar_clave", "solicitar_clave"),
            ("firma_ventana.solicitar_clave", "solicitar_clave", "solicitar_clave"),
            ("firma.firmar", "firma.", "firmar"),
            ("firma_ventana.firmar", "firma.", "firmar"),
        )
    },
}


def flagged_controls() -> set[str]:
    found = set()
    for path in sorted((REPO / "selectors").glob("*/*.toml")):
        selector_set = load_set(path)
        for screen, spec in selector_set.screens.items():
            found |= {f"{selector_set.label}:{screen}.{n}" for n, loc in spec.locators.items() if loc.irreversible}
    return found


def _constants(node: ast.AST) -> set[str]:
    """Every string constant inside an expression (f-string parts included)."""
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def irreversible_calls() -> list[tuple[str, set[str]]]:
    """Each ``irreversible(journal, <step>, ...)`` call: its module and the names its step can take.

    A step is a constant, a module-level name, an expression built from constants
    (``self._paso("borrador")``) or a parameter whose callers pass it by keyword (``paso=...``).
    """
    trees = {}
    for path in sorted([*(REPO / "flows").glob("*.py"), *(REPO / "bots").rglob("*.py")]):
        if path.name != "steps.py":
            module = ".".join(path.relative_to(REPO).with_suffix("").parts)
            trees[module] = ast.parse(path.read_text(encoding="utf-8"))
    keywords: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg:
                        keywords.setdefault(kw.arg, set()).update(_constants(kw.value))
    calls = []
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called != "irreversible" or len(node.args) < 2:
                continue
            step = node.args[1]
            names = _constants(step)
            if isinstance(step, ast.Name):
                value = getattr(importlib.import_module(module), step.id, None)
                names = {value} if isinstance(value, str) else keywords.get(step.id, set())
            assert names, f"{module}: cannot tell the step name of irreversible() ({ast.unparse(step)})"
            calls.append((module, names))
    return calls


def test_every_flagged_control_is_inventoried() -> None:
    assert flagged_controls() == set(IRREVERSIBLE), "selectors/ and IRREVERSIBLE disagree"


def test_every_inventoried_step_is_done_through_the_irreversible_function() -> None:
    calls = irreversible_calls()
    named = set().union(*(names for _, names in calls))
    steps = {step for step, _, _ in IRREVERSIBLE.values()}
    assert steps <= named, f"not done through irreversible(): {sorted(steps - named)}"
    unlisted = [(module, sorted(names)) for module, names in calls if not names & steps]
    assert not unlisted, f"irreversible() calls missing from the inventory: {unlisted}"


@pytest.mark.parametrize("control", sorted(IRREVERSIBLE))
def test_every_irreversible_click_has_a_kill_and_resume_test(control: str) -> None:
    step, node, kill_point = IRREVERSIBLE[control]
    file, _, name = node.partition("::")
    source = (REPO / file).read_text(encoding="utf-8")
    tree = ast.parse(source)
    functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert name in functions, f"{node} does not exist"
    body = ast.get_source_segment(source, functions[name]) or ""
    helper = name.removeprefix("test_")  # scenario functions run by a test of the same name
    if helper in functions:
        body += ast.get_source_segment(source, functions[helper]) or ""
    assert f'"{kill_point}"' in body, f"{node} does not kill the robot at {kill_point} ({step})"
