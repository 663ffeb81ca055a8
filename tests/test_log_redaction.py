"""Log redaction: registered secrets, token links, sensitive keys, exceptions, stdlib logging."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from pydantic import SecretStr

from bots.errors import PortalError
from bots.log import (
    bind,
    bound,
    configure_logging,
    forget_secrets,
    get_logger,
    redact_bytes,
    redact_text,
    redact_value,
    register_secret,
)

TOKEN_URL = (
    "https://catalogo-vpfe-hab.dian.gov.co/User/AuthToken?pk=10910094|1020304050&rk=900123456"
    "&token=5b1f0a52-8c1e-4a53-9f7e-2d9b8f0c6a11"
)
GUID = "5b1f0a52-8c1e-4a53-9f7e-2d9b8f0c6a11"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Leave logging as other tests expect it: on stderr, no bound context, no secrets."""
    yield
    configure_logging(fmt="json", level="INFO")
    structlog.contextvars.clear_contextvars()
    forget_secrets()


@pytest.fixture
def out() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(fmt="json", level="DEBUG", stream=stream)
    structlog.contextvars.clear_contextvars()
    return stream


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_registered_secret_is_hidden_everywhere(out: io.StringIO) -> None:
    register_secret(SecretStr('Sup3r$ecreta"ñ'))
    log = get_logger("test")
    log.info('login con Sup3r$ecreta"ñ', detail={"nested": ['x Sup3r$ecreta"ñ y']}, note='Sup3r$ecreta"ñ')
    raw = out.getvalue()
    assert "Sup3r$ecreta" not in raw
    assert "Sup3r%24ecreta" not in raw
    event = lines(out)[0]
    assert event["event"] == "login con ***"
    assert event["detail"] == {"nested": ["x *** y"]}


def test_secret_variants_are_hidden_in_text_and_bytes() -> None:
    register_secret("p@ss w0rd&<x>")
    for form in ["p@ss w0rd&<x>", "p%40ss%20w0rd%26%3Cx%3E", "p%40ss+w0rd%26%3Cx%3E", "p@ss w0rd&amp;&lt;x&gt;"]:
        assert "***" in redact_text(f"a {form} b"), form
        assert b"w0rd" not in redact_bytes(f"a {form} b".encode())
    forget_secrets()


def test_short_values_are_not_registered() -> None:
    register_secret("abc")
    assert redact_text("abc abc") == "abc abc"


def test_token_links_and_guids(out: io.StringIO) -> None:
    log = get_logger("test")
    log.info("enlace recibido", url=TOKEN_URL, html=f'<a href="{TOKEN_URL.replace("&", "&amp;")}">Acceder</a>')
    log.info(f"abriendo {TOKEN_URL}")
    raw = out.getvalue()
    assert GUID not in raw
    assert "1020304050&rk" not in raw  # the whole query goes, not just the token
    assert "/User/AuthToken?***" in raw
    assert redact_text("token=" + GUID) == "token=***"
    assert redact_text("x?token%3D" + GUID) == "x?token%3D***"
    assert GUID.encode() not in redact_bytes(f'{{"url":"https://h/x?a=1&token={GUID}"}}'.encode())


@pytest.mark.parametrize(
    "text",
    [
        "password=hunter22",
        "Password: hunter22",
        '{"password": "hunter22"}',
        "clave=hunter22",
        "contraseña: hunter22",
        "Authorization: Bearer hunter22",
        "pin=hunter22",
        "secret='hunter22'",
        "xoauth2=hunter22",
    ],
)
def test_key_value_patterns(text: str) -> None:
    assert "hunter22" not in redact_text(text)


def test_sensitive_keys_in_events(out: io.StringIO) -> None:
    log = get_logger("test")
    log.info(
        "datos",
        password="hunter22",
        muisca_password=SecretStr("hunter23"),
        token_link="https://x/y",
        clave_dinamica="ABCD1234",
        headers={"Authorization": "Basic aGVsbG8=", "Accept": "text/html"},
        pin="9911",
        token_mail_timeout_s=300,
        spinner="visible",
        client_nit="900123456",
    )
    event = lines(out)[0]
    for key in ("password", "muisca_password", "token_link", "clave_dinamica", "pin"):
        assert event[key] == "***", key
    assert event["headers"] == {"Authorization": "***", "Accept": "text/html"}
    assert event["token_mail_timeout_s"] == 300  # numbers under sensitive names stay readable
    assert event["spinner"] == "visible"  # "pin" only as a whole word
    assert event["client_nit"] == "900123456"


def test_dynamic_key_shape_and_label() -> None:
    mail = "A continuación, se entrega la clave dinámica solicitada para realizar el trámite:\nQ7ZX91Kp\nTu clave"
    assert "Q7ZX91Kp" not in redact_text(mail)
    assert redact_text("clave AODU1Mzg= recibida") == "clave *** recibida"
    assert redact_text("ideRequest=eyJjbGllbnRJZCI6") == "ideRequest=eyJjbGllbnRJZCI6"  # no "=" at the end
    assert redact_text("page2=1") == "page2=1"


def test_exceptions_and_tracebacks_are_redacted(out: io.StringIO) -> None:
    register_secret("Clave-Firma-2026")
    log = get_logger("test")
    try:
        raise RuntimeError(f"fallo al firmar con Clave-Firma-2026 en {TOKEN_URL}")
    except RuntimeError:
        log.exception("falla")
    try:
        raise ValueError("password=hunter22")
    except ValueError as exc:
        log.error("otra", error=exc)
    raw = out.getvalue()
    assert "Clave-Firma-2026" not in raw and GUID not in raw and "hunter22" not in raw
    first, second = lines(out)
    assert "RuntimeError" in first["exception"]
    assert second["error"].startswith("ValueError")


