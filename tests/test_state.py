"""bots.state: migrations, steps, approvals, the shared rate limit, breakers, and locks that die with
their holder."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bots.errors import InvalidInput
from bots.state import FALLIDO, HECHO, PENDIENTE, PIPELINE, ClientLock, Store
from bots.state.store import migrations, state_url, store_path

TABLES = {"step_state", "approvals", "runs", "rate_slots", "breakers", "client_leases", "step_journal"}


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives: a SQLite file, or a fresh PostgreSQL database (same code, same tests)."""
    if request.param == "sqlite":
        return str(tmp_path / "e.db")
    return str(request.getfixturevalue("postgres_url"))


def test_migrations_apply_once_in_order(target: str) -> None:
    with Store(target) as store:
        assert store.version() == migrations()[-1][0]
    with Store(target) as again:  # reopening applies nothing twice
        assert again.query("SELECT version_num FROM alembic_version") == [{"version_num": "0002"}]
        kind = "postgresql" if again.shared else "sqlite"
        sql = ("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'" if kind == "postgresql"
               else "SELECT name FROM sqlite_master WHERE type = 'table'")
        assert {r["name"] for r in again.query(sql)} >= TABLES


# Schema of the store as main wrote it before Alembic (its own migrator, table schema_version).
_PRE_ALEMBIC = """
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
CREATE TABLE step_state (nit TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pendiente',
  attempts INTEGER NOT NULL DEFAULT 0, total_runs INTEGER NOT NULL DEFAULT 0, last_outcome TEXT,
  evidence TEXT NOT NULL DEFAULT '[]', not_before TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (nit, step));
CREATE TABLE approvals (id INTEGER PRIMARY KEY AUTOINCREMENT, nit TEXT NOT NULL, fecha_inicio TEXT NOT NULL,
  aprobado_por TEXT NOT NULL, aprobado_en TEXT NOT NULL, evidencia TEXT, registrado_por TEXT);
CREATE INDEX approvals_nit ON approvals (nit, id);
CREATE TABLE runs (id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, pid INTEGER NOT NULL, summary TEXT);
CREATE TABLE rate_slots (host TEXT PRIMARY KEY, next_at REAL NOT NULL);
CREATE TABLE breakers (portal TEXT PRIMARY KEY, consecutive INTEGER NOT NULL DEFAULT 0, open_until TEXT,
  last_text TEXT);
INSERT INTO schema_version VALUES (1, '0001_inicial.sql', '2026-12-01T03:00:00+00:00');
INSERT INTO step_state (nit, step, status, updated_at) VALUES ('900123456', 'registrar', 'hecho',
  '2026-12-01T03:10:00+00:00');
"""


def test_a_database_from_before_alembic_is_adopted_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "estado.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(_PRE_ALEMBIC)
    with Store(path) as store:
        assert store.version() == migrations()[-1][0]
        assert store.steps("900123456")["registrar"].status == HECHO  # the old night's state is kept
        assert store.lease("900123456").acquire()  # and the new tables are there


def test_store_path_setting(tmp_path: Path) -> None:
    from bots.config import Settings

    settings = Settings(_env_file=None, output_dir=tmp_path / "salida")
    assert store_path(settings) == tmp_path / "salida" / "estado.sqlite3"
    settings = Settings(_env_file=None, state_url=f"sqlite:///{tmp_path}/otro.db")
    assert store_path(settings) == tmp_path / "otro.db"
    settings = Settings(_env_file=None, state_url="postgresql://robot:clave@db.interno/dian")
    assert state_url(settings) == "postgresql+psycopg://robot:clave@db.interno/dian"
    with pytest.raises(InvalidInput):
        store_path(settings)  # a server, not a file
    with pytest.raises(InvalidInput):
        state_url(Settings(_env_file=None, state_url="mysql://x/y"))


def test_steps_record_status_attempts_evidence_and_not_before(target: str) -> None:
    with Store(target) as store:
        steps = store.steps("900123456")
        assert list(steps) == list(PIPELINE) and all(r.status == PENDIENTE for r in steps.values())
        later = datetime(2026, 3, 1, 12, tzinfo=UTC)
        store.record("900123456", "registrar", FALLIDO, outcome={"status": "error"}, failed=True, not_before=later)
        row = store.record("900123456", "registrar", FALLIDO, failed=True, evidence=["a/traza.zip"])
        assert row.attempts == 2 and row.total_runs == 2 and row.last_outcome == {"status": "error"}
        row = store.record("900123456", "registrar", HECHO, outcome={"status": "ok"}, evidence=["b.png"])
        assert row.status == HECHO and row.attempts == 0 and row.evidence == ["a/traza.zip", "b.png"]
        assert row.not_before is None and row.last_outcome == {"status": "ok"}


def test_approvals_newest_counts(target: str) -> None:
    with Store(target) as store:
        assert store.approval("900123456") is None
        store.add_approval("900123456", date(2026, 4, 1), "Ana Gómez (correo)", evidencia="/x/correo.pdf")
        second = store.add_approval("900123456", date(2026, 4, 2), "Ana Gómez (acta)", registrado_por="op")
        got = store.approval("900123456")
        assert got == second and got.fecha_inicio == date(2026, 4, 2) and got.registrado_por == "op"
        assert store.approval("900555001") is None


def test_rate_slots_are_spaced_for_everyone(target: str) -> None:
    with Store(target) as a, Store(target) as b:
        waits = [a.take_slot("h", 0.5), b.take_slot("h", 0.5), a.take_slot("h", 0.5), b.take_slot("otro", 0.5)]
    assert waits[0] == 0 and 0.4 < waits[1] <= 0.5 and 0.9 < waits[2] <= 1.0 and waits[3] == 0


