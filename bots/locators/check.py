"""The contract check: every selector set against its recordings, in real Chromium.

Each recording is loaded with ``page.set_content`` and every fingerprint element and locator is
counted by Playwright itself, the same engine the robot uses, so the check and the robot cannot
disagree about a selector. It accepts any folder laid out like recordings/ (``--recordings DIR``):
the paths in a screen's ``recordings`` are relative to ``<DIR>/<family>/``.

Verdicts per logical locator (``runtime_only`` ones appear after an action and are skipped):
- found by its first candidate in at least one recording: ok (several matches where the robot
  needs one: a warning, Playwright's strict mode would refuse it);
- found only by a fallback candidate: reported, a failure with ``strict``;
- found by no candidate in any recording: a failure naming the locator and the files.

A folder written by the recorder (bots/record.py, ``flows.reconocer``) says in its manifests which
selector screens each file shows: an entry's ``checks = ["<family>/<version>/<screen>", ...]`` (and
``absent``: the locators that file's state does not show). When the folder's manifests have such entries
the check runs exactly those screens on exactly those files (``manifest_checks``), whatever the sets'
own ``recordings`` say.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import sync_playwright

from bots.browser import SYSTEM_CHROMIUM
from bots.locators.model import LocatorSpec, SelectorSet, SelectorSetError, load_set

if TYPE_CHECKING:
    from playwright.sync_api import Page


@dataclass
class CheckReport:
    """Result of ``check``: Spanish lines and counts."""

    lines: list[str] = field(default_factory=list)
    failures: int = 0
    warnings: int = 0
    fallbacks: int = 0
    screens_checked: int = 0
    locators_checked: int = 0
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
            f"Resultado {verdict}: {self.sets} conjuntos, {self.screens_checked} pantallas, "
            f"{self.locators_checked} localizadores verificados en Chromium; {self.failures} fallas, "
            f"{self.fallbacks} hallados solo por alternativa, {self.warnings} avisos."
        )


class _Counter:
    """Counts candidates on recordings loaded in one Chromium page (each file loaded once per use)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self._loaded: Path | None = None

    def load(self, path: Path) -> None:
        if self._loaded != path:
            self.page.set_content(path.read_text(encoding="utf-8"), wait_until="load")
            self._loaded = path

    def count(self, path: Path, selector: str) -> int:
        self.load(path)
        try:
            return self.page.locator(selector).count()
        except Exception as exc:  # an invalid selector is a defect of the set: report it as such
            raise SelectorSetError(f"selector inválido {selector!r}: {str(exc).splitlines()[0]}") from None

    def counts(self, path: Path, spec: LocatorSpec) -> list[int]:
        return [self.count(path, c) for c in spec.candidates]


@contextmanager
def _chromium_page() -> Iterator[Page]:
    with sync_playwright() as p:
        bundled = p.chromium.executable_path
        executable = None if bundled and os.path.exists(bundled) else str(SYSTEM_CHROMIUM)
        browser = p.chromium.launch(executable_path=executable, headless=True, args=["--disable-gpu"])
        try:
            context = browser.new_context(java_script_enabled=True, offline=True)
            yield context.new_page()
        finally:
            browser.close()


def _load_sets(selectors_dir: Path, families: Sequence[str], report: CheckReport) -> dict[str, list[SelectorSet]]:
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
                report.lines.append(str(path.relative_to(selectors_dir)))
                report.fail(exc.message)
    report.sets = sum(len(v) for v in loaded.values())
    return loaded


#: (family, version, screen) → [(file as named in the manifest, its path, locators absent in its state)]
ManifestChecks = dict[tuple[str, str, str], list[tuple[str, Path, tuple[str, ...]]]]


def manifest_checks(recordings_dir: Path) -> ManifestChecks:
    """The ``checks`` entries of a recorded folder's manifests (empty for recordings/ itself)."""
    found: ManifestChecks = {}
    top = recordings_dir / "manifest.toml"
    if not top.is_file():
        return found
    for rel in tomllib.loads(top.read_text(encoding="utf-8")).get("manifests", []):
        manifest = recordings_dir / rel
        if not manifest.is_file():
            continue
        for entry in tomllib.loads(manifest.read_text(encoding="utf-8")).get("screen", []):
            for label in entry.get("checks", []):
                family, version, screen = str(label).split("/", 2)
                absent = tuple(entry.get("absent", {}).get(label, ()))
                path = manifest.parent / entry["file"]
                named = f"{Path(rel).parent}/{entry['file']}"
                found.setdefault((family, version, screen), []).append((named, path, absent))
    return found


def unknown_screens(recordings_dir: Path) -> list[str]:
    """Files a recording saved as "desconocida" (no fingerprint matched): for a developer to name."""
    found = []
    top = tomllib.loads((recordings_dir / "manifest.toml").read_text(encoding="utf-8"))
    for rel in top.get("manifests", []):
        manifest = recordings_dir / rel
        if manifest.is_file():
            for entry in tomllib.loads(manifest.read_text(encoding="utf-8")).get("screen", []):
                if entry.get("screen") == "desconocida":
                    found.append(f"{Path(rel).parent}/{entry['file']}")
    return found


