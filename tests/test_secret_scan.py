"""The suite-wide secret scan can fail: secrets planted in files, zip members and log lines are reported,
by source, kind and encoding, never by value (tests/secret_scan.py, fed by tests/fixtures_robot.py)."""

from __future__ import annotations

import html
import io
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from datetime import datetime
from pathlib import Path
from typing import cast
from urllib.parse import quote, quote_plus

import pytest

from sandbox.catalogo_state import AuthToken, issue_token, state_of
from sandbox.mail import ImapServer
from sandbox.muisca_state import issue_key
from sandbox.muisca_state import state_of as muisca_state_of
from sandbox.server import SandboxServer
from sandbox.world import World
from tests.fixtures_robot import RobotEnv
from tests.fixtures_sandbox import DEMO_NIT, demo_client
from tests.secret_scan import (
    KIND_CLAVE_DINAMICA,
    KIND_FIRMA_PASSWORD,
    KIND_MUISCA_PASSWORD,
    KIND_TOKEN,
    MIN_LENGTH,
    Finding,
    SecretRegistry,
    SecretScanner,
    encoded_forms,
    report,
)

ROOT = Path(__file__).resolve().parents[1]
GUID = "5b3c9c4e-1f0a-4d7e-9a61-2f8e7c1d0b34"  # fixed: it appears in test ids, which xdist workers must agree on
CLAVE = "AODU1Mzg="
PASSWORD = 'Muisca Clave/1&"ñ'  # every encoding changes it
SECRETS = {GUID: KIND_TOKEN, CLAVE: KIND_CLAVE_DINAMICA, PASSWORD: KIND_MUISCA_PASSWORD}


def kinds_and_encodings(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.kind, f.encoding) for f in findings}


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def assert_no_value(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in encoded_forms(secret):
            assert form.decode() not in text, "a report must name the kind, not the secret"


# -- the scanner ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blob", "kind", "encoding"),
    [
        (f"token={GUID}&rk=900123456".encode(), KIND_TOKEN, "raw"),
        (f'<a href="http://h/User/AuthToken?pk=1|2&amp;rk=3&amp;token={GUID}">'.encode(), KIND_TOKEN, "raw"),
        (f"TOKEN={GUID.upper()}".encode(), KIND_TOKEN, "raw, other letter case"),
        (b"aaaaaaaa-aaaa-aaaa-aaaa-aaaa" + GUID.encode(), KIND_TOKEN, "raw"),  # glued to a GUID-like run
        (b'{"txtOTP": "xx' + CLAVE.encode() + b'"}', KIND_CLAVE_DINAMICA, "raw"),
        (b"txtOTP=AODU1Mzg%3D&btnFirmar=1", KIND_CLAVE_DINAMICA, "URL-encoded"),
        (b"txtOTP=AODU1Mzg%3d", KIND_CLAVE_DINAMICA, "URL-encoded"),
        (b'{"otp": "AODU1Mzg\\u003d"}', KIND_CLAVE_DINAMICA, "JSON-escaped"),
        (b'<input value="AODU1Mzg&#61;">', KIND_CLAVE_DINAMICA, "HTML-escaped"),
        (PASSWORD.encode(), KIND_MUISCA_PASSWORD, "raw"),
        (f"password={quote_plus(PASSWORD)}".encode(), KIND_MUISCA_PASSWORD, "URL-encoded"),
        (f"/login/{quote(PASSWORD, safe='')}".encode(), KIND_MUISCA_PASSWORD, "URL-encoded"),
        (json.dumps({"password": PASSWORD}).encode(), KIND_MUISCA_PASSWORD, "JSON-escaped"),
        (json.dumps({"password": PASSWORD}, ensure_ascii=False).encode(), KIND_MUISCA_PASSWORD, "JSON-escaped"),
        (f'<input value="{html.escape(PASSWORD)}">'.encode(), KIND_MUISCA_PASSWORD, "HTML-escaped"),
        (f'<a href="?p={html.escape(html.escape(PASSWORD))}">'.encode(), KIND_MUISCA_PASSWORD, "HTML-escaped twice"),
    ],
)
def test_scanner_finds_a_secret_raw_or_encoded(blob: bytes, kind: str, encoding: str) -> None:
    findings = SecretScanner(SECRETS).scan("blob", b"\x00noise " + blob + b" noise\xff")
    assert (kind, encoding) in kinds_and_encodings(findings)
    assert all(f.source == "blob" for f in findings)