def test_breaker_opens_after_threshold_and_resets_on_success(target: str) -> None:
    with Store(target) as store:
        pause = timedelta(minutes=30)
        assert not store.portal_error("muisca", "500", threshold=2, pause=pause).is_open(datetime.now(UTC))
        store.portal_ok("muisca")
        store.portal_error("muisca", "500", threshold=2, pause=pause)
        opened = store.portal_error("muisca", "HTTP 500", threshold=2, pause=pause)
        assert opened.is_open(datetime.now(UTC)) and opened.last_text == "HTTP 500"
        store.close_breakers()
        assert not store.breaker("muisca").is_open(datetime.now(UTC))


def _hold(path: str, nit: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    lock = ClientLock(Path(path), nit)
    assert lock.acquire()
    ready.set()
    time.sleep(60)


def test_lock_excludes_others_and_dies_with_its_holder(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), "900123456", ready))
    holder.start()
    try:
        assert ready.wait(30)
        mine = ClientLock(tmp_path, "900123456")
        assert not mine.acquire()  # another process holds it
        assert ClientLock(tmp_path, "900555001").acquire()  # other clients are free
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(10)
        assert mine.acquire()  # the OS released it with the dead holder
        mine.release()
    finally:
        if holder.is_alive():
            holder.kill()


def test_lock_is_exclusive_within_one_process_too(tmp_path: Path) -> None:
    first, second = ClientLock(tmp_path, "1"), ClientLock(tmp_path, "1")
    assert first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_store_survives_kill_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    code = (
        "import sys; from bots.state import Store, HECHO\n"
        "s = Store(sys.argv[1])\n"
        "for i in range(100000):\n"
        "    s.record(str(900000000 + i % 50), 'registrar', HECHO)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=Path(__file__).parents[1])
    time.sleep(1.5)
    proc.kill()
    proc.wait()
    with Store(path) as store:
        assert store.query("PRAGMA integrity_check") == [{"integrity_check": "ok"}]


def _take(path: str, count: int, interval: float, out: multiprocessing.queues.Queue) -> None:  # type: ignore[name-defined]
    with Store(path) as store:
        for _ in range(count):
            out.put(time.time() + store.take_slot("catalogo-vpfe-hab.dian.gov.co", interval))


def test_rate_slots_hold_across_processes(target: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    path = target
    Store(path).close()
    workers = [ctx.Process(target=_take, args=(path, 5, 0.1, out)) for _ in range(3)]
    for w in workers:
        w.start()
    slots = sorted(out.get(timeout=60) for _ in range(15))
    for w in workers:
        w.join(30)
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    # one request slot every 0.1 s for all processes together (measured with some scheduling jitter)
    assert slots[-1] - slots[0] > 1.3 and min(gaps) > 0.03, gaps


def _lease(target: str, nit: str, ttl: float, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    lease = Store(target).lease(nit, ttl_s=ttl)
    assert lease.acquire()
    ready.set()
    time.sleep(120)


def test_lease_excludes_other_processes_renews_itself_and_expires_with_a_dead_holder(target: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_lease, args=(target, "900123456", 1.5, ready))
    holder.start()
    try:
        assert ready.wait(60)
        with Store(target) as store:
            mine = store.lease("900123456", ttl_s=1.5)
            assert not mine.acquire()  # another process holds it
            deadline = time.monotonic() + 3.5
            while time.monotonic() < deadline:  # past two ttl periods, renewed by the holder's thread
                assert not mine.acquire()
                time.sleep(0.25)
            other = store.lease("900555001")
            assert other.acquire()  # other clients are free
            other.release()
            assert holder.pid is not None and store.lease_holder("900123456") is not None
            os.kill(holder.pid, signal.SIGKILL)
            holder.join(10)
            assert not mine.acquire()  # not yet expired: a dead holder keeps it until its expiry
            deadline = time.monotonic() + 5
            while not mine.acquire():
                assert time.monotonic() < deadline, "the dead holder's lease never expired"
                time.sleep(0.1)
            assert store.lease_holder("900123456") == mine.holder
            mine.release()
            assert store.lease_holder("900123456") is None
    finally:
        if holder.is_alive():
            holder.kill()


def test_a_lease_taken_over_after_expiry_is_reported_lost_to_its_old_holder(target: str) -> None:
    with Store(target) as store:
        old = store.lease("1", ttl_s=0.3, holder="a")
        assert old.acquire()
        old._stop.set()  # its renewals stop (as in a frozen process)
        assert old._thread is not None
        old._thread.join(5)
        time.sleep(0.4)
        new = store.lease("1", ttl_s=30, holder="b")
        assert new.acquire()
        assert old.renew() is False and old.lost
        old.release()  # deletes only its own lease
        assert store.lease_holder("1") == "b"
        new.release()


def test_the_store_rides_out_a_postgresql_restart(postgres_server: object, postgres_url: str) -> None:
    from tests.fixtures_servers import Postgres

    assert isinstance(postgres_server, Postgres)
    with Store(postgres_url) as store:
        store.record("900123456", "registrar", HECHO)
        postgres_server.restart()  # pooled connections are now dead; pool_pre_ping replaces them
        row = store.record("900123456", "asociar_software", HECHO)
        assert row.status == HECHO and store.steps("900123456")["registrar"].status == HECHO
