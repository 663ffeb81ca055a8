"""The recorded catalogue screens (recordings/catalogo): well-formed, all in the manifest, each
carrying the ids and texts its manifest entry promises, and usable in real Chromium."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from lxml import html as lxml_html
from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parent.parent / "recordings" / "catalogo"
MANIFEST = tomllib.loads((ROOT / "manifest.toml").read_text(encoding="utf-8"))
SCREENS: list[dict] = MANIFEST["screen"]
HTML_FILES = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.html"))
PORTALS = {"habilitacion", "produccion"}
# Duplicate ids DIAN itself renders: AddNumberRange.cshtml:45-46 (HiddenFor) and :57, :63 (TextBoxFor).
SOURCE_DUPLICATES = {"p-0": {"ContributorCode", "ContributorName"}}


def _doc(rel: str) -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring((ROOT / rel).read_text(encoding="utf-8"))


def _visible_text(doc: lxml_html.HtmlElement) -> str:
    """What the screen shows: text without scripts and styles, plus the values of visible inputs."""
    values = [el.get("value", "") for el in doc.xpath("//input[not(@type='hidden')]")]
    for el in doc.xpath("//script | //style"):
        el.drop_tree()
    return " ".join(" ".join([doc.text_content(), *values]).split())


def _ids(entry: dict) -> str:
    return entry["file"]


# -- files and manifest ------------------------------------------------------------------------------

@pytest.mark.parametrize("rel", HTML_FILES)
def test_every_page_parses_and_has_unique_ids(rel: str) -> None:
    doc = _doc(rel)
    assert doc.tag == "html" and doc.get("lang") == "es"
    assert doc.find("head/title") is not None and doc.find("head/title").text.strip()
    assert doc.find("body") is not None
    ids = Counter(el.get("id") for el in doc.iter() if isinstance(el.tag, str) and el.get("id"))
    allowed = next((ids_ for prefix, ids_ in SOURCE_DUPLICATES.items() if rel.startswith(f"2026/{prefix}")), set())
    assert [i for i, n in ids.items() if n > 1 and i not in allowed] == [], f"{rel}: duplicate ids"
    # No network: nothing is loaded from another host.
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("src", "href"):
            value = el.get(attr, "")
            if el.tag in ("script", "link", "img", "iframe") and value:
                assert not re.match(r"^(https?:)?//", value), f"{rel}: external {el.tag} {value}"


def test_every_file_is_in_the_manifest_and_every_entry_has_a_file() -> None:
    listed = [entry["file"] for entry in SCREENS]
    assert sorted(set(listed)) == HTML_FILES
    assert len(listed) == len(set(listed)), "a file is listed twice"


def test_manifest_entries_are_complete() -> None:
    versions = MANIFEST["versions"]
    keys = set()
    for entry in SCREENS:
        where = entry["file"]
        assert entry["file"].split("/")[0] == entry["version"], where
        assert entry["version"] in versions, where
        assert set(entry["portal"]) and set(entry["portal"]) <= PORTALS, where
        assert re.fullmatch(r"[SHP]-\d\d", entry["screen"]), where
        assert Path(entry["file"]).name.startswith(entry["screen"].lower()), where
        assert entry["state"] and entry["route"].startswith("/") and entry["title"], where
        assert entry["reconstructed"] is True and isinstance(entry["ids_invented"], bool), where
        provenance = entry["provenance"]
        assert provenance["seed"] and provenance["facts"] and all(provenance["facts"]), where
        assert entry["expect"]["ids"] or entry["expect"]["texts"], where
        key = (entry["version"], entry["screen"], entry["state"])
        assert key not in keys, f"{where}: {key} listed twice"
        keys.add(key)
    for name, meta in versions.items():
        assert meta.get("inherits", "2026") in versions, name


@pytest.mark.parametrize("entry", SCREENS, ids=_ids)
def test_each_screen_carries_its_expected_ids_and_texts(entry: dict) -> None:
    doc = _doc(entry["file"])
    for element_id in entry["expect"]["ids"]:
        assert doc.xpath("//*[@id=$i]", i=element_id), f"{entry['file']}: no #{element_id}"
    text = _visible_text(doc)
    for expected in entry["expect"]["texts"]:
        assert " ".join(expected.split()) in text, f"{entry['file']}: missing text {expected!r}"


def test_spec_screens_are_all_recorded_for_2026() -> None:
    recorded = {e["screen"] for e in SCREENS if e["version"] == "2026"}
    wanted = {"S-02", "S-03", *(f"H-{n:02d}" for n in range(1, 12)), "P-01", "P-02", "P-03", "P-04"}
    assert wanted <= recorded


def test_redesign_hides_the_2026_fingerprints() -> None:
    """The 2027 redesign keeps the visible texts but none of the ids the robot keys on."""
    fingerprints = {"legalRepresentative", "form0", "CompanyIdentificationType", "UserCode", "CompanyCode",
                    "add-prefix-form", "NumberRangeRowKey", "SoftwareId", "PersonCode"}
    redesign = [e for e in SCREENS if e["version"] == "2027-rediseno"]
    assert {e["screen"] for e in redesign} >= {"S-02", "P-02"}
    for entry in redesign:
        doc = _doc(entry["file"])
        assert not [i for i in fingerprints if doc.xpath("//*[@id=$i]", i=i)], entry["file"]
        assert not doc.cssselect(".selectpicker, .bootstrap-select"), entry["file"]


def test_selectpickers_wrap_a_native_select_and_the_generated_widget() -> None:
    for rel in HTML_FILES:
        doc = _doc(rel)
        for select in doc.cssselect("select.selectpicker"):
            wrap = select.getparent()
            assert "bootstrap-select" in wrap.get("class", ""), rel
            assert wrap.cssselect("div.bootstrap-select > button.dropdown-toggle + ul.dropdown-menu"), rel
            options = [o.text_content() for o in select.iter("option")]
            items = [li.text_content() for li in wrap.cssselect("ul.dropdown-menu > li")]
            assert items == options, f"{rel}: widget and select disagree for #{select.get('id')}"


def test_login_pages_carry_turnstile_and_the_real_identification_types() -> None:
    for rel in ("2026/s-02-empresa.html", "2026/s-02-persona.html"):
        doc = _doc(rel)
        assert doc.cssselect(".cf-turnstile[data-sitekey] input[name='cf-turnstile-response']"), rel
        values = [o.get("value") for o in doc.cssselect("select.selectpicker option")]
        assert values == [str(v) for v in (10910094, *range(10910096, 10910105))], rel


# -- real Chromium -----------------------------------------------------------------------------------

def _open(page: Page, rel: str) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((ROOT / rel).as_uri())
    return errors


@pytest.mark.browser
def test_recorded_screens_work_in_chromium(page: Page) -> None:
    # Empresa login: the card opens the form; both ways of choosing the ID type stay in sync.
    errors = _open(page, "2026/s-02-empresa.html")
    expect(page.get_by_role("button", name="Entrar")).to_have_count(0)
    page.get_by_role("button", name="Representante legal").click()
    form = page.locator("#form0")  # the hidden "Usuario Autorizado" form has the same labels
    tipo = form.get_by_label("Tipo de identificación")
    expect(tipo).to_have_value("10910094")
    page.locator("#form0 button.dropdown-toggle").click()
    form.locator("ul.dropdown-menu").get_by_role("option", name="Cédula de extranjería").click()
    expect(tipo).to_have_value("10910096")
    tipo.select_option("10910100")
    expect(page.locator("#form0 .filter-option")).to_have_text("Nit")
    form.get_by_label("NIT Representante Legal").fill("1020304050")
    form.get_by_label("NIT Empresa").fill("900123456")
    expect(page.locator("input[name='cf-turnstile-response']")).not_to_have_value("")
    expect(page.get_by_role("button", name="Entrar")).to_be_enabled()

    # Interactive Turnstile: nothing until a person ticks the box.
    errors += _open(page, "2026/s-02-empresa-turnstile-interactivo.html")
    page.wait_for_timeout(900)
    expect(page.locator("input[name='cf-turnstile-response']")).to_have_value("")
    page.get_by_role("checkbox", name="Verifique que es un ser humano").click()
    expect(page.locator("input[name='cf-turnstile-response']")).not_to_have_value("")

    # Error modal state.
    errors += _open(page, "2026/s-02-empresa-error.html")
    expect(page.locator("#errorModal-message")).to_have_text("Empresa no asociada a representante legal.")

    # Habilitación menu: "Menú" icon → "Registro y habilitación" → "Documentos electrónicos".
    errors += _open(page, "2026/h-01.html")
    expect(page.get_by_role("link", name="Documentos electrónicos")).to_be_hidden()
    page.locator("a#mainnav-toggle").click()  # _Layout.cshtml:99: an icon link with no name
    page.get_by_role("link", name="Registro y habilitación").click()
    expect(page.get_by_role("link", name="Documentos electrónicos")).to_be_visible()

    # H-08 → H-09 (the S2/52 confirmation: only "Aceptar" in the 2022 view), closed with bootbox's ×.
    errors += _open(page, "2026/h-08.html")
    expect(page.locator("#productionDate")).to_have_value("15-02-2026")  # W labels say for='name'
    page.get_by_role("button", name="Aceptar").click()
    dialog = page.locator(".modal.bootbox .modal-body")
    expect(dialog).to_contain_text("en el RUT será actualizada con la fecha registrada")
    expect(page.locator(".modal.bootbox button[data-bb-handler]")).to_have_text(["Aceptar"])
    page.locator(".modal.bootbox .bootbox-close-button").click()
    expect(page.locator(".modal.bootbox")).to_have_count(0)
    # H-08 as DIAN serves it: the dialog opens after the page has loaded, with a fade.
    errors += _open(page, "2026/h-08-tras-carga.html")
    expect(page.locator(".bootbox.modal.in #productionDate")).to_have_value("15-02-2026")

    # H-03a → H-04 dialog.
    errors += _open(page, "2026/h-03-pendiente-de-registro.html")
    page.get_by_label("Correo electrónico para recepción de facturas").fill("facturacion@empresa-demo.test")
    page.get_by_role("button", name="Registrar").click()
    expect(page.locator(".modal.bootbox")).to_contain_text("Al realizar esta acción deberá iniciar sesión nuevamente.")

    # H-05: the provider lists appear for mode 3 and the software list follows the provider.
    errors += _open(page, "2026/h-05-sin-modos.html")
    expect(page.locator("select#ProviderId")).to_be_hidden()  # "Nombre empresa proveedora" labels two fields in W
    page.get_by_label("Seleccione el modo de operación").select_option(label="Software de un proveedor tecnológico")
    expect(page.locator("#providers")).to_be_visible()
    page.locator("select#ProviderId").select_option(label="LOGGRO S.A.S")
    expect(page.locator("select#SoftwareId option")).to_have_text(["Loggro FE"])
    expect(page.locator("#softwares .filter-option")).to_have_text("Loggro FE")
    expect(page.get_by_role("button", name="Asociar")).to_be_visible()

    # H-06 row and the test-set link (a plain <a>, no class); no save button while a mode is in test.
    errors += _open(page, "2026/h-06-en-proceso.html")
    expect(page.get_by_role("cell", name="En proceso")).to_be_visible()
    expect(page.locator("a[href*='/TestSet/View']")).to_have_count(1)
    expect(page.locator("#add-operation-mode-form .btn-save")).to_have_count(0)

    # P-01 production menu → Configuración → Rangos de numeración.
    errors += _open(page, "2026/p-01.html")
    expect(page.locator("a#mainnav-toggle[href='#']:not([aria-expanded])")).to_have_count(1)  # _Layout.cshtml:99
    page.locator("#mainnav-toggle").click()
    page.get_by_role("link", name="Configuración").click()
    expect(page.get_by_role("link", name="Rangos de numeración")).to_have_attribute("href", "/Software/AddNumberRange")

    # P-02: client checks, then the P-03 confirmation.
    errors += _open(page, "2026/p-02-con-opciones.html")
    page.get_by_role("button", name="Agregar").click()
    expect(page.locator("#floating-top-right")).to_contain_text("No tiene un software seleccionado.")
    page.get_by_label("Proveedor - Software").select_option(label="CADENA S. A. - 890930534efacturacadena")
    page.get_by_label("Prefijo").select_option(label="FE - 18764031407250 (1 - 100)")
    page.get_by_role("button", name="Agregar").click()
    dialog = page.locator(".modal.bootbox")
    expect(dialog).to_contain_text("Está seguro que desea asociar el prefijo?")
    expect(dialog).to_be_visible()
    # bootbox.dialog({buttons: {del: …}}): one button, data-bb-handler="del"; no "Cancelar".
    expect(dialog.locator(".modal-footer button")).to_have_count(1)
    expect(dialog.locator("button[data-bb-handler='del']")).to_have_text("Aceptar")
    dialog.locator(".bootbox-close-button").click()
    expect(dialog).to_have_count(0)

    # Bootstrap 3 ".in" and Bootstrap 4 ".show": the error modal is visible either way.
    for rel in ("2026/s-02-empresa-error.html", "2026/s-02-empresa-error-bs4.html"):
        errors += _open(page, rel)
        expect(page.locator("#errorModal")).to_be_visible()

    # The redesign: same words, none of the known structure.
    errors += _open(page, "2027-rediseno/s-02-empresa.html")
    expect(page.get_by_role("button", name="Entrar")).to_be_visible()
    expect(page.locator("#legalRepresentative, #form0")).to_have_count(0)
    errors += _open(page, "2027-rediseno/p-02-con-opciones.html")
    expect(page.get_by_label("Prefijo", exact=True)).to_be_visible()
    expect(page.locator("#add-prefix-form")).to_have_count(0)
    assert errors == []


@pytest.mark.browser
def test_every_recorded_screen_loads_without_script_errors(page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for rel in HTML_FILES:
        page.goto((ROOT / rel).as_uri(), wait_until="domcontentloaded")  # inline scripts have run by then
        assert errors == [], rel
