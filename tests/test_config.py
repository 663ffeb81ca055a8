"""Settings (env, .env), the clients file (Spanish errors), and secrets (env → file → keyring)."""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from bots import config
from bots.config import (
    ID_TYPES,
    Client,
    Settings,
    load_clients,
    load_settings,
    resolve_secret,
    secret_env_var,
)
from bots.errors import InvalidInput
from bots.log import forget_secrets, redact_text
from bots.mail import MailboxAccess

ROOT = Path(__file__).resolve().parents[1]

CLIENT = """
[[cliente]]
nit = "900123456"
razon_social = "EMPRESA DEMO S.A.S."

[cliente.representante]
tipo_documento = "cedula_ciudadania"
numero_documento = "1020304050"

[cliente.buzon_token]
host = "imap.empresa-demo.test"
usuario = "representante@empresa-demo.test"
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No DIAN_* variable or .env of the developer leaks into these tests."""
    import os

    for name in [n for n in os.environ if n.startswith("DIAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    forget_secrets()


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


# --- settings -----------------------------------------------------------------------------------


def test_defaults_point_at_the_real_dian_hosts() -> None:
    settings = Settings(_env_file=None)
    assert settings.habilitacion_url == "https://catalogo-vpfe-hab.dian.gov.co"
    assert settings.produccion_url == "https://catalogo-vpfe.dian.gov.co"
    assert settings.muisca_url == "https://muisca.dian.gov.co"
    assert settings.browser == "auto"
    assert settings.keep_trace is False


def test_env_overrides_and_sandbox_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIAN_HABILITACION_URL", "http://catalogo-vpfe-hab.localhost:8765/")
    monkeypatch.setenv("DIAN_EXTRA_ALLOWED_HOSTS", "catalogo-vpfe-hab.localhost:8765, Muisca.localhost:8765")
    monkeypatch.setenv("DIAN_HEADLESS", "false")
    monkeypatch.setenv("DIAN_LOG_LEVEL", "debug")
    monkeypatch.setenv("DIAN_PAGE_TIMEOUT_S", "5")
    settings = Settings(_env_file=None)
    assert settings.habilitacion_url == "http://catalogo-vpfe-hab.localhost:8765"
    assert settings.portal_url("habilitacion") == "http://catalogo-vpfe-hab.localhost:8765"
    assert settings.extra_allowed_hosts == ("catalogo-vpfe-hab.localhost:8765", "muisca.localhost:8765")
    assert settings.headless is False and settings.is_headless is False
    assert settings.log_level == "DEBUG"
    assert settings.page_timeout_s == 5
    assert settings.is_allowed_url("http://catalogo-vpfe-hab.localhost:8765/User/AuthToken?token=x")
    assert settings.is_allowed_url("https://catalogo-vpfe.dian.gov.co/User/AuthToken?token=x")
    assert not settings.is_allowed_url("http://catalogo-vpfe.dian.gov.co/User/AuthToken")  # DIAN only over https
    assert not settings.is_allowed_url("https://evil.example/User/AuthToken?token=x")
    assert not settings.is_allowed_url("https://catalogo-vpfe.dian.gov.co.evil.example/")


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    write(tmp_path / ".env", "DIAN_BROWSER=system\nDIAN_LOG_FORMAT=json\nDIAN_CDP_URL=\n")
    settings = Settings()
    assert settings.browser == "system"
    assert settings.log_format == "json"
    assert settings.cdp_url is None


def test_env_example_lists_every_setting_and_parses() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#?\s*(DIAN_[A-Z0-9_]+)=", example, re.M))
    expected = {f"DIAN_{name.upper()}" for name in Settings.model_fields}
    assert expected - named == set(), "settings missing from .env.example"
    assert named - expected == set(), ".env.example names unknown settings"
    # every documented line has a comment just above it
    lines = example.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^#?\s*DIAN_[A-Z0-9_]+=", line) and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), f"no comment above {line}"
    settings = Settings(_env_file=ROOT / ".env.example")
    assert settings.clients_file == Path("clients.toml")


def test_every_setting_is_read_by_the_robot() -> None:
    """No dead setting: each field of ``Settings`` is read (``.field``) somewhere in bots/ or flows/."""
    sources = "\n".join(
        path.read_text(encoding="utf-8") for folder in ("bots", "flows") for path in (ROOT / folder).rglob("*.py")
    )
    unread = [name for name in Settings.model_fields if not re.search(rf"\.{name}\b", sources)]
    assert unread == [], f"settings nobody reads (delete them, or read them): {unread}"


def test_bad_settings_are_invalid_input_in_spanish(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIAN_BROWSER", "firefox")
    monkeypatch.setenv("DIAN_MUISCA_URL", "muisca.dian.gov.co")
    with pytest.raises(InvalidInput) as info:
        load_settings(_env_file=None)
    text = str(info.value)
    assert "DIAN_BROWSER: valor 'firefox' no permitido" in text
    assert "DIAN_MUISCA_URL: URL inválida" in text
    assert info.value.exit_code == 2


def test_headless_auto_follows_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert Settings(_env_file=None).is_headless is True
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("CI", raising=False)
    assert Settings(_env_file=None).is_headless is False


# --- clients file -------------------------------------------------------------------------------


def test_example_clients_file_loads() -> None:
    clients = load_clients(ROOT / "clients.example.toml")
    assert len(clients) == 3
    demo = clients["900123456"]
    assert demo.nit_con_dv == "900123456-8"
    assert demo.representante.id_type.catalogo == "10910094"
    assert demo.representante.id_type.muisca == "13"
    assert demo.representante.id_type.muisca_sigla == "CC"
    assert demo.muisca and demo.muisca.acepta_tratamiento_datos is True
    assert demo.aprobacion_produccion and demo.aprobacion_produccion.aprobado_en.utcoffset() is not None
    assert demo.buzon_token.secreto == "900123456.buzon_token_password"
    assert demo.dynamic_key_mailbox.usuario == "firma@empresa-demo.test"
    shared = clients["1020304050"]
    assert shared.buzon_token.secreto == "buzon_contabilidad.xoauth2"
    assert shared.dynamic_key_mailbox is shared.buzon_token
    assert clients["901234567"].activo is False
    assert clients["901234567"].buzon_token.puerto == 143


def test_identification_codes() -> None:
    assert ID_TYPES["cedula_ciudadania"].catalogo == "10910094"
    assert ID_TYPES["nit_otro_pais"].catalogo == "10910104"
    assert ID_TYPES["nit"].muisca == "31"
    assert {t.catalogo for t in ID_TYPES.values()} == {str(c) for c in range(10910094, 10910105) if c != 10910095}


def test_clients_file_errors_are_spanish_and_complete(tmp_path: Path) -> None:
    path = write(
        tmp_path / "clientes.toml",
        CLIENT
        + """
[[cliente]]
nit = "900123456-7"
razon_social = "DV MALO"
tipo_ingreso = "otra"
[cliente.representante]
tipo_documento = "cedula"
numero_documento = "123"
[cliente.buzon_token]
host = "imap.x.test"
usuario = "u"
tls = "ninguno"
puertox = 1

[[cliente]]
nit = "800197268"
razon_social = "SIN BUZON"
[cliente.representante]
numero_documento = "1020304050"

[[cliente]]
nit = "900123456"
razon_social = "REPETIDO"
[cliente.representante]
numero_documento = "1020304050"
[cliente.buzon_token]
host = "imap.x.test"
usuario = "u"
""",
    )
    with pytest.raises(InvalidInput) as info:
        load_clients(path)
    text = str(info.value)
    assert "cliente #2" in text and "dígito de verificación" in text
    assert "tipo_ingreso: valor 'otra' no permitido; use 'empresa' o 'persona'" in text
    assert "tipo de documento 'cedula' desconocido" in text
    assert "buzon_token.puertox: campo desconocido" in text
    assert "cliente #3 (NIT 800197268): buzon_token: falta este campo" in text
    assert "el NIT 900123456 está repetido" in text
    assert info.value.exit_code == 2


def test_secrets_in_clients_file_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", CLIENT + 'password = "hunter22"\n')
    with pytest.raises(InvalidInput, match="los secretos no van en el archivo de clientes") as info:
        load_clients(path)
    assert "hunter22" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No existe el archivo de clientes"),
        ("[[cliente]\n", "no es TOML válido"),
        ("[otra]\nx = 1\n", "secciones desconocidas"),
        ("", "no hay clientes"),
    ],
)
def test_clients_file_shape_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "c.toml"
    if content is not None:
        write(path, content)
    with pytest.raises(InvalidInput, match=message):
        load_clients(path)


def test_plain_imap_only_for_local_servers(tmp_path: Path) -> None:
    local = CLIENT.replace('host = "imap.empresa-demo.test"', 'host = "127.0.0.1"\ntls = "ninguno"')
    client = load_clients(write(tmp_path / "c.toml", local))["900123456"]
    assert client.buzon_token.puerto == 143


# --- secrets ------------------------------------------------------------------------------------


def test_secret_env_var_name() -> None:
    assert secret_env_var("900123456.muisca_password") == "DIAN_SECRET_900123456_MUISCA_PASSWORD"


def test_secret_from_env_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIAN_SECRET_900123456_MUISCA_PASSWORD", "desde-entorno-1")
    write(tmp_path / "secrets.toml", '["900123456"]\nmuisca_password = "desde-archivo-1"\n')
    settings = Settings(_env_file=None, use_keyring=False)
    secret = resolve_secret("900123456.muisca_password", settings)
    assert isinstance(secret, SecretStr)
    assert secret.get_secret_value() == "desde-entorno-1"
    assert "desde-entorno-1" not in repr(secret) and "desde-entorno-1" not in str(secret)
    assert redact_text("clave enviada desde-entorno-1") == "clave enviada ***"  # registered for redaction


def test_secret_from_private_file(tmp_path: Path) -> None:
    write(tmp_path / "secrets.toml", '["900123456"]\nmuisca_password = "desde-archivo-1"\n')
    settings = Settings(_env_file=None, use_keyring=False)
    assert resolve_secret("900123456.muisca_password", settings).get_secret_value() == "desde-archivo-1"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o620])
