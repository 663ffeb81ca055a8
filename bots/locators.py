"""Versioned selector sets (data files) and the choice of the live version.

Files: ``selectors/<family>/<version>.toml`` (``selectors/`` is data only: never add an
``__init__.py``, a package named ``selectors`` would shadow the standard library)::

    [meta]
    portal = "catalogo"
    version = "2026"

    [screens.login_empresa]
    fingerprint = ["#legalRepresentative", ".cf-turnstile"]   # all present ⇒ this version
    recordings = ["2026/s-02-login-empresa.html"]              # relative to recordings/<family>/ (check only)
    runtime_only = ["modal_error"]                             # appear after an action: not checked

    [screens.login_empresa.locators]
    entrar = "#form0 button.btn-primary"
    modal_error = "#errorModal"

At run time ``Locators("catalogo").screen(page, "login_empresa")`` waits until the fingerprint of
one known version is on the page and returns its ``ScreenLocators``; if none matches before the
timeout it saves the page (HTML + masked screenshot) and raises ``PortalChanged``: the robot never
clicks on a page it does not recognise. Flows and page objects use logical names
(``login_empresa.entrar``), never raw CSS.

``python -m bots.locators check`` validates every set and checks each screen's selectors against
its recordings (lxml + cssselect; Playwright-only selectors are approximated or skipped).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from bots import artifacts
from bots.errors import PortalChanged, RobotError
from bots.log import get_logger, redact_text

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from bots.config import Settings

log = get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


# --- the data model --------------------------------------------------------------------------------


class ScreenSpec(BaseModel):
    """One screen of one portal version: fingerprint, logical locators, recordings to check against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fingerprint: tuple[str, ...] = Field(min_length=1)
    locators: dict[str, str] = Field(default_factory=dict)
    recordings: tuple[str, ...] = ()
    runtime_only: tuple[str, ...] = ()

    @field_validator("fingerprint")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s.strip() for s in value):
            raise ValueError("la huella (fingerprint) tiene un selector vacío")
        return tuple(s.strip() for s in value)

    @field_validator("locators")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, selector in value.items():
            if not _NAME.match(name):
                raise ValueError(f"nombre lógico inválido {name!r}: use minúsculas, dígitos y _")
            if not selector.strip():
                raise ValueError(f"el localizador {name!r} está vacío")
        return {k: v.strip() for k, v in value.items()}

    @model_validator(mode="after")
    def _runtime_only_known(self) -> ScreenSpec:
        unknown = sorted(set(self.runtime_only) - set(self.locators))
        if unknown:
            raise ValueError(f"runtime_only nombra localizadores que no existen: {', '.join(unknown)}")
        return self


class SetMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    portal: str
    version: str
    notes: str | None = None


class SelectorSet(BaseModel):
    """A whole ``selectors/<family>/<version>.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meta: SetMeta
    screens: dict[str, ScreenSpec] = Field(min_length=1)
    _path: Path | None = PrivateAttr(default=None)

    @field_validator("screens")
    @classmethod
    def _screen_names(cls, value: dict[str, ScreenSpec]) -> dict[str, ScreenSpec]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"nombre de pantalla inválido {name!r}: use minúsculas, dígitos y _")
        return value

    @property
    def family(self) -> str:
        return self.meta.portal

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def label(self) -> str:
        return f"{self.family}/{self.version}"


class SelectorSetError(RobotError):
    """A selector file is missing or invalid (a defect of the robot: exit 1)."""


def load_set(path: Path) -> SelectorSet:
    """Load and validate one selector file; its ``[meta]`` must match ``<family>/<version>.toml``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SelectorSetError(f"No se pudo leer el archivo de selectores {path}: {exc}") from None
    try:
        selector_set = SelectorSet.model_validate(data)
    except ValidationError as exc:
        from bots.config import spanish_errors

        raise SelectorSetError(
            f"Archivo de selectores {path} inválido:\n  " + "\n  ".join(spanish_errors(exc))
        ) from None
    if selector_set.meta.portal != path.parent.name or selector_set.meta.version != path.stem:
        raise SelectorSetError(
            f"{path}: [meta] dice {selector_set.label!r} pero el archivo debe llamarse "
            f"{selector_set.meta.portal}/{selector_set.meta.version}.toml"
        )
    selector_set._path = path
    return selector_set


