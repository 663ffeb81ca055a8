"""Page objects of DIAN's catalogue web app (catalogo-vpfe and catalogo-vpfe-hab share it).

- ``login``: the token login screens (S-02 landing, Empresa, Persona, error modal, S-03).
- ``produccion``: the production site (P-01 menu, P-02..P-04 prefix association).
- ``session``: ``CatalogoSession``, the token login every catalogue flow uses.

Page objects stand on the one base ``bots.portals.base.Screen``. This module holds what the
catalogue's page objects share besides it: choosing an option of a ``<select>`` by its visible
text, and the wait for Cloudflare Turnstile. Selectors live in ``selectors/catalogo/<version>.toml``; page
objects use logical names only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots import text
from bots.errors import NeedsHuman, PortalError
from bots.log import get_logger
from bots.text import squash

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

__all__ = [
    "FAMILY",
    "Option",
    "choose_option",
    "find_option",
    "read_options",
    "wait_for_turnstile",
]

log = get_logger(__name__)

FAMILY = "catalogo"
#: Turnstile usually passes by itself in 3 to 5 s (research §2.3); give it some margin.
TURNSTILE_AUTO_S = 20.0
#: How long a person at the screen (headed run) gets to solve an interactive challenge.
TURNSTILE_OPERATOR_S = 300.0
_POLL_MS = 500
# Turnstile puts its token in the hidden input; S3 waits for more than 15 characters.
_TURNSTILE_PASSED = "el => !!el && typeof el.value === 'string' && el.value.length > 15"


# --- <select> by visible text ----------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """An ``<option>``: its value and its visible text."""

    value: str
    text: str


def read_options(select: Locator) -> list[Option]:
    """Every option of a ``<select>`` in page order."""
    pairs = select.first.evaluate("s => Array.from(s.options).map(o => [o.value, o.text])")
    return [Option(str(v), squash(str(t))) for v, t in pairs]


def find_option(options: list[Option], wanted: str | Iterable[str], *, value: str | None = None) -> Option | None:
    """The single option whose text matches ``wanted`` (normalised, see ``bots.text``); else the one
    whose value is ``value`` (a DIAN code); None when neither identifies exactly one option."""
    index = text.find_one([o.text for o in options], wanted)
    if index is not None:
        return options[index]
    if value is not None:
        hits = [o for o in options if o.value == value]
        if len(hits) == 1:
            return hits[0]
    return None


def choose_option(select: Locator, option: Option, *, name: str) -> None:
    """Select ``option`` (found by text beforehand) in a native or bootstrap-select ``<select>``.

    ``select_option`` sets the native control and fires ``input`` and ``change``, which
    bootstrap-select listens to; the value is verified afterwards.
    """
    # Some bootstrap-select versions hide the native select (display: none): not "visible" for
    # Playwright's actionability check, while the widget still follows the change event.
    select.first.select_option(value=option.value, force=not select.first.is_visible())
    chosen = select.first.input_value()
    if chosen != option.value:
        raise PortalError(
            f"No se pudo elegir «{option.text}» en {name}: el portal dejó otro valor seleccionado",
            selector=name,
        )
    log.info("opción elegida", element=name, option=option.text)


# --- Cloudflare Turnstile ---------------------------------------------------------------------------


def wait_for_turnstile(
    page: Page,
    response: Locator,
    challenge: Locator,
    *,
    operator_present: bool,
    name: str,
    auto_timeout_s: float = TURNSTILE_AUTO_S,
    operator_timeout_s: float = TURNSTILE_OPERATOR_S,
) -> None:
    """Wait until Turnstile passes by itself (its hidden ``cf-turnstile-response`` gets a token).

    The robot never clicks inside the widget. If the interactive challenge ("Verifique que es un ser
    humano") shows up, or nothing passes in ``auto_timeout_s``: with a person at the screen (headed
    run) wait up to ``operator_timeout_s`` for them to solve it; otherwise ``NeedsHuman(captcha)``.
    """
    handle = response.first.element_handle()
    deadline = time.monotonic() + auto_timeout_s
    interactive = False
    while True:
        try:
            page.wait_for_function(_TURNSTILE_PASSED, arg=handle, timeout=_POLL_MS)
            log.info("verificación anti-robots superada", element=name)
            return
        except PlaywrightTimeoutError:
            pass
        try:
            interactive = challenge.first.is_visible()
        except PlaywrightError:
            interactive = False
        if interactive or time.monotonic() >= deadline:
            break
    what = "pide resolver la casilla «Verifique que es un ser humano»" if interactive else "no se superó sola"
    if not operator_present:
        raise NeedsHuman(
            f"La verificación anti-robots (Cloudflare Turnstile) {what}. El robot no la resuelve: "
            "ejecute este cliente con ventana (DIAN_HEADLESS=false) para que una persona la resuelva, "
            "o use DIAN_BROWSER=cdp con Google Chrome",
            reason="captcha",
            selector=name,
        )
    log.warning(
        "Resuelva la verificación «Verifique que es un ser humano» en la ventana del navegador; "
        "el robot continúa solo cuando se supere",
        element=name,
        timeout_s=operator_timeout_s,
    )
    try:
        page.wait_for_function(_TURNSTILE_PASSED, arg=handle, timeout=operator_timeout_s * 1000)
    except PlaywrightTimeoutError:
        raise NeedsHuman(
            f"Nadie resolvió la verificación anti-robots en {operator_timeout_s:g} s",
            reason="captcha",
            selector=name,
        ) from None
    log.info("verificación anti-robots superada por el operador", element=name)
