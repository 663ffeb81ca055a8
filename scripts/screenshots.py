"""Screenshots of the simulated DIAN for the documentation, taken in real Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/img]

Builds a sandbox World in-process with the demo client (catalogue stage "software_asociado", MUISCA
request "definitivo"), serves it on a free loopback port and walks the screens as a person would:

- login-empresa.png    habilitación company login (/User/CompanyLogin), form filled, Turnstile passed
- modos-operacion.png  "Configurar modos de operación" with one associated operation mode
- muisca-firma.png     MUISCA "Firmar documento" (M-09) after "Solicítala aquí", with the countdown
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from bots.browser import find_chromium
from bots.mail import parse_token_email
from sandbox import catalogo_state, muisca_state
from sandbox.demo import DEMO_NIT, demo_client
from sandbox.server import SandboxServer
from sandbox.world import MemoryMailSink, SandboxClient, World

VIEWPORT = {"width": 1280, "height": 800}


def build_world() -> World:
    """One demo client: its software associated (test set "En pruebas") and a request to sign."""
    world = World()
    world.add_client(demo_client(DEMO_NIT))
    catalogo_state.set_stage(world, DEMO_NIT, "software_asociado")
    muisca_state.set_stage(world, DEMO_NIT, "definitivo")
    return world


def fill_company_login(page: Page, base: str, client: SandboxClient) -> None:
    """S-02: "Representante legal" with the client's data, waiting for the Turnstile stand-in."""
    page.goto(f"{base}/User/CompanyLogin")
    page.get_by_role("button", name="Representante legal").click()
    form = page.locator("#form0")
    form.get_by_label("Tipo de identificación").select_option(client.rep_id_type)
    form.get_by_label("NIT Representante Legal").fill(client.rep_id_number)
    form.get_by_label("NIT Empresa").fill(client.nit)
    expect(form.locator("input[name='cf-turnstile-response']")).not_to_have_value("")
    form.get_by_label("NIT Empresa").blur()  # no focus ring in the picture


def open_token_link(page: Page, world: World, client: SandboxClient) -> None:
    """Submit the filled login, read the "Token Acceso DIAN" e-mail and open its link."""
    assert isinstance(world.mail, MemoryMailSink)
    page.locator("#form0").get_by_role("button", name="Entrar").click()
    page.wait_for_url("**/User/LoginConfirmed")
    host = f"{world.hosts.habilitacion}:{world.port}"
    links = [parse_token_email(raw, allowed_hosts=[host]) for raw in world.mail.to(client.email_rut)]
    newest = next(found for found in reversed(links) if found is not None)
    page.goto(newest.url)
    page.wait_for_url("**/Home/Dashboard")


def muisca_login(page: Page, base: str, client: SandboxClient) -> None:
    """M-01 (Angular login), "A nombre de un tercero"."""
    page.goto(f"{base}/WebArquitectura/DefLogin.faces")
    page.get_by_role("button", name="A nombre de un tercero").click()
    page.get_by_label("Número de documento de la organización").fill(client.nit)
    page.get_by_role("combobox", name="Tipo de documento").click()
    page.get_by_role("option", name="Cédula de ciudadanía").click()
    page.get_by_label("Número de documento", exact=True).fill(client.muisca_user_doc)
    page.get_by_label("Contraseña", exact=True).fill(client.muisca_password)
    page.get_by_text("Acepto la política de tratamiento de datos personales").click()
    page.get_by_role("button", name="Ingresar").click()
    expect(page).to_have_url(re.compile(r"/WebDashboard/DefDashboard\.faces$"))


def muisca_firma(page: Page) -> None:
    """Dashboard → Numeración de Facturación → AVISO → Ingresar → Formaliza (M-11) → Firmar → M-09."""
    page.get_by_role("button", name="Numeración de Facturación").click()
    page.get_by_role("link", name="Solicitar Numeración de Facturación").click()
    page.get_by_role("dialog", name="AVISO").get_by_role("button", name="Aceptar").click()
    page.get_by_role("button", name="Ingresar").click()
    expect(page.get_by_role("heading", name="Formaliza la Solicitud Numeración de Facturación")).to_be_visible()
    page.get_by_role("row").filter(has_text="DEFINITIVO").get_by_role("button", name="Firmar").click()
    page.get_by_role("link", name="Solicítala aquí").click()
    expect(page.get_by_text("¡Clave dinámica enviada a")).to_be_visible()
    expect(page.get_by_text("Podrás solicitar una nueva clave dinámica en:")).to_be_visible()


def main() -> None:
    parser = argparse.ArgumentParser(description="Capturas de la DIAN simulada para la documentación")
    parser.add_argument("--out", type=Path, default=Path("docs/img"), help="carpeta de las imágenes (docs/img)")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    world = build_world()
    client = world.clients[DEMO_NIT]
    with SandboxServer(world) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(headless=True, executable_path=find_chromium())
        context = browser.new_context(viewport=VIEWPORT, locale="es-CO", timezone_id="America/Bogota")
        page = context.new_page()

        fill_company_login(page, server.url("habilitacion"), client)
        page.screenshot(path=out / "login-empresa.png")

        open_token_link(page, world, client)
        page.goto(f"{server.url('habilitacion')}/Contributor/View")
        page.get_by_role("link", name="Configurar modos de operación").click()
        table = page.get_by_role("table").filter(has_text="En pruebas")
        expect(table.locator("tbody tr")).to_have_count(1)
        table.scroll_into_view_if_needed()
        page.screenshot(path=out / "modos-operacion.png")

        muisca_login(page, server.url("muisca"), client)
        muisca_firma(page)
        page.screenshot(path=out / "muisca-firma.png")
        browser.close()
    for name in ("login-empresa", "modos-operacion", "muisca-firma"):
        print(out / f"{name}.png")


if __name__ == "__main__":
    main()