def load_family(family: str, root: Path) -> list[SelectorSet]:
    """All versions of a family, newest name first."""
    folder = root / family
    files = sorted(folder.glob("*.toml"), key=lambda p: p.stem, reverse=True) if folder.is_dir() else []
    if not files:
        raise SelectorSetError(f"No hay conjuntos de selectores para «{family}» en {folder}.")
    return [load_set(p) for p in files]


# --- run time --------------------------------------------------------------------------------------


class ScreenLocators:
    """The locators of the recognised screen and version. ``get("entrar")`` → Playwright ``Locator``."""

    def __init__(
        self, page: Page, selector_set: SelectorSet, screen: str, *, artifacts_dir: Path | None = None
    ) -> None:
        self.page = page
        self._artifacts_dir = artifacts_dir
        self.family = selector_set.family
        self.version = selector_set.version
        self.screen = screen
        self._spec = selector_set.screens[screen]
        self._source = selector_set.path

    @property
    def names(self) -> tuple[str, ...]:
        """Logical names defined for this screen."""
        return tuple(self._spec.locators)

    def qualified(self, name: str) -> str:
        """``login_empresa.entrar``: the name used in logs and errors."""
        return f"{self.screen}.{name}"

    def has(self, name: str) -> bool:
        return name in self._spec.locators

    def selector(self, name: str) -> str:
        """The raw selector (for debugging; flows use ``get``)."""
        try:
            return self._spec.locators[name]
        except KeyError:
            where = self._source or f"{self.family}/{self.version}"
            raise SelectorSetError(
                f"El localizador «{self.qualified(name)}» no existe en {where}", selector=self.qualified(name)
            ) from None

    def get(self, name: str) -> Locator:
        """The Playwright ``Locator`` for a logical name of this screen."""
        return self.page.locator(self.selector(name))

    def require(self, name: str, *, state: str = "visible", timeout_s: float | None = None) -> Locator:
        """Wait for the element to reach ``state``; if it does not, save the page and raise
        ``PortalChanged`` naming the logical selector."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        locator = self.get(name)
        options: dict[str, Any] = {"state": state}
        if timeout_s is not None:
            options["timeout"] = timeout_s * 1000
        try:
            locator.first.wait_for(**options)
        except PlaywrightTimeoutError:
            html, png = _save_unknown_page(self.page, f"{self.screen}-{name}", self._artifacts_dir)
            raise PortalChanged(
                f"No apareció «{self.qualified(name)}» en la pantalla {self.screen} "
                f"({self.family}/{self.version}); no se hizo clic en nada",
                selector=self.qualified(name),
                page_path=html,
                screenshot_path=png,
            ) from None
        return locator

    def __repr__(self) -> str:
        return f"<ScreenLocators {self.family}/{self.version} {self.screen}>"


def _save_unknown_page(page: Page, label: str, base: Path | None = None) -> tuple[Path | None, Path | None]:
    """Save the page under the active client run's artifacts (else under ``base``)."""
    directory = artifacts.step_dir(base=None if artifacts.current_scope() else base)
    return artifacts.save_page(page, directory, f"portal-cambio-{artifacts.safe_name(label)}")


