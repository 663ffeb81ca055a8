"""Shared test configuration: the Chromium to use, and the fixture modules of each area."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.browser import find_chromium

# Each area keeps its fixtures in its own tests/fixtures_<area>.py; all of them are loaded, the shared
# ones first (the others import them).
_SHARED = ["fixtures_sandbox", "fixtures_mail", "fixtures_robot"]
_AREAS = sorted(p.stem for p in Path(__file__).parent.glob("fixtures_*.py") if p.stem not in _SHARED)
pytest_plugins = [f"tests.{name}" for name in _SHARED + _AREAS]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Use Playwright's bundled Chromium when installed, else the system one (Debian's chromium)."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium available (run scripts/setup)")
    return {**browser_type_launch_args, "executable_path": executable, "args": ["--disable-gpu"]}
