"""Reconnaissance: what may be clicked (data), and every locator of a screen run on the live page.

- ``Permitidos``: the allow-list ``bots/recon_permitidos.toml`` of the controls the reconnaissance may
  click (qualified logical names); ``exigir`` refuses any other before a click.
- ``inspeccionar(page, sets, screen)``: recognise the screen's version by its fingerprints and run every
  locator of the matching set on the page, all candidates: found by the first, found only by a
  fallback, or missing. A locator that the recordings of that screen show in every recorded state is
  *required*; one absent from some recorded state (a "Registrar" shown only while pending, an error
  notice) is only reported as absent, never as a break.
- ``tabla``: the Spanish table the operator reads.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.errors import RobotError
from bots.locators.model import LocatorSpec, ScreenSpec, SelectorSet

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

PERMITIDOS_PATH = Path(__file__).with_name("recon_permitidos.toml")
#: Words that mark a control as one that changes DIAN's state (the allow-list review uses them).
PALABRAS_PROHIBIDAS = (
    "registrar", "asociar", "aceptar", "agregar", "firmar", "definitivo", "borrador", "anular",
    "inhabilitar", "sincronizar", "eliminar", "guardar", "enviar",
)  # fmt: skip


class ClicNoPermitido(RobotError):
    """The reconnaissance reached for a control not on its allow-list (a robot defect: exit 1)."""


@dataclass(frozen=True)
class Permitidos:
    """The controls the reconnaissance may click: ``{"muisca.tablero.numeracion", ...}``."""

    ingreso: frozenset[str]
    recorrido: frozenset[str]

    @classmethod
    def load(cls, path: Path = PERMITIDOS_PATH) -> Permitidos:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(
            frozenset(data.get("ingreso", {}).get("permitidos", [])),
            frozenset(data.get("recorrido", {}).get("permitidos", [])),
        )

    @property
    def todos(self) -> frozenset[str]:
        return self.ingreso | self.recorrido

    def exigir(self, family: str, screen: str, name: str) -> None:
        """Refuse a click of the walk on anything but an allow-listed navigation control."""
        qualified = f"{family}.{screen}.{name}"
        if qualified not in self.recorrido:
            raise ClicNoPermitido(
                f"Defecto del robot: el reconocimiento no puede hacer clic en «{qualified}» (no está en "
                f"{PERMITIDOS_PATH.name}); no se hizo clic",
                selector=qualified,
            )


# --- inspection ------------------------------------------------------------------------------------

OK, ALTERNATIVA, FALTA, AUSENTE = "hallado", "solo alternativa", "falta", "ausente (según el estado)"


@dataclass(frozen=True)
class Veredicto:
    """One locator on the live page: its state and the candidate that matched (index)."""

    name: str
    estado: str
    candidato: int | None = None
    selector: str | None = None


@dataclass
class InformePantalla:
    """One walked screen: where, which version (None: not recognised), the verdict of every locator."""

    portal: str
    family: str
    screen: str
    ruta: str
    version: str | None
    veredictos: list[Veredicto] = field(default_factory=list)
    archivos: list[str] = field(default_factory=list)
    nota: str | None = None

    @property
    def nombre(self) -> str:
        return f"{self.family}.{self.screen}"

    def con(self, estado: str) -> list[Veredicto]:
        return [v for v in self.veredictos if v.estado == estado]

    @property
    def ok(self) -> bool:
        return self.version is not None and not self.con(FALTA)


def _count(page: Page, selector: str) -> int:
    try:
        return page.locator(selector).count()
    except PlaywrightError:
        return 0  # a candidate Playwright cannot parse finds nothing (the check reports it as invalid)


def _counts(page: Page, spec: LocatorSpec) -> list[int]:
    return [_count(page, c) for c in spec.candidates]


def _recognised(page: Page, spec: ScreenSpec) -> bool:
    return all(any(_counts(page, element)) for element in spec.fingerprint)


def reconocer_version(
    page: Page, sets: list[SelectorSet], screen: str, *, timeout_s: float = 10.0
) -> SelectorSet | None:
    """The set whose fingerprint of ``screen`` is on the page (more fingerprint elements, then newer,
    win), waiting up to ``timeout_s`` for one to show; None when none does."""
    defining = [s for s in sets if screen in s.screens]
    if not defining:
        return None
    combined = None
    for selector_set in defining:
        fp = page.locator("html")
        for element in selector_set.screens[screen].fingerprint:
            alternatives = None
            for candidate in element.candidates:
                one = page.locator(candidate)
                alternatives = one if alternatives is None else alternatives.or_(one)
            assert alternatives is not None
            fp = fp.filter(has=alternatives)
        combined = fp if combined is None else combined.or_(fp)
    assert combined is not None
    try:
        combined.first.wait_for(state="attached", timeout=timeout_s * 1000)
    except (PlaywrightTimeoutError, PlaywrightError):
        return None
    matches = [s for s in defining if _recognised(page, s.screens[screen])]
    if not matches:
        return None
    return min(matches, key=lambda s: (-len(s.screens[screen].fingerprint), defining.index(s)))


def recording_paths(selector_set: SelectorSet, screen: str, recordings_dir: Path) -> list[Path]:
    """The recordings of ``screen`` (paths in the set are relative to ``<recordings>/<family>/``)."""
    paths = []
    for rec in selector_set.screens[screen].recordings:
        path = Path(os.path.normpath(recordings_dir / selector_set.family / rec))
        if path.is_file():
            paths.append(path)
    return paths


def requeridos(
    context: BrowserContext, selector_set: SelectorSet, screen: str, recordings_dir: Path
) -> set[str]:
    """Locators present (any candidate) in EVERY recording of ``screen``: the page must show them whatever
    its state. Without recordings every locator counts as required."""
    spec = selector_set.screens[screen]
    names = [n for n in spec.locators if n not in spec.runtime_only]
    paths = recording_paths(selector_set, screen, recordings_dir)
    if not paths:
        return set(names)
    present = set(names)
    page = context.new_page()
    try:
        for path in paths:
            page.set_content(path.read_text(encoding="utf-8"), wait_until="load")
            present &= {n for n in names if any(_counts(page, spec.locators[n]))}
    finally:
        page.close()
    return present


def inspeccionar(
    page: Page,
    sets: list[SelectorSet],
    screen: str,
    *,
    portal: str,
    recordings_dir: Path,
    timeout_s: float = 10.0,
) -> InformePantalla:
    """Recognise ``screen`` on ``page`` and run every locator of its set (the newest defining it when
    the page is not recognised, to name what is missing)."""
    chosen = reconocer_version(page, sets, screen, timeout_s=timeout_s)
    reference = chosen or next(s for s in sets if screen in s.screens)
    spec = reference.screens[screen]
    required = requeridos(page.context, reference, screen, recordings_dir)
    report = InformePantalla(
        portal=portal,
        family=reference.family,
        screen=screen,
        ruta=urlsplit(page.url).path,
        version=chosen.version if chosen else None,
    )
    for name, locator in spec.locators.items():
        if name in spec.runtime_only:
            continue
        counts = _counts(page, locator)
        if counts[0]:
            report.veredictos.append(Veredicto(name, OK, 0, locator.candidates[0]))
            continue
        index = next((i for i, c in enumerate(counts) if c), None)
        if index is not None:
            report.veredictos.append(Veredicto(name, ALTERNATIVA, index, locator.candidates[index]))
        elif name in required or chosen is None:
            report.veredictos.append(Veredicto(name, FALTA))
        else:
            report.veredictos.append(Veredicto(name, AUSENTE))
    if chosen is None:
        report.nota = "la página no coincide con ninguna versión conocida de la pantalla"
    return report


def tabla(informes: list[InformePantalla]) -> list[str]:
    """The operator's table (Spanish), then one line per fallback-only and missing locator."""
    header = f"{'portal':<13} {'pantalla':<34} {'versión':<14} {'hallados':>8} {'alternativa':>11} {'faltan':>6}"
    lines = [header, "-" * len(header)]
    for r in informes:
        version = r.version or "NO RECONOCIDA"
        lines.append(
            f"{r.portal:<13} {r.nombre:<34} {version:<14} {len(r.con(OK)):>8} {len(r.con(ALTERNATIVA)):>11} "
            f"{len(r.con(FALTA)):>6}"
        )
    for r in informes:
        for v in r.con(ALTERNATIVA):
            lines.append(
                f"  alternativa: {r.nombre}.{v.name} hallado solo por el candidato {v.candidato} {v.selector!r}"
            )
        for v in r.con(FALTA):
            lines.append(f"  FALTA: {r.nombre}.{v.name} ({r.ruta})")
        if r.nota:
            lines.append(f"  {r.nombre}: {r.nota} ({r.ruta})")
    return lines
