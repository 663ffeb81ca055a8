"""``python -m flows.solicitar_numeracion`` against the sandbox: real Chromium, real IMAP (pymap).

What DIAN saw is read from the sandbox journal; what the operator sees from the exit code, the JSON
result and the log lines. Every test also scans all output and every file the robot wrote for
passwords and claves dinámicas.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bots.formato1876 import parse_formato_1876
from bots.steps import JOURNAL_NAME, Phase, StepJournal
from sandbox.faults import Fault
from sandbox.mail import build_dynamic_key_email
from sandbox.muisca import ASUNTO_CLAVE
from sandbox.muisca_state import Comunicado, issue_key, set_stage
from tests.fixtures_numeracion import RESEND_WAIT, Numeracion

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DIAN_LOGIN_ERROR = "Datos incorrectos o no encontrados. Verifique e intente de nuevo."
DIAN_FIRMA_ERROR = "La clave de la Firma Electrónica no es correcta."


def _ok(result, status: str = "ok") -> dict:
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.json is not None and result.json["status"] == status, result.stdout
    return result.json["data"]


def _una_firma_por_documento(num: Numeracion) -> None:
    assert num.count("firmar", ok=True, documento="solicitud_1302") == 1
    assert num.count("firmar", ok=True, documento="formalizacion") == 1
    assert num.count("anular") == 0


def _resolucion_correcta(num: Numeracion, data: dict) -> None:
    [resolution] = num.world.resolutions
    assert data["resolucion"] == resolution.number and data["resolucion"].startswith("1876")
    assert (data["prefijo"], data["desde"], data["hasta"], data["vigencia_meses"]) == ("FE", 1, 5000, 24)
    assert data["tipo_facturacion"] == "FACTURA ELECTRÓNICA DE VENTA"
    pdf = Path(data["pdf"])
    assert pdf.is_file() and pdf.is_relative_to(num.env.output_dir / num.nit)
    assert parse_formato_1876(pdf.read_bytes()).numero == resolution.number
    assert data["vigente_desde"] == resolution.issued_at.date().isoformat()


def _pasos(num: Numeracion) -> StepJournal:
    return StepJournal(num.env.output_dir / num.nit / JOURNAL_NAME)


def _nombre(paso: str) -> str:
    return f"muisca.numeracion.FE.1-5000.{paso}"


def test_solicitud_completa(numeracion: Numeracion) -> None:
    num = numeracion
    result = num.solicitar()
    data = _ok(result)
    _resolucion_correcta(num, data)
    [solicitud] = num.solicitudes()
    assert solicitud.estado == "FORMALIZADO" and data["formulario_1302"] == solicitud.formulario
    assert num.count("login") == 1 and num.count("agregar_rango") == 1
    assert num.count("borrador") == 1 and num.count("definitivo") == 1
    _una_firma_por_documento(num)
    assert num.count("firmar", ok=False) == 0
    assert num.count("solicitar_clave") == 1, "la clave de la primera firma se reutiliza en la segunda"
    # Evidence: the 1302 draft and the screens after each step, next to the 1876.
    carpeta = Path(data["evidencia"])
    assert {"borrador.html", "firma-1.html", "firma-2.html", "resolucion.html"} <= {p.name for p in carpeta.iterdir()}
    assert any(p.name.startswith("1302_") for p in carpeta.iterdir())
    # Every irreversible click was journaled before and checked after, in order.
    pasos = _pasos(num)
    assert [(r.step, r.phase) for r in pasos.records()] == [
        (_nombre(paso), fase)
        for paso in ("agregar_rango", "borrador", "definitivo", "solicitar_clave", "firma.1", "firma.2")
        for fase in (Phase.BEFORE, Phase.AFTER)
    ]
    assert pasos.last(_nombre("firma.2")).details == {"resultado": "ok", "documento": "1876"}
    assert "requiere" not in result.stderr.lower()
    num.sin_secretos()


@pytest.mark.parametrize(("stage", "firmas"), [("borrador", 2), ("definitivo", 2)])
def test_continua_la_solicitud_existente(numeracion: Numeracion, stage: str, firmas: int) -> None:
    num = numeracion
    set_stage(num.world, num.nit, stage, prefijo="FE", desde=1, hasta=5000)
    data = _ok(num.solicitar())
    _resolucion_correcta(num, data)
    assert len(num.solicitudes()) == 1, "no se creó otra solicitud"
    assert num.count("agregar_rango") == 0 and num.count("borrador") == 0
    assert num.count("definitivo") == (1 if stage == "borrador" else 0)
    assert num.count("firmar", ok=True) == firmas and num.count("anular") == 0
    num.sin_secretos()


def test_rango_cruzado_requiere_persona(numeracion: Numeracion) -> None:
    num = numeracion
    set_stage(num.world, num.nit, "formalizada", prefijo="FE", desde=1, hasta=1000)
    result = num.solicitar()
    assert result.returncode == 4 and result.json["data"]["reason"] == "rango_cruzado"
    assert num.count("agregar_rango") == 0 and len(num.solicitudes()) == 1


def test_interrumpido_en_cada_clic_irreversible(numeracion: Numeracion) -> None:
    """Killed right after each irreversible click reached DIAN; each re-run resumes from the portal."""
    num = numeracion
    puntos = [
        ("agregar_rango", {}),
        ("borrador", {}),
        ("definitivo", {}),
        ("solicitar_clave", {"ok": True}),
        ("firmar", {"ok": True, "documento": "solicitud_1302"}),
        ("firmar", {"ok": True, "documento": "formalizacion"}),
    ]
    for accion, match in puntos:
        killed = num.solicitar_hasta(accion, vez=1, **match)
        assert killed.returncode < 0, f"el robot debía morir tras {accion}"
        assert len(num.solicitudes()) <= 1
    data = _ok(num.solicitar(), status="ya_hecho")
    _resolucion_correcta(num, data)
    [solicitud] = num.solicitudes()
    assert solicitud.estado == "FORMALIZADO"
    assert num.count("borrador") == 1 and num.count("definitivo") == 1
    _una_firma_por_documento(num)
    assert num.count("firmar", ok=False) == 0
    assert num.count("solicitar_clave", ok=False) == 0, "nunca se pidió una clave durante el contador"
    # Each kill left its click uncertain; the next run settled it from the portal before going on.
    pasos = _pasos(num)
    assert pasos.uncertain() == []
    settled = [
        (r.step.removeprefix(_nombre("")), r.phase)
        for r in pasos.records()
        if r.phase in (Phase.CONFIRMED, Phase.NOT_APPLIED)
    ]
    assert settled == [
        ("agregar_rango", Phase.NOT_APPLIED),  # the row lived only in the killed session
        ("borrador", Phase.CONFIRMED),
        ("definitivo", Phase.CONFIRMED),
        ("solicitar_clave", Phase.CONFIRMED),
        ("firma.1", Phase.NOT_APPLIED),  # DEFINITIVO looks the same before and after the first signature
        ("firma.1", Phase.CONFIRMED),  # FORMALIZADO: every signature is in
    ]
    num.sin_secretos()


def test_clave_tardia_y_clave_anterior_ignorada(numeracion: Numeracion) -> None:
    """A key from before the request (mailbox and Mis comunicados) is ignored; the late new one is awaited."""
    num = numeracion
    set_stage(num.world, num.nit, "definitivo", prefijo="FE", desde=1, hasta=5000)
    vieja = issue_key(num.world, num.state)  # an earlier request: its mail and its comunicado are there
    address = num.client.key_mailbox
    raw = build_dynamic_key_email(address, num.client.nombre_usuario, vieja.valor, vieja.emitida, vieja.vence)
    num.world.send_mail(num.nit, address, raw, kind="clave_dinamica")
    num.state.comunicados.append(
        Comunicado(1, ASUNTO_CLAVE, vieja.emitida, vieja.emitida, address, num.client.nombre_usuario, vieja)
    )
    num.world.faults.inject(num.nit, "clave_dinamica", Fault(mail_delay_s=6))
    num.world.faults.inject(num.nit, "comunicado", Fault(mail_delay_s=6))
    result = num.solicitar()
    data = _ok(result)
    _resolucion_correcta(num, data)
    assert num.count("firmar", ok=False) == 0, "la clave anterior nunca se escribió"
    assert num.count("solicitar_clave", ok=True) == 1 and num.count("solicitar_clave", ok=False) == 0
    [pedida] = num.world.journal.entries(num.nit, "solicitar_clave")
    assert pedida.at >= vieja.emitida + RESEND_WAIT, "se esperó el contador de la clave anterior"
    [firma] = num.world.journal.entries(num.nit, "firmar", ok=True, documento="solicitud_1302")
    assert firma.at - pedida.at >= timedelta(seconds=5), "se esperó la clave que llegó tarde"
    assert [e["fuente"] for e in result.events("clave dinámica obtenida")] == ["correo"]
    num.sin_secretos()


def test_clave_vencida_se_pide_otra_tras_el_contador(numeracion: Numeracion) -> None:
    num = numeracion
    set_stage(num.world, num.nit, "definitivo", prefijo="FE", desde=1, hasta=5000)
    num.state.key_validity = timedelta(0)  # the first key is already expired when typed

    def vigencia_normal(_entry: object) -> None:
        num.state.key_validity = timedelta(minutes=10)

    num.on_request("solicitar_clave", vigencia_normal)
    data = _ok(num.solicitar())
    _resolucion_correcta(num, data)
    assert num.count("firmar", ok=False, reason="clave_vencida") == 1
    assert num.count("firmar", ok=False) == 1
    primera, segunda = num.world.journal.entries(num.nit, "solicitar_clave", ok=True)
    assert num.count("solicitar_clave", ok=False) == 0, "el robot no pidió la clave durante el contador"
    assert segunda.at - primera.at >= RESEND_WAIT
    _una_firma_por_documento(num)
    num.sin_secretos()


def test_sin_correo_lee_mis_comunicados(numeracion: Numeracion) -> None:
    num = numeracion
    set_stage(num.world, num.nit, "firmada_una_vez", prefijo="FE", desde=1, hasta=5000)
    num.world.faults.inject(num.nit, "clave_dinamica", Fault(mail_lost=True))
    result = num.solicitar(env={"DIAN_DYNAMIC_KEY_MAIL_TIMEOUT_S": "12"})
    _resolucion_correcta(num, _ok(result))
    assert [e["fuente"] for e in result.events("clave dinámica obtenida")] == ["comunicados"]
    assert num.count("firmar", ok=True, documento="formalizacion") == 1 and num.count("firmar", ok=False) == 0
    num.sin_secretos()


def test_clave_de_firma_incorrecta_no_se_reintenta(numeracion: Numeracion) -> None:
    num = numeracion
    set_stage(num.world, num.nit, "definitivo", prefijo="FE", desde=1, hasta=5000)
    equivocada = "Firma-Equivocada-7"
    num.env.secrets[num.nit]["firma_password"] = equivocada
    num.env.write_files()
    result = num.solicitar()
    assert result.returncode == 4, result.stderr[-3000:]
    assert result.json["status"] == "requiere_humano" and result.json["data"]["reason"] == "clave_firma_rechazada"
    assert DIAN_FIRMA_ERROR in result.json["dian_text"]
    assert num.count("firmar") == 1 and num.count("firmar", ok=False, reason="firma_incorrecta") == 1
    assert result.json["artifacts"] and Path(result.json["artifacts"]).is_dir()
    num.sin_secretos(equivocada)


def test_contrasena_rechazada_un_solo_intento(numeracion: Numeracion) -> None:
    num = numeracion
    equivocada = "Muisca-Equivocada-3"
    num.env.secrets[num.nit]["muisca_password"] = equivocada
    num.env.write_files()
    result = num.solicitar()
    assert result.returncode == 4 and result.json["data"]["reason"] == "clave_rechazada"
    assert result.json["dian_text"] == DIAN_LOGIN_ERROR
    assert num.count("login") == 1
    # The same password is never sent again, not even by a later run.
    again = num.solicitar()
    assert again.returncode == 4 and again.json["data"]["reason"] == "clave_rechazada"
    assert num.count("login") == 1
    num.sin_secretos(equivocada)


@pytest.mark.parametrize("caso", ["cuenta_bloqueada", "clave_caducada", "tratamiento_datos"])
def test_ingreso_que_requiere_persona(numeracion: Numeracion, caso: str) -> None:
    num = numeracion
    if caso == "cuenta_bloqueada":
        num.state.locked = True
    elif caso == "clave_caducada":
        num.state.password_expired = True
    else:
        num.env.profiles[num.nit]["muisca"]["acepta_tratamiento_datos"] = False
        num.env.write_files()
    result = num.solicitar()
    assert result.returncode == 4, result.stderr[-3000:]
    assert result.json["data"]["reason"] == caso
    assert num.count("login") == (0 if caso == "tratamiento_datos" else 1)
    assert num.count("agregar_rango") == 0
    if caso == "clave_caducada":
        assert "caducado" in result.json["dian_text"]
    num.sin_secretos()


def test_ingreso_jsf_legado(numeracion: Numeracion) -> None:
    num = numeracion
    num.world.faults.set_version("*", "muisca", "legacy")
    set_stage(num.world, num.nit, "definitivo", prefijo="FE", desde=1, hasta=5000)
    result = num.solicitar()
    _resolucion_correcta(num, _ok(result))
    [login] = num.world.journal.entries(num.nit, "login")
    assert login.details["version"] == "legacy" and login.details["ok"] is True
    assert any(e.get("version") == "legacy" for e in result.events("formulario de ingreso"))
    _una_firma_por_documento(num)
    num.sin_secretos()


@pytest.mark.parametrize(
    ("args", "texto"),
    [
        (["--prefijo", "FE1"], "no puede terminar en un dígito"),
        (["--prefijo", "SETT"], "pruebas de habilitación"),
        (["--desde", "10", "--hasta", "5"], "es mayor que"),
        (["--tipo", "FACTURA MÁGICA"], "Tipo de facturación desconocido"),
        (["--cliente", "800999999"], "no está en el archivo de clientes"),
    ],
)
def test_entrada_invalida_antes_del_navegador(numeracion: Numeracion, args: list[str], texto: str) -> None:
    num = numeracion
    base = {"--cliente": num.nit, "--prefijo": "FE", "--desde": "1", "--hasta": "5000"}
    for key, value in zip(args[::2], args[1::2], strict=True):
        base[key] = value
    result = num.flujo("solicitar_numeracion", *[x for kv in base.items() for x in kv], "--json")
    assert result.returncode == 2 and result.json["status"] == "error_entrada"
    assert texto in result.json["message"]
    assert num.world.journal.entries() == [] and not any(e["event"] == "navegador iniciado" for e in result.log)


def test_ayuda_en_espanol(numeracion: Numeracion) -> None:
    result = numeracion.flujo("solicitar_numeracion", "--help")
    assert result.returncode == 0
    assert "uso: python -m flows.solicitar_numeracion" in result.stdout
    assert "opciones:" in result.stdout and "--prefijo" in result.stdout and "formato 1876" in result.stdout


# --- what the 2026 public sources show (issue 10, points 11 and 12) -----------------------------


def test_ingreso_con_un_mensaje_desconocido_registra_la_clave_como_rechazada(numeracion: Numeracion) -> None:
    """Point 11: a login answer the robot does not know still counts the password as rejected."""
    num = numeracion
    num.world.faults.inject(num.nit, "login_error_desconocido", Fault())
    result = num.solicitar()
    assert result.returncode == 4 and result.json["data"]["reason"] == "clave_rechazada"
    assert "IDE-0412" in result.json["dian_text"]
    again = num.solicitar()
    assert again.returncode == 4 and again.json["data"]["reason"] == "clave_rechazada"
    assert num.count("login") == 1
    num.sin_secretos()


def test_ingreso_en_mantenimiento_no_registra_la_clave(numeracion: Numeracion) -> None:
    """DIAN's own maintenance text proves the password was not judged: it is not recorded as rejected."""
    num = numeracion
    num.world.faults.inject(num.nit, "login_mantenimiento", Fault())
    result = num.solicitar()
    assert result.returncode == 5, result.stderr[-3000:]
    assert "mantenimiento" in result.json["dian_text"]
    assert not (num.env.output_dir / num.nit / "muisca-ingresos-rechazados.jsonl").exists()
    assert num.count("login") == 1 and num.count("agregar_rango") == 0