def test_scanner_is_quiet_on_clean_and_redacted_output() -> None:
    clean = (
        f'{{"event": "token recibido", "token": "[REDACTED]", "id": "{uuid.uuid4()}"}}\n'
        "txtOTP=AODU1Mzg&otra=BODU1Mzg%3D Muisca Clave/1 "  # a key without its padding, another key
        + GUID[:-1]  # a GUID one character short
    ).encode()
    assert SecretScanner(SECRETS).scan("clean", clean) == []


def test_a_key_with_two_padding_signs_needs_both() -> None:
    scanner = SecretScanner({"QUJDREVGRw==": KIND_CLAVE_DINAMICA})
    assert kinds_and_encodings(scanner.scan("a", b"k=QUJDREVGRw%3D%3D&x")) == {(KIND_CLAVE_DINAMICA, "URL-encoded")}
    assert kinds_and_encodings(scanner.scan("b", b'"QUJDREVGRw\\u003d="')) == {(KIND_CLAVE_DINAMICA, "JSON-escaped")}
    assert scanner.scan("c", b"k=QUJDREVGRw=&x") == []


def test_each_kind_and_encoding_is_reported_once_at_its_first_offset() -> None:
    blob = f"{GUID} x {GUID} y {CLAVE} z {CLAVE}".encode()
    findings = SecretScanner(SECRETS).scan("log", blob)
    assert [(f.kind, f.offset) for f in findings] == [(KIND_CLAVE_DINAMICA, blob.index(b"AODU")), (KIND_TOKEN, 0)]


# -- the registry: files, zip members, log lines -----------------------------------------------------


def test_registry_reports_secrets_planted_in_a_file_a_zip_member_and_a_log_line(tmp_path: Path) -> None:
    registry = SecretRegistry()
    for secret, kind in SECRETS.items():
        registry.add_secret(secret, kind)
    folder = tmp_path / "artifacts" / "run" / DEMO_NIT / "ingreso"
    folder.mkdir(parents=True)
    (folder / "pagina.html").write_text(f'<input name="txtPsw" value="{html.escape(PASSWORD)}">', encoding="utf-8")
    trace = {"trace.trace": b'{"type":"before"}\n', "trace.network": json.dumps({"url": f"/x?token={GUID}"}).encode()}
    (folder / "traza.zip").write_bytes(zipped({"resources/inner.zip": zipped(trace), "trace.trace": b"{}"}))
    (folder / "limpio.txt").write_text("nada que ver", encoding="utf-8")
    registry.add_tree(tmp_path / "artifacts")
    registry.add_stream("stderr of flows.solicitar_numeracion (t)", '{"event": "firma", "url": "/f?otp=AODU1Mzg%3D"}\n')
    registry.add_stream("stdout of flows.solicitar_numeracion (t)", '{"status": "ok"}')

    findings = registry.finish()

    by_source = {(f.source.removeprefix(f"{folder}/"), f.kind, f.encoding) for f in findings}
    assert by_source == {
        ("pagina.html", KIND_MUISCA_PASSWORD, "HTML-escaped"),
        ("traza.zip!resources/inner.zip!trace.network", KIND_TOKEN, "raw"),
        ("stderr of flows.solicitar_numeracion (t)", KIND_CLAVE_DINAMICA, "URL-encoded"),
    }
    message = report(findings)
    for kind in (KIND_MUISCA_PASSWORD, KIND_TOKEN, KIND_CLAVE_DINAMICA):
        assert kind in message
    assert "traza.zip!resources/inner.zip!trace.network" in message and "pagina.html" in message
    assert_no_value(message, *SECRETS)
    stats = registry.stats
    assert stats is not None and stats.findings == 3 and stats.files == 3 and stats.streams == 2
    assert stats.members == 4  # inner.zip and its 2 members, the outer trace.trace
    assert_no_value(stats.line(), *SECRETS)


