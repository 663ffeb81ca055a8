"""The sandbox's MUISCA over plain HTTP: login and lockout, the numbering request's state machine with its
two signatures, the clave dinámica's countdown and expiry, Mis comunicados, formato 1876, and faults."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from datetime import timedelta
from email import message_from_bytes, policy
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pypdf
import pytest

from sandbox import muisca
from sandbox.faults import Fault
from sandbox.muisca_state import set_stage, state_of
from sandbox.world import World

if TYPE_CHECKING:
    from tests.fixtures_muisca import MuiscaWalker


DIAN_LOGIN_ERROR = "Datos incorrectos o no encontrados. Verifique e intente de nuevo."


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def _journal(world: World, nit: str) -> list[tuple[str, dict]]:
    return [(e.action, e.details) for e in world.journal.entries(nit) if e.portal == "muisca"]


def _sign_first(m: MuiscaWalker) -> None:
    """From a fresh login to "Formaliza la Solicitud" with one signature (Borrador skipped)."""
    m.to_solicitud()
    m.agregar()
    assert m.boton("Definitivo").headers["location"] == muisca.FIRMA
    m.solicitar_clave()
    assert m.firmar().headers["location"] == muisca.MENSAJE
    m.mensaje("Aceptar")


# -- login ----------------------------------------------------------------------------------------


def test_entry_redirects_to_the_angular_login_with_an_ide_request(muisca_http: MuiscaWalker) -> None:
    first = muisca_http.get("/")
    assert first.headers["location"] == muisca.ENTRY
    entry = muisca_http.get(muisca.ENTRY)
    target = urlsplit(entry.headers["location"])
    assert target.path == "/WebIdentidadLogin/"
    ide = json.loads(base64.b64decode(parse_qs(target.query)["ideRequest"][0]))
    assert ide["params"] == {"tipoUsuario": "muisca"}
    page = muisca_http.get(entry.headers["location"])
    assert 'name="numDocumentoOrg"' in page.text and "disabled" in page.text
    # Pages behind the login send an anonymous visitor back to the entry.
    assert muisca_http.get(muisca.CONSULTAR).headers["location"] == muisca.ENTRY


def test_login_on_behalf_of_the_company_opens_the_dashboard(muisca_http: MuiscaWalker, world: World) -> None:
    response = muisca_http.login()
    assert response.status_code == 302 and response.headers["location"] == muisca.DASHBOARD
    dashboard = muisca_http.follow(response)
    assert "Mis actividades" in dashboard.text and "EMPRESA DEMO S.A.S." in dashboard.text
    assert "Atención inmediata" not in dashboard.text
    assert world.journal.count(muisca_http.nit, "login", ok=True) == 1


def test_wrong_password_shows_dians_text_and_the_third_locks_the_account(
    muisca_http: MuiscaWalker, world: World
) -> None:
    nit = muisca_http.nit
    for attempt in (1, 2):
        page = muisca_http.login("mala")
        assert page.status_code == 200 and DIAN_LOGIN_ERROR in page.text
        assert 'value="900123456"' in page.text  # the form keeps the NIT
        assert world.journal.count(nit, "login", ok=False, reason="clave", intento=attempt) == 1
    third = muisca_http.login("mala")
    assert "Usuario bloqueado" in third.text and "intentando ingresar de manera incorrecta" in third.text
    assert state_of(world.clients[nit]).locked
    # Even the right password is refused now.
    again = muisca_http.login()
    assert again.status_code == 200 and "Usuario bloqueado" in again.text
    assert world.journal.count(nit, "login") == 4
    assert world.journal.count(nit, "cuenta_bloqueada") == 1
    assert world.journal.count(nit, "login", reason="cuenta_bloqueada") == 1


def test_a_good_login_resets_the_failure_count(muisca_http: MuiscaWalker, world: World) -> None:
    muisca_http.login("mala")
    muisca_http.login("mala")
    assert muisca_http.login().status_code == 302
    assert state_of(world.clients[muisca_http.nit]).failed_logins == 0


def test_unknown_organisation_or_user_gets_the_same_text_and_counts_nothing(
    muisca_http: MuiscaWalker, world: World
) -> None:
    page = muisca_http.login(org="800999999")
    assert DIAN_LOGIN_ERROR in page.text
    assert world.journal.count("800999999", "login", ok=False, reason="datos_no_encontrados") == 1
    assert state_of(world.clients[muisca_http.nit]).failed_logins == 0
    # The NIT with its check digit is accepted too.
    assert muisca_http.login(org="9001234568").status_code == 302


def test_a_nombre_propio_acts_for_the_person(muisca_http: MuiscaWalker, world: World) -> None:
    assert muisca_http.login(modo="propio").status_code == 302
    dashboard = muisca_http.get(muisca.DASHBOARD)
    assert "A Nombre Propio" in dashboard.text
    datos = muisca_http.get(muisca.CONTRIBUYENTE)
    assert 'value="1020304050"' in datos.text  # the NIT field shows the person's document


def test_expired_password_notice_on_the_dashboard(muisca_http: MuiscaWalker, world: World) -> None:
    state_of(world.clients[muisca_http.nit]).password_expired = True
    muisca_http.login()
    page = muisca_http.get(muisca.DASHBOARD)
    assert "Atención inmediata" in page.text and "ha caducado" in page.text


def test_legacy_login_for_everyone(muisca_http: MuiscaWalker, world: World) -> None:
    world.faults.set_version("*", "muisca", "legacy")
    entry = muisca_http.get(muisca.ENTRY)
    assert entry.headers["location"] == muisca.LOGIN_URLS["legacy"]
    form = muisca_http.get(muisca.LOGIN_URLS["legacy"])
    assert "Ingresar a nombre de:" in form.text and "vistaLogin:frmLogin:_id18" in form.text
    assert muisca_http.get("/WebIdentidadLogin/").headers["location"] == muisca.LOGIN_URLS["legacy"]
    wrong = muisca_http.login_legacy("mala")
    assert DIAN_LOGIN_ERROR in wrong.text and 'id="vistaLogin:frmLogin:msgError"' in wrong.text
    ok = muisca_http.login_legacy()
    assert ok.headers["location"] == muisca.DASHBOARD
    assert "Mis actividades" in muisca_http.follow(ok).text  # shared with 2026
    assert world.journal.count(muisca_http.nit, "login", ok=True, version="legacy") == 1


def test_per_client_version_switch_takes_effect_at_the_login(muisca_http: MuiscaWalker, world: World) -> None:
    world.faults.set_version(muisca_http.nit, "muisca", "legacy")
    switched = muisca_http.login()
    assert switched.headers["location"] == muisca.LOGIN_URLS["legacy"]
    assert world.journal.count(muisca_http.nit, "login", reason="version_cambiada") == 1
    # The sandbox remembers the switch: the entry now leads to the legacy form.
    assert muisca_http.get(muisca.ENTRY).headers["location"] == muisca.LOGIN_URLS["legacy"]
    assert muisca_http.login_legacy().headers["location"] == muisca.DASHBOARD
    world.faults.clear(muisca_http.nit)
    assert urlsplit(muisca_http.get(muisca.ENTRY).headers["location"]).path == "/WebIdentidadLogin/"


# -- the numbering request ----------------------------------------------------------------------------


def test_whole_numeracion_request_with_two_signatures(muisca_http: MuiscaWalker, world: World) -> None:
    m, nit = muisca_http, muisca_http.nit
    m.login()
    empty = m.to_solicitud()
    assert "Solicitud de Autorización de Rangos" in empty.text and "No hay rangos agregados." in empty.text

    added = m.agregar(prefijo="fe", desde="1", hasta="5000")
    assert "FACTURA ELECTRÓNICA DE VENTA" in added.text and ">5000<" in added.text
    assert "tblRangos:0:btnEliminar" in added.text

    saved = m.boton("Borrador")
    assert saved.headers["location"] == muisca.MENSAJE
    assert "El documento ha sido guardado de forma exitosa." in m.get(muisca.MENSAJE).text
    draft = m.mensaje("VerDocumento")
    assert draft.headers["content-type"] == "application/pdf"
    assert "BORRADOR" in _pdf_text(draft.content) and "1302" in _pdf_text(draft.content)
    solicitud = m.state.of(nit)[0]
    assert (solicitud.estado, solicitud.firmas) == ("BORRADOR", 0)

    back = m.follow(m.mensaje("Aceptar"))
    assert ">5000<" in back.text  # the saved row is shown again
    assert m.boton("Definitivo").headers["location"] == muisca.FIRMA
    assert (solicitud.estado, solicitud.firmas) == ("DEFINITIVO", 0)

    signing = m.get(muisca.FIRMA)
    assert "¿Necesitas una clave dinámica?" in signing.text and "Solicítala aquí" in signing.text
    requested = m.solicitar_clave()
    assert "¡Clave dinámica enviada a" in requested.text and "*****@empresa-demo.test" in requested.text
    assert 'data-segundos="60"' in requested.text
    key = m.state.clave.valor
    assert re.fullmatch(r"[A-Za-z0-9]{8}=", key)
    mails = world.mail.to(world.clients[nit].key_mailbox)
    mail = message_from_bytes(mails[0], policy=policy.default)
    assert mail["Subject"] == "Se informa clave dinámica - Proceso de firma electrónica"
    assert key in mail.get_body(("plain",)).get_content()

    assert m.firmar().headers["location"] == muisca.MENSAJE
    assert (solicitud.estado, solicitud.firmas) == ("DEFINITIVO", 1)
    assert m.mensaje("Aceptar").headers["location"] == muisca.CONSULTAR

    formaliza = m.get(muisca.CONSULTAR)
    assert "Formaliza la Solicitud Numeración de Facturación" in formaliza.text
    assert solicitud.numero in formaliza.text and solicitud.formulario in formaliza.text
    assert m.formaliza("Firmar").headers["location"] == muisca.FIRMA
    second = m.get(muisca.FIRMA)
    assert "¡Clave dinámica enviada a" in second.text  # the same key is still valid (seed C.16)
    assert m.firmar().headers["location"] == muisca.MENSAJE
    assert solicitud.estado == "FORMALIZADO" and solicitud.resolucion is not None
    assert re.fullmatch(r"1876\d{10}", solicitud.resolucion)

    pdf = m.mensaje("VerDocumento")
    assert pdf.headers["content-disposition"] == f'attachment; filename="1876_{solicitud.resolucion}.pdf"'
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 2
    text = _pdf_text(pdf.content)
    assert f"4. Número de formulario\n{solicitud.resolucion}" in text
    assert "FACTURA ELECTRÓNICA DE VENTA 1 FE 1 5,000 24 AUTORIZACIÓN 1" in text
    assert "997. Fecha formalización" in text and "Fecha Acuse de Recibo / Firmado" in text

    resolution_page = m.follow(m.mensaje("Aceptar"))
    assert "Autorización Numeración de Facturación" in resolution_page.text
    assert solicitud.resolucion in resolution_page.text and ">24<" in resolution_page.text
    again = m.post(
        muisca.RESOLUCION,
        {
            "vistaResolucion:frmResolucion:hdnResolucion": solicitud.resolucion,
            "vistaResolucion:frmResolucion:btnVerDocumento": "Ver Documento",
        },
    )
    assert again.headers["content-type"] == "application/pdf"

    [resolution] = world.resolutions
    assert (resolution.nit, resolution.number, resolution.prefix, resolution.desde, resolution.hasta) == (
        nit,
        solicitud.resolucion,
        "FE",
        1,
        5000,
    )
    assert resolution.tipo == "FACTURA ELECTRÓNICA DE VENTA"
    assert world.visible_resolutions(nit) == []  # the production site shows it only after the sync delay

    actions = [a for a, _ in _journal(world, nit)]
    assert actions == ["login", "agregar_rango", "borrador", "definitivo", "solicitar_clave", "firmar", "firmar"]
    firmas = world.journal.entries(nit, "firmar", ok=True)
    assert [e.details["documento"] for e in firmas] == ["solicitud_1302", "formalizacion"]
    assert firmas[1].details["resolucion"] == solicitud.resolucion

    # The consult shows the formalised request with its resolution.
    results = m.post(muisca.CONSULTAR, {"vistaConsulta:frmConsulta:btnConsultar": "Consultar"})
    assert "FORMALIZADO" in results.text and f"resolucion={solicitud.resolucion}" in results.text
    assert "Formaliza la Solicitud" not in m.get(muisca.CONSULTAR).text


def test_validation_errors_keep_the_form_and_add_no_row(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    m.login()
    m.to_solicitud()
    page = m.agregar(prefijo="FE", desde="2000", hasta="1000")
    assert "El Rango Hasta debe ser mayor o igual al Rango Desde." in page.text
    assert 'value="2000"' in page.text
    page = m.agregar(prefijo="FACT1", tipo="", desde="x", hasta="1")
    for text in (
        "El Prefijo admite máximo cuatro (4)",
        "El campo Tipo Facturación es obligatorio.",
        "deben ser numéricos",
    ):
        assert text in page.text
    assert "Debe agregar al menos un rango" in m.boton("Borrador").text
    assert world.journal.count(m.nit, "agregar_rango") == 0
    assert world.journal.count(m.nit, "validacion_rechazada") == 3
    assert m.state.of(m.nit) == []


def test_each_agregar_adds_a_row_and_eliminar_removes_it(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    m.login()
    m.to_solicitud()
    m.agregar()
    page = m.agregar()  # a double click: DIAN keeps both rows (the robot must notice)
    assert "tblRangos:1:btnEliminar" in page.text
    page = m.post(muisca.SOLICITUD, {"vistaSolicitud:frmSolicitud:tblRangos:1:btnEliminar.x": "4"})
    assert "tblRangos:1:btnEliminar" not in page.text and "tblRangos:0:btnEliminar" in page.text
    assert world.journal.count(m.nit, "agregar_rango") == 2
    assert world.journal.count(m.nit, "eliminar_rango") == 1
    assert m.boton("Salir").headers["location"] == muisca.CONSULTAR


def test_anular_cancels_a_request_waiting_for_formalisation(muisca_http: MuiscaWalker, world: World) -> None:
    solicitud = set_stage(world, muisca_http.nit, "firmada_una_vez")
    assert solicitud is not None
    muisca_http.login()
    page = muisca_http.get(muisca.CONSULTAR)
    assert "tblFormaliza:0:btnFirmar" in page.text and "tblFormaliza:0:btnAnular" in page.text
    assert muisca_http.formaliza("Anular").headers["location"] == muisca.CONSULTAR
    assert solicitud.estado == "ANULADO"
    assert world.journal.count(muisca_http.nit, "anular", solicitud=solicitud.numero) == 1
    assert "Formaliza la Solicitud" not in muisca_http.get(muisca.CONSULTAR).text


@pytest.mark.parametrize(
    ("stage", "estado", "firmas"),
    [
        ("borrador", "BORRADOR", 0),
        ("definitivo", "DEFINITIVO", 0),
        ("firmada_una_vez", "DEFINITIVO", 1),
        ("formalizada", "FORMALIZADO", 2),
    ],
)
def test_set_stage(muisca_http: MuiscaWalker, world: World, stage: str, estado: str, firmas: int) -> None:
    solicitud = set_stage(world, muisca_http.nit, stage, prefijo="FV", hasta=200)
    assert solicitud is not None and (solicitud.estado, solicitud.firmas) == (estado, firmas)
    assert [r.prefix for r in world.resolutions] == (["FV"] if stage == "formalizada" else [])
    muisca_http.login()
    consult = muisca_http.get(muisca.CONSULTAR)
    assert ("Formaliza la Solicitud" in consult.text) == (estado == "DEFINITIVO")
    results = muisca_http.post(muisca.CONSULTAR, {"vistaConsulta:frmConsulta:btnConsultar": "Consultar"})
    assert estado in results.text and ">FV<" in results.text
    assert set_stage(world, muisca_http.nit, "sin_solicitud") is None
    empty = muisca_http.post(muisca.CONSULTAR, {"vistaConsulta:frmConsulta:btnConsultar": "Consultar"})
    assert "No se encontraron registros" in empty.text


def test_a_request_left_unsigned_after_definitivo_is_signed_from_the_formaliza_list(
    muisca_http: MuiscaWalker, world: World
) -> None:
    solicitud = set_stage(world, muisca_http.nit, "definitivo")
    assert solicitud is not None
    muisca_http.login()
    assert muisca_http.formaliza("Firmar").headers["location"] == muisca.FIRMA
    muisca_http.solicitar_clave()
    muisca_http.firmar()
    assert solicitud.firmas == 1 and solicitud.estado == "DEFINITIVO"
    assert world.journal.count(muisca_http.nit, "firmar", ok=True, documento="solicitud_1302") == 1


# -- clave dinámica -------------------------------------------------------------------------------------


def test_key_countdown_invalidation_and_expiry(muisca_http: MuiscaWalker, world: World) -> None:
    m, nit = muisca_http, muisca_http.nit
    m.login()
    m.to_solicitud()
    m.agregar()
    m.boton("Definitivo")
    m.solicitar_clave()
    first = m.state.clave.valor

    early = m.solicitar_clave()
    assert "Debe esperar" in early.text and m.state.clave.valor == first
    assert world.journal.count(nit, "solicitar_clave", ok=False, reason="espera") == 1
    world.clock.advance(seconds=30)
    assert 'data-segundos="30"' in m.get(muisca.FIRMA).text
    world.clock.advance(seconds=31)
    m.solicitar_clave()
    second = m.state.clave.valor
    assert second != first and len(world.mail.to(world.clients[nit].key_mailbox)) == 2

    old = m.firmar(clave=first)
    assert "La clave dinámica ingresada no es válida." in old.text
    assert world.journal.count(nit, "firmar", ok=False, reason="clave_anterior") == 1
    wrong = m.firmar(clave="XXXXXXXX=")
    assert "no es válida" in wrong.text

    world.clock.advance(m.state.key_validity + timedelta(seconds=1))
    expired = m.firmar(clave=second)
    assert "ya no está vigente" in expired.text
    assert world.journal.count(nit, "firmar", ok=False, reason="clave_vencida") == 1
    assert "Solicítala aquí" in m.get(muisca.FIRMA).text  # variant A again
    m.solicitar_clave()
    assert m.firmar().headers["location"] == muisca.MENSAJE


def test_wrong_signature_password(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    m.login()
    m.to_solicitud()
    m.agregar()
    m.boton("Definitivo")
    m.solicitar_clave()
    page = m.firmar(password="otra")
    assert page.status_code == 200
    assert "La clave de la Firma Electrónica no es correcta." in page.text
    assert world.journal.count(m.nit, "firmar", ok=False, reason="firma_incorrecta", documento="solicitud_1302") == 1
    assert m.state.of(m.nit)[0].firmas == 0
    empty = m.firmar(clave="")
    assert "Ingrese la clave dinámica." in empty.text


def test_single_use_keys_need_a_new_key_for_the_second_signature(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    m.state.key_single_use = True
    m.login()
    _sign_first(m)
    m.formaliza("Firmar")
    used = m.firmar()
    assert "no es válida" in used.text
    world.clock.advance(seconds=61)
    m.solicitar_clave()
    assert m.firmar().headers["location"] == muisca.MENSAJE


def test_mis_comunicados_lists_the_key(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    m.login()
    inbox = m.get(muisca.COMUNICADOS)
    assert "Mis comunicados" in inbox.text and "pnlMensajeCorreo" not in inbox.text
    assert "tblComunicados:0:lnkAsunto" not in inbox.text
    m.to_solicitud()
    m.agregar()
    m.boton("Definitivo")
    m.solicitar_clave()
    key = m.state.clave
    inbox = m.get(muisca.COMUNICADOS)
    assert "Se informa clave dinámica - Proceso de firma electrónica" in inbox.text
    assert key.valor in inbox.text and "Tu clave dinámica está vigente desde" in inbox.text
    world.clock.advance(seconds=61)
    m.solicitar_clave()
    newest = m.get(muisca.COMUNICADOS)
    assert m.state.clave.valor in newest.text  # the newest is shown on load
    assert "tblComunicados:1:lnkAsunto" in newest.text
    older = m.get(muisca.COMUNICADOS, comunicado="1")
    assert key.valor in older.text
    none = m.get(muisca.COMUNICADOS, **{"vistaComunicados:frmComunicados:txtBusqueda": "renta"})
    assert "tblComunicados:0:lnkAsunto" not in none.text


# -- faults -------------------------------------------------------------------------------------------


def test_latency_fault(muisca_http: MuiscaWalker, world: World) -> None:
    muisca_http.login()
    world.faults.inject(muisca_http.nit, "consultar", Fault(latency_s=0.3))
    started = time.monotonic()
    assert muisca_http.get(muisca.CONSULTAR).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_http_500_fault_changes_nothing(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    m.login()
    m.to_solicitud()
    world.faults.inject(m.nit, "agregar_rango", Fault(http_500=True))
    failed = m.agregar()
    assert failed.status_code == 500 and "Error 500" in failed.text
    assert world.journal.count(m.nit, "agregar_rango") == 0
    assert world.journal.count(m.nit, "falla_inyectada", step="agregar_rango") == 1
    assert m.agregar().status_code == 200
    assert world.journal.count(m.nit, "agregar_rango") == 1


def test_http_500_on_the_login_page_for_everyone(muisca_http: MuiscaWalker, world: World) -> None:
    world.faults.inject("*", "login", Fault(http_500=True, times=2))
    assert muisca_http.get("/WebIdentidadLogin/").status_code == 500
    assert muisca_http.login().status_code == 500
    assert muisca_http.login().status_code == 302


def test_dropped_session_fault_sends_back_to_the_login(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    m.login()
    world.faults.inject(m.nit, "definitivo", Fault(drop_session=True))
    m.to_solicitud()
    m.agregar()
    dropped = m.boton("Definitivo")
    assert dropped.headers["location"] == muisca.ENTRY
    assert world.journal.count(m.nit, "definitivo") == 0
    assert m.get(muisca.DASHBOARD).headers["location"] == muisca.ENTRY
    assert m.login().status_code == 302


def test_lost_key_mail_still_reaches_mis_comunicados(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    world.faults.inject(m.nit, "clave_dinamica", Fault(mail_lost=True))
    m.login()
    m.to_solicitud()
    m.agregar()
    m.boton("Definitivo")
    m.solicitar_clave()
    assert world.mail.to(world.clients[m.nit].key_mailbox) == []
    assert world.journal.count(m.nit, "correo_perdido", kind="clave_dinamica") == 1
    assert m.state.clave.valor in m.get(muisca.COMUNICADOS).text


def test_delayed_key_mail(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    world.faults.inject(m.nit, "clave_dinamica", Fault(mail_delay_s=0.3))
    m.login()
    m.to_solicitud()
    m.agregar()
    m.boton("Definitivo")
    m.solicitar_clave()
    mailbox = world.clients[m.nit].key_mailbox
    assert world.mail.to(mailbox) == []
    deadline = time.monotonic() + 3
    while not world.mail.to(mailbox) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(world.mail.to(mailbox)) == 1


def test_comunicado_delayed_on_the_sandbox_clock_or_lost(muisca_http: MuiscaWalker, world: World) -> None:
    m = muisca_http
    world.faults.inject(m.nit, "comunicado", Fault(mail_delay_s=120))
    m.login()
    m.to_solicitud()
    m.agregar()
    m.boton("Definitivo")
    m.solicitar_clave()
    first = m.state.clave.valor
    assert first not in m.get(muisca.COMUNICADOS).text
    world.clock.advance(seconds=121)
    assert first in m.get(muisca.COMUNICADOS).text
    world.faults.inject(m.nit, "comunicado", Fault(mail_lost=True))
    m.solicitar_clave()
    assert m.state.clave.valor not in m.get(muisca.COMUNICADOS).text
    assert len(world.mail.to(world.clients[m.nit].key_mailbox)) == 2  # the e-mails still arrive
