"""The simulated DIAN catalogue over plain HTTP: every process, the state machine, the journal, the
clock (token expiry, test-set acceptance, resolution sync) and each fault."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from lxml import html as lxml_html

from sandbox import catalogo_state as cs
from sandbox.catalogo import AUTH_COOKIE, MESSAGES
from sandbox.catalogo_state import set_stage, state_of
from sandbox.faults import Fault
from sandbox.world import Resolution, SandboxClient, World
from tests.fixtures_catalogo import CatalogoHttp, captcha, link_path, token_links
from tests.fixtures_sandbox import DEMO_NIT, demo_client

HAB, PROD = "habilitacion", "produccion"
CADENA = cs.PROVIDERS[0]


@pytest.fixture
def client(world: World) -> SandboxClient:
    return world.clients[DEMO_NIT]


@pytest.fixture
def hab(world: World, portal_http: Callable[[str], httpx.Client]) -> CatalogoHttp:
    return CatalogoHttp(world, portal_http(HAB))


@pytest.fixture
def prod(world: World, portal_http: Callable[[str], httpx.Client]) -> CatalogoHttp:
    return CatalogoHttp(world, portal_http(PROD))


def doc(response: httpx.Response) -> lxml_html.HtmlElement:
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return lxml_html.document_fromstring(response.text)


def value(page: lxml_html.HtmlElement, css: str) -> str:
    return page.cssselect(css)[0].get("value", "")


def text(page: lxml_html.HtmlElement, css: str) -> str:
    return " ".join(" ".join(el.text_content().split()) for el in page.cssselect(css))


def resolution(world: World, nit: str = DEMO_NIT, *, hours_ago: float, prefix: str = "FE",
               number: str = "18764031407250") -> Resolution:
    res = Resolution(nit=nit, number=number, prefix=prefix, desde=1, hasta=100,
                     tipo="FACTURA ELECTRÓNICA DE VENTA", issued_at=world.clock.now() - timedelta(hours=hours_ago))
    world.resolutions.append(res)
    return res


# -- token login ------------------------------------------------------------------------------------

def test_company_login_mails_a_token_that_opens_a_session(world: World, client: SandboxClient,
                                                          hab: CatalogoHttp) -> None:
    page = doc(hab.get("/User/CompanyLogin"))
    assert page.cssselect("#legalRepresentative") and page.cssselect("#form0 .cf-turnstile[data-sitekey]")
    reply = hab.request_token(client)
    assert reply.json() == {"Code": 200, "Message": "LoginConfirmed"}
    assert world.journal.count(DEMO_NIT, "solicitar_token") == 1
    [link] = token_links(world, client.email_rut)
    assert link.startswith("http://catalogo-vpfe-hab.localhost/User/AuthToken?pk=10910094|1020304050&rk=900123456&token=")
    confirmed = doc(hab.get("/User/LoginConfirmed"))
    assert cs.mask_email(client.email_rut) in text(confirmed, ".dian-alert")
    assert "El acceso estará disponible por 60 minutos." in text(confirmed, ".dian-alert")
    opened = hab.open_link(link)
    assert (opened.status_code, opened.headers["location"]) == (302, "/Home/Dashboard")
    assert hab.http.cookies.get(AUTH_COOKIE)
    home = doc(hab.get("/Home/Dashboard"))
    assert "Documentos electrónicos" in text(home, "#mainnav-menu") and "DIAN habilitación" in text(home, ".env-banner")
    assert not home.cssselect(".modal.bootbox")
    assert world.journal.count(DEMO_NIT, "abrir_token", ok=True) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cf-turnstile-response": ""}, "captcha"),
        ({"CompanyCode": "900.123.456"}, "invalid"),
        ({"CompanyCode": "9001234568"}, "not_associated"),  # NIT typed with its check digit
        ({"UserCode": "999999"}, "not_associated"),
        ({"IdentificationType": "10910096"}, "type_mismatch"),
    ],
)
def test_company_login_errors_are_dians(world: World, client: SandboxClient, hab: CatalogoHttp,
                                        overrides: dict[str, str], message: str) -> None:
    reply = hab.request_token(client, **overrides)
    assert reply.status_code == 200 and reply.json()["Code"] != 200
    assert reply.json()["Message"] == MESSAGES[message]
    assert world.journal.count(DEMO_NIT, "solicitar_token") == 0 and token_links(world, client.email_rut) == []


def test_turnstile_responses_are_single_use_and_interactive_needs_a_person(
    world: World, client: SandboxClient, hab: CatalogoHttp
) -> None:
    used = captcha()
    assert hab.request_token(client, **{"cf-turnstile-response": used}).json()["Code"] == 200
    assert hab.request_token(client, **{"cf-turnstile-response": used}).json()["Message"] == "Captcha inválido"
    client.turnstile = "interactive"  # the only client: every login page shows the checkbox
    assert mode(hab) == "interactive"
    assert hab.request_token(client).json()["Message"] == "Captcha inválido"
    assert hab.request_token(client, **{"cf-turnstile-response": captcha("i")}).json()["Code"] == 200


def test_interactive_turnstile_escalates_per_browser(world: World, client: SandboxClient,
                                                    portal_http: Callable[[str], httpx.Client]) -> None:
    """With other clients around, a browser gets the checkbox once it sent an automatic response
    for a client that needs a person; other browsers keep the automatic widget."""
    world.add_client(demo_client("800111222"))
    client.turnstile = "interactive"
    robot, other = CatalogoHttp(world, portal_http(HAB)), CatalogoHttp(world, portal_http(HAB))
    assert mode(robot) == "auto"
    assert robot.request_token(client).json()["Message"] == "Captcha inválido"
    assert mode(robot) == "interactive" and mode(other) == "auto"
    assert robot.request_token(client, **{"cf-turnstile-response": captcha("i")}).json()["Code"] == 200


def mode(driver: CatalogoHttp) -> str:
    return doc(driver.get("/User/CompanyLogin")).cssselect(".cf-turnstile")[0].get("data-sandbox-mode")


def test_a_new_token_supersedes_the_old_one_and_each_works_once(world: World, client: SandboxClient,
                                                                 hab: CatalogoHttp) -> None:
    hab.request_token(client)
    hab.request_token(client)
    first, second = token_links(world, client.email_rut)
    # UserController.AuthToken: the CompanyLogin view re-rendered at /User/AuthToken with the message.
    refused = doc(hab.open_link(first))
    assert text(refused, ".field-validation-error[data-valmsg-for='CompanyLoginFailed']") == MESSAGES["token_expired"]
    assert refused.cssselect("#legalRepresentative") and refused.cssselect("form#form0")
    assert hab.open_link(second).headers["location"] == "/Home/Dashboard"
    hab.http.cookies.clear()
    assert MESSAGES["token_expired"] in hab.open_link(second).text  # already used
    assert hab.get("/Home/Dashboard").headers["location"] == "/User/Login"
    motives = [e.details["motivo"] for e in world.journal.entries(DEMO_NIT, "abrir_token")]
    assert motives == ["reemplazado", "", "usado"]


def test_a_token_expires_after_60_minutes_of_sandbox_time(world: World, client: SandboxClient,
                                                           hab: CatalogoHttp) -> None:
    hab.request_token(client)
    world.clock.advance(minutes=59)
    assert hab.open_link(hab.last_link(client)).headers["location"] == "/Home/Dashboard"
    hab.http.cookies.clear()
    hab.request_token(client)
    world.clock.advance(minutes=61)
    assert MESSAGES["token_expired"] in hab.open_link(hab.last_link(client)).text
    assert world.journal.entries(DEMO_NIT, "abrir_token")[-1].details["motivo"] == "vencido"


def test_auth_token_failure_variants(world: World, client: SandboxClient, hab: CatalogoHttp) -> None:
    """The 2025 live note's variant: a refused link goes to /User/Login with the alert, shown once."""
    state_of(client).variants["auth_token_fallo"] = "login"
    hab.request_token(client)
    hab.request_token(client)
    first, _ = token_links(world, client.email_rut)
    refused = hab.open_link(first)
    assert (refused.status_code, refused.headers["location"]) == (302, "/User/Login")
    assert MESSAGES["token_expired"] in text(doc(hab.get("/User/Login")), ".dian-alert-danger")
    assert MESSAGES["token_expired"] not in hab.get("/User/Login").text  # shown once