def test_a_secret_in_a_file_name_is_reported_without_the_name(tmp_path: Path) -> None:
    registry = SecretRegistry()
    registry.add_secret(GUID, KIND_TOKEN)
    registry.add_secret(CLAVE, KIND_CLAVE_DINAMICA)
    (tmp_path / f"enlace-{GUID}.html").write_text(f"<p>{CLAVE}</p>", encoding="utf-8")
    (tmp_path / "traza.zip").write_bytes(zipped({f"resources/{GUID}.json": b"{}"}))
    registry.add_tree(tmp_path)
    findings = registry.finish()
    assert {(Path(f.source).name, f.kind, f.encoding) for f in findings} == {
        ("<file name #1 withheld: it holds a token (access link GUID)>", KIND_TOKEN, "raw, in the file name"),
        ("<file name #1 withheld: it holds a token (access link GUID)>", KIND_CLAVE_DINAMICA, "raw"),
        ("traza.zip", KIND_TOKEN, "raw"),  # the zip's headers hold its members' names
        ("<file name #2 withheld: it holds a token (access link GUID)>", KIND_TOKEN, "raw, in the file name"),
    }
    assert sum(f.encoding.endswith("in the file name") for f in findings) == 2  # the file and the zip member
    assert_no_value(report(findings), GUID, CLAVE)


def test_a_truncated_zip_is_still_scanned_as_bytes_and_named(tmp_path: Path) -> None:
    registry = SecretRegistry()
    registry.add_secret(PASSWORD, KIND_FIRMA_PASSWORD)
    registry.add_file("cortado.zip", zipped({"a.txt": b"x" * 100})[:30] + PASSWORD.encode())
    findings = registry.finish()
    assert kinds_and_encodings(findings) == {(KIND_FIRMA_PASSWORD, "raw")}
    assert registry.stats is not None and registry.stats.unreadable == ["cortado.zip"]


def test_too_short_or_empty_secrets_are_not_searched_but_counted() -> None:
    registry = SecretRegistry()
    registry.add_secret("", KIND_MUISCA_PASSWORD)
    registry.add_secret("a" * (MIN_LENGTH - 1), KIND_MUISCA_PASSWORD)
    registry.add_stream("stdout", "a" * 50)
    assert registry.finish() == []
    assert registry.stats is not None and registry.stats.too_short == 1 and sum(registry.stats.secrets.values()) == 0


# -- a RobotEnv feeds its registry --------------------------------------------------------------------