def test_secrets_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    write(tmp_path / "secrets.toml", '["900123456"]\nmuisca_password = "desde-archivo-1"\n', mode)
    settings = Settings(_env_file=None, use_keyring=False)
    with pytest.raises(InvalidInput, match="chmod 600") as info:
        resolve_secret("900123456.muisca_password", settings)
    assert "desde-archivo-1" not in str(info.value)


@dataclass
class FakeKeyring:
    values: dict[tuple[str, str], str]

    def get_password(self, service: str, name: str) -> str | None:
        return self.values.get((service, name))


def test_secret_from_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("keyring")
    fake.get_password = FakeKeyring({("robot-dian", "900123456.firma_password"): "desde-llavero-1"}).get_password
    fake.errors = types.ModuleType("keyring.errors")
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.setitem(sys.modules, "keyring.errors", fake.errors)
    settings = Settings(_env_file=None)
    assert resolve_secret("900123456.firma_password", settings).get_secret_value() == "desde-llavero-1"


def test_missing_secret_says_where_to_put_it_and_tolerates_no_keyring() -> None:
    # The real keyring here has no backend (keyring.backends.fail): it must be tolerated.
    settings = Settings(_env_file=None)
    with pytest.raises(InvalidInput) as info:
        resolve_secret("900123456.firma_password", settings)
    text = str(info.value)
    assert "DIAN_SECRET_900123456_FIRMA_PASSWORD" in text and "secrets.toml" in text and "llavero" in text