def test_malformed_token_link_is_a_server_error(hab: CatalogoHttp) -> None:
    assert hab.get("/User/AuthToken?pk=10910094&rk=900123456&token=x").status_code == 500


def test_tokens_are_per_host(world: World, client: SandboxClient, hab: CatalogoHttp, prod: CatalogoHttp) -> None:
    set_stage(world, DEMO_NIT, "sincronizado")
    hab.request_token(client)
    hab_link = hab.last_link(client)
    assert prod.open_link(hab_link).status_code == 500  # no token record on that host: DIAN's null dereference


@pytest.mark.parametrize("portal", [HAB, PROD])
def test_pages_without_a_session_redirect_to_login(portal: str, portal_http: Callable[[str], httpx.Client]) -> None:
    http = portal_http(portal)
    paths = ["/Home/Dashboard", "/Contributor/CheckContributorRegister", "/Contributor/View"]
    paths += ["/Software/AddNumberRange"] if portal == PROD else ["/Contributor/ConfigureOperationModes/1",
                                                                  "/TestSet/View"]
    for path in paths:
        reply = http.get(path)
        assert (reply.status_code, reply.headers["location"]) == (302, "/User/Login"), path
    posts = ["/Software/AddPrefix"] if portal == PROD else ["/Contributor/SyncToProduction", "/Contributor/Register"]
    for path in posts:
        assert http.post(path, data={}).headers["location"] == "/User/Login", path