def check(
    selectors_dir: Path,
    recordings_dir: Path,
    families: Sequence[str] = (),
    *,
    strict: bool = False,
    page: Page | None = None,
) -> CheckReport:
    """Validate every selector set and check it against its recordings in Chromium."""
    report = CheckReport()
    loaded = _load_sets(selectors_dir, families, report)
    if not loaded:
        if report.ok:
            report.lines.append(f"No hay conjuntos de selectores en {selectors_dir}: nada que verificar.")
        return report
    by_manifest = manifest_checks(recordings_dir) or None
    if by_manifest:
        report.lines.append(f"Grabación con manifiesto ({recordings_dir}): se verifican las pantallas que nombra.")
        for unknown in unknown_screens(recordings_dir):
            report.warn(f"pantalla desconocida grabada en {unknown}: ningún conjunto la reconoce (nómbrela)")
    if page is None:
        with _chromium_page() as own:
            _check_all(loaded, recordings_dir, _Counter(own), report, strict, by_manifest)
    else:
        _check_all(loaded, recordings_dir, _Counter(page), report, strict, by_manifest)
    return report


def _check_all(
    loaded: dict[str, list[SelectorSet]],
    recordings_dir: Path,
    counter: _Counter,
    report: CheckReport,
    strict: bool,
    by_manifest: ManifestChecks | None = None,
) -> None:
    for family, sets in loaded.items():
        for selector_set in sets:
            screens = list(selector_set.screens)
            if by_manifest is not None:
                screens = [s for s in screens if (family, selector_set.version, s) in by_manifest]
                if not screens:
                    continue
            report.lines.append(f"{selector_set.label} ({selector_set.path.name if selector_set.path else ''})")
            for screen in screens:
                override = by_manifest.get((family, selector_set.version, screen)) if by_manifest else None
                try:
                    _check_screen(family, selector_set, sets, screen, recordings_dir, counter, report, strict, override)
                except SelectorSetError as exc:
                    report.fail(f"{screen}: {exc.message}")


def _check_screen(
    family: str,
    selector_set: SelectorSet,
    sets: list[SelectorSet],
    screen: str,
    recordings_dir: Path,
    counter: _Counter,
    report: CheckReport,
    strict: bool,
    override: list[tuple[str, Path, tuple[str, ...]]] | None = None,
) -> None:
    spec = selector_set.screens[screen]
    files: list[tuple[str, Path]] = []
    absent: set[str] = set()
    if override is not None:
        # A recorded folder: its manifest names the files; a locator absent in every file's state is skipped.
        absent = set.intersection(*(set(a) for _, _, a in override)) if override else set()
        for rec, path, _ in override:
            if path.is_file():
                files.append((rec, path))
            else:
                report.fail(f"{screen}: no existe la grabación {path}")
    elif not spec.recordings:
        report.warn(f"{screen}: sin grabaciones, no verificada")
        return
    for rec in spec.recordings if override is None else ():
        # Lexical normalisation: "../catalogo/2026/x.html" works without recordings/<family>/.
        path = Path(os.path.normpath(recordings_dir / family / rec))
        if path.is_file():
            files.append((rec, path))
        else:
            report.fail(f"{screen}: no existe la grabación {path}")
    if not files:
        return
    report.screens_checked += 1
    before = report.failures
    for rec, path in files:
        for element in spec.fingerprint:
            if not any(counter.counts(path, element)):
                report.fail(f"{screen}: la huella {element.primary!r} no aparece en {rec}")
    for name, locator in spec.locators.items():
        if name in spec.runtime_only or name in absent:
            continue
        report.locators_checked += 1
        per_file = {rec: counter.counts(path, locator) for rec, path in files}
        primary = [counts[0] for counts in per_file.values()]
        if any(primary):
            many = min(c for c in primary if c)
            if many > 1 and not locator.many:
                report.warn(f"{screen}.{name}: {locator.primary!r} coincide con {many} elementos")
            continue
        hits = [
            (rec, index)
            for rec, counts in per_file.items()
            for index, count in enumerate(counts)
            if index and count
        ]
        if hits:
            report.fallbacks += 1
            rec, index = hits[0]
            text = (
                f"{screen}.{name}: el primer candidato no aparece; se halla solo por el candidato {index} "
                f"{locator.candidates[index]!r} (en {rec})"
            )
            report.fail(text) if strict else report.warn(text)
        else:
            names = ", ".join(per_file)
            report.fail(f"{screen}.{name}: ningún candidato aparece en {names}")
    for other in sets:
        if other is selector_set or screen not in other.screens:
            continue
        theirs = other.screens[screen].fingerprint
        if all(all(any(counter.counts(path, e)) for e in theirs) for _, path in files):
            report.fail(
                f"{screen}: la huella de {other.label} también coincide con las grabaciones de "
                f"{selector_set.label} (versiones ambiguas)"
            )
    if report.failures == before:
        report.lines.append(
            f"  ok: {screen} ({len(spec.fingerprint)} huella, {len(spec.locators)} localizadores, "
            f"{len(files)} grabaciones)"
        )


def recognised_screens(page: Page, selector_set: SelectorSet, path: Path) -> set[str]:
    """The screens of ``selector_set`` whose whole fingerprint is on the recording ``path`` (in Chromium)."""
    counter = _Counter(page)
    return {
        name
        for name, spec in selector_set.screens.items()
        if all(any(counter.counts(path, element)) for element in spec.fingerprint)
    }
