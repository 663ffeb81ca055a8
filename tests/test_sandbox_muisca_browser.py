"""Every MUISCA screen served by the running sandbox, driven in real Chromium the way a person does it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest
from playwright.sync_api import Page, expect

from sandbox.muisca_state import state_of
from sandbox.server import SandboxServer
from sandbox.world import SandboxClient, World

pytestmark = pytest.mark.browser

DIAN_LOGIN_ERROR = "Datos incorrectos o no encontrados. Verifique e intente de nuevo."
CONSENT = "Acepto la política de tratamiento de datos personales"


def _pdf_text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(path).pages)


def _angular_login(page: Page, client: SandboxClient, password: str) -> None:
    page.get_by_role("button", name="A nombre de un tercero").click()
    page.get_by_label("Número de documento de la organización").fill(client.nit)
    page.get_by_role("combobox", name="Tipo de documento").click()
    page.get_by_role("option", name="Cédula de ciudadanía").click()
    page.get_by_label("Número de documento", exact=True).fill(client.muisca_user_doc)
    page.get_by_label("Contraseña", exact=True).fill(password)
    ingresar = page.get_by_role("button", name="Ingresar")
    expect(ingresar).to_be_disabled()
    page.get_by_text(CONSENT).click()
    expect(ingresar).to_be_enabled()
    ingresar.click()


def _sign(page: Page, key: str, password: str) -> None:
    page.get_by_label("Clave dinámica").fill(key)
    page.get_by_label("Clave de tu Firma Electrónica").fill(password)
    page.get_by_role("button", name="Firmar documento(s)").click()


def _download(page: Page, button: str, tmp_path: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_numeracion_request_through_every_screen(
    sandbox: SandboxServer, world: World, page: Page, tmp_path: Path
) -> None:
    client = next(iter(world.clients.values()))
    base = sandbox.url("muisca")

    # M-01: a wrong password first (DIAN's text), then the right one.
    page.goto(base + "/WebArquitectura/DefLogin.faces")
    expect(page).to_have_url(re.compile(r"/WebIdentidadLogin/\?ideRequest="))
    _angular_login(page, client, "mala")
    expect(page.get_by_role("alert")).to_contain_text(DIAN_LOGIN_ERROR)
    _angular_login(page, client, client.muisca_password)

    # M-02, M-10 (empty), M-03, M-04, M-05.
    expect(page).to_have_url(re.compile(r"/WebDashboard/DefDashboard\.faces$"))
    expect(page.get_by_text("Mis actividades")).to_be_visible()
    page.get_by_role("link", name="Comunicados").click()
    expect(page.get_by_role("heading", name="Mis comunicados")).to_be_visible()
    page.go_back()
    page.get_by_role("button", name="Numeración de Facturación").click()
    page.get_by_role("link", name="Solicitar Numeración de Facturación").click()
    aviso = page.get_by_role("dialog", name="AVISO")
    expect(aviso).to_contain_text("Recuerde tener actualizado el RUT para evitar sanciones.")
    aviso.get_by_role("button", name="Aceptar").click()
    expect(page.get_by_role("heading", name="Información del Contribuyente")).to_be_visible()
    expect(page.get_by_label("NIT")).to_have_value(client.nit)
    page.get_by_role("button", name="Ingresar").click()

    # M-06: nothing yet.
    expect(page.get_by_role("heading", name="Consultar Numeración de Facturación")).to_be_visible()
    page.get_by_role("button", name="Consultar").click()
    expect(page.get_by_text("No se encontraron registros")).to_be_visible()
    page.get_by_role("button", name="Autorizar Rangos").click()

    # M-07: a validation error, then one row, Borrador.
    expect(page.get_by_role("heading", name="Solicitud de Autorización de Rangos")).to_be_visible()
    page.get_by_label("Prefijo").fill("FE")
    page.get_by_label("Tipo Facturación").select_option(label="FACTURA ELECTRÓNICA DE VENTA")
    page.get_by_label("Rango Desde").fill("100")
    page.get_by_label("Rango Hasta").fill("1")
    page.get_by_role("button", name="Agregar").click()
    expect(page.get_by_role("alert")).to_contain_text("El Rango Hasta debe ser mayor o igual al Rango Desde.")
    page.get_by_label("Rango Desde").fill("1")
    page.get_by_label("Rango Hasta").fill("1000")
    page.get_by_role("button", name="Agregar").click()
    rows = page.locator('[id="vistaSolicitud:frmSolicitud:tblRangos"] tbody tr')
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("FACTURA ELECTRÓNICA DE VENTA")
    page.get_by_role("button", name="Borrador").click()

    # M-08 #1: the draft (formato 1302), then back to M-07 and Definitivo.
    expect(page.get_by_text("El documento ha sido guardado de forma exitosa.")).to_be_visible()
    assert "BORRADOR" in _pdf_text(_download(page, "Ver Documento", tmp_path))
    page.get_by_role("button", name="Aceptar").click()
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="Definitivo").click()

    # M-09 variant A → B; the key is read from Mis comunicados in a second tab.
    expect(page.get_by_text("Documento recibido.")).to_be_visible()
    page.get_by_role("link", name="Solicítala aquí").click()
    expect(page.get_by_text("¡Clave dinámica enviada a *****@empresa-demo.test!")).to_be_visible()
    expect(page.get_by_text("Podrás solicitar una nueva clave dinámica en:")).to_be_visible()
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Ver mi bandeja de comunicados").click()
    inbox = opened.value
    inbox.wait_for_load_state()
    expect(inbox.get_by_role("link", name="Se informa clave dinámica - Proceso de firma electrónica")).to_be_visible()
    key = inbox.locator('[id$=":pnlMensajeCorreo"] [id$=":lblClave"]').inner_text()
    inbox.close()
    assert key == state_of(client).clave.valor

    # M-09 error states: wrong key, wrong signature password, expired key.
    _sign(page, "XXXXXXXX=", client.firma_password)
    expect(page.get_by_role("alert")).to_have_text(
        "La clave dinámica ingresada no es válida. Verifíquela e intente de nuevo."
    )
    _sign(page, key, "otra")
    expect(page.get_by_role("alert")).to_contain_text("La clave de la Firma Electrónica no es correcta.")
    world.clock.advance(state_of(client).key_validity + timedelta(seconds=1))
    _sign(page, key, client.firma_password)
    expect(page.get_by_role("alert")).to_contain_text("ya no está vigente")
    page.get_by_role("link", name="Solicítala aquí").click()  # the countdown is over: the link is back
    key = state_of(client).clave.valor
    _sign(page, key, client.firma_password)

    # M-08 #2 → M-11 → second signature (same key, still valid) → M-08 #3 → formato 1876 → M-12.
    page.get_by_role("button", name="Aceptar").click()
    expect(page.get_by_role("heading", name="Formaliza la Solicitud Numeración de Facturación")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="DEFINITIVO")
    expect(row.get_by_role("button", name="Anular")).to_be_visible()
    row.get_by_role("button", name="Firmar").click()
    expect(page.get_by_text("¡Clave dinámica enviada a")).to_be_visible()
    _sign(page, key, client.firma_password)
    expect(page.get_by_text("El documento ha sido guardado de forma exitosa.")).to_be_visible()
    [resolution] = world.resolutions
    formato = _download(page, "Ver Documento", tmp_path)
    assert formato.name == f"1876_{resolution.number}.pdf"
    text = _pdf_text(formato)
    assert resolution.number in text and "FE 1 1,000 24 AUTORIZACIÓN" in text
    page.get_by_role("button", name="Aceptar").click()
    expect(page.get_by_role("heading", name="Autorización Numeración de Facturación")).to_be_visible()
    expect(page.locator('[id$=":lblNumeroResolucion"]')).to_have_text(resolution.number)
    page.get_by_role("button", name="Aceptar").click()
    page.get_by_role("button", name="Consultar").click()
    expect(page.get_by_role("link", name=resolution.number)).to_be_visible()

    actions = [e.action for e in world.journal.entries(client.nit) if e.portal == "muisca"]
    assert actions.count("definitivo") == 1 and actions.count("borrador") == 1
    assert world.journal.count(client.nit, "firmar", ok=True) == 2


def test_legacy_login_lockout_and_expired_password(sandbox: SandboxServer, world: World, page: Page) -> None:
    client = next(iter(world.clients.values()))
    base = sandbox.url("muisca")
    world.faults.set_version("*", "muisca", "legacy")

    def legacy_login(password: str) -> None:
        page.goto(base + "/WebArquitectura/DefLogin.faces")
        page.get_by_label("Ingresar a nombre de:").select_option(label="NIT")
        page.get_by_label("Número de documento de la organización:").fill(client.nit)
        page.get_by_label("Tipo de documento del usuario:").select_option(label="Cédula de Ciudadanía")
        page.get_by_label("Número de documento:", exact=True).fill(client.muisca_user_doc)
        page.get_by_label("Contraseña:").fill(password)
        expect(page.get_by_label("Activar teclado virtual")).to_have_value("N")
        page.get_by_role("button", name="Ingresar").click()

    state_of(client).password_expired = True
    legacy_login(client.muisca_password)
    expect(page.get_by_text("Atención inmediata")).to_be_visible()
    page.get_by_role("button", name="Cerrar").click()
    for _ in range(2):
        legacy_login("mala")
        expect(page.get_by_role("alert")).to_have_text(
            "Datos incorrectos o no encontrados. Verifique e intente de nuevo."
        )
    legacy_login("mala")
    expect(page.get_by_role("alert")).to_contain_text("El usuario se encuentra bloqueado")

    # The Angular login shows the locked dialog too.
    world.faults.clear()
    page.context.clear_cookies()
    page.goto(base + "/WebArquitectura/DefLogin.faces")
    _angular_login(page, client, client.muisca_password)
    dialog = page.get_by_role("dialog", name="Usuario bloqueado")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cerrar").click()
    expect(dialog).to_have_count(0)
    assert world.journal.count(client.nit, "login") == 5
