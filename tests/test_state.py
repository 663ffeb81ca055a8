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
from bots.state.store import migrations, store_path


def test_migrations_apply_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "estado.sqlite3"
    with Store(path) as store:
        assert store.version() == migrations()[-1][0]
    with Store(path) as again:  # reopening applies nothing twice
        rows = again.db.execute("SELECT version FROM schema_version").fetchall()
        assert [r[0] for r in rows] == [n for n, _ in migrations()]
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"step_state", "approvals", "runs", "rate_slots", "breakers"} <= tables


def test_store_path_setting(tmp_path: Path) -> None:
    from bots.config import Settings

    settings = Settings(_env_file=None, output_dir=tmp_path / "salida")
    assert store_path(settings) == tmp_path / "salida" / "estado.sqlite3"
    settings = Settings(_env_file=None, state_url=f"sqlite:///{tmp_path}/otro.db")
    assert store_path(settings) == tmp_path / "otro.db"
    settings = Settings(_env_file=None, state_url="postgresql://x/y")
    with pytest.raises(InvalidInput):
        store_path(settings)


def test_steps_record_status_attempts_evidence_and_not_before(tmp_path: Path) -> None:
    with Store(tmp_path / "e.db") as store:
        steps = store.steps("900123456")
        assert list(steps) == list(PIPELINE) and all(r.status == PENDIENTE for r in steps.values())
        later = datetime(2026, 3, 1, 12, tzinfo=UTC)
        store.record("900123456", "registrar", FALLIDO, outcome={"status": "error"}, failed=True, not_before=later)
        row = store.record("900123456", "registrar", FALLIDO, failed=True, evidence=["a/traza.zip"])
        assert row.attempts == 2 and row.total_runs == 2 and row.last_outcome == {"status": "error"}
        row = store.record("900123456", "registrar", HECHO, outcome={"status": "ok"}, evidence=["b.png"])
        assert row.status == HECHO and row.attempts == 0 and row.evidence == ["a/traza.zip", "b.png"]
        assert row.not_before is None and row.last_outcome == {"status": "ok"}


def test_approvals_newest_counts(tmp_path: Path) -> None:
    with Store(tmp_path / "e.db") as store:
        assert store.approval("900123456") is None
        store.add_approval("900123456", date(2026, 4, 1), "Ana Gómez (correo)", evidencia="/x/correo.pdf")
        second = store.add_approval("900123456", date(2026, 4, 2), "Ana Gómez (acta)", registrado_por="op")
        got = store.approval("900123456")
        assert got == second and got.fecha_inicio == date(2026, 4, 2) and got.registrado_por == "op"
        assert store.approval("900555001") is None


def test_rate_slots_are_spaced_for_everyone(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    with Store(path) as a, Store(path) as b:
        waits = [a.take_slot("h", 0.5), b.take_slot("h", 0.5), a.take_slot("h", 0.5), b.take_slot("otro", 0.5)]
    assert waits[0] == 0 and 0.4 < waits[1] <= 0.5 and 0.9 < waits[2] <= 1.0 and waits[3] == 0


def test_breaker_opens_after_threshold_and_resets_on_success(tmp_path: Path) -> None:
    with Store(tmp_path / "e.db") as store:
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
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _take(path: str, count: int, interval: float, out: multiprocessing.queues.Queue) -> None:  # type: ignore[name-defined]
    with Store(path) as store:
        for _ in range(count):
            out.put(time.time() + store.take_slot("catalogo-vpfe-hab.dian.gov.co", interval))


def test_rate_slots_hold_across_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    path = str(tmp_path / "e.db")
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
