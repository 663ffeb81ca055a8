"""Fixtures and helpers for the habilitación flows.

Each end-to-end scenario is a plain pytest test with its own client (NIT) and its own simulated DIAN
(``robot_env``: a fresh ``World`` on a free port, the worker's pymap), so pytest-xdist spreads the
scenarios over its workers one by one and ``-x``, ``--lf`` and ``--durations`` see each of them. Each
flow run is a real ``python -m flows.<name>`` process with its own Chromium and token login (about 10 s).

``hab_env`` is a robot environment shared by a whole test module, for modules whose tests may share one
simulated DIAN (one client each); conftest.py puts such tests in one xdist group.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bots.steps import JOURNAL_NAME
from sandbox.catalogo_state import CatalogoState, refresh, state_of
from sandbox.mail import ImapServer
from sandbox.server import SandboxServer
from sandbox.world import World

if TYPE_CHECKING:  # imported lazily: pytest loads tests.fixtures_robot as a plugin itself
    from tests.fixtures_robot import FlowResult, RobotEnv

KILL_HOOK = "DIAN_TEST_EXIT_AFTER_CLICK"


@pytest.fixture(scope="module")
def hab_env(tmp_path_factory: pytest.TempPathFactory, pymap_server: ImapServer) -> Iterator[RobotEnv]:
    """A robot environment (own simulated DIAN, shared pymap) for every test of a module that uses it."""
    from tests.fixtures_robot import RobotEnv

    world = World()
    with SandboxServer(world) as server:
        yield RobotEnv(tmp_path_factory.mktemp("habilitacion"), world, server, pymap_server)


# --- helpers for scenarios ----------------------------------------------------------------------------


def flow(env: RobotEnv, name: str, nit: str, *args: str, kill_after: str | None = None) -> FlowResult:
    """Run a habilitación flow for one client with ``--json`` (optionally killed after a named click)."""
    extra = {KILL_HOOK: kill_after} if kill_after else None
    return env.run(name, "--cliente", nit, *args, "--json", env=extra)


def catalogo(env: RobotEnv, nit: str) -> CatalogoState:
    """The client's state on the simulated catalogue (clock applied)."""
    state = state_of(env.world.clients[nit])
    refresh(env.world, state)
    return state


def accept_test_set(env: RobotEnv, nit: str) -> None:
    """The provider's test set for this client is accepted now (the world's clock, which other clients may
    share, does not move)."""
    state = state_of(env.world.clients[nit])
    state.test_set_delay = timedelta(0)
    refresh(env.world, state)


def actions(env: RobotEnv, nit: str) -> dict[str, int]:
    """How many times each state-changing action happened for a client (sandbox journal)."""
    counts: dict[str, int] = {}
    for entry in env.world.journal.entries(nit):
        counts[entry.action] = counts.get(entry.action, 0) + 1
    return counts


def step_records(env: RobotEnv, nit: str) -> list[dict[str, Any]]:
    """The robot's local step journal for a client (``<output>/<nit>/pasos.jsonl``)."""
    path = env.output_dir / nit / JOURNAL_NAME
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_for_record(env: RobotEnv, nit: str, step: str, phase: str, timeout_s: float = 120.0) -> None:
    """Block until the robot's step journal has that record (polls the file a running flow writes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(r["step"] == step and r["phase"] == phase for r in step_records(env, nit)):
            return
        time.sleep(0.05)
    raise AssertionError(f"{step}/{phase} no apareció en la bitácora de {nit} en {timeout_s:g} s")


def text_outputs(env: RobotEnv, *, skip: tuple[Path, ...] = ()) -> Iterator[tuple[Path, str]]:
    """Every text file the robot wrote (logs, evidence HTML, JSON), except ``skip``."""
    for path, data in env.artifact_bytes():
        if path in skip or path.suffix not in (".html", ".json", ".jsonl", ".txt", ".log"):
            continue
        yield path, data.decode("utf-8", "replace")
