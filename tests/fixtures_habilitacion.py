"""Fixtures for the habilitación flows: a module-wide robot environment and scenario lanes.

Each flow run is a real ``python -m flows.<name>`` process with its own Chromium and token login
(about 10 s). To keep the suite short, the end-to-end scenarios of a test module run at the same time
in a few *lanes* (threads), one client (NIT) per scenario, against one simulated DIAN:

    LANES = {"a": [scenario_one, scenario_two], "b": [scenario_three]}

    @pytest.fixture(scope="module")
    def lanes(request, hab_env):
        with Lanes.start(request, hab_env, LANES) as running:
            yield running

    def test_scenario_one(lanes):
        lanes.check("scenario_one")          # re-raises the scenario's own assertion error

Scenarios in one lane run one after the other; lanes run in parallel. Only the lanes holding a
scenario selected for this session are started (``-k`` stays fast). Scenarios never move the shared
sandbox clock: the provider's test set is accepted per client (``accept_test_set``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
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

Scenario = Callable[["RobotEnv"], None]
KILL_HOOK = "DIAN_TEST_EXIT_AFTER_CLICK"


@pytest.fixture(scope="module")
def hab_env(tmp_path_factory: pytest.TempPathFactory, pymap_server: ImapServer) -> Iterator[RobotEnv]:
    """A robot environment (own simulated DIAN, shared pymap) for every scenario of a test module."""
    from tests.fixtures_robot import RobotEnv

    world = World()
    with SandboxServer(world) as server:
        yield RobotEnv(tmp_path_factory.mktemp("habilitacion"), world, server, pymap_server)


class Lanes:
    """Scenario functions running in parallel lanes; ``check(name)`` waits for one and re-raises."""

    def __init__(self, futures: dict[str, Future[None]]) -> None:
        self._futures = futures

    @classmethod
    @contextmanager
    def start(
        cls, request: pytest.FixtureRequest, env: RobotEnv, lanes: dict[str, list[Scenario]]
    ) -> Iterator[Lanes]:
        module = request.module
        selected = {item.name.removeprefix("test_") for item in request.session.items if item.module is module}
        futures: dict[str, Future[None]] = {}
        threads = []
        for lane, scenarios in lanes.items():
            chosen = [s for s in scenarios if s.__name__ in selected]
            if not chosen:
                continue
            lane_futures = [(s, futures.setdefault(s.__name__, Future())) for s in chosen]
            thread = threading.Thread(target=_run_lane, args=(env, lane_futures), name=f"carril-{lane}", daemon=True)
            thread.start()
            threads.append(thread)
        try:
            yield cls(futures)
        finally:
            for thread in threads:
                thread.join()

    def check(self, name: str) -> None:
        future = self._futures.get(name)
        if future is None:
            raise AssertionError(f"escenario {name!r} no está en ningún carril")
        future.result()


def _run_lane(env: RobotEnv, scenarios: list[tuple[Scenario, Future[None]]]) -> None:
    """Run a lane's scenarios one after the other, each result in its future."""
    for scenario, future in scenarios:
        try:
            scenario(env)
        except BaseException as exc:  # the test re-raises it
            future.set_exception(exc)
        else:
            future.set_result(None)


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
    """The provider's test set for this client is accepted now (without moving the shared clock)."""
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