def test_persona_login(world: World, hab: CatalogoHttp) -> None:
    person = world.add_client(demo_client("1020304050", razon_social="PERSONA DEMO", login_type="persona",
                                          email_rut="persona@empresa-demo.test"))
    form = {"IdentificationType": "10910094", "PersonCode": "1020304050", "cf-turnstile-response": captcha()}
    reply = hab.http.post("/User/PersonAuthentication", data=form)
    assert (reply.status_code, reply.headers["location"]) == (303, "/User/LoginConfirmed")
    [link] = token_links(world, person.email_rut)
    assert "pk=10910094|1020304050&rk=1020304050&token=" in link
    wrong_type = doc(hab.http.post("/User/PersonAuthentication", data={**form, "IdentificationType": "10910096",
                                                                       "cf-turnstile-response": captcha()}))
    assert text(wrong_type, ".field-validation-error") == MESSAGES["person_type_mismatch"]
    unknown = doc(hab.http.post("/User/PersonAuthentication", data={**form, "PersonCode": "55",
                                                                    "cf-turnstile-response": captcha()}))
    assert text(unknown, ".field-validation-error") == MESSAGES["person_no_permissions"]
    no_captcha = doc(hab.http.post("/User/PersonAuthentication", data={**form, "cf-turnstile-response": ""}))
    assert text(no_captcha, ".field-validation-error") == MESSAGES["captcha"]
    assert world.journal.count("1020304050", "solicitar_token", tipo="persona") == 1


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ("pendiente_registro", "prod_not_enabled"),
        ("software_asociado", "prod_not_enabled"),
        ("aceptado", "prod_not_biller"),
        ("fecha_produccion", "prod_not_biller"),
        ("sincronizado", None),
    ],
)
def test_production_login_needs_a_habilitada_company_in_production(
    world: World, client: SandboxClient, prod: CatalogoHttp, stage: str, message: str | None
) -> None:
    set_stage(world, DEMO_NIT, stage)
    reply = prod.request_token(client).json()
    if message is None:
        assert reply == {"Code": 200, "Message": "LoginConfirmed"}
        assert token_links(world, client.email_rut)[-1].startswith("http://catalogo-vpfe.localhost/User/AuthToken?")
    else:
        assert reply["Message"] == MESSAGES[message]
        assert world.journal.count(DEMO_NIT, "solicitar_token") == 0


# -- habilitación, end to end -------------------------------------------------------------------------