def test_robot_env_feeds_its_sandbox_secrets_and_the_robots_files(tmp_path: Path, pymap_server: ImapServer) -> None:
    """What an env registers when it ends: passwords, tokens, claves, and its artifact and output files
    (not the clients and secrets files the fixture writes). `finish()` also ends envs nobody closed."""
    registry = SecretRegistry()
    world = World()
    client = world.add_client(demo_client(DEMO_NIT, muisca_password=PASSWORD, firma_password="Firma/Clave 9"))
    env = RobotEnv(tmp_path, world, cast(SandboxServer, None), pymap_server, registry=registry)
    env.add_client(DEMO_NIT)
    state_of(client).tokens["habilitacion"] = AuthToken(GUID, "10910094|1020304050", DEMO_NIT, datetime.now())
    old_key = issue_key(world, muisca_state_of(client)).valor
    new_key = issue_key(world, muisca_state_of(client)).valor  # the first one is replaced, still a secret

    trace_dir = env.artifacts_dir / "r1" / DEMO_NIT / "firma"
    trace_dir.mkdir(parents=True)
    network = f'{{"postData": "txtOTP={quote_plus(old_key)}&txtPsw={quote_plus("Firma/Clave 9")}"}}'
    (trace_dir / "traza.zip").write_bytes(zipped({"trace.network": network.encode()}))
    out = env.output_dir / DEMO_NIT
    out.mkdir(parents=True)
    (out / "entrega-proveedor-habilitacion.json").write_text('{"pin": "75315"}', encoding="utf-8")  # PIN: not secret
    (out / "evidencia.html").write_text(f"<p>{new_key}</p><a href='?token={GUID}'>", encoding="utf-8")
    assert "Firma/Clave 9" in env.secrets_file.read_text(encoding="utf-8")  # the fixture's own file: not scanned

    findings = registry.finish()  # the env was not closed: finish() closes it

    assert env.closed
    assert {(Path(f.source.split("!")[0]).name, f.kind, f.encoding) for f in findings} == {
        ("traza.zip", KIND_CLAVE_DINAMICA, "URL-encoded"),
        ("traza.zip", KIND_FIRMA_PASSWORD, "URL-encoded"),
        ("evidencia.html", KIND_CLAVE_DINAMICA, "raw"),
        ("evidencia.html", KIND_TOKEN, "raw"),
    }
    assert registry.secrets[PASSWORD] == KIND_MUISCA_PASSWORD and registry.secrets[GUID] == KIND_TOKEN
    assert {old_key, new_key} <= set(registry.secrets)
    assert_no_value(report(findings), PASSWORD, GUID, old_key, new_key, "Firma/Clave 9")


def test_the_session_records_every_token_the_sandboxes_issue(secret_scan: SecretRegistry) -> None:
    """Even a token a newer one replaced (gone from the catalogue state, but it was mailed)."""
    world = World()
    client = world.add_client(demo_client(DEMO_NIT))
    first = issue_token(world, state_of(client), "habilitacion", "10910094|1020304050", DEMO_NIT)
    second = issue_token(world, state_of(client), "habilitacion", "10910094|1020304050", DEMO_NIT)
    assert state_of(client).tokens == {"habilitacion": second}
    assert secret_scan.secrets[first.guid] == secret_scan.secrets[second.guid] == KIND_TOKEN


# -- the session scan under pytest-xdist ---------------------------------------------------------------

PLANT_VARIABLE = "SECRET_SCAN_PLANT"
PLANTED = "Planted-Clave/77"


def test_planted_secret_for_the_xdist_proof(secret_scan: SecretRegistry) -> None:
    """Plants a leak in the session scan; runs only inside the next test's child pytest."""
    if os.environ.get(PLANT_VARIABLE) != "1":
        pytest.skip("plants a leak: only in the child run of test_the_session_scan_fails_under_xdist")
    secret_scan.add_secret(PLANTED, KIND_MUISCA_PASSWORD)
    secret_scan.add_stream("stderr of a planted flow run", f'{{"event": "ingreso", "clave": "{PLANTED}"}}')


@pytest.mark.slow
def test_the_session_scan_fails_under_xdist_on_a_planted_secret(tmp_path: Path) -> None:
    """A child ``pytest -n 2`` (as scripts/test runs the suite) with one planted leak fails, names the leak's
    source and kind, never the value, and the worker's scan line reaches the controller's summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env[PLANT_VARIABLE] = "1"
    selection = "test_planted_secret_for_the_xdist_proof or test_each_kind_and_encoding_is_reported_once"
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider"]
    command += ["--basetemp", str(tmp_path / "child"), "-k", selection, str(Path(__file__))]
    child = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    output = child.stdout + child.stderr
    assert child.returncode == 1, output
    assert "2 passed, 1 error" in output  # the planted test passes; its worker's session end fails
    assert "secret scan: 1 leak(s) of registered secrets" in output
    assert f"stderr of a planted flow run: {KIND_MUISCA_PASSWORD} (raw)" in output
    assert re.search(r"^\[gw[01]\] secret scan: 1 secrets \(1 MUISCA password\) .*: 1 leak\(s\)$", output, re.M), output
    assert_no_value(output, PLANTED)
