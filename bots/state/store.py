"""The nightly run's store: SQLite, schema migrations from ``bots/state/migrations/*.sql``.

One database file (default ``<DIAN_OUTPUT_DIR>/estado.sqlite3``; ``DIAN_STATE_URL`` overrides it
with ``sqlite:///path`` or a plain path). Every process (the runner and each worker) opens its own
connection; WAL mode and a busy timeout let them write at once. Read-modify-write operations (rate
slots, circuit breakers) run in ``BEGIN IMMEDIATE`` transactions so they hold across processes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from bots.errors import InvalidInput

if TYPE_CHECKING:
    from bots.config import Settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: The pipeline, in order. fecha_produccion needs a recorded approval.
PIPELINE: tuple[str, ...] = (
    "registrar",
    "asociar_software",
    "set_aceptado",
    "fecha_produccion",
    "sincronizar",
    "solicitar_numeracion",
    "asociar_prefijo",
)

# Step statuses kept in the store.
PENDIENTE = "pendiente"  # never tried, or to be tried again
HECHO = "hecho"  # done (by the robot or found done on the portal)
ESPERANDO = "esperando"  # waiting for DIAN or the provider until not_before
REQUIERE_HUMANO = "requiere_humano"  # a person must act; not retried until the state changes
ERROR_ENTRADA = "error_entrada"  # invalid data; not retried until the clients file is fixed
FALLIDO = "fallido"  # application/portal failure; retried with backoff a bounded number of times
AGOTADO = "agotado"  # failed too many times tonight: reported, retried next night
STEP_STATUSES = (PENDIENTE, HECHO, ESPERANDO, REQUIERE_HUMANO, ERROR_ENTRADA, FALLIDO, AGOTADO)


def now_utc() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class StepRow:
    """One client's state at one step of the pipeline."""

    nit: str
    step: str
    status: str = PENDIENTE
    attempts: int = 0
    total_runs: int = 0
    last_outcome: dict[str, Any] | None = None
    evidence: list[str] = field(default_factory=list)
    not_before: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Approval:
    """A client's approval of the production start date, as recorded by an operator."""

    id: int
    nit: str
    fecha_inicio: date
    aprobado_por: str
    aprobado_en: datetime
    evidencia: str | None
    registrado_por: str | None


@dataclass(frozen=True)
class Breaker:
    """A portal's circuit breaker."""

    portal: str
    consecutive: int
    open_until: datetime | None
    last_text: str | None

    def is_open(self, at: datetime) -> bool:
        return self.open_until is not None and at < self.open_until


def store_path(settings: Settings) -> Path:
    """Where the database lives: ``DIAN_STATE_URL`` (sqlite:///path or a path) or the output folder."""
    url = settings.state_url
    if not url:
        return Path(settings.output_dir) / "estado.sqlite3"
    if "://" not in url:
        return Path(url)
    scheme = urlsplit(url).scheme
    if scheme != "sqlite" or not url.startswith("sqlite:///"):
        raise InvalidInput(f"DIAN_STATE_URL: solo se admite sqlite:///ruta (se recibió {scheme}://…).")
    return Path(unquote(url.removeprefix("sqlite:///")))  # as SQLAlchemy: sqlite:////absolute/path