def test_habilitacion_process_by_http(world: World, client: SandboxClient, hab: CatalogoHttp,
                                      prod: CatalogoHttp) -> None:
    hab.login(client)
    state = state_of(client)
    # Real routes (ContributorController): CheckContributorRegister → /Document/ElectronicDocuments, whose card
    # leads to /Contributor/Check → /Contributor/Register while pending, /Contributor/View/{id} afterwards.
    assert hab.get("/Contributor/CheckContributorRegister").headers["location"] == "/Document/ElectronicDocuments"
    cards = doc(hab.get("/Document/ElectronicDocuments"))
    assert "Factura Electrónica" in text(cards, "div.card.RadianCardContainer > a[href='/Contributor/Check']")
    assert "Seleccione el tipo de documento:" in text(cards, "#panel-form")
    assert hab.get("/Contributor/Check").headers["location"] == "/Contributor/Register"
    view = doc(hab.get("/Contributor/Register"))
    assert value(view, "#AcceptanceStatusName") == "Pendiente de registro" and value(view, "#Code") == DEMO_NIT
    assert hab.get("/Contributor/ConfigureOperationModes").status_code == 500  # the route needs the id
    modes = doc(hab.get(f"/Contributor/ConfigureOperationModes/{state.contributor_id}"))
    assert MESSAGES["pending"] in text(modes, ".alert.custom-alert-danger")
    assert not modes.cssselect("#add-operation-mode-form .btn-save")  # omitted, not disabled

    # P1: register the reception e-mail; a bad address is refused, a good one signs the user out.
    bad = doc(hab.post("/Contributor/Register", {"ExchangeEmail": "no-es-correo"}))
    assert text(bad, '[data-valmsg-for="ExchangeEmail"]') == MESSAGES["email_invalid"]
    done = hab.post("/Contributor/Register", {"ExchangeEmail": "recepcion@empresa-demo.test"})
    assert (done.status_code, done.headers["location"]) == (302, "/User/Login")
    assert hab.get("/Home/Dashboard").headers["location"] == "/User/Login"
    assert world.journal.count(DEMO_NIT, "registrar_facturador", correo="recepcion@empresa-demo.test") == 1

    # P2: associate the provider's software; Software Id, PIN and TestSetId appear.
    hab.login(client)
    assert hab.get("/Contributor/Check").headers["location"] == f"/Contributor/View/{state.contributor_id}"
    view = doc(hab.get(f"/Contributor/View/{state.contributor_id}"))
    assert value(view, "#AcceptanceStatusName") == "Registrado"
    assert value(view, "#ExchangeEmail") == "recepcion@empresa-demo.test"
    empty = doc(hab.get(f"/Contributor/ConfigureOperationModes/{state.contributor_id}"))
    assert empty.cssselect("table tbody tr") == [] and "CADENA S. A." in text(empty, "#providers-data")
    form = {"OperationModeId": "3", "ProviderId": CADENA.provider_id, "SoftwareId": CADENA.software_id}
    assert hab.post("/Contributor/AddContributorOperations", form).status_code == 303
    listed = doc(hab.get(f"/Contributor/ConfigureOperationModes/{state.contributor_id}"))
    [row] = listed.cssselect(".table-responsive tbody tr")
    cells = [" ".join(td.text_content().split()) for td in row.findall("td")]
    assert cells[:7] == ["Software de un proveedor tecnológico", cs.fmt_date(world.clock.now()), "En proceso",
                         CADENA.software, CADENA.software_id, CADENA.pin, cs.WS_URL_HAB]
    assert not listed.cssselect("#add-operation-mode-form .btn-save")  # a mode in test: DIAN leaves it out
    [entry] = world.journal.entries(DEMO_NIT, "asociar_software")
    test_set_id = entry.details["test_set_id"]
    details = row.xpath(".//a[contains(@href, '/TestSet/View')]")[0].get("href")
    test_set = doc(hab.get(details))
    notice = text(test_set, ".alert.custom-alert-success")
    assert test_set_id in notice and "En proceso" in text(test_set, ".alert strong")
    assert value(test_set, "input#TestSetId[type=hidden]") == test_set_id
    assert value(test_set, "#SoftwareId") == CADENA.software_id and value(test_set, "#SoftwarePin") == CADENA.pin
    again = hab.post("/Contributor/AddContributorOperations", form)
    assert MESSAGES["in_test"] in text(doc(hab.get(again.headers["location"])), "#floating-top-right")
    assert world.journal.count(DEMO_NIT, "asociar_software") == 1

    # P3: the test set is accepted after the configured delay of sandbox time.
    world.clock.advance(world.test_set_delay - timedelta(minutes=1))
    modes_path = f"/Contributor/ConfigureOperationModes/{state.contributor_id}"
    assert "En proceso" in text(doc(hab.get(modes_path)), "tbody")
    world.clock.advance(minutes=2)
    assert "Aceptado" in text(doc(hab.get(modes_path)), "tbody")
    assert "superado satisfactoriamente" in text(doc(hab.get(details)), ".alert.custom-alert-success")
    view_path = f"/Contributor/View/{state.contributor_id}"
    assert value(doc(hab.get(view_path)), "#AcceptanceStatusName") == "Habilitado"

    # P4: the production-date dialog appears on landing; S2 confirmation; then sync.
    # Dashboard.cshtml opens the dialog on document-ready: the HTML carries the dates in the page script.
    landing = hab.get("/Home/Dashboard").text
    assert "Registrar fecha de inicio salida a producción" in landing and "showRegisterProductionDateModal" in landing
    hab_date = cs.fmt_date(state.habilitation_date)
    prod_date = cs.fmt_date(world.clock.now())
    assert f"value='{hab_date}'" in landing and f"value='{prod_date}'" in landing
    assert hab.post("/Contributor/SetHabilitationAndProductionDates",
                    {"habilitationDate": hab_date, "productionDate": "2026/01/01"}).json()["success"] is False
    first = hab.post("/Contributor/SetHabilitationAndProductionDates",
                     {"habilitationDate": hab_date, "productionDate": prod_date}).json()
    assert first == {"success": True, "message": MESSAGES["s2_ok"]}
    second = hab.post("/Contributor/SetHabilitationAndProductionDates",
                      {"habilitationDate": hab_date, "productionDate": prod_date}).json()
    assert second == {"success": False, "message": MESSAGES["s2_again"]}
    assert world.journal.count(DEMO_NIT, "registrar_fecha_produccion") == 1
    assert "showRegisterProductionDateModal, 600" not in hab.get("/Home/Dashboard").text
    view = doc(hab.get(view_path))
    assert value(view, "#ProductionDate") == prod_date
    sync_button = view.cssselect("button.btn-sync-to-production")[0]
    assert prod.request_token(client).json()["Message"] == MESSAGES["prod_not_biller"]
    synced = hab.post("/Contributor/SyncToProduction", {"id": sync_button.get("data-id")}).json()
    assert synced == {"success": True, "message": MESSAGES["sync_ok"]}
    assert world.journal.count(DEMO_NIT, "sincronizar_produccion") == 1
    assert prod.request_token(client).json()["Code"] == 200


