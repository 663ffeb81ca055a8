"""The MUISCA recordings: every file is listed, parses, carries what the manifest promises, and works
offline in real Chromium (the Angular login's disabled "Ingresar", the signing window's controls)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from sandbox import render

FAMILY_DIR = Path(__file__).resolve().parent.parent / "recordings" / "muisca"
MANIFEST: dict[str, Any] = tomllib.loads((FAMILY_DIR / "manifest.toml").read_text(encoding="utf-8"))
ENTRIES: list[dict[str, Any]] = MANIFEST["screen"]
REQUIRED = (
    "file",
    "portal",
    "version",
    "screen",
    "state",
    "route",
    "title",
    "provenance",
    "reconstructed",
    "ids_invented",
    "expect",
)
ALLOWED_MAIL_DOMAINS = {"empresa-demo.test", "dian.gov.co"}


def _text(doc: Any) -> str:
    """What a user reads: text (no scripts or styles), button values and image alts, whitespace collapsed."""
    labels = doc.xpath("//input[@type='submit' or @type='button' or @type='reset']/@value|//input[@type='image']/@alt")
    for el in doc.xpath("//script|//style"):
        el.drop_tree()
    return " ".join(" ".join([doc.text_content(), *labels]).split())


def _parse(rel: str) -> Any:
    return lxml_html.document_fromstring((FAMILY_DIR / rel).read_text(encoding="utf-8"))


def test_manifest_lists_every_file_and_only_existing_files() -> None:
    on_disk = {p.relative_to(FAMILY_DIR).as_posix() for p in FAMILY_DIR.rglob("*.html")}
    listed = [e["file"] for e in ENTRIES]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == on_disk


def test_legacy_inherits_2026_and_only_overrides_the_login() -> None:
    assert MANIFEST["versions"]["legacy"]["inherits"] == "2026"
    assert {e["screen"] for e in ENTRIES if e["version"] == "legacy"} == {"M-01"}
    assert render.find_recording("muisca", "legacy", "M-02", "inicio").file.parent.name == "2026"
    assert render.find_recording("muisca", "legacy", "M-01", "error").file.parent.name == "legacy"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["file"])
def test_entry_is_complete_and_named_by_the_convention(entry: dict[str, Any]) -> None:
    for key in REQUIRED:
        assert key in entry, f"missing {key}"
    assert entry["portal"] == ["muisca"]
    assert entry["reconstructed"] is True
    assert isinstance(entry["ids_invented"], bool)
    assert entry["provenance"]["seed"].startswith("000 C.")
    assert entry["provenance"]["facts"], "provenance needs at least one fact"
    assert entry["route"].startswith("/")
    version, name = entry["file"].split("/")
    assert version == entry["version"]
    assert name == f"{entry['screen'].lower()}-{entry['state']}.html"
    # The numeración screens have no known DIAN ids: the manifest must say so.
    if entry["screen"] in {"M-03", "M-04", "M-05", "M-06", "M-07", "M-08", "M-11", "M-12"}:
        assert entry["ids_invented"] is True


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["file"])
def test_file_parses_and_carries_the_expected_ids_and_texts(entry: dict[str, Any]) -> None:
    doc = _parse(entry["file"])
    assert doc.findtext(".//title").strip() == entry["title"]
    for ident in entry["expect"]["ids"]:
        assert doc.xpath("//*[@id=$i]", i=ident), f"no element with id {ident!r}"
    text = _text(doc)
    for expected in entry["expect"]["texts"]:
        assert " ".join(expected.split()) in text, f"text {expected!r} not in the page"


SOURCE_PREFIXES = ("view:", "code:", "manual:", "observed:", "invented")
#: Every recorded screen cites a source per element: the 2026 sources where they describe it, the
#: manual's texts, and "invented" for the JSF ids no public source shows.
PER_ELEMENT = ("2026/", "legacy/")


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["file"])
def test_elements_cite_a_source_each_and_exist_in_the_file(entry: dict[str, Any]) -> None:
    elements = entry.get("elements", [])
    if entry["file"].startswith(PER_ELEMENT):
        assert elements, "this screen must cite its source per element"
    doc = _parse(entry["file"])
    for element in elements:
        sources = element["source"] if isinstance(element["source"], list) else [element["source"]]
        assert sources and all(s.startswith(SOURCE_PREFIXES) for s in sources), element
        assert doc.cssselect(element["css"]), f"{element['css']!r} not in the file"


def test_the_angular_login_has_no_invented_form_id_or_mode_classes() -> None:
    for entry in ENTRIES:
        if entry["file"].startswith("2026/m-01-"):
            doc = _parse(entry["file"])
            assert not doc.cssselect("#formLogin, button.modo, [data-modo], #btnIngresar"), entry["file"]
            names = [" ".join(b.text_content().split()) for b in doc.cssselect("[role=group] > button")]
            assert "A nombre de un tercero" in names and "A nombre propio" in names


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["file"])
def test_file_is_offline_and_holds_placeholders_only(entry: dict[str, Any]) -> None:
    source = (FAMILY_DIR / entry["file"]).read_text(encoding="utf-8")
    doc = lxml_html.document_fromstring(source)
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("src", "href", "action"):
            value = el.get(attr, "")
            assert not re.match(r"^(https?:)?//", value), f"external reference {value!r}"
    assert "<link" not in source and "@import" not in source
    for domain in re.findall(r"[\w.+*-]+@([\w-]+(?:\.[\w-]+)+)", source):
        assert domain in ALLOWED_MAIL_DOMAINS, f"unexpected e-mail domain {domain}"


@pytest.mark.browser
def test_recorded_screens_work_offline_in_chromium(page: Any) -> None:
    from playwright.sync_api import expect

    def open_file(rel: str) -> None:
        page.goto((FAMILY_DIR / rel).as_uri())

    # M-01 Angular: "Ingresar" stays disabled until the form (incl. the consent) is valid.
    open_file("2026/m-01-a-nombre-propio.html")
    ingresar = page.get_by_role("button", name="Ingresar")
    expect(ingresar).to_be_disabled()
    page.get_by_role("button", name="A nombre de un tercero").click()
    page.get_by_label("Número de documento de la organización").fill("900123456")
    page.get_by_role("combobox", name="Tipo de documento").click()
    page.get_by_role("option", name="Cédula de ciudadanía").click()
    expect(page.get_by_role("combobox", name="Tipo de documento")).to_contain_text("Cédula de ciudadanía")
    page.get_by_label("Número de documento", exact=True).fill("1020304050")
    page.get_by_label("Contraseña", exact=True).fill("x")
    expect(ingresar).to_be_disabled()
    consent = page.get_by_label("Acepto la política de tratamiento de datos personales")
    page.get_by_text("Acepto la política de tratamiento de datos personales").click()  # as a user does
    expect(consent).to_be_checked()
    expect(ingresar).to_be_enabled()
    page.get_by_label("Número de documento de la organización").fill("")
    expect(ingresar).to_be_disabled()

    open_file("2026/m-01-error.html")
    expect(page.get_by_role("alert")).to_contain_text(
        "Datos incorrectos o no encontrados. Verifique e intente de nuevo."
    )
    open_file("2026/m-01-bloqueado.html")
    dialog = page.get_by_role("dialog", name="Usuario bloqueado")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cerrar").click()
    expect(dialog).to_have_count(0)

    # M-01 legacy JSF: the organisation field appears with "NIT".
    open_file("legacy/m-01-inicial.html")
    org = page.get_by_label("Número de documento de la organización:")
    expect(org).to_be_hidden()
    page.get_by_label("Ingresar a nombre de:").select_option("2")
    expect(org).to_be_visible()
    expect(page.get_by_role("button", name="Ingresar")).to_be_enabled()

    # M-09: variant A offers "Solicítala aquí"; variant B counts down, then offers it again.
    open_file("2026/m-09-sin-clave.html")
    expect(page.get_by_role("link", name="Solicítala aquí")).to_be_visible()
    expect(page.get_by_label("Clave dinámica")).to_have_attribute("placeholder", "Escribe la clave dinámica")
    expect(page.get_by_label("Clave de tu Firma Electrónica")).to_have_attribute("type", "password")
    expect(page.get_by_role("button", name="Firmar documento(s)")).to_be_enabled()
    page.clock.install()
    open_file("2026/m-09-clave-enviada.html")
    expect(page.get_by_text("Podrás solicitar una nueva clave dinámica en:")).to_be_visible()
    expect(page.get_by_role("link", name="Solicítala aquí")).to_be_hidden()
    page.clock.run_for(20_000)
    expect(page.get_by_role("link", name="Solicítala aquí")).to_be_visible()
    expect(page.get_by_role("link", name="Ver mi bandeja de comunicados")).to_have_attribute("target", "_blank")

    # M-09 in a frame (TR 2026-09-20): the signer step comes first; the request control reads only "aquí".
    open_file("2026/m-09-ventana.html")
    expect(page.get_by_role("button", name="Autorizar")).to_be_visible()
    expect(page.get_by_label("Escriba el código")).to_be_hidden()
    open_file("2026/m-09-marco.html")
    expect(page.locator("iframe[src*='/firmaelectronica/firma.html']")).to_have_count(1)
    expect(page.get_by_role("complementary", name="Ayuda")).to_be_visible()

    # M-11: "Firmar" and "Anular" side by side in the request's row.
    open_file("2026/m-11-pendiente.html")
    row = page.get_by_role("row").filter(has_text="DEFINITIVO")
    expect(row.get_by_role("button", name="Firmar")).to_be_visible()
    expect(row.get_by_role("button", name="Anular")).to_be_visible()

    # M-07: the labelled fields and the billing type options.
    open_file("2026/m-07-vacia.html")
    page.get_by_label("Tipo Facturación").select_option(label="FACTURA ELECTRÓNICA DE VENTA")
    page.get_by_label("Prefijo").fill("FE")
    for name in ("Agregar", "Borrador", "Definitivo", "Salir"):
        expect(page.get_by_role("button", name=name)).to_be_visible()