class Locators:
    """The selector sets of one portal family (``catalogo``, ``muisca``)."""

    def __init__(self, family: str, *, root: Path | None = None, settings: Settings | None = None) -> None:
        if root is None:
            if settings is None:
                from bots.config import load_settings

                settings = load_settings()
            root = settings.selectors_dir
        self.family = family
        self.root = root
        self.sets = load_family(family, root)
        self._timeout_s = settings.page_timeout_s if settings else 30.0
        self._artifacts_dir = settings.artifacts_dir if settings else None

    @property
    def versions(self) -> list[str]:
        return [s.version for s in self.sets]

    def _fingerprint(self, page: Page, spec: ScreenSpec) -> Locator:
        locator = page.locator("html")
        for selector in spec.fingerprint:
            locator = locator.filter(has=page.locator(selector))
        return locator

    def screen(self, page: Page, *screens: str, timeout_s: float | None = None) -> ScreenLocators:
        """Wait until the page shows one of ``screens`` in a known version and return its locators.

        With several screen names (e.g. the success and the error screen after a submit) the first
        one, in the order given, whose fingerprint is present wins. Between versions of the same
        screen the one with more fingerprint selectors wins, then the newest. No match before the
        timeout → page saved, ``PortalChanged``.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        if not screens:
            raise ValueError("screen() needs at least one screen name")
        candidates = [(name, s) for name in screens for s in self.sets if name in s.screens]
        missing = [name for name in screens if not any(n == name for n, _ in candidates)]
        if missing:
            raise SelectorSetError(
                f"Ningún conjunto de selectores de «{self.family}» define la pantalla {', '.join(missing)}"
            )
        fingerprints = [self._fingerprint(page, s.screens[name]) for name, s in candidates]
        combined = reduce(lambda a, b: a.or_(b), fingerprints)
        timeout = (timeout_s if timeout_s is not None else self._timeout_s) * 1000
        matches: list[tuple[str, SelectorSet]] = []
        try:
            combined.first.wait_for(state="attached", timeout=timeout)
            matches = [c for c, fp in zip(candidates, fingerprints, strict=True) if fp.count() > 0]
        except PlaywrightTimeoutError:
            pass
        if not matches:
            wanted = "/".join(screens)
            html, png = _save_unknown_page(page, wanted, self._artifacts_dir)
            log.error("pantalla desconocida", screen=wanted, family=self.family, url=redact_text(page.url))
            raise PortalChanged(
                f"La página no coincide con ninguna versión conocida de la pantalla «{wanted}» "
                f"({self.family}: {', '.join(self.versions)}); no se hizo clic en nada",
                selector=screens[0],
                page_path=html,
                screenshot_path=png,
            )
        order = {name: i for i, name in enumerate(screens)}
        name, chosen = min(
            matches,
            key=lambda c: (order[c[0]], -len(c[1].screens[c[0]].fingerprint), self.sets.index(c[1])),
        )
        log.info("pantalla reconocida", screen=name, version=chosen.label)
        return ScreenLocators(page, chosen, name, artifacts_dir=self._artifacts_dir)


# --- static check against recordings ------------------------------------------------------------


class Unsupported(Exception):
    """The selector cannot be evaluated outside a browser."""


_PSEUDO_TEXT = re.compile(
    r""":(has-text|text|text-is|text-matches)\((?P<q>["'])(?P<v>.*?)(?P=q)(?:\s*,\s*["'](?P<f>\w*)["'])?\)"""
)
_PSEUDO_IGNORED = re.compile(r":visible\b")
_PSEUDO_UNSUPPORTED = re.compile(r":(nth-match|right-of|left-of|above|below|near|scope)\b")

_ROLE_TAGS: dict[str, str] = {
    "button": "button, input[type=button], input[type=submit], input[type=reset], input[type=image], [role=button]",
    "link": "a[href], [role=link]",
    "textbox": "input:not([type]), input[type=text], input[type=email], input[type=tel], input[type=url], "
    "input[type=search], input[type=number], textarea, [role=textbox]",
    "checkbox": "input[type=checkbox], [role=checkbox]",
    "radio": "input[type=radio], [role=radio]",
    "combobox": "select, [role=combobox]",
    "listbox": "select[multiple], [role=listbox]",
    "option": "option, [role=option]",
    "heading": "h1, h2, h3, h4, h5, h6, [role=heading]",
    "dialog": "dialog, [role=dialog]",
    "table": "table, [role=table]",
    "row": "tr, [role=row]",
    "cell": "td, [role=cell]",
    "tab": "[role=tab]",
}


def _split_chain(selector: str) -> list[str]:
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(selector):
        ch = selector[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and selector.startswith(">>", i):
            parts.append(selector[start:i].strip())
            start = i + 2
            i += 1
        i += 1
    parts.append(selector[start:].strip())
    return [p for p in parts if p]


def _norm(text: str) -> str:
    return " ".join(text.split())


def _text_matcher(raw: str, *, exact_default: bool = False) -> Callable[[str], bool]:
    """Playwright text semantics, approximated: "quoted" = exact (whitespace-normalised),
    /re/flags = regex, bare = case-insensitive substring."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        wanted = _norm(raw[1:-1])
        return lambda text: _norm(text) == wanted
    regex = re.fullmatch(r"/(.*)/([a-z]*)", raw, re.S)
    if regex:
        flags = re.I if "i" in regex.group(2) else 0
        pattern = re.compile(regex.group(1), flags)
        return lambda text: bool(pattern.search(_norm(text)))
    wanted = _norm(raw)
    if exact_default:
        return lambda text: _norm(text) == wanted
    return lambda text: wanted.lower() in _norm(text).lower()