def test_production_prefix_association_waits_for_the_resolution_sync(
    world: World, client: SandboxClient, prod: CatalogoHttp
) -> None:
    set_stage(world, DEMO_NIT, "sincronizado")
    res = resolution(world, hours_ago=0)
    prod.login(client)
    menu = doc(prod.get("/Home/Dashboard"))
    assert menu.cssselect("li#AddNumberRange a")[0].text_content() == "Rangos de numeración"
    assert not menu.cssselect(".env-banner")
    page = doc(prod.get("/Software/AddNumberRange"))
    assert value(page, "#ContributorCode") == DEMO_NIT
    assert [o.text_content() for o in page.cssselect("#SoftwareId option")] == ["Seleccione...", CADENA.label]
    assert [o.text_content() for o in page.cssselect("#NumberRangeRowKey option")] == ["Seleccione..."]
    assert MESSAGES_P02["no_ranges"] in text(page, ".alert.custom-alert-primary")
    assert MESSAGES_P02["none_associated"] in text(page, ".contributor-alert")

    world.clock.advance(world.resolution_sync_delay - timedelta(minutes=1))
    assert len(doc(prod.get("/Software/AddNumberRange")).cssselect("#NumberRangeRowKey option")) == 1
    world.clock.advance(minutes=2)
    page = doc(prod.get("/Software/AddNumberRange"))
    option = page.cssselect("#NumberRangeRowKey option")[1]
    assert option.text_content() == "FE - 18764031407250 (1 - 100)" and "|" in option.get("value")
    assert not page.cssselect(".alert.custom-alert-primary")

    form = {"softwareId": CADENA.software_id, "rangeRowKey": option.get("value")}
    assert prod.post("/Software/AddPrefix", form).json() == {"success": True}
    assert prod.post("/Software/AddPrefix", form).json()["success"] is False  # no longer offered
    assert world.journal.count(DEMO_NIT, "asociar_prefijo", prefijo="FE", resolucion=res.number) == 1
    page = doc(prod.get("/Software/AddNumberRange"))
    [row] = page.cssselect(".table-responsive tbody tr")
    cells = [" ".join(td.text_content().split()) for td in row.findall("td")][:7]
    # FEL (2026): Proveedor | Software | Código del Software | Tipo | Prefijo | Fecha Asociación | Fecha Expiración
    assert cells == [CADENA.provider, CADENA.software, CADENA.software_id, "Factura electrónica de venta",
                     "FE - 18764031407250 (1 - 100)", cs.fmt_date(world.clock.now()), cs.fmt_date(res.valid_until)]
    assert row.cssselect("[data-rk]")[0].get("data-rk") == f"FE|01|{res.number}"
    headers = [" ".join(th.text_content().split()) for th in page.cssselect(".table-responsive thead th")]
    assert headers[:7] == ["Proveedor", "Software", "Código del Software", "Tipo", "Prefijo", "Fecha Asociación",
                           "Fecha Expiración"]
    state_of(client).variants["tabla_prefijos"] = "2022"  # _associatedRanges.cshtml: no "Tipo", "Prefijo Asociado"
    page = doc(prod.get("/Software/AddNumberRange"))
    [row] = page.cssselect(".table-responsive tbody tr")
    assert [" ".join(td.text_content().split()) for td in row.findall("td")][3] == "FE - 18764031407250 (1 - 100)"
    assert "Prefijo Asociado" in text(page, ".table-responsive thead")
    assert MESSAGES_P02["no_more"] in text(page, ".alert.custom-alert-primary")
    assert not page.cssselect(".contributor-alert")


