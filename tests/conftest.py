"""Shared test configuration: the Chromium to use, the fixture modules of each area, the two kinds of
test (markers ``robot`` and ``selfcheck``) and the xdist groups.

- ``robot``: the test drives the robot against the sandbox (a flow run as a subprocess, a session or page
  objects in Chromium): it uses one of ``ROBOT_FIXTURES``, or its module marks it ``pytest.mark.robot``.
- ``selfcheck``: every other test (recordings, the sandbox, units of the robot on their own).
- Under ``pytest -n N --dist loadgroup`` (scripts/test) the tests of a module that share a module- or
  class-scoped fixture (a sandbox, a browser, ``hab_env``) run on one worker: each such test
  gets ``xdist_group(<module>)``; the other tests spread one by one. Session fixtures (sandbox servers,
  pymap, Dovecot) start once per worker, each on free loopback ports.

At the end the summary gives both counts (``pytest_terminal_summary``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bots.browser import find_chromium

# Each area keeps its fixtures in its own tests/fixtures_<area>.py; all of them are loaded, the shared
# ones first (the others import them).
_SHARED = ["fixtures_sandbox", "fixtures_mail", "fixtures_robot"]
_AREAS = sorted(p.stem for p in Path(__file__).parent.glob("fixtures_*.py") if p.stem not in _SHARED)
pytest_plugins = [f"tests.{name}" for name in _SHARED + _AREAS]

#: Fixtures that put the robot in front of the sandbox: a test using one (directly or through another
#: fixture) is a ``robot`` test.
ROBOT_FIXTURES = frozenset({"robot_env", "robot_env_dovecot", "hab_env", "robot"})
_SHARED_SCOPES = ("module", "class", "package")
_OUTCOMES = ("failed", "error", "xpassed", "xfailed", "skipped", "passed")  # worst first


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Use Playwright's bundled Chromium when installed, else the system one (Debian's chromium)."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium available (run scripts/setup)")
    return {**browser_type_launch_args, "executable_path": executable, "args": ["--disable-gpu"]}


def _shares_a_scoped_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test ``robot`` or ``selfcheck``; group the tests that share a module-scoped fixture."""
    for item in items:
        if item.get_closest_marker("robot") is None and ROBOT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.robot)
        if item.get_closest_marker("robot") is None:
            item.add_marker(pytest.mark.selfcheck)
        if item.get_closest_marker("xdist_group") is None and _shares_a_scoped_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def kind_counts(reports: dict[str, list[object]]) -> dict[str, Counter[str]]:
    """``{"robot": Counter(outcome -> tests), "selfcheck": ...}`` from the terminal reporter's stats
    (one outcome per test, the worst of its setup, call and teardown)."""
    worst: dict[str, tuple[int, str]] = {}
    for outcome in _OUTCOMES:
        for report in reports.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            keywords = getattr(report, "keywords", {})
            if not nodeid:
                continue
            kind = "robot" if "robot" in keywords else "selfcheck"
            rank = _OUTCOMES.index(outcome)
            if nodeid not in worst or rank < worst[nodeid][0]:
                worst[nodeid] = (rank, kind)
    counts: dict[str, Counter[str]] = {"robot": Counter(), "selfcheck": Counter()}
    for rank, kind in worst.values():
        counts[kind][_OUTCOMES[rank]] += 1
    return counts


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Both counts: tests that drive the robot, and self-checks of recordings, sandbox and units."""
    counts = kind_counts(terminalreporter.stats)
    if not any(counts.values()):
        return
    labels = {"robot": "robot tests (drive the robot against the sandbox)", "selfcheck": "self-checks"}
    for kind, label in labels.items():
        outcomes = counts[kind]
        detail = ", ".join(f"{outcomes[o]} {o}" for o in reversed(_OUTCOMES) if outcomes[o]) or "none run"
        terminalreporter.write_line(f"{label}: {sum(outcomes.values())} ({detail})")