_NOT_RENDERED = {"head", "title", "script", "style", "noscript", "template", "meta", "link"}


def _rendered(el: Any) -> bool:
    """Elements whose text a user can see (Playwright's text engine skips <head>, scripts, styles)."""
    if not isinstance(el.tag, str) or el.tag in _NOT_RENDERED:
        return False
    return not any(a.tag in _NOT_RENDERED for a in el.iterancestors())


def _accessible_name(el: Any) -> str:
    parts = [el.get("aria-label") or "", el.get("title") or "", el.get("alt") or "", el.get("placeholder") or ""]
    if el.tag == "input" and el.get("type") in ("button", "submit", "reset"):
        parts.append(el.get("value") or "")
    element_id = el.get("id")
    if element_id:
        for label in el.getroottree().iter("label"):
            if label.get("for") == element_id:
                parts.append(label.text_content())
    parts.append(el.text_content() or "")
    return " ".join(parts)


@dataclass
class _Doc:
    root: Any
    css: Callable[[str], Any] = field(repr=False)


def _css_nodes(doc: _Doc, nodes: list[Any], css: str) -> list[Any]:
    from cssselect import SelectorError
    from lxml.etree import XPathError

    if _PSEUDO_UNSUPPORTED.search(css):
        raise Unsupported(css)
    filters: list[tuple[str, Callable[[str], bool]]] = []

    def take(match: re.Match[str]) -> str:
        kind, value = match.group(1), match.group("v")
        quoted = f'"{value}"' if kind == "text-is" else value
        if kind == "text-matches":
            quoted = f"/{value}/{'i' if 'i' in (match.group('f') or '') else ''}"
        filters.append((kind, _text_matcher(quoted)))
        return ""

    css = _PSEUDO_IGNORED.sub("", _PSEUDO_TEXT.sub(take, css)).strip()
    if not css or css[-1] in ">+~ ,(":
        css = (css + " *").strip() if css else "*"
    try:
        xpath = doc.css(css)
    except (SelectorError, ValueError) as exc:
        raise Unsupported(css) from exc
    found: list[Any] = []
    for node in nodes:
        try:
            found += node.xpath(xpath)
        except XPathError as exc:
            raise Unsupported(css) from exc
    for _kind, matcher in filters:
        found = [el for el in found if matcher(el.text_content() or "")]
    return found