MESSAGES_P02 = {
    "no_ranges": "no tiene autorizados rangos de numeración.",
    "no_more": "no tiene mas prefijos de numeración para asociar a un software.",
    "none_associated": "Ningún rango de numeración asociado disponible para mostrar.",
}


def test_other_clients_resolutions_and_expired_ones_are_not_offered(world: World, client: SandboxClient,
                                                                    prod: CatalogoHttp) -> None:
    set_stage(world, DEMO_NIT, "sincronizado")
    world.add_client(demo_client("800111222"))
    resolution(world, "800111222", hours_ago=3, prefix="OTRO", number="18760000000001")
    old = Resolution(nit=DEMO_NIT, number="18760000000002", prefix="VIEJ", desde=1, hasta=10, tipo="x",
                     issued_at=world.clock.now() - timedelta(days=800), vigencia_meses=24)
    world.resolutions.append(old)
    resolution(world, hours_ago=3, prefix="", number="18760000000003")
    prod.login(client)
    page = doc(prod.get("/Software/AddNumberRange"))
    options = [o.text_content() for o in page.cssselect("#NumberRangeRowKey option")]
    assert options == ["Seleccione...", "Sin prefijo - 18760000000003 (1 - 100)"]


# -- faults -----------------------------------------------------------------------------------------

def test_http_500_before_and_after_the_change(world: World, client: SandboxClient, prod: CatalogoHttp) -> None:
    set_stage(world, DEMO_NIT, "sincronizado")
    res = resolution(world, hours_ago=3)
    prod.login(client)
    form = {"softwareId": CADENA.software_id, "rangeRowKey": cs.range_key(res)}
    world.faults.inject(DEMO_NIT, "asociar_prefijo", Fault(http_500=True))
    assert prod.post("/Software/AddPrefix", form).status_code == 500
    assert state_of(client).associations == [] and world.journal.count(DEMO_NIT, "asociar_prefijo") == 0
    world.faults.inject(DEMO_NIT, "asociar_prefijo:despues", Fault(http_500=True))
    assert prod.post("/Software/AddPrefix", form).status_code == 500
    assert len(state_of(client).associations) == 1 and world.journal.count(DEMO_NIT, "asociar_prefijo") == 1
    assert world.journal.count(DEMO_NIT, "falla_inyectada") == 2


def test_latency_fault_delays_the_step(world: World, client: SandboxClient, hab: CatalogoHttp) -> None:
    hab.login(client)
    world.faults.inject(DEMO_NIT, "dashboard", Fault(latency_s=0.3))
    started = time.monotonic()
    assert hab.get("/Home/Dashboard").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    hab.get("/Home/Dashboard")
    assert time.monotonic() - started < 0.3  # times=1: consumed


