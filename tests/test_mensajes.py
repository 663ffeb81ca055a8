"""DIAN's messages as data (bots/mensajes_dian.toml) behind one classifier (bots.mensajes), and the one
text module (bots.text): the file loads and validates, every message is recognised from DIAN's words in
another form, and each one gives the error class, reason and retry flag the flows rely on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bots import mensajes
from bots.errors import NeedsHuman, PortalError
from bots.mensajes import PORTALS, Kind, MensajeDian, MensajesInvalidos, cargar, clasificar, error_para
from bots.portals.catalogo.login import classify_refusal
from bots.text import digits, integer, strip_accents

pytestmark = pytest.mark.selfcheck

ROOT = Path(__file__).resolve().parents[1]
ALL = list(mensajes.mensajes().values())
CASES = [(m, portal) for m in ALL for portal in m.portals]


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "mensajes.toml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """
[correo_invalido]
portals = ["habilitacion"]
text = "Por favor registre un correo electrónico válido."
kind = "rechazo"
explanation = "Corrija el correo."
source = "view:Models/ContributorViewModel.cs:65"
"""


# --- the data file ---------------------------------------------------------------------------------------


def test_the_shipped_file_loads_with_every_portal_and_a_source_for_each_message() -> None:
    assert len(ALL) >= 25
    used = {p for m in ALL for p in m.portals}
    assert used <= set(PORTALS) and {"habilitacion", "catalogo_ingreso", "muisca_ingreso", "muisca_firma"} <= used
    for message in ALL:
        assert message.source, message.key
        assert all(s == "invented" or s.split(":", 1)[0] in mensajes.SOURCE_KINDS for s in message.source)
        assert message.kind is not Kind.HUMANO or message.reason, message.key


def test_the_file_is_shipped_inside_the_package() -> None:
    assert mensajes.DATA.parent == ROOT / "bots"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "mensajes_dian.toml" in pyproject  # package data, so an installed robot has it


def test_a_minimal_file_loads(tmp_path: Path) -> None:
    loaded = cargar(_write(tmp_path, GOOD))
    assert list(loaded) == ["correo_invalido"] and loaded["correo_invalido"].anchors == (
        "Por favor registre un correo electrónico válido.",
    )


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("kind = \"rechazo\"", "kind = \"rechazo\"\nsevero = true"), "severo"),  # unknown key
        (("source = \"view:Models/ContributorViewModel.cs:65\"\n", ""), "source"),  # no source
        (("view:Models/ContributorViewModel.cs:65", "the internet"), "fuente inválida"),
        (("view:Models/ContributorViewModel.cs:65", "invented"), "nota"),  # invented without a note
        (("kind = \"rechazo\"", "kind = \"humano\""), "reason"),  # humano without a reason
        (("kind = \"rechazo\"", "kind = \"rechazo\"\nreason = \"x\""), "reason"),  # reason without humano
        (("kind = \"rechazo\"", "kind = \"fatal\""), "kind"),
        (("[\"habilitacion\"]", "[\"renta\"]"), "portals"),
        (("[\"habilitacion\"]", "[]"), "portals"),
        (("kind = \"rechazo\"", "kind = \"rechazo\"\nmatch = [\"correo invalido de verdad\"]"), "ancla"),
        (("[correo_invalido]", "[Correo-Invalido]"), "clave de mensaje"),
        (("text = \"Por favor registre un correo electrónico válido.\"", "text = \"  \""), "text"),
    ],
)
def test_an_invalid_file_is_refused_naming_the_problem(tmp_path: Path, change: tuple[str, str], complaint: str) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(MensajesInvalidos, match=re.escape(complaint)):
        cargar(_write(tmp_path, GOOD.replace(old, new)))


def test_a_broken_or_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MensajesInvalidos):
        cargar(_write(tmp_path, "[correo_invalido\n"))
    with pytest.raises(MensajesInvalidos):
        cargar(tmp_path / "no-existe.toml")
    with pytest.raises(MensajesInvalidos):
        cargar(_write(tmp_path, ""))


# --- the classifier ----------------------------------------------------------------------------------------


def _other_form(text: str) -> str:
    """DIAN's words as a page may show them: other case, no accents, spacing and line breaks changed."""
    return "  Aviso:\n" + strip_accents(text).upper().replace(" ", "  \n ", 2) + "\u00a0 "


@pytest.mark.parametrize(("message", "portal"), CASES, ids=lambda v: v.key if isinstance(v, MensajeDian) else v)
def test_every_message_is_classified_from_dians_text_in_another_form(message: MensajeDian, portal: str) -> None:
    assert clasificar(message.text, portal) == message
    assert clasificar(_other_form(message.text), portal) == message


