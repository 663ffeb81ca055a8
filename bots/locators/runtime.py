"""Run time: recognise the screen and version on the live page, then resolve logical controls.

``Locators("catalogo").screen(page, "login_empresa")`` waits until the fingerprint of one known
version is on the page and returns its ``ScreenLocators``; if none matches before the timeout it
saves the page (HTML + masked screenshot) and raises ``PortalChanged``: the robot never clicks on a
page it does not recognise.

``ScreenLocators.get("entrar")`` resolves the control's candidates in order: the first that matches
exactly one element wins (``many``: at least one). A hit on a fallback candidate is logged as a
warning naming the control and the candidate, so drift is seen even when the run succeeds.

A locator flagged ``irreversible`` resolves only inside ``irreversible_scope`` (opened by
``bots.steps.irreversible``, the one irreversible-action function); anywhere else it raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots import artifacts
from bots.errors import PortalChanged, RobotError
from bots.locators.model import LocatorSpec, ScreenSpec, SelectorSet, SelectorSetError, load_family
from bots.log import get_logger, redact_text

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from bots.config import Settings

log = get_logger(__name__)

_ACTIVE_STEP: ContextVar[str | None] = ContextVar("irreversible_step", default=None)


class IrreversibleOutsideStep(RobotError):
    """A page object reached an irreversible control outside ``bots.steps.irreversible`` (a defect)."""


@contextmanager
def irreversible_scope(step: str) -> Iterator[None]:
    """Allow irreversible controls to resolve while ``step`` runs (used by ``bots.steps`` only)."""
    token = _ACTIVE_STEP.set(step)
    try:
        yield
    finally:
        _ACTIVE_STEP.reset(token)


def active_irreversible_step() -> str | None:
    return _ACTIVE_STEP.get()


@dataclass(frozen=True)
class FallbackHit:
    """A control found by a candidate other than its first (drift worth a look)."""

    control: str
    index: int
    selector: str


_FALLBACK_HITS: list[FallbackHit] = []


def fallback_hits() -> list[FallbackHit]:
    """Every fallback hit of this process, oldest first (reconnaissance and tests read them)."""
    return list(_FALLBACK_HITS)


def resolve(root: Any, spec: LocatorSpec, qualified: str) -> Locator:
    """The first candidate matching exactly one element (``many``: at least one) under ``root``.

    None matching yet → the first candidate (absent or ambiguous), so waits and errors name it.
    """
    if len(spec.candidates) == 1:
        return root.locator(spec.primary)
    for index, candidate in enumerate(spec.candidates):
        locator = root.locator(candidate)
        count = locator.count()
        if count == 1 or (spec.many and count >= 1):
            if index:
                hit = FallbackHit(qualified, index, candidate)
                if hit not in _FALLBACK_HITS:
                    _FALLBACK_HITS.append(hit)
                log.warning(
                    "control hallado por un candidato alternativo",
                    control=qualified,
                    candidato=index,
                    selector=candidate,
                )
            return locator
    return root.locator(spec.primary)


def any_candidate(root: Any, spec: LocatorSpec) -> Locator:
    """A locator matching any candidate (to wait for the control whichever way it shows up)."""
    return reduce(lambda a, b: a.or_(b), (root.locator(c) for c in spec.candidates))


def _save_unknown_page(page: Page, label: str, base: Path | None = None) -> tuple[Path | None, Path | None]:
    """Save the page under the active client run's artifacts (else under ``base``)."""
    directory = artifacts.step_dir(base=None if artifacts.current_scope() else base)
    return artifacts.save_page(page, directory, f"portal-cambio-{artifacts.safe_name(label)}")


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

    def spec(self, name: str) -> LocatorSpec:
        try:
            return self._spec.locators[name]
        except KeyError:
            where = self._source or f"{self.family}/{self.version}"
            raise SelectorSetError(
                f"El localizador «{self.qualified(name)}» no existe en {where}", selector=self.qualified(name)
            ) from None

    def selector(self, name: str) -> str:
        """The first candidate's raw selector (for debugging; page objects use ``get``/``within``)."""
        return self.spec(name).primary

    def _checked(self, name: str) -> LocatorSpec:
        spec = self.spec(name)
        if spec.irreversible and _ACTIVE_STEP.get() is None:
            raise IrreversibleOutsideStep(
                f"Defecto del robot: «{self.qualified(name)}» es un control irreversible y solo se usa dentro de "
                "bots.steps.irreversible; no se hizo clic en él",
                selector=self.qualified(name),
            )
        return spec

    def get(self, name: str) -> Locator:
        """The Playwright ``Locator`` for a logical name of this screen (candidates resolved now)."""
        return resolve(self.page, self._checked(name), self.qualified(name))

    def within(self, parent: Locator, name: str) -> Locator:
        """The control ``name`` resolved inside ``parent`` (a row, a dialog, a notification)."""
        return resolve(parent, self._checked(name), self.qualified(name))

    def any(self, name: str) -> Locator:
        """Every candidate of ``name`` at once (to wait for it before resolving)."""
        return any_candidate(self.page, self._checked(name))

    def require(self, name: str, *, state: str = "visible", timeout_s: float | None = None) -> Locator:
        """Wait until a candidate of ``name`` reaches ``state``, then resolve it; if none does, save the
        page and raise ``PortalChanged`` naming the logical control."""
        spec = self._checked(name)
        options: dict[str, Any] = {"state": state}
        if timeout_s is not None:
            options["timeout"] = timeout_s * 1000
        try:
            any_candidate(self.page, spec).first.wait_for(**options)
        except PlaywrightTimeoutError:
            html, png = _save_unknown_page(self.page, f"{self.screen}-{name}", self._artifacts_dir)
            raise PortalChanged(
                f"No apareció «{self.qualified(name)}» en la pantalla {self.screen} ({self.family}/{self.version})",
                selector=self.qualified(name),
                page_path=html,
                screenshot_path=png,
            ) from None
        return resolve(self.page, spec, self.qualified(name))

    def __repr__(self) -> str:
        return f"<ScreenLocators {self.family}/{self.version} {self.screen}>"


class Locators:
    """The selector sets of one portal family (``catalogo``, ``habilitacion``, ``muisca``)."""

    def __init__(self, family: str, *, root: Path | None = None, settings: Settings | None = None) -> None:
        if root is None:
            if settings is None:
                raise ValueError("Locators needs root= or settings=")
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
        for element in spec.fingerprint:
            locator = locator.filter(has=any_candidate(page, element))
        return locator

    def screen(self, page: Page, *screens: str, timeout_s: float | None = None) -> ScreenLocators:
        """Wait until the page shows one of ``screens`` in a known version and return its locators.

        With several screen names (e.g. the success and the error screen after a submit) the first
        one, in the order given, whose fingerprint is present wins. Between versions of the same
        screen the one with more fingerprint elements wins, then the newest. No match before the
        timeout → page saved, ``PortalChanged``.
        """
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
                f"({self.family}: {', '.join(self.versions)})",
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