def static_matches(root: Any, selector: str) -> int:
    """How many elements of an lxml document ``selector`` matches; ``Unsupported`` if it cannot tell.

    Supports CSS (cssselect, including ``:has()``), ``xpath=``/``//``, ``text=``/quoted text,
    ``id=``, ``data-testid=``, ``role=x[name=...]`` (approximate), ``:has-text()``/``:text()``/
    ``:text-is()``/``:text-matches()`` (approximate), ``:visible`` (ignored), ``>>`` chains and ``nth=``.
    """
    from cssselect import HTMLTranslator

    translator = HTMLTranslator()
    doc = _Doc(root, lambda css: translator.css_to_xpath(css, prefix="descendant-or-self::"))
    nodes: list[Any] = [root]
    for index, part in enumerate(_split_chain(selector)):
        if index:  # inside previous matches: descendants only
            doc = _Doc(root, lambda css: translator.css_to_xpath(css, prefix="descendant::"))
        engine, _, body = part.partition("=")
        engine = engine.strip().lower()
        if part.startswith(("//", "..", "(//")) or engine == "xpath":
            expression = body if engine == "xpath" else part
            nodes = [n for node in nodes for n in node.xpath(expression) if hasattr(n, "tag")]
        elif part[0] in "\"'" or engine == "text":
            matcher = _text_matcher(body if engine == "text" else part)
            candidates = [el for node in nodes for el in node.iter() if _rendered(el)]
            hits = [el for el in candidates if matcher(el.text_content() or "")]
            # Playwright returns the smallest elements containing the text.
            hit_set = set(hits)
            nodes = [el for el in hits if not any(child in hit_set for child in el.iterchildren())]
        elif engine == "id":
            nodes = _css_nodes(doc, nodes, f'[id="{body.strip()}"]')
        elif engine in ("data-testid", "data-test-id", "data-test"):
            nodes = _css_nodes(doc, nodes, f'[{engine}="{body.strip().strip(chr(34))}"]')
        elif engine == "nth":
            position = int(body)
            nodes = [nodes[position]] if -len(nodes) <= position < len(nodes) else []
        elif engine == "visible":
            continue
        elif engine == "role":
            match = re.fullmatch(r"\s*([a-z]+)\s*(?:\[\s*name\s*=\s*(.+?)\s*\])?\s*", body)
            if not match or match.group(1) not in _ROLE_TAGS:
                raise Unsupported(part)
            found = _css_nodes(doc, nodes, _ROLE_TAGS[match.group(1)])
            if match.group(2):
                raw = match.group(2)
                raw = raw[:-1] if raw.endswith(("s", "i")) and raw[-2:-1] in "\"'" else raw
                matcher = _text_matcher(raw if raw[0] == "/" else raw.strip("\"'"))
                found = [el for el in found if matcher(_accessible_name(el))]
            nodes = found
        elif engine == "css" or not _looks_like_engine(engine, part):
            nodes = _css_nodes(doc, nodes, body if engine == "css" else part)
        else:
            raise Unsupported(part)
    return len(nodes)


def _looks_like_engine(engine: str, part: str) -> bool:
    """``role=button`` is an engine prefix; ``input[name=x]`` is CSS with an ``=`` inside."""
    return "=" in part and bool(re.fullmatch(r"[a-z][a-z0-9_-]*", engine))


@dataclass
class CheckReport:
    """Result of ``check``: Spanish lines, failures, warnings and skipped selectors."""

    lines: list[str] = field(default_factory=list)
    failures: int = 0
    warnings: int = 0
    skipped: int = 0
    screens_checked: int = 0
    sets: int = 0

    def fail(self, text: str) -> None:
        self.failures += 1
        self.lines.append(f"  FALLA: {text}")

    def warn(self, text: str) -> None:
        self.warnings += 1
        self.lines.append(f"  aviso: {text}")

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def summary(self) -> str:
        verdict = "correcto" if self.ok else "CON FALLAS"
        return (
            f"Resultado {verdict}: {self.sets} conjuntos, {self.screens_checked} pantallas verificadas, "
            f"{self.failures} fallas, {self.warnings} avisos, {self.skipped} selectores omitidos "
            "(solo se pueden evaluar en el navegador)."
        )


def _count(root: Any, selector: str, report: CheckReport) -> int | None:
    try:
        return static_matches(root, selector)
    except Unsupported:
        report.skipped += 1
        return None
    except Exception as exc:  # lxml/cssselect edge cases: treat as "cannot evaluate"
        report.skipped += 1
        log.debug("selector no evaluable", selector=selector, error=type(exc).__name__)
        return None