def test_solicitud_con_la_firma_en_un_marco(numeracion: Numeracion) -> None:
    """Point 12 and the 2026 variants: notifications notice, 0x0 tiles, vencimiento notice, the signing
    window in an iframe (signer step first, "aquí", XHR) with the Ayuda panel over it."""
    num = numeracion
    num.world.faults.inject("*", "login_notificaciones", Fault())
    num.state.tablero_0x0 = True
    num.state.vencimiento_cercano = True
    num.state.firma_en_marco = True
    num.state.ayuda_sobre_firma = True
    data = _ok(num.solicitar())
    _resolucion_correcta(num, data)
    _una_firma_por_documento(num)
    assert num.count("autorizar_firmante") == 1 and num.count("desautorizar_firmante") == 0
    assert num.count("agregar_rango") == 1 and num.count("borrador") == 1 and num.count("definitivo") == 1
    num.sin_secretos()


def test_una_capa_desconocida_sobre_la_firma_detiene_sin_clic(numeracion: Numeracion) -> None:
    """An overlay the robot does not know is never clicked through: a safe stop naming it."""
    num = numeracion
    num.state.firma_en_marco = True
    num.state.capa_desconocida_sobre_firma = True
    result = num.solicitar()
    assert result.returncode == 5, result.stderr[-3000:]
    assert result.json["status"] == "portal_cambio" and "aviso-nuevo" in result.json["message"]
    assert num.count("autorizar_firmante") == 0 and num.count("solicitar_clave") == 0 and num.count("firmar") == 0
    num.sin_secretos()