def migrations() -> list[tuple[int, Path]]:
    """The repository's migrations: ``NNNN_name.sql`` in order of NNNN."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        number = path.name.split("_", 1)[0]
        if number.isdigit():
            found.append((int(number), path))
    return found


class Store:
    """The nightly run's database (one connection per process)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=60000")
        self.migrate()

    @classmethod
    def open(cls, settings: Settings) -> Store:
        return cls(store_path(settings))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error): one writer at a time."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- schema ------------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply the migrations not yet applied (each in its own transaction); the schema version."""
        with self.transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL)"
            )
        for number, path in migrations():
            with self.transaction() as db:
                if db.execute("SELECT 1 FROM schema_version WHERE version = ?", (number,)).fetchone():
                    continue
                for statement in _statements(path.read_text(encoding="utf-8")):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (number, path.name, _iso(now_utc())),
                )
        return self.version()

    def version(self) -> int:
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    # --- steps -------------------------------------------------------------------------------------
    def steps(self, nit: str) -> dict[str, StepRow]:
        """Every step of the pipeline for ``nit`` (steps never recorded come back ``pendiente``)."""
        rows = {r["step"]: _step_row(r) for r in self.db.execute("SELECT * FROM step_state WHERE nit = ?", (nit,))}
        return {step: rows.get(step) or StepRow(nit, step) for step in PIPELINE}

    def all_steps(self) -> dict[str, dict[str, StepRow]]:
        nits = [r[0] for r in self.db.execute("SELECT DISTINCT nit FROM step_state ORDER BY nit")]
        return {nit: self.steps(nit) for nit in nits}

    def record(
        self,
        nit: str,
        step: str,
        status: str,
        *,
        outcome: dict[str, Any] | None = None,
        not_before: datetime | None = None,
        evidence: list[str] | None = None,
        failed: bool = False,
        ran: bool = True,
        at: datetime | None = None,
    ) -> StepRow:
        """Store a step's result. ``failed`` counts an application failure (reset by anything else)."""
        if step not in PIPELINE or status not in STEP_STATUSES:
            raise ValueError(f"unknown step or status: {step!r} {status!r}")
        with self.transaction() as db:
            row = db.execute("SELECT * FROM step_state WHERE nit = ? AND step = ?", (nit, step)).fetchone()
            current = _step_row(row) if row else StepRow(nit, step)
            attempts = current.attempts + 1 if failed else 0
            known = list(dict.fromkeys([*current.evidence, *(evidence or [])]))
            db.execute(
                "INSERT INTO step_state (nit, step, status, attempts, total_runs, last_outcome, evidence, not_before, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (nit, step) DO UPDATE SET "
                "status = excluded.status, attempts = excluded.attempts, total_runs = excluded.total_runs, "
                "last_outcome = excluded.last_outcome, evidence = excluded.evidence, "
                "not_before = excluded.not_before, updated_at = excluded.updated_at",
                (
                    nit, step, status, attempts, current.total_runs + (1 if ran else 0),
                    json.dumps(outcome, ensure_ascii=False) if outcome is not None else
                    (json.dumps(current.last_outcome, ensure_ascii=False) if current.last_outcome else None),
                    json.dumps(known), _iso(not_before), _iso(at or now_utc()),
                ),
            )
        return self.steps(nit)[step]

    def reset_attempts(self, nit: str) -> None:
        """A new night: failures of past nights are tried again (``agotado`` → ``fallido``, count 0)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE step_state SET attempts = 0, status = CASE status WHEN ? THEN ? ELSE status END WHERE nit = ?",
                (AGOTADO, FALLIDO, nit),
            )

    # --- approvals ---------------------------------------------------------------------------------
    def add_approval(
        self, nit: str, fecha_inicio: date, aprobado_por: str, *, evidencia: str | None = None,
        registrado_por: str | None = None, aprobado_en: datetime | None = None,
    ) -> Approval:
        """Record an approval (kept forever; the newest one counts)."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO approvals (nit, fecha_inicio, aprobado_por, aprobado_en, evidencia, registrado_por) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    nit, fecha_inicio.isoformat(), aprobado_por, _iso(aprobado_en or now_utc()), evidencia,
                    registrado_por,
                ),
            )
            new_id = cursor.lastrowid
        approval = self.approval(nit)
        assert approval is not None and approval.id == new_id
        return approval

    def approval(self, nit: str) -> Approval | None:
        """The newest recorded approval of ``nit``'s production date."""
        row = self.db.execute("SELECT * FROM approvals WHERE nit = ? ORDER BY id DESC LIMIT 1", (nit,)).fetchone()
        if row is None:
            return None
        return Approval(
            id=row["id"], nit=row["nit"], fecha_inicio=date.fromisoformat(row["fecha_inicio"]),
            aprobado_por=row["aprobado_por"], aprobado_en=datetime.fromisoformat(row["aprobado_en"]),
            evidencia=row["evidencia"], registrado_por=row["registrado_por"],
        )

    # --- runs --------------------------------------------------------------------------------------
    def start_run(self, run_id: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs (id, started_at, pid) VALUES (?, ?, ?)",
                (run_id, _iso(now_utc()), os.getpid()),
            )

    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?",
                (_iso(now_utc()), json.dumps(summary, ensure_ascii=False), run_id),
            )

    # --- shared rate limit -------------------------------------------------------------------------
    def take_slot(self, host: str, interval_s: float) -> float:
        """Reserve the next request slot for ``host``; returns how long to wait (s) before using it.

        Slots are ``interval_s`` apart for every process sharing this database.
        """
        with self.transaction() as db:
            now = time.time()
            row = db.execute("SELECT next_at FROM rate_slots WHERE host = ?", (host,)).fetchone()
            slot = max(now, float(row[0]) if row else now)
            db.execute(
                "INSERT INTO rate_slots (host, next_at) VALUES (?, ?) ON CONFLICT (host) DO UPDATE SET next_at = ?",
                (host, slot + interval_s, slot + interval_s),
            )
        return max(0.0, slot - now)

    # --- circuit breakers --------------------------------------------------------------------------
    def breaker(self, portal: str) -> Breaker:
        row = self.db.execute("SELECT * FROM breakers WHERE portal = ?", (portal,)).fetchone()
        if row is None:
            return Breaker(portal, 0, None, None)
        return Breaker(portal, row["consecutive"], _dt(row["open_until"]), row["last_text"])

    def breakers(self) -> list[Breaker]:
        return [self.breaker(r[0]) for r in self.db.execute("SELECT portal FROM breakers ORDER BY portal")]

    def portal_error(self, portal: str, text: str, *, threshold: int, pause: timedelta) -> Breaker:
        """Count a portal error; at ``threshold`` in a row the portal is paused for ``pause``."""
        with self.transaction() as db:
            row = db.execute("SELECT consecutive FROM breakers WHERE portal = ?", (portal,)).fetchone()
            count = (row[0] if row else 0) + 1
            open_until = _iso(now_utc() + pause) if count >= threshold else None
            db.execute(
                "INSERT INTO breakers (portal, consecutive, open_until, last_text) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (portal) DO UPDATE SET consecutive = excluded.consecutive, "
                "open_until = COALESCE(excluded.open_until, breakers.open_until), last_text = excluded.last_text",
                (portal, count, open_until, text[:500]),
            )
        return self.breaker(portal)

    def portal_ok(self, portal: str) -> None:
        """The portal answered normally: its count of errors in a row starts again."""
        with self.transaction() as db:
            db.execute("UPDATE breakers SET consecutive = 0 WHERE portal = ? AND consecutive > 0", (portal,))

    def close_breakers(self) -> None:
        """A new run: paused portals are tried again (the count stays until a success)."""
        with self.transaction() as db:
            db.execute("UPDATE breakers SET open_until = NULL")


def _step_row(row: sqlite3.Row) -> StepRow:
    return StepRow(
        nit=row["nit"], step=row["step"], status=row["status"], attempts=row["attempts"], total_runs=row["total_runs"],
        last_outcome=json.loads(row["last_outcome"]) if row["last_outcome"] else None,
        evidence=json.loads(row["evidence"] or "[]"), not_before=_dt(row["not_before"]),
        updated_at=_dt(row["updated_at"]),
    )


def _statements(sql: str) -> list[str]:
    """The statements of a migration file (``--`` comments dropped; no ``;`` inside literals)."""
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