@pytest.mark.parametrize(("message", "portal"), CASES, ids=lambda v: v.key if isinstance(v, MensajeDian) else v)
def test_every_message_gives_its_error_class_reason_and_retry_flag(message: MensajeDian, portal: str) -> None:
    shown = _other_form(message.text)
    error = error_para(shown, portal, "probar")
    assert error.dian_text == shown  # DIAN's words, as shown
    assert error.message == f"Al probar: {message.explanation}"
    if message.kind is Kind.HUMANO:
        assert type(error) is NeedsHuman and error.reason == message.reason and not error.retryable
    else:
        assert type(error) is PortalError
        assert error.retryable is (message.kind in (Kind.ESPERA, Kind.REINTENTABLE))


def test_messages_belong_to_their_portal() -> None:
    # The same words mean different things on different screens: each screen reads its own messages.
    assert clasificar("El contribuyente no se encuentra habilitado.", "habilitacion").key == "sync_no_habilitado"
    assert clasificar("Ha ocurrido un error, por favor intente nuevamente. Id: 42", "habilitacion") is None
    assert clasificar("Ha ocurrido un error, por favor intente nuevamente. Id: 42", "catalogo_ingreso").key == (
        "error_ingreso"
    )
    with pytest.raises(ValueError, match="portal desconocido"):
        clasificar("Captcha inválido", "renta")


def test_nothing_and_unknown_texts_are_not_classified() -> None:
    for texto in (None, "", "   ", "Bienvenido"):
        assert clasificar(texto, "habilitacion") is None


def test_an_unknown_reply_keeps_dians_words_and_the_callers_retry_flag() -> None:
    error = error_para("error: Internal Server Error", "habilitacion", "sincronizar", retryable=True)
    assert type(error) is PortalError and error.retryable and error.dian_text == "error: Internal Server Error"
    assert error.message.startswith("Al sincronizar la DIAN respondió con un mensaje que el robot no conoce")
    plain = error_para("¿?", "muisca_firma", desconocido="MUISCA no firmó")
    assert plain.message == "MUISCA no firmó" and not plain.retryable


# --- the behaviour of the three former classifiers --------------------------------------------------------


@pytest.mark.parametrize(
    ("shown", "error_type", "reason", "retryable", "starts"),
    [
        ("Captcha inválido", NeedsHuman, "captcha", False, "La DIAN rechazó la verificación anti-robots"),
        ("Recaptcha inválido.", NeedsHuman, "captcha", False, "La DIAN rechazó la verificación anti-robots"),
        ("Empresa no se encuentra habilitada.", PortalError, None, False, "La DIAN no deja ingresar a la empresa"),
        ("Usted no se ecuentra habilitado.", PortalError, None, False, "La DIAN no deja ingresar a la persona"),
        ("Autenticación correcta, su solicitud está siendo procesada.", PortalError, None, True,
         "La DIAN aceptó los datos pero no pudo enviar el correo"),
        ("Ha ocurrido un error, por favor intente nuevamente. Id: 8f1c", PortalError, None, True,
         "La DIAN falló al procesar el ingreso"),
        ("Información inválida", PortalError, None, False, "La DIAN rechazó los datos de ingreso"),
        ("Número de documento y tipo de identificación no coinciden.", PortalError, None, False,
         "La DIAN rechazó los datos de ingreso"),
        ("Empresa no asociada a representante legal.", PortalError, None, False, "La DIAN rechazó los datos"),
        ("Persona natural sin permisos asociados.", PortalError, None, False, "La DIAN rechazó los datos"),
        ("Contribuyente tiene RUT en estado cancelado.", PortalError, None, False,
         "La DIAN rechazó el ingreso: el RUT de la empresa está cancelado"),
        ("Algo nuevo", PortalError, None, False, "La DIAN rechazó el ingreso"),
    ],
)
def test_catalogue_login_refusals(
    shown: str, error_type: type, reason: str | None, retryable: bool, starts: str
) -> None:
    error = classify_refusal(f"  {shown} ")
    assert type(error) is error_type and error.retryable is retryable and error.message.startswith(starts)
    assert error.dian_text == shown
    assert getattr(error, "reason", None) == reason


def test_an_empty_login_refusal_is_quoted_as_such() -> None:
    assert classify_refusal("  ").dian_text == "(sin texto)"