def check(selectors_dir: Path, recordings_dir: Path, families: Sequence[str] = ()) -> CheckReport:
    """Validate every selector set and check it against its recordings (the contract check)."""
    import lxml.html

    report = CheckReport()
    if (selectors_dir / "__init__.py").exists() or any(selectors_dir.rglob("*.py")):
        report.fail(
            f"{selectors_dir} contiene archivos .py: es solo de datos (un paquete «selectors» rompe la "
            "biblioteca estándar)"
        )
    family_dirs = sorted(p for p in selectors_dir.iterdir() if p.is_dir()) if selectors_dir.is_dir() else []
    if families:
        family_dirs = [p for p in family_dirs if p.name in families]
    loaded: dict[str, list[SelectorSet]] = {}
    for folder in family_dirs:
        for path in sorted(folder.glob("*.toml")):
            try:
                loaded.setdefault(folder.name, []).append(load_set(path))
            except SelectorSetError as exc:
                report.lines.append(f"{path.relative_to(selectors_dir)}")
                report.fail(exc.message)
    report.sets = sum(len(v) for v in loaded.values())
    if not loaded and report.ok:
        report.lines.append(f"No hay conjuntos de selectores en {selectors_dir}: nada que verificar.")
        return report

    documents: dict[Path, Any] = {}

    def parse(path: Path) -> Any:
        if path not in documents:
            documents[path] = lxml.html.parse(str(path)).getroot()
        return documents[path]

    for family, sets in loaded.items():
        for selector_set in sets:
            report.lines.append(f"{selector_set.label} ({selector_set.path.name if selector_set.path else ''})")
            for screen, spec in selector_set.screens.items():
                if not spec.recordings:
                    report.warn(f"{screen}: sin grabaciones, no verificada")
                    continue
                roots = []
                for rec in spec.recordings:
                    # Lexical normalisation: "../catalogo/2026/x.html" works without recordings/<family>/.
                    path = Path(os.path.normpath(recordings_dir / family / rec))
                    if not path.is_file():
                        report.fail(f"{screen}: no existe la grabación {path}")
                        continue
                    roots.append((rec, parse(path)))
                if not roots:
                    continue
                report.screens_checked += 1
                problems_before = report.failures
                for rec, root in roots:
                    for selector in spec.fingerprint:
                        count = _count(root, selector, report)
                        if count == 0:
                            report.fail(f"{screen}: la huella {selector!r} no aparece en {rec}")
                for name, selector in spec.locators.items():
                    if name in spec.runtime_only:
                        continue
                    counts = [_count(root, selector, report) for _, root in roots]
                    known = [c for c in counts if c is not None]
                    if known and max(known) == 0:
                        report.fail(f"{screen}.{name}: {selector!r} no aparece en ninguna grabación")
                    elif known and min(c for c in known if c) > 1:
                        many = min(c for c in known if c)
                        report.warn(f"{screen}.{name}: coincide con {many} elementos (modo estricto de Playwright)")
                for other in sets:
                    if other is selector_set or screen not in other.screens:
                        continue
                    if all(
                        all(_count(root, s, report) for s in other.screens[screen].fingerprint) for _, root in roots
                    ):
                        report.fail(
                            f"{screen}: la huella de {other.label} también coincide con las grabaciones de "
                            f"{selector_set.label} (versiones ambiguas)"
                        )
                if report.failures == problems_before:
                    report.lines.append(
                        f"  ok: {screen} ({len(spec.fingerprint)} huella, {len(spec.locators)} localizadores, "
                        f"{len(roots)} grabaciones)"
                    )
    return report


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bots.locators", description="Conjuntos de selectores.")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("check", help="valida los conjuntos y los compara con las grabaciones")
    cmd.add_argument("--selectors", type=Path, default=REPO_ROOT / "selectors", help="carpeta de selectores")
    cmd.add_argument("--recordings", type=Path, default=REPO_ROOT / "recordings", help="carpeta de grabaciones")
    cmd.add_argument("--familia", action="append", default=[], help="solo esta familia (repetible)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    report = check(args.selectors, args.recordings, args.familia)
    print("\n".join([*report.lines, report.summary()]))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
