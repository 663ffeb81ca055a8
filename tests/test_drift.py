"""Drift: the sandbox's pages changed the way sites change (sandbox.drift), every flow run against them.

- Benign changes (wrappers, layout classes removed, options reordered, a column inserted, labels
  re-cased and re-spaced), all at once: the flow's result and the sandbox journal are unchanged.
- Renamed ids: the flow completes through fallback candidates (a warning names each control found
  that way) or stops safely; never a wrong value, never an irreversible action done twice.
- A relabelled button or an announcement overlay: a safe stop (exit 5 or 4) that names what
  changed, and no irreversible action.

Every flow: registrar_facturador, asociar_software, verificar_habilitacion, salida_produccion (approval
recorded in the profile), the habilitación chain, asociar_prefijo, solicitar_numeracion and rangos
consultar. One sandbox per kind of drift, one client per flow, all runs started together on a pool of
``WORKERS`` threads when the module's first flow test asks for its result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest

from bots.formato1876 import parse_formato_1876
from bots.portals.habilitacion.entrega import HANDOFF_NAME
from sandbox import catalogo_state, drift, muisca_state
from sandbox.catalogo import MESSAGES as SANDBOX_MESSAGES
from sandbox.catalogo_state import PROVIDERS
from sandbox.mail import ImapServer
from sandbox.server import SandboxServer
from sandbox.world import World
from tests.fixtures_prefijo import RESOLUTION, SOFTWARE_ID, add_resolution, ready_for_prefix
from tests.fixtures_robot import FlowResult, RobotEnv

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


def test_relabel_drops_the_old_label_after_an_icon_and_data_links_keep_their_case() -> None:
    page = (
        b'<html><body><form><button class="btn"><i class=""></i> Entrar</button></form><table><thead><tr>'
        b'<th>Estado</th></tr></thead><tbody><tr><td><a href="#">En proceso</a></td></tr></tbody></table></body></html>'
    )
    relabelled = lxml.html.document_fromstring(drift.apply(page, {"boton"}).decode())
    assert " ".join(relabelled.xpath("//button")[0].text_content().split()) == "Continuar al portal"
    recased = lxml.html.document_fromstring(drift.apply(page, {"etiquetas"}).decode())
    assert recased.xpath("//td/a")[0].text == "En proceso" and "ESTADO" in recased.xpath("//th")[0].text


def test_renamed_ids_carry_the_pages_own_scripts_and_references_along() -> None:
    page = (
        b'<html><head><style>#errorModal{color:red}</style></head><body><a id="tab" href="#panel">T</a>'
        b'<div id="panel"></div><div id="errorModal"></div><script>document.getElementById("errorModal");'
        b"$('#panel:visible'); var other = 'panelX';</script></body></html>"
    )
    root = lxml.html.document_fromstring(drift.apply(page, {"ids"}).decode())
    assert root.xpath("//a/@href") == ["#panelNuevo"]
    script = root.xpath("//script")[0].text
    assert 'getElementById("errorModalNuevo")' in script and "'#panelNuevo:visible'" in script and "'panelX'" in script
    assert "#errorModalNuevo" in root.xpath("//style")[0].text


def test_unknown_transformation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown drift"):
        drift.apply(PAGE, {"nada"})


# --- every flow under drift -------------------------------------------------------------------------
#
# One simulated DIAN per kind of drift (``World.drift`` is global to a sandbox), one client per flow in
# each, every run of the module started at once on a small pool of threads (each run is a
# ``python -m flows.<name>`` process with its own Chromium). A test waits for its run and checks it.

NITS = {
    "registrar_facturador": "902000011",
    "asociar_software": "902000012",
    "verificar_habilitacion": "902000013",
    "salida_produccion": "902000014",
    "habilitacion": "902000015",
    "asociar_prefijo": "902000016",
    "solicitar_numeracion": "902000017",
    "rangos": "902000018",
}
APPROVAL = {"fecha_inicio": date.today(), "aprobado_por": "Ana Gómez (acta 12)", "aprobado_en": datetime.now(UTC)}
PIN = PROVIDERS[0].pin
#: The kinds of drift each module-wide sandbox serves (test id → transformations).
VARIANTS: dict[str, frozenset[str]] = {
    "benigna": frozenset(drift.BENIGN),
    "ids": frozenset({"ids"}),
    "boton": frozenset({"boton"}),
    "superposicion": frozenset({"superposicion"}),
}
WORKERS = 3


def recepcion(nit: str) -> str:
    return f"recepcion+{nit}@empresa-demo.test"


@dataclass(frozen=True)
class Scenario:
    """A flow, how to put its client at the right stage, what it does on DIAN without drift, and how
    to check its result (the values it hands off or reports must be DIAN's, never a wrong one)."""

    flow: str
    args: tuple[str, ...]
    prepare: Callable[[RobotEnv, str], None]
    #: Irreversible sandbox-journal actions of a run that completes, and how many times each happens.
    actions: dict[str, int]
    check: Callable[[RobotEnv, str, FlowResult], None]
    returncode: int = 0
    status: str = "ok"


# -- preparing each client -------------------------------------------------------------------------


def _catalogue_client(stage: str, *, delay: timedelta | None = None, approval: bool = False) -> Callable[..., None]:
    def prepare(env: RobotEnv, nit: str) -> None:
        env.add_client(nit, profile={"aprobacion_produccion": APPROVAL} if approval else None)
        email = recepcion(nit) if stage != "pendiente_registro" else None
        state = catalogo_state.set_stage(env.world, nit, stage, email=email)
        if delay is not None:
            state.test_set_delay = delay
            catalogo_state.refresh(env.world, state)

    return prepare


def _prefix_client(env: RobotEnv, nit: str) -> None:
    ready_for_prefix(env, nit)
    add_resolution(env.world, nit)


def _muisca_client(stage: str | None = None) -> Callable[..., None]:
    def prepare(env: RobotEnv, nit: str) -> None:
        client = env.add_client(nit)
        muisca_state.state_of(client).key_resend_wait = timedelta(seconds=3)
        if stage:
            muisca_state.set_stage(env.world, nit, stage, prefijo="FE", desde=1, hasta=1000)

    return prepare


# -- checking each result --------------------------------------------------------------------------


def _catalogo(env: RobotEnv, nit: str) -> catalogo_state.CatalogoState:
    state = catalogo_state.state_of(env.world.clients[nit])
    catalogo_state.refresh(env.world, state)
    return state


def _registered(env: RobotEnv, nit: str, result: FlowResult) -> None:
    state = _catalogo(env, nit)
    assert state.status == "registrado" and state.exchange_email == recepcion(nit), state


def _handoff(env: RobotEnv, nit: str, result: FlowResult) -> None:
    assert result.json is not None
    operation = _catalogo(env, nit).operations[0]
    handoff = json.loads((env.output_dir / nit / HANDOFF_NAME).read_text(encoding="utf-8"))
    assert handoff["software_id"] == operation.software.software_id
    assert handoff["test_set_id"] == operation.test_set_id == result.json["data"]["test_set_id"]
    assert handoff["pin"] == PIN


def _waiting(env: RobotEnv, nit: str, result: FlowResult) -> None:
    assert result.json is not None and result.json["dian_text"] == "En proceso"
    assert _catalogo(env, nit).operations[0].test_set_id in result.json["message"]


def _in_production(env: RobotEnv, nit: str, result: FlowResult) -> None:
    assert result.json is not None
    data = result.json["data"]
    state = _catalogo(env, nit)
    assert state.production_date == APPROVAL["fecha_inicio"] and state.productive
    if "pasos" in data:  # the chain
        assert [(p["paso"], p["estado"]) for p in data["pasos"]] == [
            ("registro", "ya_hecho"), ("asociacion", "ok"), ("verificacion", "ok"), ("salida_produccion", "ok")
        ]
    else:
        assert data["respuesta_fecha"] == SANDBOX_MESSAGES["s2_ok"]
        assert data["respuesta_sincronizacion"] == SANDBOX_MESSAGES["sync_ok"]


def _prefix_done(env: RobotEnv, nit: str, result: FlowResult) -> None:
    assert result.json is not None
    data = result.json["data"]
    assert (data["prefijo"], data["resolucion"], data["software_id"]) == ("FE", RESOLUTION, SOFTWARE_ID)
    assert data["rango"] == {"desde": 1, "hasta": 100}


def _numbering_done(env: RobotEnv, nit: str, result: FlowResult) -> None:
    assert result.json is not None
    data = result.json["data"]
    [resolution] = [r for r in env.world.resolutions if r.nit == nit]
    assert data["resolucion"] == resolution.number
    assert (data["prefijo"], data["desde"], data["hasta"]) == ("FE", 1, 5000)
    assert parse_formato_1876(Path(data["pdf"]).read_bytes()).numero == resolution.number


def _ranges_read(env: RobotEnv, nit: str, result: FlowResult) -> None:
    assert result.json is not None
    [request] = [s for s in muisca_state.state_of(env.world.clients[nit]).of(nit) if s.estado != "ANULADO"]
    [row] = result.json["data"]["solicitudes"]
    assert (row["estado"], row["prefijo"], row["desde"], row["hasta"]) == ("FORMALIZADO", "FE", 1, 1000)
    assert (row["resolucion"], row["nro_solicitud"]) == (request.resolucion, request.numero)


NUMBERING_ARGS = ("--prefijo", "FE", "--desde", "1", "--hasta", "5000")
SCENARIOS = {
    "registrar_facturador": Scenario(
        "registrar_facturador", (), _catalogue_client("pendiente_registro"), {"registrar_facturador": 1}, _registered
    ),
    "asociar_software": Scenario(
        "asociar_software", (), _catalogue_client("registrado"), {"asociar_software": 1}, _handoff
    ),
    "verificar_habilitacion": Scenario(
        "verificar_habilitacion", (), _catalogue_client("software_asociado"), {}, _waiting, 3, "esperando"
    ),
    "salida_produccion": Scenario(
        "salida_produccion",
        (),
        _catalogue_client("aceptado", approval=True),
        {"registrar_fecha_produccion": 1, "sincronizar_produccion": 1},
        _in_production,
    ),
    "habilitacion": Scenario(
        "habilitacion",
        (),
        _catalogue_client("registrado", delay=timedelta(0), approval=True),
        {"asociar_software": 1, "registrar_fecha_produccion": 1, "sincronizar_produccion": 1},
        _in_production,
    ),
    "asociar_prefijo": Scenario(
        "asociar_prefijo", ("--prefijo", "FE"), _prefix_client, {"asociar_prefijo": 1}, _prefix_done
    ),
    "solicitar_numeracion": Scenario(
        "solicitar_numeracion",
        NUMBERING_ARGS,
        _muisca_client(),
        {"agregar_rango": 1, "borrador": 1, "definitivo": 1, "firmar": 2},
        _numbering_done,
    ),
    "rangos": Scenario("rangos", (), _muisca_client("formalizada"), {}, _ranges_read),
}
#: Every action on DIAN's side that changes something (a read-only run must journal none of them).
CHANGES = {
    "registrar_facturador", "asociar_software", "eliminar_modo_operacion", "registrar_fecha_produccion",
    "sincronizar_produccion", "asociar_prefijo", "eliminar_asociacion_prefijo", "agregar_rango", "eliminar_rango",
    "borrador", "definitivo", "autorizar_firmante", "desautorizar_firmante", "firmar", "anular",
}


# -- running them all at once ------------------------------------------------------------------------


@dataclass
class Runs:
    """The module's sandboxes (one per drift variant) and the future result of each (variant, flow)."""

    envs: dict[str, RobotEnv]
    futures: dict[tuple[str, str], Future[FlowResult]]

    def result(self, variant: str, flow: str) -> tuple[RobotEnv, str, FlowResult]:
        return self.envs[variant], NITS[flow], self.futures[(variant, flow)].result()


def _run(env: RobotEnv, scenario: Scenario) -> FlowResult:
    nit = NITS[scenario.flow]
    command = ("rangos", "consultar") if scenario.flow == "rangos" else (scenario.flow,)
    return env.run(*command, "--cliente", nit, *scenario.args, "--json", timeout=300)


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pymap_server: ImapServer
) -> Iterator[Runs]:
    """Start every selected (variant, flow) run of this module; tests wait for theirs."""
    wanted: set[tuple[str, str]] = set()
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if item.module is request.module and spec is not None and "variant" in spec.params:
            wanted.add((spec.params["variant"], spec.params["flow"]))
    with ExitStack() as stack, ThreadPoolExecutor(WORKERS, thread_name_prefix="deriva") as pool:
        envs: dict[str, RobotEnv] = {}
        for variant in sorted({v for v, _ in wanted}):
            world = World()
            server = stack.enter_context(SandboxServer(world))
            env = RobotEnv(tmp_path_factory.mktemp(f"deriva-{variant}"), world, server, pymap_server)
            stack.callback(env.close)
            envs[variant] = env
        futures: dict[tuple[str, str], Future[FlowResult]] = {}
        for variant, flow in sorted(wanted):
            SCENARIOS[flow].prepare(envs[variant], NITS[flow])
        for variant in envs:
            envs[variant].world.drift = set(VARIANTS[variant])
        # The slow ones first, so the pool ends together.
        order = sorted(wanted, key=lambda vf: (vf[0] not in ("benigna", "ids"), vf[1] != "habilitacion", vf))
        for variant, flow in order:
            futures[(variant, flow)] = pool.submit(_run, envs[variant], SCENARIOS[flow])
        yield Runs(envs, futures)