@pytest.mark.parametrize(
    ("shown", "key"),
    [
        ("Debe esperar 19 seg para solicitar una nueva clave dinámica.", "clave_dinamica_espera"),
        ("Podrá solicitar la clave dinámica después de esperar 1 minuto", "clave_dinamica_espera"),
        ("La clave dinámica ingresada no es válida.", "clave_dinamica_rechazada"),
        ("Ingrese la clave dinámica.", "clave_dinamica_rechazada"),
        ("La clave dinámica y la clave de la firma electrónica no coinciden", "clave_dinamica_rechazada"),
        ("La clave dinámica ingresada ya no está vigente.", "clave_dinamica_vencida"),
        ("La clave de la Firma Electrónica no es correcta.", "clave_firma_rechazada"),
        ("Error de firma electronica", "clave_firma_rechazada"),
        ("El documento no se pudo firmar", None),
        ("", None),
    ],
)
def test_muisca_firma_messages(shown: str, key: str | None) -> None:
    found = clasificar(shown, "muisca_firma")
    assert (found.key if found else None) == key


def test_a_rejected_firma_password_needs_a_human_and_a_rejected_clave_dinamica_may_be_asked_again() -> None:
    firma = error_para("La clave de la Firma Electrónica no es correcta.", "muisca_firma")
    assert type(firma) is NeedsHuman and firma.reason == "clave_firma_rechazada"
    assert firma.message.startswith("MUISCA rechazó la clave de la firma electrónica")
    espera = error_para("Debe esperar 19 seg para solicitar una nueva clave dinámica.", "muisca_firma")
    assert type(espera) is PortalError and espera.retryable
    assert espera.message == "MUISCA no envió la clave dinámica: pide esperar"
    assert clasificar("La clave dinámica ingresada no es válida.", "muisca_firma").kind is Kind.REINTENTABLE


@pytest.mark.parametrize(
    ("shown", "maintenance"),
    [
        ("Los servicios en línea se encuentran en mantenimiento. Por favor intente más tarde.", True),
        ("Servicio no disponible, intente más tarde", True),
        ("El servicio no está disponible", True),
        ("La aplicación no se encuentra disponible", True),
        ("Datos incorrectos o no encontrados. Verifique e intente de nuevo.", False),
        ("Usuario o contraseña inválidos", False),
    ],
)
def test_muisca_login_maintenance_is_not_a_judgement_on_the_password(shown: str, maintenance: bool) -> None:
    found = clasificar(shown, "muisca_ingreso")
    assert (found is not None and found.retryable) is maintenance
    if maintenance:
        error = error_para(shown, "muisca_ingreso")
        assert type(error) is PortalError and error.retryable and error.dian_text == shown
        assert error.message.startswith("MUISCA no está disponible (mensaje de la DIAN)")


# --- one text module --------------------------------------------------------------------------------------


def test_digits_and_integer() -> None:
    assert digits("900.123.456-8") == "9001234568" and digits(None) == ""
    assert integer("5,000") == 5000 and integer("5.000") == 5000 and integer(" 5000 ") == 5000
    assert integer("5,00") is None and integer("") is None and integer(None) is None


_INLINE_SQUASH = re.compile(r'" "\.join\([^()]*(?:\([^()]*\))*[^()]*\.split\(\)\)')
_OWN_FOLDING = re.compile(r"unicodedata\.normalize\(\s*\"NFKD\"")


def test_text_helpers_live_in_bots_text_only() -> None:
    # No copy of squash/fold in the robot: bots.text is the one text module (the mail parser keeps an
    # offset-preserving accent strip of its own, for positions in a mail body).
    assert not (ROOT / "bots" / "portals" / "muisca" / "texto.py").exists()
    offenders = []
    for path in sorted([*(ROOT / "bots").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        if rel == "bots/text.py":
            continue
        if _INLINE_SQUASH.search(source):
            offenders.append(f"{rel}: inline whitespace squash")
        if _OWN_FOLDING.search(source) and rel != "bots/mail/parsers.py":
            offenders.append(f"{rel}: own accent folding")
        if "muisca.texto" in source or "plegar(" in source:
            offenders.append(f"{rel}: muisca.texto")
    assert offenders == []


def test_no_other_table_of_dian_messages() -> None:
    # The former classifiers are gone: DIAN's words are matched through bots.mensajes only.
    assert not (ROOT / "bots" / "portals" / "habilitacion" / "mensajes.py").exists()
    for rel in ("bots/portals/muisca/firma.py", "bots/portals/muisca/login.py", "bots/portals/catalogo/login.py"):
        source = (ROOT / rel).read_text(encoding="utf-8")
        assert "clasificar_error" not in source and "MANTENIMIENTO" not in source
        assert "no se encuentra habilitad" not in source and "captcha\")" not in source
