"""Recording DIAN's screens: scrubbed HTML as rendered, a screenshot, a minimal HAR, a manifest.

    python -m bots.record --portal catalogo|muisca [--sitio habilitacion|produccion] [--cliente NIT] [--salida DIR]

opens a headed browser on the portal for a person to walk; every page that loads is identified by the
fingerprints of the selector files (catalogo, habilitacion, muisca) and each distinct screen is saved.
The person ends the recording with Enter in the terminal. ``python -m flows.reconocer --grabar`` uses
the same ``Recorder`` on every screen it walks.

- HTML: the DOM as rendered (``page.content()``), each iframe's document inlined as ``srcdoc``, scripts,
  event handlers and tracking removed; personal data scrubbed (``Scrubber``).
- Screenshot: of the scrubbed HTML rendered in a separate, script-less page (what is saved is what is
  shown; no personal value reaches the image).
- HAR: Playwright's ``record_har_path`` limited to the portal hosts (``record_har_url_filter``), minimal
  mode, then scrubbed the same way (cookies and Set-Cookie dropped; the token link and the anti-forgery
  fields normalised to fixed values, so a route handler can map any live value onto them on replay).
- Files are written to a temporary folder beside the output and promoted into it, laid out like
  recordings/ (``<family>/<version>/<screen>.html`` plus ``<family>/manifest.toml`` and a top
  ``manifest.toml``), only when the recording ended cleanly (``finish``); ``abort`` deletes them.
  ``python -m bots.locators check --recordings DIR`` checks such a folder through its manifest.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import html as html_lib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, quote_plus, urlsplit

import lxml.html
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.log import get_logger, redact_bytes
from bots.text import squash

if TYPE_CHECKING:
    from collections.abc import Sequence

    from playwright.sync_api import Browser, BrowserContext, Page

    from bots.config import Client, Settings
    from bots.locators.model import SelectorSet

log = get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent

# --- placeholders (docs/design.md "Personal data") ----------------------------------------------------
NIT = "900123456"
DV = "8"
RAZON_SOCIAL = "EMPRESA DEMO S.A.S."
DOCUMENTO = "1020304050"
CORREO = "facturacion@empresa-demo.test"
USUARIO = "USUARIO DEMO"
PIN = "00000"
TOKEN = "TOKEN-GRABADO"
ANTIFALSIFICACION = "ANTIFALSIFICACION-GRABADA"
CLAVE = "CLAVE-GRABADA"
TURNSTILE = "TURNSTILE-GRABADO"
AUTH_TOKEN_QUERY = f"token={TOKEN}"
PLACEHOLDER_DOMAIN = "@empresa-demo.test"
PLACEHOLDERS = frozenset(
    {NIT, f"{NIT}{DV}", f"{NIT}-{DV}", RAZON_SOCIAL, DOCUMENTO, CORREO, USUARIO, PIN, TOKEN, CLAVE}
)

#: Live elements whose text or value is personal: the placeholder each becomes in every file, and a
#: pattern picking the personal part out of a label ("Usuario: NAME · Cédula …"); each text node counts.
PERSONAL_FIELDS: dict[str, tuple[str, str | None]] = {
    "#user-info .username": (USUARIO, None),
    "#BusinessName": (RAZON_SOCIAL, None),
    "#ContributorName": (RAZON_SOCIAL, None),
    "[id$=':lblRazonSocial']": (RAZON_SOCIAL, None),
    "[id$=':frmEncabezado:lblUsuario']": (USUARIO, r"Usuario:\s*(.+?)\s*(?:·|$)"),
    "[id$=':frmComunicados:lblUsuario']": (USUARIO, None),
    "input#SoftwarePin": (PIN, None),
    "[id$=':lblClave']": (CLAVE, None),
}
_TEXT_NODES = """el => { const out = []; const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let node; while ((node = walk.nextNode())) { const t = node.textContent.trim(); if (t) out.push(t); }
    return out; }"""
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ANTIFORGERY_INPUT = re.compile(
    r"""(<input\b[^>]*?\bname=(["'])__RequestVerificationToken\2[^>]*?\bvalue=(["']))[^"']*(\3)"""
    r"""|(<input\b[^>]*?\bvalue=(["']))[^"']*(\6[^>]*?\bname=(["'])__RequestVerificationToken\8)""",
    re.I,
)
_ANTIFORGERY_PAIR = re.compile(r"(__RequestVerificationToken(?:=|%3D))[^&\s\"';]+", re.I)
_TURNSTILE_PAIR = re.compile(r"(cf-turnstile-response(?:=|%3D))[^&\s\"';]+", re.I)
_AUTH_TOKEN = re.compile(r"(/User/AuthToken(?:\?|%3F))[^\s\"'<>)\]\\]*", re.I)
_TRACKING = re.compile(
    r"google-analytics|googletagmanager|doubleclick|hotjar|facebook\.net|clarity\.ms|newrelic|nr-data|"
    r"matomo|piwik|segment\.(io|com)",
    re.I,
)


class Scrubber:
    """Personal values → stable placeholders, the same in every file of one recording."""

    def __init__(self) -> None:
        self._pairs: dict[str, str] = {}
        self._emails: dict[str, str] = {}
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def add(self, value: str | None, placeholder: str) -> None:
        value = squash(value)
        if len(value) < 3 or value in self._pairs or value in PLACEHOLDERS or value in self._pairs.values():
            return
        self._pairs[value] = placeholder
        self._compiled = None

    def add_nit(self, nit: str, dv: int | str) -> None:
        """A NIT in every shape DIAN prints it: 901234567, 9012345673, 901234567-3, 901.234.567-3."""
        dotted = f"{int(nit):,}".replace(",", ".")
        self.add(f"{dotted}-{dv}", f"{int(NIT):,}".replace(",", ".") + f"-{DV}")
        self.add(dotted, f"{int(NIT):,}".replace(",", "."))
        self.add(f"{nit}-{dv}", f"{NIT}-{DV}")
        self.add(f"{nit}{dv}", f"{NIT}{DV}")
        self.add(nit, NIT)

    def add_client(self, client: Client) -> None:
        """Everything of the client's profile that shows on DIAN's pages."""
        self.add_nit(client.nit, client.dv)
        self.add(client.razon_social, RAZON_SOCIAL)
        self.add(client.representante.numero_documento, DOCUMENTO)
        if client.muisca is not None:
            self.add(client.muisca.numero_documento, DOCUMENTO)
        for box in (client.buzon_token, client.buzon_clave_dinamica):
            if box is not None:
                self.email(box.usuario)
        if client.correo_recepcion:
            self.email(str(client.correo_recepcion))

    def learn(self, page: Page) -> None:
        """Read the personal fields shown on the live page (names, PINs, keys) into the mapping."""
        for css, (placeholder, pattern) in PERSONAL_FIELDS.items():
            try:
                for element in page.locator(css).all():
                    values = [*element.evaluate(_TEXT_NODES), element.get_attribute("value") or ""]
                    for value in values:
                        found = re.search(pattern, value) if pattern else None
                        if pattern is None or found:
                            self.add(found.group(1) if found else value, placeholder)
            except PlaywrightError:
                continue

    def email(self, address: str) -> str:
        """The stable placeholder of an e-mail address (DIAN's own addresses and placeholders stay)."""
        key = address.lower()
        if key.endswith("dian.gov.co") or key.endswith(PLACEHOLDER_DOMAIN):
            return address
        if key not in self._emails:
            n = len(self._emails) + 1
            self._emails[key] = CORREO if n == 1 else f"correo{n}{PLACEHOLDER_DOMAIN}"
        return self._emails[key]

    def _patterns(self) -> list[tuple[re.Pattern[str], str]]:
        if self._compiled is None:
            compiled = []
            for value in sorted(self._pairs, key=len, reverse=True):
                placeholder = self._pairs[value]
                forms = {value, html_lib.escape(value), html_lib.escape(value, quote=False), quote(value),
                         quote_plus(value), json.dumps(value)[1:-1]}  # fmt: skip
                for form in sorted(forms, key=len, reverse=True):
                    if form.replace(".", "").replace("-", "").isdigit():
                        compiled.append((re.compile(rf"(?<![0-9]){re.escape(form)}(?![0-9])"), placeholder))
                    else:
                        compiled.append((re.compile(re.escape(form), re.I), placeholder))
            self._compiled = compiled
        return self._compiled

    def text(self, value: str) -> str:
        """``value`` with every personal value, e-mail, token and anti-forgery value replaced."""
        if not value:
            return value
        for pattern, placeholder in self._patterns():
            value = pattern.sub(placeholder.replace("\\", "\\\\"), value)
        value = _EMAIL.sub(lambda m: self.email(m.group(0)), value)
        value = _ANTIFORGERY_INPUT.sub(
            lambda m: (m.group(1) + ANTIFALSIFICACION + m.group(4))
            if m.group(1)
            else (m.group(5) + ANTIFALSIFICACION + m.group(7)),
            value,
        )
        value = _ANTIFORGERY_PAIR.sub(lambda m: m.group(1) + ANTIFALSIFICACION, value)
        value = _TURNSTILE_PAIR.sub(lambda m: m.group(1) + TURNSTILE, value)
        # The token link first (registered as a secret whole, it would become "***"), then registered secrets
        # (passwords, claves) in every encoded form: bots.log's registry.
        value = _AUTH_TOKEN.sub(lambda m: m.group(1) + AUTH_TOKEN_QUERY, value)
        value = redact_bytes(value.encode("utf-8")).decode("utf-8", "replace")
        return _AUTH_TOKEN.sub(lambda m: m.group(1) + AUTH_TOKEN_QUERY, value)

    def found_in(self, data: str) -> list[str]:
        """The personal values of the mapping still present in ``data`` (for self-checks)."""
        lowered = data.lower()
        return [v for v in [*self._pairs, *self._emails] if v.lower() in lowered]


def normalizar_solicitud(url: str, post_data: str | None) -> tuple[str, str | None]:
    """A live request in the recording's terms (HAR replay): the token link's query and the one-time
    form values (anti-forgery, Turnstile) become the fixed values the recorder wrote."""
    url = _AUTH_TOKEN.sub(lambda m: m.group(1) + AUTH_TOKEN_QUERY, url)
    if post_data:
        post_data = _ANTIFORGERY_PAIR.sub(lambda m: m.group(1) + ANTIFALSIFICACION, post_data)
        post_data = _TURNSTILE_PAIR.sub(lambda m: m.group(1) + TURNSTILE, post_data)
    return url, post_data


# --- HTML as rendered -----------------------------------------------------------------------------


def _clean_tree(root: Any) -> None:
    """Remove scripts, event handlers, javascript: links and tracking from a parsed document."""
    for el in list(root.iter("script", "noscript")):
        el.drop_tree()
    for el in list(root.iter("link")):
        rel = (el.get("rel") or "").lower()
        if any(r in rel for r in ("preload", "prefetch", "modulepreload")) or _TRACKING.search(el.get("href") or ""):
            el.drop_tree()
    for el in list(root.iter("img", "iframe")):
        if _TRACKING.search(el.get("src") or ""):
            el.drop_tree()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in list(el.attrib):
            if attr.lower().startswith("on"):
                del el.attrib[attr]
        for attr in ("href", "src", "action"):
            if (el.get(attr) or "").strip().lower().startswith("javascript:"):
                el.set(attr, "#")


def snapshot(page: Page, hosts: Sequence[str] = ()) -> str:
    """The page's DOM as rendered, without scripts or tracking; the document of each iframe of the portal
    (``hosts``, or without an address of its own) inlined as ``srcdoc``. Third-party frames (Cloudflare's
    challenge, ads) keep only their element."""
    frames: list[str | None] = []
    for handle in page.query_selector_all("iframe"):
        try:
            frame = handle.content_frame()
            netloc = urlsplit(frame.url).netloc.lower() if frame else ""
            own = frame is not None and (not netloc or netloc in hosts or frame.url.startswith("about:"))
            frames.append(frame.content() if frame and own else None)
        except PlaywrightError:
            frames.append(None)
    root = lxml.html.document_fromstring(page.content())
    for element, content in zip(list(root.iter("iframe")), frames, strict=False):
        if content and not _TRACKING.search(element.get("src") or ""):
            inner = lxml.html.document_fromstring(content)
            _clean_tree(inner)
            element.set("srcdoc", lxml.html.tostring(inner, encoding="unicode"))
    _clean_tree(root)
    return "<!DOCTYPE html>\n" + lxml.html.tostring(root, encoding="unicode")


# --- screens, ids, manifests ------------------------------------------------------------------------


def spec_ids(recordings_dir: Path) -> dict[str, str]:
    """``{"catalogo/2026/h-01.html": "H-01", ...}`` from the recordings' manifests."""
    ids: dict[str, str] = {}
    top = recordings_dir / "manifest.toml"
    if not top.is_file():
        return ids
    for rel in tomllib.loads(top.read_text(encoding="utf-8")).get("manifests", []):
        path = recordings_dir / rel
        if not path.is_file():
            continue
        for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("screen", []):
            if "file" in entry and "screen" in entry:
                ids[str(Path(rel).parent / entry["file"])] = str(entry["screen"])
    return ids


def recordings_folder(selector_set: SelectorSet, screen: str) -> str:
    """The recordings family folder of a screen ("catalogo" for the habilitación set's "../catalogo/...")."""
    for rec in selector_set.screens[screen].recordings:
        parts = Path(os.path.normpath(Path(selector_set.family) / rec)).parts
        if parts:
            return parts[0]
    return selector_set.family


@dataclass
class Captura:
    """One saved screen: files (relative to the output folder) and its manifest entry."""

    folder: str
    entry: dict[str, Any]
    files: list[str] = field(default_factory=list)
    url: str = ""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def manifest_block(entry: dict[str, Any]) -> str:
    return "[[screen]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in entry.items()) + "\n"


class Recorder:
    """Collects scrubbed screens, screenshots and the HAR in a temporary folder; promotes them at the end."""

    def __init__(
        self,
        salida: Path,
        scrubber: Scrubber,
        settings: Settings,
        *,
        herramienta: str,
        recordings_dir: Path | None = None,
    ) -> None:
        self.salida = salida.resolve()
        self.salida.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.salida.name}-", dir=self.salida.parent))
        self.scrubber = scrubber
        self.settings = settings
        self.herramienta = herramienta
        self.recordings_dir = recordings_dir or settings.selectors_dir.parent / "recordings"
        self.ids = spec_ids(self.recordings_dir)
        self.capturas: list[Captura] = []
        self._hashes: set[str] = set()
        self._names: set[str] = set()
        self._render_context: BrowserContext | None = None
        self._context: BrowserContext | None = None
        self.started = datetime.now(UTC)

    # -- the browser context ------------------------------------------------------------------------
    @property
    def har_path(self) -> Path:
        return self.tmp / "red.har"

    def hosts(self) -> list[str]:
        urls = (self.settings.habilitacion_url, self.settings.produccion_url, self.settings.muisca_url)
        return sorted({(urlsplit(u).netloc or "").lower() for u in urls if u})

    def context_options(self) -> dict[str, Any]:
        """Options for the browser context: a minimal HAR of the portal hosts only."""
        hosts = "|".join(re.escape(h) for h in self.hosts())
        return {
            "record_har_path": str(self.har_path),
            "record_har_url_filter": re.compile(rf"^https?://({hosts})(/|$)", re.I),
            "record_har_content": "embed",
            "record_har_mode": "minimal",
        }

    # -- screens ------------------------------------------------------------------------------------
    def screen_id(self, selector_set: SelectorSet | None, screen: str | None) -> str:
        """DIAN's screen id (S-02, P-02, M-06…) from the manifest of the screen's first recording."""
        if selector_set is None or screen is None:
            return "desconocida"
        for rec in selector_set.screens[screen].recordings:
            key = os.path.normpath(Path(selector_set.family) / rec)
            if key in self.ids:
                return self.ids[key]
        return screen

    def capture(
        self,
        page: Page,
        *,
        portal: str,
        selector_set: SelectorSet | None,
        screen: str | None,
        state: str | None = None,
        checks: dict[str, list[str]] | None = None,
    ) -> Captura | None:
        """Save the page as one screen (None when an identical screen was already saved).

        ``checks``: ``{"habilitacion/2026/inicio": [absent locators], ...}``: what the check runs on it.
        """
        self.scrubber.learn(page)
        html = self.scrubber.text(snapshot(page, self.hosts()))
        digest = hashlib.sha256(html.encode()).hexdigest()
        if digest in self._hashes:
            return None
        self._hashes.add(digest)
        folder = recordings_folder(selector_set, screen) if selector_set and screen else portal_folder(portal)
        version = selector_set.version if selector_set and screen else "desconocida"
        screen_id = self.screen_id(selector_set, screen) if selector_set and screen else "desconocida"
        stem = f"{screen_id.lower()}-{state}" if state else screen_id.lower()
        stem = re.sub(r"[^a-z0-9_.-]+", "-", stem)
        name, n = stem, 1
        while f"{folder}/{version}/{name}" in self._names:
            n += 1
            name = f"{stem}-{n}"
        self._names.add(f"{folder}/{version}/{name}")
        directory = self.tmp / folder / version
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.html").write_text(html, encoding="utf-8")
        title = ""
        with contextlib.suppress(PlaywrightError):
            title = self.scrubber.text(squash(page.title()))
        entry: dict[str, Any] = {
            "file": f"{version}/{name}.html",
            "portal": [portal],
            "version": version,
            "screen": screen_id.upper() if screen_id != "desconocida" else screen_id,
            "state": state or "",
            "route": urlsplit(page.url).path,
            "title": title,
            "reconstructed": False,
            "ids_invented": False,
            "provenance": {"recorded": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"), "tool": self.herramienta},
        }
        entry["screenshot"] = f"{version}/{name}.png"  # rendered at the end, once every value is known
        if selector_set is not None and screen is not None:
            entry["selector_screen"] = screen
        if checks:
            entry["checks"] = sorted(checks)
            absent = {k: v for k, v in checks.items() if v}
            if absent:
                entry["absent"] = absent
        captura = Captura(folder, entry, [f"{folder}/{version}/{name}.html", f"{folder}/{entry['screenshot']}"])
        captura.url = page.url
        self.capturas.append(captura)
        log.info("pantalla grabada", archivo=captura.files[0], pantalla=entry["screen"])
        return captura

    def _screenshot(self, html: str, url: str, path: Path) -> Path | None:
        """The scrubbed HTML rendered without scripts (styles from the portal's origin) → PNG."""
        try:
            if self._render_context is None:
                browser: Browser | None = self._context.browser if self._context is not None else None
                if browser is None:
                    return None
                self._render_context = browser.new_context(
                    java_script_enabled=False, viewport={"width": 1366, "height": 900}
                )
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}/" if parts.scheme.startswith("http") else None
            shown = html
            if origin:
                base = f'<base href="{origin}">'
                shown = re.sub(r"(<head\b[^>]*>)", lambda m: m.group(1) + base, html, count=1, flags=re.I)
            page = self._render_context.new_page()
            try:
                # A stylesheet that does not come: the page is shown as it is.
                with contextlib.suppress(PlaywrightTimeoutError):
                    page.set_content(shown, wait_until="load", timeout=15000)
                page.screenshot(path=str(path), full_page=True)
            finally:
                page.close()
            return path
        except PlaywrightError as exc:
            log.warning("no se pudo tomar la captura", error=type(exc).__name__)
            return None

    def bind_context(self, context: BrowserContext) -> None:
        """The context being recorded (its browser renders the screenshots)."""
        self._context = context

    # -- the end --------------------------------------------------------------------------------------
    def _close_render(self) -> None:
        if self._render_context is not None:
            with contextlib.suppress(PlaywrightError):
                self._render_context.close()
            self._render_context = None

    def abort(self) -> None:
        """The recording did not end cleanly: nothing is promoted."""
        self._close_render()
        shutil.rmtree(self.tmp, ignore_errors=True)
        log.warning("grabación descartada: no terminó limpiamente")

    def finish(self) -> Path:
        """Scrub every file again with every value learned (a name first seen on a later page), render the
        screenshots from the scrubbed HTML, scrub the HAR (written when the recorded context closed),
        write the manifests, promote."""
        for captura in self.capturas:
            html_path = self.tmp / captura.files[0]
            html = self.scrubber.text(html_path.read_text(encoding="utf-8"))
            html_path.write_text(html, encoding="utf-8")
            if self._screenshot(html, captura.url, self.tmp / captura.files[1]) is None:
                captura.entry.pop("screenshot", None)
                captura.files = captura.files[:1]
        self._close_render()
        if self.har_path.is_file():
            self.har_path.write_text(self.scrub_har(self.har_path.read_text(encoding="utf-8")), encoding="utf-8")
        folders = sorted({c.folder for c in self.capturas})
        for folder in folders:
            blocks = [manifest_block(c.entry) for c in self.capturas if c.folder == folder]
            header = (
                f"# Screens recorded from the live portal by {self.herramienta} on "
                f"{self.started:%Y-%m-%d %H:%M} UTC; personal data scrubbed (bots/record.py).\n"
                "# `checks` names the selector screens `python -m bots.locators check --recordings DIR` runs on each\n"
                "# file; `absent` the locators its state does not show (absent from some recorded state too).\n\n"
            )
            (self.tmp / folder).mkdir(parents=True, exist_ok=True)
            (self.tmp / folder / "manifest.toml").write_text(header + "".join(blocks), encoding="utf-8")
        top = {"manifests": [f"{f}/manifest.toml" for f in folders], "recorded": True}
        if self.har_path.is_file():
            top["har"] = [self.har_path.name]
        (self.tmp / "manifest.toml").write_text(
            "# A recording laid out like recordings/ (bots/record.py).\n"
            + "".join(f"{k} = {_toml_value(v)}\n" for k, v in top.items()),
            encoding="utf-8",
        )
        return self._promote(folders)

    def _promote(self, folders: list[str]) -> Path:
        if not self.salida.exists() or not any(self.salida.iterdir()):
            if self.salida.exists():
                self.salida.rmdir()
            os.replace(self.tmp, self.salida)
            log.info("grabación promovida", carpeta=str(self.salida), pantallas=len(self.capturas))
            return self.salida
        # Into an existing recordings folder: files beside the others, entries appended to the manifests.
        stamp = self.started.strftime("%Y%m%d%H%M")
        for captura in self.capturas:
            renamed: dict[str, str] = {}
            for rel in captura.files:
                target = self.salida / rel
                if target.exists():
                    target = target.with_name(f"{target.stem}-grabada-{stamp}{target.suffix}")
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.tmp / rel, target)
                renamed[rel] = str(target.relative_to(self.salida / captura.folder))
            captura.entry["file"] = renamed[captura.files[0]]
            if "screenshot" in captura.entry and len(captura.files) > 1:
                captura.entry["screenshot"] = renamed[captura.files[1]]
        for folder in folders:
            manifest = self.salida / folder / "manifest.toml"
            blocks = "".join(manifest_block(c.entry) for c in self.capturas if c.folder == folder)
            with manifest.open("a", encoding="utf-8") as out:
                out.write(f"\n# ---- recorded {self.started:%Y-%m-%d %H:%M} UTC by {self.herramienta}\n\n{blocks}")
        if self.har_path.is_file():
            (self.salida / "har").mkdir(exist_ok=True)
            os.replace(self.har_path, self.salida / "har" / f"red-{stamp}.har")
        shutil.rmtree(self.tmp, ignore_errors=True)
        log.info("grabación agregada", carpeta=str(self.salida), pantallas=len(self.capturas))
        return self.salida

    def scrub_har(self, text: str) -> str:
        """The HAR with every string scrubbed; cookies and cookie headers dropped; text bodies scrubbed
        (base64 bodies of text types decoded, scrubbed and re-encoded)."""
        data = json.loads(text)
        for entry in data.get("log", {}).get("entries", []):
            for part in (entry.get("request", {}), entry.get("response", {})):
                part["cookies"] = []
                part["headers"] = [
                    h for h in part.get("headers", [])
                    if h.get("name", "").lower() not in ("cookie", "set-cookie", "authorization")
                ]  # fmt: skip
            content = entry.get("response", {}).get("content", {})
            if content.get("encoding") == "base64" and _is_text(content.get("mimeType", "")):
                try:
                    decoded = base64.b64decode(content.get("text", "")).decode("utf-8")
                    content["text"] = decoded
                    content.pop("encoding", None)
                except (ValueError, UnicodeDecodeError):
                    content["text"] = ""
        return json.dumps(self._scrub_json(data), ensure_ascii=False, indent=1)

    def _scrub_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrubber.text(value)
        if isinstance(value, list):
            return [self._scrub_json(v) for v in value]
        if isinstance(value, dict):
            return {k: self._scrub_json(v) for k, v in value.items()}
        return value


def _is_text(mime: str) -> bool:
    mime = mime.lower()
    return mime.startswith("text/") or any(t in mime for t in ("json", "javascript", "xml", "html"))


def portal_folder(portal: str) -> str:
    return "muisca" if portal == "muisca" else "catalogo"


# --- identifying any page (the headed recorder) --------------------------------------------------------


def identify(page: Page, families: dict[str, list[SelectorSet]]) -> list[tuple[SelectorSet, str]]:
    """Every (set, screen) whose whole fingerprint is on the page now, most specific first per family."""
    from bots.recon import _recognised

    found: list[tuple[SelectorSet, str]] = []
    for sets in families.values():
        matches = [(s, name) for s in sets for name, spec in s.screens.items() if _recognised(page, spec)]
        matches.sort(key=lambda m: -len(m[0].screens[m[1]].fingerprint))
        found.extend(matches)
    return found


def _record_main(argv: list[str] | None = None) -> int:
    from bots.browser import client_run
    from bots.config import get_client, load_settings
    from bots.locators import load_family
    from bots.log import bind, configure_logging, new_run_id
    from bots.validation import validate_nit

    parser = argparse.ArgumentParser(
        prog="python -m bots.record", description="Graba las pantallas de un portal de la DIAN que recorre una persona."
    )
    parser.add_argument("--portal", choices=("catalogo", "muisca"), required=True)
    parser.add_argument(
        "--sitio", choices=("habilitacion", "produccion"), default="habilitacion", help="sitio del catálogo"
    )
    parser.add_argument("--cliente", metavar="NIT", help="cliente cuyos datos se reemplazan por los de ejemplo")
    parser.add_argument("--salida", type=Path, help="carpeta de salida (por defecto <salida>/grabaciones/<fecha>)")
    parser.add_argument("--sin-ventana", action="store_true", help="sin ventana (pruebas: graba solo la entrada)")
    args = parser.parse_args(argv)
    settings = load_settings().model_copy(update={"headless": bool(args.sin_ventana)})
    configure_logging(settings)
    bind(run_id=new_run_id())
    scrubber = Scrubber()
    nit = "grabacion"
    if args.cliente:
        client = get_client(validate_nit(args.cliente), settings)
        scrubber.add_client(client)
        nit = client.nit
    salida = args.salida or settings.output_dir / "grabaciones" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    recorder = Recorder(salida, scrubber, settings, herramienta="python -m bots.record")
    families = {f: load_family(f, settings.selectors_dir) for f in ("catalogo", "habilitacion", "muisca")}
    portal: Literal["habilitacion", "produccion", "muisca"] = "muisca" if args.portal == "muisca" else args.sitio
    start = settings.portal_url(portal) + ("/WebArquitectura/DefLogin.faces" if portal == "muisca" else "/User/Login")
    done = threading.Event()

    def wait_enter() -> None:
        try:
            sys.stdin.readline()
        finally:
            done.set()

    def save(page: Page) -> None:
        """Identify the loaded page by every family's fingerprints and save it (unknown: as such)."""
        from bots.recon import AUSENTE, inspeccionar

        matches = identify(page, families)
        checks = {}
        for selector_set, screen in matches:
            report = inspeccionar(page, [selector_set], screen, portal=portal, recordings_dir=recorder.recordings_dir,
                                  timeout_s=1.0)  # fmt: skip
            checks[f"{selector_set.family}/{selector_set.version}/{screen}"] = [v.name for v in report.con(AUSENTE)]
        first_set, first_screen = matches[0] if matches else (None, None)
        recorder.capture(page, portal=portal, selector_set=first_set, screen=first_screen, checks=checks or None)

    threading.Thread(target=wait_enter, daemon=True).start()
    print(f"Grabando {start}. Recorra el portal; pulse Enter aquí para terminar y guardar.", file=sys.stderr)
    clean = False
    try:
        with client_run(nit, settings=settings, context_options=recorder.context_options()) as run:
            recorder.bind_context(run.context)
            loaded: list[Page] = []

            def on_load(page: Page) -> None:  # only note it: pages are saved in the loop below
                loaded.append(page)

            run.context.on("page", lambda new: new.on("load", on_load))
            run.page.on("load", on_load)
            run.page.goto(start)
            while True:
                while loaded:
                    page = loaded.pop(0)
                    if not page.is_closed():
                        save(page)
                open_pages = [p for p in run.context.pages if not p.is_closed()]
                if done.is_set() or not open_pages:
                    break
                # Wait for the next page load (bounded, so that Enter is noticed).
                with contextlib.suppress(PlaywrightTimeoutError, PlaywrightError):
                    open_pages[-1].wait_for_event("load", timeout=1000)
        clean = True
    except KeyboardInterrupt:
        print("Interrumpido: la grabación no se guarda.", file=sys.stderr)
    finally:
        if not clean:
            recorder.abort()
    if not clean:
        return 1
    folder = recorder.finish()
    print(f"Grabación guardada en {folder} ({len(recorder.capturas)} pantallas). Verifíquela con:\n"
          f"  python -m bots.locators check --recordings {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(_record_main())
