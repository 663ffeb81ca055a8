"""Versioned selector sets (data files), run-time recognition with fallback candidates, the check.

- ``model``: the data in ``selectors/<family>/<version>.toml`` (docs/selectors-format.md).
- ``runtime``: ``Locators(family).screen(page, name)`` → ``ScreenLocators`` (candidates, warnings
  on fallbacks, the guard on irreversible controls).
- ``check``: every set against its recordings in real Chromium (``python -m bots.locators check``).
- ``report``: how many locators are sourced and how many invented (``python -m bots.locators report``).
"""

from bots.locators.check import CheckReport, check, recognised_screens
from bots.locators.model import (
    LocatorSpec,
    ScreenSpec,
    SelectorSet,
    SelectorSetError,
    load_family,
    load_set,
)
from bots.locators.runtime import (
    FallbackHit,
    IrreversibleOutsideStep,
    Locators,
    ScreenLocators,
    active_irreversible_step,
    fallback_hits,
    irreversible_scope,
)

__all__ = [
    "CheckReport",
    "FallbackHit",
    "IrreversibleOutsideStep",
    "LocatorSpec",
    "Locators",
    "ScreenLocators",
    "ScreenSpec",
    "SelectorSet",
    "SelectorSetError",
    "active_irreversible_step",
    "check",
    "fallback_hits",
    "irreversible_scope",
    "load_family",
    "load_set",
    "recognised_screens",
]
