"""HAR replay: the read-only paths driven by the recordings alone, with the sandbox STOPPED.

``flows.reconocer --grabar`` records the two catalogue hosts against the sandbox; the sandbox is then
stopped and a fresh Chromium context answers every request from the scrubbed HAR (Playwright's
``route_from_har``). A route handler put in front of it maps the one-time values of the live requests
(the token link's query, the anti-forgery field, Turnstile's response) onto the fixed values the recorder
wrote (``bots.record.normalizar_solicitud``). The robot's own page objects then log in with a recorded token
link and read the prefix page and the operation-mode list.

Not replayed: "Entrar" of the token form. Chromium drops the body of that Ajax answer (JSON) from the HAR
because DIAN's script navigates away as soon as it is read (Playwright records ``content`` without ``text``
in both HAR modes), so the recording cannot answer it. The form's one-time values are normalised all the
same (``test_one_time_values_are_normalised``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Route

from bots.locators import Locators
from bots.portals.catalogo.produccion import NUMBER_RANGES_PATH, AsociacionPrefijos
from bots.portals.habilitacion.modos import ModosOperacion
from bots.record import NIT, RAZON_SOCIAL, normalizar_solicitud
from sandbox import catalogo_state
from sandbox.demo import DEMO_NIT
from sandbox.server import SandboxServer
from sandbox.world import World
from tests.fixtures_robot import RobotEnv

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory, pymap_server: Any) -> Iterator[dict[str, Any]]:
    """Record both catalogue hosts, then stop the sandbox; yields the HAR and the portal URLs."""
    world = World()
    root = tmp_path_factory.mktemp("har")
    salida = root / "grabacion"
    with SandboxServer(world) as server:
        env = RobotEnv(root, world, server, pymap_server)
        env.add_client()
        catalogo_state.set_stage(world, DEMO_NIT, "sincronizado")
        result = env.run(
            "reconocer", "--cliente", DEMO_NIT, "--portal", "habilitacion", "--portal", "produccion", "--grabar",
            "--salida", str(salida), "--json", timeout=300,
        )  # fmt: skip
        urls = {p: world.base_url(p) for p in ("habilitacion", "produccion")}
    env.close()
    assert result.returncode == 0, result.stderr[-3000:]
    yield {"har": salida / "red.har", "urls": urls}


def _replaying_context(browser: Any, har: Path) -> Any:
    context = browser.new_context()
    context.route_from_har(str(har), not_found="abort")

    def normalise(route: Route) -> None:  # registered last: runs first, then hands over to the HAR
        url, post = normalizar_solicitud(route.request.url, route.request.post_data)
        if post is not None and post != route.request.post_data:
            route.fallback(url=url, post_data=post)
        else:
            route.fallback(url=url)

    context.route(re.compile(r".*"), normalise)
    return context


@pytest.mark.robot
def test_read_only_paths_replay_from_the_har_with_the_sandbox_stopped(
    recording: dict[str, Any], browser: Any
) -> None:
    hab, prod = recording["urls"]["habilitacion"], recording["urls"]["produccion"]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{prod}/User/CompanyLogin", timeout=2)  # nobody answers there any more
    har = json.loads(recording["har"].read_text(encoding="utf-8"))
    urls = [e["request"]["url"] for e in har["log"]["entries"]]
    modes_url = next(u for u in urls if "/Contributor/ConfigureOperationModes" in u)
    catalogo = Locators("catalogo", root=REPO / "selectors")
    habilitacion = Locators("habilitacion", root=REPO / "selectors")
    context = _replaying_context(browser, recording["har"])
    try:
        page = context.new_page()
        # A recorded token link (any live token value maps onto the recorded one), then the pages.
        page.goto(f"{prod}/User/AuthToken?pk=x|y&rk={NIT}&token=3f2b8c1e-0000-4000-8000-5a1b2c3d4e5f")
        assert catalogo.screen(page, "sesion", timeout_s=10).screen == "sesion"
        page.goto(f"{prod}{NUMBER_RANGES_PATH}")
        prefixes = AsociacionPrefijos.recognise(page, catalogo, timeout_s=10)
        assert prefixes.nit_facturador().startswith(NIT)
        assert prefixes.nombre_facturador() == RAZON_SOCIAL
        prefixes.prefijos_asociados()  # the table reads by its headers
        page.goto(f"{hab}/User/AuthToken?pk=x|y&rk={NIT}&token=9a8b7c6d-1111-4000-8000-0f1e2d3c4b5a")
        assert catalogo.screen(page, "sesion", timeout_s=10).screen == "sesion"
        page.goto(modes_url)
        modes = ModosOperacion.recognise(page, habilitacion, timeout_s=10)
        rows = modes.filas()
        assert rows and rows[0].software and rows[0].estado
        assert urlsplit(page.url).hostname == urlsplit(hab).hostname
    finally:
        context.close()


def test_one_time_values_are_normalised() -> None:
    """Whatever the live values, a request maps onto the recording's fixed ones."""
    url, post = normalizar_solicitud(
        "http://catalogo-vpfe.localhost:1/User/AuthToken?pk=10910094|1020304050&rk=900123456&token=abc-123",
        "__RequestVerificationToken=CfDJ8live&IdentificationType=10910094&cf-turnstile-response=0.live.token",
    )
    assert url == "http://catalogo-vpfe.localhost:1/User/AuthToken?token=TOKEN-GRABADO"
    assert post == (
        "__RequestVerificationToken=ANTIFALSIFICACION-GRABADA&IdentificationType=10910094"
        "&cf-turnstile-response=TURNSTILE-GRABADO"
    )
    assert normalizar_solicitud("http://x/Software/AddNumberRange", None) == ("http://x/Software/AddNumberRange", None)
