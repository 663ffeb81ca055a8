"""The distributed nightly run: Redis, PostgreSQL and two Celery workers on loopback.

The same sandbox clients go through the pipeline twice, on two identical simulated DIANs: once in
the embedded mode (SQLite, worker processes) and once distributed, where one worker is killed with
-9 in the middle of the run and Redis is restarted once. Both must end with the same stages and the
same DIAN-side journal of irreversible actions: nothing lost, nothing done twice.

``DIAN_TEST_DISTRIBUIDO_CLIENTS=50`` runs the 50 clients of issue 14 (default: 3, one of each kind, for CI's time).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bots.state import Store
from sandbox import catalogo_state, muisca_state
from sandbox.demo import DEMO_NIT, demo_client
from sandbox.mail import PymapServer
from sandbox.server import SandboxServer
from sandbox.world import World
from tests.fixtures_prefijo import add_resolution
from tests.fixtures_robot import REPO, RobotEnv
from tests.fixtures_servers import Redis
from tests.test_nightly import IRREVERSIBLE, _debug, clients, night_env

COUNT = int(os.environ.get("DIAN_TEST_DISTRIBUIDO_CLIENTS", "3"))
ARGS = ("--prefijo", "FE", "--desde", "1", "--hasta", "1000", "--json")
KINDS = ("nuevo", "listo", "aceptado")  # registrar + asociar_software; the prefix; a person's approval
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900 + 60 * COUNT)]


def plan() -> dict[str, str]:
    return {str(930000000 + i * 7): KINDS[i % len(KINDS)] for i in range(COUNT)}


def build(env: RobotEnv) -> None:
    """The same clients in the same stages in every world."""
    world = env.world
    for nit, kind in plan().items():
        env.add_client(nit)
        stage = {"nuevo": "pendiente_registro", "listo": "sincronizado", "aceptado": "aceptado"}[kind]
        catalogo_state.set_stage(world, nit, stage, email=f"recepcion+{nit}@empresa-demo.test")
        if kind == "listo":
            muisca_state.set_stage(world, nit, "formalizada")
            add_resolution(world, nit, number=f"1876{nit}")


def dian_actions(world: World) -> Counter[tuple[str, str]]:
    """DIAN's side: how many times each client's irreversible action went through."""
    return Counter(
        (e.nit, e.action) for e in world.journal.entries() if e.action in IRREVERSIBLE and e.details.get("ok", True)
    )


def stages(rows: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, Any]]:
    return {nit: (row["paso_pendiente"], row["resultado"]) for nit, row in rows.items()}


@pytest.fixture
def second_env(tmp_path: Path) -> Iterator[RobotEnv]:
    """A second, identical simulated DIAN with its own IMAP server."""
    world = World()
    world.add_client(demo_client(DEMO_NIT))
    root = tmp_path / "distribuido"
    root.mkdir()
    with SandboxServer(world) as server, PymapServer() as imap:
        env = RobotEnv(root, world, server, imap)
        yield env
        env.close()


def _worker(env: RobotEnv, extra: dict[str, str], name: str, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "celery", "-A", "flows.distribuido", "worker", "--pool", "prefork",
           "--concurrency", "1", "-n", f"{name}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env.env, **extra}, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _busy_worker(store: Store, workers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes] | None:
    """The worker whose child process holds a client's lease now (holder = host:pid)."""
    for row in store.query("SELECT holder FROM client_leases"):
        pid = int(row["holder"].split(":")[1])
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        for worker in workers:
            if worker.pid in (pid, parent) and worker.poll() is None:
                return worker
    return None


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_distributed_run_matches_the_embedded_one_through_a_killed_worker_and_a_redis_restart(
    robot_env: RobotEnv, second_env: RobotEnv, postgres_url: str, tmp_path: Path,
) -> None:
    embedded, distributed = robot_env, second_env
    for env in (embedded, distributed):
        build(env)

    first = embedded.run("lote", *ARGS, "--concurrencia", "2", env=night_env(embedded, 0), timeout=600 + 30 * COUNT)
    expected = stages(clients(first))
    assert all(row[1] != "error" for row in expected.values()), _debug(first)

    redis = Redis()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        extra = {**night_env(distributed, 0), "DIAN_STATE_URL": postgres_url, "DIAN_BROKER_URL": redis.url,
                 "DIAN_LEASE_TTL_S": "4"}
        workers = [_worker(distributed, extra, f"w{i}", tmp_path / f"w{i}.log") for i in (1, 2)]
        producer = subprocess.Popen(
            [sys.executable, "-m", "flows.lote", *ARGS, "--distribuido"], cwd=REPO,
            env={**os.environ, **distributed.env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # Mid-run: once DIAN has seen the first irreversible action, kill -9 a worker that holds a client
        # (its main process and the child running the flow) ...
        _wait(lambda: sum(dian_actions(distributed.world).values()) >= 1, 300, "the first irreversible action")
        with Store(postgres_url) as store:
            _wait(lambda: _busy_worker(store, workers) is not None, 120, "a worker holding a client")
            victim = _busy_worker(store, workers)
        assert victim is not None
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(30)
        # ... and restart Redis (SHUTDOWN, start again on the same port and data) while the run goes on.
        assert producer.poll() is None
        redis.restart()
        out, err = producer.communicate(timeout=600 + 60 * COUNT)
        assert producer.returncode in (0, 2, 3, 4, 5), err[-4000:]
        import json

        data = json.loads(out)
        got = stages({c["nit"]: c for c in data["data"]["clientes"]})
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
        redis.close()
        for log in tmp_path.glob("w*.log"):  # the workers' own output goes to the suite's secret scan too
            distributed.registry.add_stream(f"celery worker {log.name}", log.read_text(errors="replace"))

    assert got == expected, (got, expected, err[-3000:])
    assert len({stage for stage, _ in expected.values()}) >= 3  # clients ended at different steps
    assert "trabajo perdido" in err  # the killed worker's client was taken up again by the other one
    assert dian_actions(distributed.world) == dian_actions(embedded.world)  # same DIAN-side journal
    assert all(n <= 1 for (_, action), n in dian_actions(distributed.world).items() if action != "firmar")
    with Store(postgres_url) as store:  # the shared journal saw every irreversible click
        journaled = store.query("SELECT COUNT(*) AS n FROM step_journal")[0]["n"]
        assert journaled >= 2 * sum(dian_actions(distributed.world).values())
        assert store.query("SELECT COUNT(*) AS n FROM client_leases")[0]["n"] == 0  # none left held