def journal_counts(env: RobotEnv, nit: str) -> dict[str, int]:
    """How many times each state-changing action happened for ``nit`` on DIAN's side."""
    counts: dict[str, int] = {}
    for entry in env.world.journal.entries(nit):
        if entry.action in CHANGES:
            counts[entry.action] = counts.get(entry.action, 0) + 1
    return counts


FLOWS = sorted(SCENARIOS)


@pytest.mark.browser
@pytest.mark.robot
@pytest.mark.timeout(900)
@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("variant", ["benigna"])
def test_benign_drift_changes_neither_result_nor_journal(runs: Runs, variant: str, flow: str) -> None:
    scenario = SCENARIOS[flow]
    env, nit, result = runs.result(variant, flow)
    assert result.returncode == scenario.returncode, result.stderr[-4000:]
    assert result.json is not None and result.json["status"] == scenario.status, result.stderr[-4000:]
    scenario.check(env, nit, result)
    assert journal_counts(env, nit) == scenario.actions


@pytest.mark.browser
@pytest.mark.robot
@pytest.mark.timeout(900)
@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("variant", ["ids"])
def test_renamed_ids_complete_through_fallbacks_or_stop_safely(runs: Runs, variant: str, flow: str) -> None:
    scenario = SCENARIOS[flow]
    env, nit, result = runs.result(variant, flow)
    counts = journal_counts(env, nit)
    assert result.returncode in (scenario.returncode, 5), result.stderr[-4000:]
    assert result.json is not None, result.stderr[-4000:]
    if result.returncode == scenario.returncode and result.json["status"] == scenario.status:
        scenario.check(env, nit, result)
        assert counts == scenario.actions
        assert "control hallado por un candidato alternativo" in result.stderr  # drift is seen
    else:
        assert result.returncode == 5 and result.json["selector"], result.stderr[-4000:]
        assert all(counts.get(action, 0) <= n for action, n in scenario.actions.items()), counts
        assert set(counts) <= set(scenario.actions), counts


@pytest.mark.browser
@pytest.mark.robot
@pytest.mark.timeout(900)
@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("variant", ["boton", "superposicion"])
def test_relabelled_button_or_overlay_stops_safely(runs: Runs, variant: str, flow: str) -> None:
    env, nit, result = runs.result(variant, flow)
    assert result.returncode in (4, 5), result.stderr[-4000:]
    assert journal_counts(env, nit) == {}
    assert result.json is not None, result.stderr[-4000:]
    said = f"{result.json['message']} {result.json.get('selector') or ''}"
    if variant == "superposicion":
        assert "Anuncio importante" in said or "cubre" in said, said
    else:  # the stop names the control whose label changed
        assert any(label.lower() in said.lower() for label in drift.RELABEL), said
    assert "no se hizo ningún clic irreversible" in result.stderr, result.stderr[-4000:]