def test_client_secrets_and_mailbox_access(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    client = load_clients(write(tmp_path / "c.toml", CLIENT))["900123456"]
    monkeypatch.setenv("DIAN_SECRET_900123456_BUZON_TOKEN_PASSWORD", "clave-del-buzon-1")
    monkeypatch.setenv("DIAN_SECRET_900123456_MUISCA_PASSWORD", "clave-muisca-1")
    settings = Settings(_env_file=None, use_keyring=False)
    assert client.secret(config.MUISCA_PASSWORD, settings).get_secret_value() == "clave-muisca-1"

    access = client.buzon_token.access(settings)
    assert isinstance(access, MailboxAccess)
    assert (access.host, access.port, access.ssl, access.starttls) == ("imap.empresa-demo.test", 993, True, False)
    assert access.password and access.password.get_secret_value() == "clave-del-buzon-1"
    assert access.xoauth2_token is None
    assert access.folders == ("INBOX",)
    assert "clave-del-buzon-1" not in repr(access)


def test_secretstr_never_in_repr_of_models(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    client = load_clients(write(tmp_path / "c.toml", CLIENT))["900123456"]
    text = repr(client) + str(client) + client.model_dump_json()
    assert "secreto='900123456.buzon_token_password'" in repr(client)  # the NAME, never a value
    assert isinstance(client, Client)
    monkeypatch.setenv("DIAN_SECRET_X_Y", "valor-secreto-1")
    secret = resolve_secret("x.y", Settings(_env_file=None, use_keyring=False))
    assert "valor-secreto-1" not in repr(secret) + str(secret) + repr({"s": secret}) + text
