"""The browser: one per process, one fresh context per client run, artifacts on failure.

Choice of browser (``DIAN_BROWSER``):

- ``bundled``: Playwright's own Chromium (``playwright install chromium``).
- ``system``: Debian's Chromium at ``/usr/lib/chromium/chromium``.
- ``cdp``: an installed Google Chrome driven over CDP. Without ``DIAN_CDP_URL`` the robot starts
  Chrome itself for each client with ``--remote-debugging-port`` and a persistent profile
  ``<profiles_dir>/<nit>`` (the public bots that pass DIAN's Turnstile do this) and closes it after
  the run. With ``DIAN_CDP_URL`` it attaches to a Chrome you started and opens a fresh context per
  client (no profile is shared between clients).
- ``auto`` (default): bundled if installed, else system Chromium, else ``cdp`` with installed Chrome.

Every context speaks Spanish (Colombia): locale ``es-CO``, time zone ``America/Bogota``,
``Accept-Language: es-CO``.

Usage in a flow::

    with client_run(client) as run:
        with run.step("login_empresa"):
            page = run.page
            ...

On an exception leaving the block, ``<artifacts>/<run_id>/<client>/<step>/`` gets the Playwright
trace (``playwright show-trace traza.zip``), a screenshot with password fields (and anything passed
to ``run.mask``) masked, the page HTML and ``error.json`` — all scrubbed of registered secrets and
token links. On success the trace is discarded unless ``DIAN_KEEP_TRACE=true``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bots import artifacts
from bots.errors import InvalidInput, RobotError, Waiting
from bots.log import bound, current_context, get_logger, new_run_id

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright

    from bots.config import Client, Settings

log = get_logger(__name__)

SYSTEM_CHROMIUM = Path("/usr/lib/chromium/chromium")
LOCALE = "es-CO"
TIMEZONE = "America/Bogota"
ACCEPT_LANGUAGE = "es-CO,es;q=0.9"
VIEWPORT = {"width": 1366, "height": 900}
CHROME_CANDIDATES = (
    "google-chrome",
    "google-chrome-stable",
    "/opt/google/chrome/chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
)
_DEVTOOLS_LINE = re.compile(r"DevTools listening on (ws://\S+)")


# --- discovery ----------------------------------------------------------------------------------


@functools.cache
def bundled_chromium() -> str | None:
    """Path of Playwright's bundled Chromium if it is installed.

    Asked in a helper thread: a second ``sync_playwright()`` cannot start in a thread where one is
    already running (e.g. under pytest-playwright's ``playwright`` fixture).
    """
    result: list[str | None] = [None]

    def ask() -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            result[0] = p.chromium.executable_path

    worker = threading.Thread(target=ask, name="find-chromium", daemon=True)
    worker.start()
    worker.join()
    path = result[0]
    return path if path and os.path.exists(path) else None


def find_chromium() -> str | None:
    """Return the Chromium executable to use: Playwright's bundled one, else the system one."""
    bundled = bundled_chromium()
    if bundled:
        return bundled
    if SYSTEM_CHROMIUM.exists():
        return str(SYSTEM_CHROMIUM)
    return None


def find_chrome(settings: Settings | None = None) -> str | None:
    """Return an installed Google Chrome (``DIAN_CHROME_PATH`` first), for the ``cdp`` mode."""
    if settings and settings.chrome_path:
        return str(settings.chrome_path) if settings.chrome_path.exists() else None
    for candidate in CHROME_CANDIDATES:
        found = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if found:
            return found
    return None


# --- one client run ------------------------------------------------------------------------------


class ClientRun:
    """One client's browser session: a fresh context with tracing on, and its first page."""

    def __init__(self, *, client: str, run_id: str, context: BrowserContext, page: Page, settings: Settings) -> None:
        self.client = client
        self.run_id = run_id
        self.context = context
        self.page = page
        self.settings = settings
        self.artifacts_path: Path | None = None
        self._scope = artifacts.ArtifactScope(base=settings.artifacts_dir, run_id=run_id, client=client)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Name a step: it is bound to every log event and names the artifacts folder on failure."""
        with bound(step=name):
            log.info("paso", step=name)
            try:
                yield
            except Exception as exc:
                # Remember the innermost step on the exception itself: a failure the caller
                # handles must not name the artifacts of a later, different failure.
                if getattr(exc, "robot_step", None) is None:
                    with contextlib.suppress(AttributeError):
                        exc.robot_step = name  # type: ignore[attr-defined]
                raise

    def mask(self, *locators: Locator) -> None:
        """Mask these locators too in failure screenshots (e.g. a clave dinámica shown in clear)."""
        self._scope.masks.extend(locators)

    def new_page(self) -> Page:
        """Open another tab in this client's context."""
        return self.context.new_page()

    def save_evidence(self, name: str) -> tuple[Path | None, Path | None]:
        """Save the current page (scrubbed HTML + masked PNG) as evidence of a completed step, under
        ``<output_dir>/<client>/<run_id>/``."""
        directory = artifacts.private_dir(self.settings.output_dir / artifacts.safe_name(self.client))
        directory = artifacts.private_dir(directory / artifacts.safe_name(self.run_id))
        return artifacts.save_page(self.page, directory, artifacts.safe_name(name))


# --- the process-wide browser -------------------------------------------------------------------


class Robot:
    """Owns Playwright and the browser of this process. Not thread-safe: one per process.

    Pass ``playwright`` to reuse a running instance (e.g. pytest-playwright's fixture): a second
    ``sync_playwright()`` cannot start inside the first one.
    """

    def __init__(self, settings: Settings | None = None, *, playwright: Playwright | None = None) -> None:
        if settings is None:
            from bots.config import load_settings

            settings = load_settings()
        self.settings = settings
        self._own_playwright = playwright is None
        self._pw = playwright
        self._browser: Browser | None = None
        self.kind: str | None = None  # bundled | system | cdp-launch | cdp-attach
        self.executable: str | None = None

    # lifecycle
    def __enter__(self) -> Robot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def playwright(self) -> Playwright:
        if self._pw is None:
            from playwright.sync_api import sync_playwright

            self._pw = sync_playwright().start()
        return self._pw

    def start(self) -> Robot:
        """Choose and start the browser (in ``cdp`` launch mode Chrome starts per client run)."""
        if self.kind is not None:
            return self
        choice = self.settings.browser
        bundled = self.playwright.chromium.executable_path
        has_bundled = bool(bundled) and os.path.exists(bundled)
        if choice == "cdp" or (choice == "auto" and not has_bundled and not SYSTEM_CHROMIUM.exists()):
            if self.settings.cdp_url:
                self.kind = "cdp-attach"
                self._browser = self.playwright.chromium.connect_over_cdp(
                    self.settings.cdp_url, timeout=self.settings.browser_start_timeout_s * 1000
                )
            else:
                chrome = find_chrome(self.settings)
                if not chrome:
                    raise InvalidInput(
                        "No se encontró ningún navegador: ni el Chromium de Playwright, ni "
                        f"{SYSTEM_CHROMIUM}, ni Google Chrome. Ejecute scripts/setup o defina DIAN_CHROME_PATH."
                    )
                self.kind, self.executable = "cdp-launch", chrome
            log.info("navegador elegido", kind=self.kind, executable=self.executable)
            return self
        if choice == "bundled" or (choice == "auto" and has_bundled):
            if not has_bundled:
                raise InvalidInput(
                    "El Chromium de Playwright no está instalado: ejecute `python -m playwright install "
                    "chromium` o use DIAN_BROWSER=system."
                )
            self.kind, self.executable = "bundled", None
        else:
            if not SYSTEM_CHROMIUM.exists():
                raise InvalidInput(f"No existe el Chromium del sistema en {SYSTEM_CHROMIUM} (apt install chromium).")
            self.kind, self.executable = "system", str(SYSTEM_CHROMIUM)
        headless = self.settings.is_headless
        self._browser = self.playwright.chromium.launch(
            executable_path=self.executable,
            headless=headless,
            slow_mo=self.settings.slow_mo_ms or None,
            args=["--disable-gpu"] if headless else [],
            timeout=self.settings.browser_start_timeout_s * 1000,
        )
        log.info("navegador iniciado", kind=self.kind, version=self._browser.version, headless=headless)
        return self

    def close(self) -> None:
        """Close the browser and, if this object started it, Playwright."""
        if self._browser is not None:
            try:
                self._browser.close()
            except Exception as exc:
                log.warning("no se pudo cerrar el navegador", error=type(exc).__name__)
            self._browser = None
        if self._own_playwright and self._pw is not None:
            self._pw.stop()
            self._pw = None
        self.kind = None

    # contexts
    def _context_options(self) -> dict[str, Any]:
        return {
            "locale": LOCALE,
            "timezone_id": TIMEZONE,
            "extra_http_headers": {"Accept-Language": ACCEPT_LANGUAGE},
            "accept_downloads": True,
            "viewport": VIEWPORT,
        }

    def _launch_chrome(self, profile: Path, stack: ExitStack) -> BrowserContext:
        """Start installed Chrome on a per-client profile and attach over CDP; cleanup goes on ``stack``."""
        assert self.executable
        artifacts.private_dir(profile)
        args = [
            self.executable,
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            f"--lang={LOCALE}",
            f"--accept-lang={ACCEPT_LANGUAGE.split(';')[0]}",
        ]
        if self.settings.is_headless:
            args.append("--headless=new")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chrome refuses to run as root with its sandbox
        env = {**os.environ, "TZ": TIMEZONE}
        proc = subprocess.Popen(
            [*args, "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        stack.callback(_stop_process, proc)
        endpoint = _read_devtools_endpoint(proc, self.settings.browser_start_timeout_s)
        if endpoint is None:
            raise RobotError(
                f"Chrome no abrió el puerto de depuración (perfil {profile}). ¿Hay otro Chrome abierto con "
                "ese perfil? Ciérrelo y vuelva a intentar."
            )
        browser = self.playwright.chromium.connect_over_cdp(
            endpoint, timeout=self.settings.browser_start_timeout_s * 1000, slow_mo=self.settings.slow_mo_ms or None
        )
        stack.callback(_close_chrome, browser)
        log.info("Chrome iniciado por CDP", profile=str(profile), version=browser.version)
        context = browser.contexts[0]
        context.set_extra_http_headers({"Accept-Language": ACCEPT_LANGUAGE})
        return context

    @contextmanager
    def client_run(
        self,
        client: str | Client,
        *,
        step: str | None = None,
        run_id: str | None = None,
        context_options: dict[str, Any] | None = None,
    ) -> Iterator[ClientRun]:
        """A fresh context for one client, traced; artifacts on failure (see module docstring).

        ``context_options`` are added to the new context's options (e.g. ``record_har_path`` for the
        recorder); they do not apply when attached to installed Chrome over CDP."""
        if self._browser is not None and not self._browser.is_connected():
            log.warning("el navegador se desconectó; se abre de nuevo")
            self._browser, self.kind = None, None
        self.start()
        nit = client if isinstance(client, str) else client.nit
        run_id = run_id or current_context().get("run_id") or new_run_id()
        with ExitStack() as stack:
            stack.enter_context(bound(run_id=run_id, client=nit, step=step))
            if self.kind == "cdp-launch":
                profile = self.settings.profiles_dir / artifacts.safe_name(nit)
                context = self._launch_chrome(profile, stack)
                for stale in context.pages[1:]:
                    stale.close()
                page = context.pages[0] if context.pages else context.new_page()
            else:
                assert self._browser is not None
                context = self._browser.new_context(**{**self._context_options(), **(context_options or {})})
                stack.callback(_quietly, context.close)
                page = context.new_page()
            context.set_default_timeout(self.settings.page_timeout_s * 1000)
            context.set_default_navigation_timeout(self.settings.navigation_timeout_s * 1000)
            context.tracing.start(screenshots=False, snapshots=True, sources=False, title=f"{nit} {run_id}")
            run = ClientRun(client=nit, run_id=run_id, context=context, page=page, settings=self.settings)
            stack.enter_context(artifacts.scope(run._scope))
            log.info("inicio de la sesión del cliente", browser=self.kind)
            try:
                yield run
            except Exception as exc:
                failed_step = getattr(exc, "robot_step", None) or current_context().get("step") or step or "general"
                if isinstance(exc, RobotError):
                    exc.fill_context(client=nit, step=failed_step)
                if isinstance(exc, Waiting | InvalidInput):
                    _quietly(context.tracing.stop)
                else:
                    with bound(step=failed_step):
                        run.artifacts_path = _save_failure(run, exc, failed_step)
                    if isinstance(exc, RobotError):
                        exc.artifacts = run.artifacts_path
                raise
            else:
                if self.settings.keep_trace:
                    try:
                        directory = artifacts.step_dir("traza")
                        context.tracing.stop(path=directory / "traza.zip")
                        artifacts.scrub_zip(directory / "traza.zip")
                        run.artifacts_path = directory
                    except Exception as err:  # the run itself succeeded: do not turn it into a failure
                        log.warning("no se pudo guardar la traza", error=type(err).__name__)
                else:
                    _quietly(context.tracing.stop)
                log.info("fin de la sesión del cliente")


def _save_failure(run: ClientRun, exc: BaseException, step: str) -> Path | None:
    """Trace, masked screenshots, HTML and error.json of a failed run. Never raises."""
    try:
        directory = artifacts.step_dir(step)
    except Exception as err:
        log.error("no se pudo crear la carpeta de artefactos", error=type(err).__name__)
        return None
    pages = [p for p in run.context.pages if not p.is_closed()]
    for index, page in enumerate(pages, start=1):
        artifacts.save_page(page, directory, "pagina" if index == 1 else f"pagina-{index}")
    trace = directory / "traza.zip"
    try:
        run.context.tracing.stop(path=trace)
        artifacts.scrub_zip(trace)
    except Exception as err:
        trace.unlink(missing_ok=True)
        log.warning("no se pudo guardar la traza", error=type(err).__name__)
    try:
        artifacts.write_error_report(directory, exc, pages)
    except Exception as err:
        log.warning("no se pudo guardar error.json", error=type(err).__name__)
    log.error("falla: artefactos guardados", artifacts=str(directory), error_type=type(exc).__name__)
    return directory


@contextmanager
def shared_browser(settings: Settings) -> Iterator[dict[str, str]]:
    """One Chromium for several worker processes: started here with a DevTools endpoint on 127.0.0.1,
    yielded as the settings that make each worker attach to it (``DIAN_BROWSER=cdp``,
    ``DIAN_CDP_URL``) and open its own fresh context per client; stopped when the block ends.

    What it saves: the browser, GPU and network processes of every worker but one. What it costs:
    Playwright drives the workers' contexts over CDP (lower fidelity than its own protocol), a crash of
    this one browser fails the clients in flight on every worker (each is retried as any browser
    crash), and any local user can reach the DevTools port while it runs (it is bound to loopback, on
    a random port, with a private profile folder): use it on a machine whose users you trust.
    """
    executable = str(SYSTEM_CHROMIUM) if settings.browser == "system" else find_chromium()
    if not executable:
        raise InvalidInput("No hay Chromium para el navegador compartido: ejecute scripts/setup.")
    profile = Path(tempfile.mkdtemp(prefix="dian-navegador-compartido-"))
    os.chmod(profile, 0o700)
    args = [
        executable, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-gpu",
    ]
    if settings.is_headless:
        args.append("--headless=new")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    proc = subprocess.Popen([*args, "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "TZ": TIMEZONE})
    try:
        endpoint = _read_devtools_endpoint(proc, settings.browser_start_timeout_s)
        if endpoint is None:
            raise RobotError("El navegador compartido no abrió su puerto de depuración.")
        log.info("navegador compartido iniciado", pid=proc.pid)
        address = urlsplit(endpoint).netloc  # ws://127.0.0.1:PORT/devtools/browser/… → the HTTP endpoint
        yield {"DIAN_BROWSER": "cdp", "DIAN_CDP_URL": f"http://{address}"}
    finally:
        _stop_process(proc)
        shutil.rmtree(profile, ignore_errors=True)


def _read_devtools_endpoint(proc: subprocess.Popen[bytes], timeout_s: float) -> str | None:
    """Wait for Chrome's "DevTools listening on ws://..." line; keep draining stderr afterwards."""
    found: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        announced = False
        for raw in proc.stderr:
            if not announced:
                match = _DEVTOOLS_LINE.search(raw.decode("utf-8", "replace"))
                if match:
                    found.put(match.group(1))
                    announced = True
        if not announced:
            found.put(None)

    threading.Thread(target=pump, name="chrome-stderr", daemon=True).start()
    try:
        return found.get(timeout=timeout_s)
    except queue.Empty:
        return None


def _close_chrome(browser: Browser) -> None:
    """Ask Chrome to quit cleanly (the profile keeps its cookies), then drop the connection."""
    try:
        browser.new_browser_cdp_session().send("Browser.close")
    except Exception as exc:
        log.debug("Browser.close por CDP falló", error=type(exc).__name__)
    _quietly(browser.close)


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a Chrome process this robot started (by its handle)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _quietly(func: Any) -> None:
    try:
        func()
    except Exception as exc:
        log.debug("limpieza fallida", error=type(exc).__name__)


# --- module-level convenience ---------------------------------------------------------------------

_robot: Robot | None = None


def get_robot(settings: Settings | None = None) -> Robot:
    """The process-wide ``Robot`` (created on first use with ``settings``)."""
    global _robot
    if _robot is None:
        _robot = Robot(settings)
    return _robot


def set_robot(robot: Robot | None) -> None:
    """Install a ``Robot`` as the process-wide one (tests: built on pytest-playwright's instance)."""
    global _robot
    _robot = robot


def shutdown() -> None:
    """Close the process-wide browser (the batch also calls it to recycle the browser)."""
    global _robot
    if _robot is not None:
        _robot.close()
        _robot = None


@contextmanager
def client_run(
    client: str | Client,
    *,
    settings: Settings | None = None,
    step: str | None = None,
    context_options: dict[str, Any] | None = None,
) -> Iterator[ClientRun]:
    """``get_robot(settings).client_run(client)``: a fresh traced context for one client."""
    with get_robot(settings).client_run(client, step=step, context_options=context_options) as run:
        yield run


if __name__ == "__main__" and sys.argv[1:] == ["--which"]:
    found = find_chromium()
    if not found:
        sys.exit(1)
    print(found)
