"""Every catalogue screen through the running sandbox, in real Chromium: the habilitación process from
the token login to "Sincronizar Contribuyente a producción", and the prefix association in production."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from sandbox.catalogo import MESSAGES
from sandbox.catalogo_state import set_stage, state_of
from sandbox.server import SandboxServer
from sandbox.world import Resolution, World
from tests.fixtures_catalogo import browser_login, token_links
from tests.fixtures_sandbox import DEMO_NIT

pytestmark = pytest.mark.browser


def _watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_habilitacion_screens(page: Page, world: World, sandbox: SandboxServer) -> None:
    client = world.clients[DEMO_NIT]
    hab = sandbox.url("habilitacion")
    errors = _watch(page)
    dialog = page.locator(".modal.bootbox")

    # S-02: landing, Persona, and an Empresa error shown in #errorModal.
    page.goto(f"{hab}/User/Login")
    page.get_by_role("link", name="Persona").click()
    expect(page.locator("#PersonCode")).to_be_visible()
    page.goto(f"{hab}/User/CompanyLogin")
    page.get_by_role("button", name="Representante legal").click()
    form = page.locator("#form0")
    form.get_by_label("NIT Representante Legal").fill("1111111")
    form.get_by_label("NIT Empresa").fill(client.nit)
    expect(form.locator("input[name='cf-turnstile-response']")).not_to_have_value("")
    form.get_by_role("button", name="Entrar").click()
    expect(page.locator("#errorModal-message")).to_have_text(MESSAGES["not_associated"])
    page.locator("#errorModal").get_by_role("button", name="Aceptar").click()
    expect(page.locator("#errorModal")).to_be_hidden()

    # S-02 → S-03 → token link → H-01; menu → H-02 → H-03a → H-04 → signed out.
    browser_login(page, world, hab, client)
    page.locator("a#mainnav-toggle").click()
    page.get_by_role("link", name="Registro y habilitación").click()
    page.get_by_role("link", name="Documentos electrónicos").click()
    page.get_by_role("link", name="Factura Electrónica").click()
    expect(page.get_by_label("Estado de aprobación")).to_have_value("Pendiente de registro")
    page.get_by_label("Correo electrónico para recepción de facturas").fill("recepcion@empresa-demo.test")
    page.get_by_role("button", name="Registrar").click()
    expect(dialog).to_contain_text("Al realizar esta acción deberá iniciar sesión nuevamente.")
    dialog.get_by_role("button", name="Aceptar").click()
    page.wait_for_url("**/User/Login")
    assert world.journal.count(DEMO_NIT, "registrar_facturador") == 1

    # A used token re-renders CompanyLogin at /User/AuthToken with DIAN's message in the (hidden, as in
    # DIAN's view without tlogin=1) Representante legal form: present in the page, not shown.
    page.goto(token_links(world, client.email_rut)[-1])
    expect(page.locator("[data-valmsg-for='CompanyLoginFailed']")).to_have_text(MESSAGES["token_expired"])

    # H-03b → H-05 → H-06 (En pruebas) → H-07.
    browser_login(page, world, hab, client)
    page.goto(f"{hab}/Contributor/Check")
    expect(page.get_by_label("Estado de aprobación")).to_have_value("Registrado")
    page.get_by_role("link", name="Configurar modos de operación").click()
    page.get_by_label("Seleccione el modo de operación").select_option(label="Software de un proveedor tecnológico")
    page.locator("select#ProviderId").select_option(label="CADENA S. A.")
    expect(page.locator("#softwares .filter-option")).to_have_text("890930534efacturacadena")
    page.get_by_role("button", name="Asociar").click()
    expect(page.get_by_role("cell", name="En proceso")).to_be_visible()
    expect(page.locator("#add-operation-mode-form .btn-save")).to_have_count(0)  # omitted while in test
    test_set_id = state_of(client).operations[0].test_set_id
    page.locator("a[href*='/TestSet/View']").click()
    expect(page.locator(".alert.custom-alert-success")).to_contain_text(f"(TestSetId) {test_set_id}")
    expect(page.locator("input#TestSetId")).to_have_value(test_set_id)

    # The test set is accepted after the delay: H-08 on landing → H-09 → H-10.
    world.clock.advance(world.test_set_delay)
    page.goto(f"{hab}/Home/Dashboard")
    expect(dialog).to_contain_text("Registrar fecha de inicio salida a producción")
    expect(page.locator("#productionDate")).to_have_value(world.clock.now().strftime("%d-%m-%Y"))
    dialog.get_by_role("button", name="Aceptar").click()
    expect(dialog.locator(".modal-body")).to_contain_text("en el RUT será actualizada con la fecha registrada")
    dialog.get_by_role("button", name="Aceptar").click()
    expect(page.locator("#page-alert")).to_contain_text(MESSAGES["s2_ok"])
    expect(dialog).to_have_count(0)

    # H-03c → H-11 confirmation → result.
    page.goto(f"{hab}/Contributor/Check")
    expect(page.get_by_label("Fecha de inicio producción")).not_to_have_value("")
    page.get_by_role("button", name="Sincronizar Contribuyente a producción").click()
    expect(dialog).to_contain_text("Está seguro que desea sincronizar contribuyente a producción?")
    dialog.get_by_role("button", name="Aceptar").click()
    expect(page.locator("#floating-top-right")).to_contain_text(MESSAGES["sync_ok"])
    for action in ("asociar_software", "registrar_fecha_produccion", "sincronizar_produccion"):
        assert world.journal.count(DEMO_NIT, action) == 1, action
    assert errors == []


def test_production_screens(page: Page, world: World, sandbox: SandboxServer) -> None:
    client = world.clients[DEMO_NIT]
    prod = sandbox.url("produccion")
    set_stage(world, DEMO_NIT, "sincronizado")
    world.resolutions.append(Resolution(
        nit=DEMO_NIT, number="18764031407250", prefix="FE", desde=1, hasta=100, tipo="FACTURA ELECTRÓNICA DE VENTA",
        issued_at=world.clock.now() - timedelta(hours=3)))
    errors = _watch(page)

    # P-01 → P-02 (the menu entry is a plain link to /Software/AddNumberRange; the robot opens it by URL
    # as FEL does) → P-03 → P-04.
    browser_login(page, world, prod, client)
    page.locator("#mainnav-toggle").click()
    expect(page.locator("#AddNumberRange a")).to_have_attribute("href", "/Software/AddNumberRange")
    page.goto(f"{prod}/Software/AddNumberRange")
    # DIAN's view renders ContributorCode twice (HiddenFor, then the labelled read-only TextBoxFor).
    expect(page.locator("input#ContributorCode[type='text']")).to_have_value(client.nit)
    expect(page.get_by_text(MESSAGES_EMPTY)).to_be_visible()
    page.get_by_label("Proveedor - Software").select_option(label="CADENA S. A. - 890930534efacturacadena")
    page.get_by_label("Prefijo").select_option(label="FE - 18764031407250 (1 - 100)")
    page.get_by_role("button", name="Agregar").click()
    dialog = page.locator(".modal.bootbox")
    expect(dialog).to_contain_text("Está seguro que desea asociar el prefijo?")
    expect(dialog.get_by_role("button", name="Cancelar")).to_have_count(0)
    dialog.locator("[data-bb-handler='del']").click()
    expect(page.get_by_role("cell", name="FE - 18764031407250 (1 - 100)", exact=True)).to_be_visible()
    expect(page.locator("tr[data-rk] , a[data-rk]").first).to_have_attribute("data-rk", "FE|01|18764031407250")
    expect(page.get_by_text("no tiene mas prefijos de numeración para asociar a un software.")).to_be_visible()
    assert world.journal.count(DEMO_NIT, "asociar_prefijo") == 1

    # The redesign the robot does not know: same words, other structure.
    world.faults.set_version(DEMO_NIT, "catalogo", "2027-rediseno")
    page.reload()
    expect(page.get_by_label("Prefijo", exact=True)).to_be_visible()
    expect(page.locator("#add-prefix-form")).to_have_count(0)
    world.faults.set_version("*", "catalogo", "2027-rediseno")
    page.goto(f"{prod}/User/CompanyLogin")
    expect(page.get_by_role("button", name="Entrar")).to_be_visible()
    expect(page.locator("#legalRepresentative")).to_have_count(0)
    assert errors == []


MESSAGES_EMPTY = "Ningún rango de numeración asociado disponible para mostrar."