def test_dropped_session_sends_back_to_login(world: World, client: SandboxClient, hab: CatalogoHttp) -> None:
    set_stage(world, DEMO_NIT, "registrado")
    hab.login(client)
    world.faults.inject(DEMO_NIT, "modos_operacion", Fault(drop_session=True))
    assert hab.get("/Contributor/ConfigureOperationModes/1").headers["location"] == "/User/Login"
    assert hab.get("/Home/Dashboard").headers["location"] == "/User/Login"


def test_login_page_fault_for_every_client(world: World, hab: CatalogoHttp) -> None:
    world.faults.inject("*", "pagina_login", Fault(http_500=True))
    assert hab.get("/User/CompanyLogin").status_code == 500
    assert hab.get("/User/CompanyLogin").status_code == 200


def test_token_mail_lost(world: World, client: SandboxClient, hab: CatalogoHttp) -> None:
    world.faults.inject(DEMO_NIT, "token", Fault(mail_lost=True))
    assert hab.request_token(client).json()["Code"] == 200
    assert token_links(world, client.email_rut) == []
    assert world.journal.count(DEMO_NIT, "correo_perdido", kind="token") == 1


def test_portal_version_switch_to_the_redesign(world: World, client: SandboxClient, hab: CatalogoHttp,
                                               prod: CatalogoHttp) -> None:
    world.faults.set_version("*", "catalogo", "2027-rediseno")
    login = doc(hab.get("/User/CompanyLogin"))
    assert login.cssselect("#loginEmpresaForm") and not login.cssselect("#legalRepresentative, #form0")
    reply = hab.http.post("/User/CompanyAuthentication", data={
        "tipoDocumento": client.rep_id_type, "documentoRepresentante": client.rep_id_number,
        "nitEmpresa": client.nit, "cf-turnstile-response": captcha()})
    assert reply.json()["Code"] == 200
    world.faults.clear()

    set_stage(world, DEMO_NIT, "sincronizado")
    resolution(world, hours_ago=3)
    prod.login(client)
    assert doc(prod.get("/Software/AddNumberRange")).cssselect("#add-prefix-form")
    world.faults.set_version(DEMO_NIT, "catalogo", "2027-rediseno")  # mid-run, for this client only
    page = doc(prod.get("/Software/AddNumberRange"))
    assert not page.cssselect("#add-prefix-form") and page.cssselect("#proveedor-software")
    options = [o.text_content() for o in page.cssselect("#prefijo-resolucion option")]
    assert options == ["Seleccione una opción", "FE - 18764031407250 (1 - 100)"]
    assert page.cssselect("tbody tr") == [] and page.cssselect(".empty-state")[0].get("hidden") is None
    assert doc(prod.get("/Home/Dashboard")).cssselect("#mainnav-menu")  # not redesigned: from 2026


# -- stages ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stage", cs.STAGES)
def test_set_stage(world: World, client: SandboxClient, hab: CatalogoHttp, stage: str) -> None:
    state = set_stage(world, DEMO_NIT, stage)
    level = cs.STAGES.index(stage)
    assert state.status == ("pendiente" if level == 0 else "registrado" if level < 3 else "habilitado")
    assert len(state.operations) == (0 if level < 2 else 1)
    assert state.in_test == (level == 2)
    assert (state.production_date is not None) == (level >= 4)
    assert state.productive == (level == 5)
    assert world.journal.entries() == []
    hab.login(client)
    landing = doc(hab.get("/Home/Dashboard"))
    opens_dialog = "setTimeout(showRegisterProductionDateModal" in lxml_html.tostring(landing, encoding="unicode")
    assert opens_dialog == (level == 3)
    with pytest.raises(ValueError):
        set_stage(world, DEMO_NIT, "habilitado")


def test_registrar_signs_out_every_session_of_the_client(world: World, client: SandboxClient,
                                                         portal_http: Callable[[str], httpx.Client]) -> None:
    one, two = CatalogoHttp(world, portal_http(HAB)), CatalogoHttp(world, portal_http(HAB))
    one.login(client)
    two.login(client)
    one.post("/Contributor/Register", {"ExchangeEmail": "recepcion@empresa-demo.test"})
    assert two.get("/Home/Dashboard").headers["location"] == "/User/Login"
    assert link_path("http://x/User/AuthToken?pk=1|2&rk=3&token=4") == "/User/AuthToken?pk=1|2&rk=3&token=4"
