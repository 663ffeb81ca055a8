"""The browser: Spanish (Colombia) contexts, failure artifacts, no secret in any artifact byte; and the
retry policy for reads and navigations."""

from __future__ import annotations

import html
import io
import json
import shutil
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, quote, quote_plus

import pytest

from bots import artifacts, browser
from bots.browser import SYSTEM_CHROMIUM, Robot
from bots.config import Settings
from bots.errors import PortalError, Waiting
from bots.log import forget_secrets, register_secret

SECRET = 'Cl4ve"Firma<ñ>&2026'  # quotes, angle brackets, ampersand and a non-ASCII letter
DYNAMIC_KEY = "Q7ZX91Kp"
GUID = "5b1f0a52-8c1e-4a53-9f7e-2d9b8f0c6a11"
COOKIE = "SesionDian-9f8e7d6c5b4a"


class Portal(BaseHTTPRequestHandler):
    """A tiny login site: form → POST → page with a token link, a clave dinámica and the password."""

    seen_languages: ClassVar[list[str]] = []
    hits: ClassVar[dict[str, int]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        Portal.seen_languages.append(self.headers.get("Accept-Language", ""))
        if self.path.startswith(("/inestable", "/caido")):
            Portal.hits[self.path] = Portal.hits.get(self.path, 0) + 1
            if self.path == "/caido" or Portal.hits[self.path] <= 2:
                body = b"<html><body><h1>Servicio no disponible</h1><p>Intente en unos minutos.</p></body></html>"
                self.send_response(503)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        if self.path.startswith("/User/AuthToken"):
            self._send("<html><body><h1>Token aceptado</h1></body></html>")
            return
        self._send(
            "<html><head><title>Ingreso</title></head><body><form method='post' action='/login'>"
            "<input name='usuario'><input type='password' id='clave' name='clave'>"
            "<button type='submit'>Entrar</button></form></body></html>"
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode("utf-8"))
        password = form.get("clave", [""])[0]
        host = self.headers["Host"]
        link = f"http://{host}/User/AuthToken?pk=10910094|1020304050&rk=900123456&token={GUID}"
        self._send(
            "<html><body><h1>Bienvenido</h1>"
            f"<a id='acceder' href='{html.escape(link)}'>Acceder</a>"
            f"<p>Clave dinámica: <span id='clave-dinamica'>{DYNAMIC_KEY}</span></p>"
            f"<input id='eco' type='password' value='{html.escape(password, quote=True)}'>"
            "<input id='firma' type='text' placeholder='Clave de su firma'>"
            "<script>window.sesion = {clave: document.getElementById('eco').value};</script>"
            "</body></html>",
            {"Set-Cookie": f".AspNet.ApplicationCookie={COOKIE}; Path=/; HttpOnly"},
        )


@pytest.fixture(scope="module")
def portal() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = tmp_path_factory.mktemp("robot")
    return Settings(
        _env_file=None,
        artifacts_dir=base / "artifacts",
        output_dir=base / "output",
        profiles_dir=base / "profiles",
        headless=True,
        page_timeout_s=10,
        use_keyring=False,
    )


@pytest.fixture(scope="module")
def robot(settings: Settings, playwright) -> Iterator[Robot]:
    """One browser for the module, as in production (one per process; a fresh context per run)."""
    robot = Robot(settings, playwright=playwright)
    yield robot
    robot.close()


@pytest.fixture(autouse=True)
def no_secrets_left() -> Iterator[None]:
    yield
    forget_secrets()


def forbidden_forms() -> dict[str, bytes]:
    """Every encoding in which a secret could sit in an artifact."""
    forms: dict[str, str] = {}
    for label, value in {"secret": SECRET, "dynamic_key": DYNAMIC_KEY, "guid": GUID, "cookie": COOKIE}.items():
        forms[f"{label} raw"] = value
        forms[f"{label} json"] = json.dumps(value)[1:-1]
        forms[f"{label} json-utf8"] = json.dumps(value, ensure_ascii=False)[1:-1]
        forms[f"{label} url"] = quote(value, safe="")
        forms[f"{label} form"] = quote_plus(value, safe="")
        forms[f"{label} html"] = html.escape(value)
        forms[f"{label} html-text"] = html.escape(value, quote=False)
        forms[f"{label} html-attr"] = value.replace("&", "&amp;").replace('"', "&quot;")
        forms[f"{label} html-attr-in-json"] = json.dumps(html.escape(value))[1:-1]
    return {k: v.encode("utf-8") for k, v in forms.items()}


def all_bytes(directory: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under ``directory``, and every entry of every zip (decompressed)."""
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path), data
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for name in zf.namelist():
                    yield f"{path}!{name}", zf.read(name)


def leaks(directory: Path) -> list[str]:
    forms = forbidden_forms()
    return [
        f"{where}: {label}" for where, data in all_bytes(directory) for label, form in forms.items() if form in data
    ]


def log_in_and_fail(run: browser.ClientRun, portal: str) -> dict:
    """Type the secret, submit, open the token link, type it again, then fail."""
    page = run.page
    with run.step("login_empresa"):
        page.goto(f"{portal}/User/AuthToken?pk=10910094|1020304050&rk=900123456&token={GUID}")
        page.goto(portal)
        page.fill("input[name=usuario]", "1020304050")
        page.fill("#clave", SECRET)
        page.click("button")
        page.wait_for_selector("text=Bienvenido")
        page.fill("#firma", SECRET)  # lives only in the DOM (value property) and the trace
        run.mask(page.locator("#clave-dinamica"))
        box = page.locator("#clave-dinamica").bounding_box()
        raise RuntimeError(f"fallo simulado tras escribir {SECRET} y leer {DYNAMIC_KEY}")
    return box or {}


@pytest.mark.browser
def test_failure_saves_scrubbed_artifacts(
    robot: Robot, portal: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_secret(SECRET)  # as bots.config.resolve_secret does
    register_secret(DYNAMIC_KEY)  # as the mail reader does for every clave dinámica
    raw_copy = tmp_path / "raw-trace.zip"
    real_scrub = artifacts.scrub_zip

    def keep_raw_then_scrub(path: Path) -> Path:
        shutil.copy(path, raw_copy)  # proof that the unscrubbed trace did hold the secret
        return real_scrub(path)

    monkeypatch.setattr(artifacts, "scrub_zip", keep_raw_then_scrub)
    boxes: dict = {}
    with pytest.raises(RuntimeError, match="fallo simulado"), robot.client_run("900123456", run_id="r-prueba") as run:
        page = run.page
        try:
            log_in_and_fail(run, portal)
        finally:
            boxes["clave"] = page.locator("#clave-dinamica").bounding_box()

    directory = settings.artifacts_dir / "r-prueba" / "900123456" / "login_empresa"
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["error.json", "pagina.html", "pagina.png", "traza.zip"]
    assert run.artifacts_path == directory

    # The raw trace really contained the secret, the token and the cookie: the scrub did the work.
    raw_leaks = leaks_in_zip(raw_copy)
    assert any(label.startswith("secret") for label in raw_leaks), raw_leaks
    assert any(label.startswith("guid") for label in raw_leaks), raw_leaks
    raw_copy.unlink()

    assert leaks(settings.artifacts_dir) == []

    # Still useful: a valid trace, the page, the error.
    with zipfile.ZipFile(directory / "traza.zip") as zf:
        assert "trace.trace" in zf.namelist()
        events = [json.loads(line) for line in zf.read("trace.trace").decode().splitlines() if line.strip()]
        assert any(e.get("type") == "before" and e.get("method") == "fill" for e in events)
    page_html = (directory / "pagina.html").read_text(encoding="utf-8")
    assert "Bienvenido" in page_html and "/User/AuthToken?***" in page_html
    report = json.loads((directory / "error.json").read_text(encoding="utf-8"))
    assert report["error_type"] == "RuntimeError" and report["step"] == "login_empresa"
    assert "fallo simulado" in report["message"]

    # Private: folders 0700, files 0600.
    for path in [settings.artifacts_dir / "r-prueba", directory]:
        assert path.stat().st_mode & 0o777 == 0o700
    for path in directory.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600

    # The registered locator (the clave dinámica shown in clear) is masked in the screenshot.
    from PIL import Image

    box = boxes["clave"]
    with Image.open(directory / "pagina.png") as image:
        pixel = image.convert("RGB").getpixel((int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)))
    assert pixel == (0, 0, 0)


def leaks_in_zip(path: Path) -> list[str]:
    forms = forbidden_forms()
    found = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            found += [label for label, form in forms.items() if form in data]
    return found


@pytest.mark.browser
def test_success_discards_the_trace(robot: Robot, portal: str, settings: Settings) -> None:
    with robot.client_run("900123456", run_id="r-ok") as run:
        run.page.goto(portal)
        language = run.page.evaluate("navigator.language")
        zone = run.page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert (language, zone) == ("es-CO", "America/Bogota")
    assert Portal.seen_languages[-1].startswith("es-CO")
    assert not (settings.artifacts_dir / "r-ok").exists() or not any((settings.artifacts_dir / "r-ok").rglob("*.*"))
    assert run.context.pages == [] or all(p.is_closed() for p in run.context.pages)


@pytest.mark.browser
def test_keep_trace_saves_a_scrubbed_trace_on_success(playwright, portal: str, settings: Settings) -> None:
    register_secret(SECRET)
    kept = settings.model_copy(update={"keep_trace": True})
    with Robot(kept, playwright=playwright) as robot, robot.client_run("900123456", run_id="r-traza") as run:
        run.page.goto(portal)
        run.page.fill("#clave", SECRET)
    trace = kept.artifacts_dir / "r-traza" / "900123456" / "traza" / "traza.zip"
    assert trace.is_file()
    assert leaks(kept.artifacts_dir) == []
    forget_secrets()


@pytest.mark.browser
def test_robot_errors_get_context_and_artifacts(robot: Robot, portal: str) -> None:
    with (
        pytest.raises(PortalError) as info,
        robot.client_run("900123456", run_id="r-err") as run,
        run.step("asociar_prefijo"),
    ):
        run.page.goto(portal)
        raise PortalError("La DIAN rechazó la asociación", dian_text="Rango no disponible")
    err = info.value
    assert (err.client, err.step) == ("900123456", "asociar_prefijo")
    assert err.artifacts and (err.artifacts / "traza.zip").is_file()


@pytest.mark.browser
def test_waiting_is_not_a_failure_and_leaves_no_artifacts(robot: Robot, portal: str, settings: Settings) -> None:
    retry_at = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(Waiting) as info, robot.client_run("900123456", run_id="r-espera") as run:
        run.page.goto(portal)
        raise Waiting("La resolución aún no aparece en Facturando electrónicamente", retry_at=retry_at)
    assert info.value.artifacts is None and info.value.client == "900123456"
    assert not (settings.artifacts_dir / "r-espera").exists()
    assert "Vuelva a intentar después de" in str(info.value)


@pytest.mark.browser
def test_module_level_client_run_and_evidence(robot: Robot, portal: str, settings: Settings) -> None:
    browser.set_robot(robot)
    try:
        with browser.client_run("900123456") as run:
            run.page.goto(portal)
            html_path, png_path = run.save_evidence("formulario")
        assert html_path and html_path.parent.parent == settings.output_dir / "900123456"
        assert png_path and png_path.is_file()
    finally:
        browser.set_robot(None)


@pytest.mark.browser
@pytest.mark.skipif(not SYSTEM_CHROMIUM.exists(), reason="needs the system Chromium as a stand-in for Chrome")
def test_cdp_mode_launches_chrome_with_a_per_client_profile(playwright, portal: str, settings: Settings) -> None:
    register_secret(SECRET)
    cdp = settings.model_copy(update={"browser": "cdp", "chrome_path": SYSTEM_CHROMIUM})
    with Robot(cdp, playwright=playwright) as robot:
        assert robot.kind == "cdp-launch"
        with pytest.raises(RuntimeError), robot.client_run("900123456", run_id="r-cdp") as run:
            run.page.goto(portal)
            assert run.page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/Bogota"
            run.page.fill("#clave", SECRET)
            raise RuntimeError("falla en modo cdp")
        assert Portal.seen_languages[-1].startswith("es-CO")
    profile = cdp.profiles_dir / "900123456"
    assert profile.is_dir() and profile.stat().st_mode & 0o777 == 0o700
    directory = cdp.artifacts_dir / "r-cdp" / "900123456" / "general"
    assert (directory / "traza.zip").is_file() and (directory / "pagina.png").is_file()
    assert leaks(cdp.artifacts_dir) == []


# --- retries of idempotent reads (bots.retry) -------------------------------------------------------


def test_retry_read_retries_transient_failures_only() -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    from bots.retry import retry_read

    calls: list[int] = []

    @retry_read(attempts=3, initial_wait=0.01, max_wait=0.02)
    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise PlaywrightTimeoutError("Timeout 30000ms exceeded")
        if len(calls) == 2:
            raise PlaywrightError("net::ERR_CONNECTION_RESET at https://muisca.dian.gov.co/")
        return "tabla"

    assert flaky() == "tabla" and len(calls) == 3

    @retry_read(attempts=5, initial_wait=0.01, max_wait=0.02)
    def business_error() -> None:
        calls.append(1)
        raise PortalError("Empresa no asociada a representante legal.")

    calls.clear()
    with pytest.raises(PortalError):
        business_error()
    assert len(calls) == 1  # never retried

    @retry_read(attempts=2, initial_wait=0.01, max_wait=0.02)
    def always_timeout() -> None:
        calls.append(1)
        raise PlaywrightTimeoutError("Timeout")

    calls.clear()
    with pytest.raises(PlaywrightTimeoutError):
        always_timeout()
    assert len(calls) == 2  # bounded; the last error is re-raised unchanged


@pytest.mark.browser
def test_navigate_retries_5xx_then_reports_dian_text(
    robot: Robot, portal: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from bots.retry import navigate

    with robot.client_run("900123456", run_id="r-nav") as run:
        response = navigate(run.page, f"{portal}/inestable", initial_wait=0.01, max_wait=0.02)
        assert response is not None and response.status == 200
        assert Portal.hits["/inestable"] == 3
        with pytest.raises(PortalError) as info:
            navigate(run.page, f"{portal}/caido", attempts=2, initial_wait=0.01, max_wait=0.02)
    err = info.value
    assert err.retryable and "HTTP 503 en /caido" in err.message
    assert err.dian_text == "Servicio no disponible Intente en unos minutos."
    assert capfd.readouterr().err.count("reintento de lectura") >= 3