def test_robot_error_messages_never_carry_secrets() -> None:
    register_secret("Clave-Firma-2026")
    err = PortalError("La DIAN rechazó Clave-Firma-2026", dian_text=f"Token {TOKEN_URL} inválido")
    assert "Clave-Firma-2026" not in str(err) and GUID not in str(err)
    assert "Clave-Firma-2026" not in json.dumps(err.to_dict())
    forget_secrets()


def test_context_is_bound_to_every_event(out: io.StringIO) -> None:
    bind(run_id="20260301-010203-abcdef", client="900123456")
    log = get_logger("test")
    with bound(step="login_empresa"):
        log.info("dentro")
    log.info("fuera")
    inside, outside = lines(out)
    assert (inside["run_id"], inside["client"]) == ("20260301-010203-abcdef", "900123456")
    assert inside["step"] == "login_empresa"
    assert "step" not in outside and outside["client"] == "900123456"
    assert inside["level"] == "info" and "timestamp" in inside


def test_stdlib_logging_goes_through_the_same_redaction(out: io.StringIO) -> None:
    register_secret("Buzon-Clave-77")
    bind(client="900123456")
    logging.getLogger("imapclient.test").warning("LOGIN usuario %s token=%s", "Buzon-Clave-77", GUID)
    event = lines(out)[0]
    assert event["event"] == "LOGIN usuario *** token=***"
    assert event["client"] == "900123456"
    assert event["logger"] == "imapclient.test"


def test_console_format_is_redacted_too() -> None:
    stream = io.StringIO()
    configure_logging(fmt="console", level="INFO", stream=stream)
    register_secret("Consola-Secreta-1")
    get_logger("t").info("hola Consola-Secreta-1", password="x1234567")
    text = stream.getvalue()
    assert "Consola-Secreta-1" not in text and "x1234567" not in text and "hola ***" in text
    forget_secrets()


def test_redact_value_handles_plain_structures() -> None:
    assert redact_value({"a": [1, 2.5, None, True], "password": None}) == {"a": [1, 2.5, None, True], "password": None}


# --- what leaves a flow: summary, JSON result, exit code (bots.cli) ------------------------------


@pytest.fixture
def quiet_settings(monkeypatch: pytest.MonkeyPatch, tmp_path):
    from bots.config import Settings

    monkeypatch.chdir(tmp_path)
    yield Settings(_env_file=None, log_format="json", use_keyring=False)
    structlog.contextvars.clear_contextvars()
    forget_secrets()


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        (None, "ok", 0),
        ("ya_hecho", "ya_hecho", 0),
        ("invalid", "error_entrada", 2),
        ("waiting", "esperando", 3),
        ("human", "requiere_humano", 4),
        ("portal", "error_portal", 5),
        ("changed", "portal_cambio", 5),
        ("bug", "error", 1),
    ],
)
def test_run_maps_failures_to_exit_codes(quiet_settings, raised: str | None, status: str, code: int) -> None:
    from datetime import UTC, datetime, timedelta

    from bots.cli import Outcome, run
    from bots.errors import InvalidInput, NeedsHuman, PortalChanged, Waiting

    def main() -> Outcome | None:
        bind(client="900123456")
        if raised == "ya_hecho":
            return Outcome.ya_hecho("El prefijo ya estaba asociado", prefijo="SETP")
        if raised == "invalid":
            raise InvalidInput("Prefijo inválido")
        if raised == "waiting":
            raise Waiting("Aún no aparece el rango", retry_at=datetime.now(UTC) + timedelta(hours=1))
        if raised == "human":
            raise NeedsHuman("Turnstile interactivo", reason="captcha")
        if raised == "portal":
            raise PortalError("La DIAN rechazó", dian_text="Empresa no asociada a representante legal.")
        if raised == "changed":
            raise PortalChanged("Pantalla desconocida")
        if raised == "bug":
            raise KeyError("x")
        return None

    outcome = run(main, settings=quiet_settings)
    assert (outcome.status.value, outcome.exit_code) == (status, code)
    assert outcome.run_id and outcome.client == "900123456"
    if raised == "waiting":
        assert outcome.retry_at is not None and "Volver a intentar después de" in outcome.summary()
    if raised == "human":
        assert outcome.data == {"reason": "captcha"}


def test_run_flow_prints_summary_and_json_without_secrets(
    quiet_settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bots.cli import run_flow

    register_secret("Firma-Secreta-55")

    def main() -> None:
        bind(client="900123456", step="firmar")
        raise PortalError("Firma rechazada con Firma-Secreta-55", dian_text=f"Ver {TOKEN_URL}")

    monkeypatch.setattr("sys.argv", ["flows.demo", "--nit", "900123456", "--json"])
    with pytest.raises(SystemExit) as info:
        run_flow(main, settings=quiet_settings)
    assert info.value.code == 5
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["status"] == "error_portal" and result["exit_code"] == 5
    assert (result["client"], result["step"]) == ("900123456", "firmar")
    assert "ERROR DEL PORTAL [900123456 · firmar]: Firma rechazada con ***" in captured.err
    for text in (captured.out, captured.err):
        assert "Firma-Secreta-55" not in text and GUID not in text


def test_unexpected_errors_are_redacted_and_logged(quiet_settings, capsys: pytest.CaptureFixture[str]) -> None:
    from bots.cli import run

    register_secret("Buzon-Secreto-88")

    def main() -> None:
        raise RuntimeError("imap LOGIN falló para Buzon-Secreto-88")

    outcome = run(main, settings=quiet_settings)
    assert outcome.exit_code == 1
    assert outcome.message == "Error inesperado: RuntimeError: imap LOGIN falló para ***"
    assert "Buzon-Secreto-88" not in capsys.readouterr().err
