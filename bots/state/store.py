"""The nightly run's store: SQLite by default, PostgreSQL when several machines share one.

``DIAN_STATE_URL`` chooses it: unset → ``<DIAN_OUTPUT_DIR>/estado.sqlite3``; ``sqlite:///path`` or a
plain path → that SQLite file; ``postgresql://user:pass@host/db`` → PostgreSQL (driver psycopg 3).
The same code and the same migrations (Alembic, ``bots/state/migrations/versions``) serve both;
``Store`` applies the missing ones when it opens. SQLAlchemy Core gives one engine per process.

Read-modify-write operations (step attempts, rate slots, breakers, leases) are atomic on both:
SQLite writes run in ``BEGIN IMMEDIATE`` (one writer at a time, WAL, a busy timeout); PostgreSQL
takes a transaction-scoped advisory lock on the row's key. Timestamps are ISO text (UTC).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bots.errors import InvalidInput
from bots.log import get_logger

if TYPE_CHECKING:
    from bots.config import Settings

log = get_logger(__name__)
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


def state_url(settings: Settings) -> str:
    """The store's SQLAlchemy URL from ``DIAN_STATE_URL`` (default: SQLite in the output folder)."""
    url = settings.state_url
    if not url:
        return f"sqlite:///{Path(settings.output_dir) / 'estado.sqlite3'}"
    if "://" not in url:
        return f"sqlite:///{url}"
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if scheme == "sqlite" and url.startswith("sqlite:///"):
        return url
    raise InvalidInput(
        f"DIAN_STATE_URL: se admite sqlite:///ruta, una ruta o postgresql://usuario@servidor/base (se recibió "
        f"{scheme}://…)."
    )


def is_shared(settings: Settings) -> bool:
    """Whether the store is a server several machines share (PostgreSQL), not a local file."""
    return state_url(settings).startswith("postgresql")


def store_path(settings: Settings) -> Path:
    """The SQLite file of a local store (its folder also holds the client locks)."""
    url = state_url(settings)
    if not url.startswith("sqlite:///"):
        raise InvalidInput("DIAN_STATE_URL apunta a un servidor, no a un archivo SQLite.")
    return Path(unquote(url.removeprefix("sqlite:///")))  # as SQLAlchemy: sqlite:////absolute/path


def migrations() -> list[tuple[int, Path]]:
    """The repository's migrations: ``versions/NNNN_name.py`` in order of NNNN."""
    found = []
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        number = path.name.split("_", 1)[0]
        if number.isdigit():
            found.append((int(number), path))
    return found


def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(unquote(url.removeprefix("sqlite:///"))).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # the driver must not BEGIN by itself: "begin" below does it
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=60000"):
                dbapi.execute(f"PRAGMA {pragma}")

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time across processes

        return engine
    # pool_pre_ping: after a PostgreSQL restart a stale pooled connection is replaced, not used
    return sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)


class Store:
    """The nightly run's database (one engine per ``Store``)."""

    def __init__(self, target: Path | str) -> None:
        text = str(target)
        self.url = text if "://" in text else f"sqlite:///{Path(text)}"
        self.engine = _engine(self.url)
        self.shared = self.engine.dialect.name == "postgresql"
        self.path: Path | None = None if self.shared else Path(unquote(self.url.removeprefix("sqlite:///")))
        self.migrate()

    @classmethod
    def open(cls, settings: Settings) -> Store:
        return cls(state_url(settings))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        """Where the store is, without a password (for logs and the report)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self, *keys: str) -> Iterator[Connection]:
        """One atomic transaction; on PostgreSQL ``keys`` are locked (advisory) until it ends."""
        with self.engine.begin() as conn:
            if self.shared:
                for key in sorted(keys):
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
            yield conn

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of a read-only query (tests and reports)."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]

    def clock(self, conn: Connection) -> float:
        """Epoch seconds by the database's clock (the same for every machine sharing PostgreSQL)."""
        if self.shared:
            return float(conn.execute(sa.text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")).scalar_one())
        return time.time()

    # --- schema ------------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply the migrations not yet applied (Alembic, in one transaction); the schema version.

        A SQLite file made before Alembic (its own ``schema_version`` table at version 1) is adopted:
        stamped at 0001, then upgraded.
        """
        import logging

        from alembic import command
        from alembic.config import Config

        logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-open INFO lines are noise here

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.transaction("migraciones") as conn:
            config.attributes["connection"] = conn
            tables = set(sa.inspect(conn).get_table_names())
            if "schema_version" in tables and "alembic_version" not in tables:
                command.stamp(config, "0001")
                log.info("base de datos anterior adoptada por las migraciones", store=self.describe())
            command.upgrade(config, "head")
        return self.version()

    def version(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        return int(value or 0)

    # --- steps -------------------------------------------------------------------------------------
    def steps(self, nit: str) -> dict[str, StepRow]:
        """Every step of the pipeline for ``nit`` (steps never recorded come back ``pendiente``)."""
        rows = {r["step"]: _step_row(r) for r in self.query("SELECT * FROM step_state WHERE nit = :nit", nit=nit)}
        return {step: rows.get(step) or StepRow(nit, step) for step in PIPELINE}

    def all_steps(self) -> dict[str, dict[str, StepRow]]:
        nits = [r["nit"] for r in self.query("SELECT DISTINCT nit FROM step_state ORDER BY nit")]
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
        with self.transaction(f"paso:{nit}:{step}") as db:
            row = db.execute(
                sa.text("SELECT * FROM step_state WHERE nit = :nit AND step = :step"), {"nit": nit, "step": step}
            ).mappings().first()
            current = _step_row(row) if row else StepRow(nit, step)
            known = list(dict.fromkeys([*current.evidence, *(evidence or [])]))
            kept = outcome if outcome is not None else current.last_outcome
            db.execute(
                sa.text(
                    "INSERT INTO step_state (nit, step, status, attempts, total_runs, last_outcome, evidence, "
                    "not_before, updated_at) VALUES (:nit, :step, :status, :attempts, :runs, :outcome, :evidence, "
                    ":not_before, :at) ON CONFLICT (nit, step) DO UPDATE SET status = excluded.status, "
                    "attempts = excluded.attempts, total_runs = excluded.total_runs, "
                    "last_outcome = excluded.last_outcome, evidence = excluded.evidence, "
                    "not_before = excluded.not_before, updated_at = excluded.updated_at"
                ),
                {
                    "nit": nit, "step": step, "status": status,
                    "attempts": current.attempts + 1 if failed else 0,
                    "runs": current.total_runs + (1 if ran else 0),
                    "outcome": json.dumps(kept, ensure_ascii=False) if kept else None,
                    "evidence": json.dumps(known), "not_before": _iso(not_before), "at": _iso(at or now_utc()),
                },
            )
        return self.steps(nit)[step]

    def reset_attempts(self, nit: str) -> None:
        """A new night: failures of past nights are tried again (``agotado`` → ``fallido``, count 0)."""
        with self.transaction(f"cliente:{nit}") as db:
            db.execute(
                sa.text(
                    "UPDATE step_state SET attempts = 0, status = CASE status WHEN :agotado THEN :fallido "
                    "ELSE status END WHERE nit = :nit"
                ),
                {"agotado": AGOTADO, "fallido": FALLIDO, "nit": nit},
            )

    # --- approvals ---------------------------------------------------------------------------------
    def add_approval(
        self, nit: str, fecha_inicio: date, aprobado_por: str, *, evidencia: str | None = None,
        registrado_por: str | None = None, aprobado_en: datetime | None = None,
    ) -> Approval:
        """Record an approval (kept forever; the newest one counts)."""
        with self.transaction() as db:
            new_id = db.execute(
                sa.text(
                    "INSERT INTO approvals (nit, fecha_inicio, aprobado_por, aprobado_en, evidencia, registrado_por) "
                    "VALUES (:nit, :fecha, :por, :en, :evidencia, :registrado) RETURNING id"
                ),
                {
                    "nit": nit, "fecha": fecha_inicio.isoformat(), "por": aprobado_por,
                    "en": _iso(aprobado_en or now_utc()), "evidencia": evidencia, "registrado": registrado_por,
                },
            ).scalar_one()
        approval = self.approval(nit)
        assert approval is not None and approval.id == new_id
        return approval

    def approval(self, nit: str) -> Approval | None:
        """The newest recorded approval of ``nit``'s production date."""
        rows = self.query("SELECT * FROM approvals WHERE nit = :nit ORDER BY id DESC LIMIT 1", nit=nit)
        if not rows:
            return None
        row = rows[0]
        return Approval(
            id=row["id"], nit=row["nit"], fecha_inicio=date.fromisoformat(row["fecha_inicio"]),
            aprobado_por=row["aprobado_por"], aprobado_en=datetime.fromisoformat(row["aprobado_en"]),
            evidencia=row["evidencia"], registrado_por=row["registrado_por"],
        )

    # --- runs --------------------------------------------------------------------------------------
    def start_run(self, run_id: str) -> None:
        with self.transaction() as db:
            db.execute(
                sa.text(
                    "INSERT INTO runs (id, started_at, pid) VALUES (:id, :at, :pid) ON CONFLICT (id) DO UPDATE "
                    "SET started_at = excluded.started_at, pid = excluded.pid, finished_at = NULL"
                ),
                {"id": run_id, "at": _iso(now_utc()), "pid": os.getpid()},
            )

    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                sa.text("UPDATE runs SET finished_at = :at, summary = :summary WHERE id = :id"),
                {"at": _iso(now_utc()), "summary": json.dumps(summary, ensure_ascii=False), "id": run_id},
            )

    # --- shared rate limit -------------------------------------------------------------------------
    def take_slot(self, host: str, interval_s: float) -> float:
        """Reserve the next request slot for ``host``; returns how long to wait (s) before using it.

        Slots are ``interval_s`` apart for every process sharing this database.
        """
        with self.transaction(f"ritmo:{host}") as db:
            now = self.clock(db)
            row = db.execute(sa.text("SELECT next_at FROM rate_slots WHERE host = :h"), {"h": host}).first()
            slot = max(now, float(row[0]) if row else now)
            db.execute(
                sa.text(
                    "INSERT INTO rate_slots (host, next_at) VALUES (:h, :n) "
                    "ON CONFLICT (host) DO UPDATE SET next_at = excluded.next_at"
                ),
                {"h": host, "n": slot + interval_s},
            )
        return max(0.0, slot - now)

    # --- circuit breakers --------------------------------------------------------------------------
    def breaker(self, portal: str) -> Breaker:
        rows = self.query("SELECT * FROM breakers WHERE portal = :p", p=portal)
        if not rows:
            return Breaker(portal, 0, None, None)
        return Breaker(portal, rows[0]["consecutive"], _dt(rows[0]["open_until"]), rows[0]["last_text"])

    def breakers(self) -> list[Breaker]:
        return [self.breaker(r["portal"]) for r in self.query("SELECT portal FROM breakers ORDER BY portal")]

    def portal_error(self, portal: str, text: str, *, threshold: int, pause: timedelta) -> Breaker:
        """Count a portal error; at ``threshold`` in a row the portal is paused for ``pause``."""
        with self.transaction(f"portal:{portal}") as db:
            row = db.execute(sa.text("SELECT consecutive FROM breakers WHERE portal = :p"), {"p": portal}).first()
            count = (row[0] if row else 0) + 1
            db.execute(
                sa.text(
                    "INSERT INTO breakers (portal, consecutive, open_until, last_text) VALUES (:p, :c, :u, :t) "
                    "ON CONFLICT (portal) DO UPDATE SET consecutive = excluded.consecutive, "
                    "open_until = COALESCE(excluded.open_until, breakers.open_until), last_text = excluded.last_text"
                ),
                {"p": portal, "c": count, "u": _iso(now_utc() + pause) if count >= threshold else None,
                 "t": text[:500]},
            )
        return self.breaker(portal)

    def portal_ok(self, portal: str) -> None:
        """The portal answered normally: its count of errors in a row starts again."""
        with self.transaction(f"portal:{portal}") as db:
            db.execute(
                sa.text("UPDATE breakers SET consecutive = 0 WHERE portal = :p AND consecutive > 0"), {"p": portal}
            )

    def close_breakers(self) -> None:
        """A new run: paused portals are tried again (the count stays until a success)."""
        with self.transaction() as db:
            db.execute(sa.text("UPDATE breakers SET open_until = NULL"))

    # --- client leases (the distributed mode's lock) -----------------------------------------------
    def lease(self, nit: str, *, ttl_s: float = 60.0, holder: str | None = None) -> Lease:
        """A lock on one client that expires ``ttl_s`` after its last renewal (see ``Lease``)."""
        return Lease(self, nit, holder or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}", ttl_s)

    def lease_holder(self, nit: str) -> str | None:
        """Who holds ``nit``'s lease now (None when free or expired)."""
        with self.engine.connect() as conn:
            now = self.clock(conn)
            row = conn.execute(
                sa.text("SELECT holder FROM client_leases WHERE nit = :n AND expires_at > :now"), {"n": nit, "now": now}
            ).first()
        return row[0] if row else None

    # --- step journal (when the store is shared) ---------------------------------------------------
    def journal_lines(self, nit: str) -> list[str]:
        """The step-journal records of ``nit`` (JSON), oldest first."""
        return [r["record"] for r in self.query("SELECT record FROM step_journal WHERE nit = :n ORDER BY id", n=nit)]

    def journal_append(self, nit: str, line: str) -> None:
        """Append one step-journal record; committed (durable) when this returns."""
        with self.transaction() as db:
            db.execute(sa.text("INSERT INTO step_journal (nit, record) VALUES (:n, :r)"), {"n": nit, "r": line})


class Lease:
    """A client's lock in the store, with an expiry: ``acquire()`` → False while someone else holds it.

    Held, it is renewed every ``ttl_s / 3`` by a background thread; a holder that dies (kill -9, lost
    machine) stops renewing and the lease expires ``ttl_s`` later, when another worker may take the
    client (its step journal says what the dead one left mid-way). ``release`` deletes only one's own
    lease. Expiry is measured by the database's clock, the same for every machine.
    """

    def __init__(self, store: Store, nit: str, holder: str, ttl_s: float) -> None:
        self.store, self.nit, self.holder, self.ttl_s = store, nit, holder, ttl_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def acquire(self) -> bool:
        if self._thread is not None:
            return True
        with self.store.transaction(f"lease:{self.nit}") as db:
            now = self.store.clock(db)
            row = db.execute(
                sa.text("SELECT holder, expires_at FROM client_leases WHERE nit = :n"), {"n": self.nit}
            ).first()
            if row is not None and row[0] != self.holder and float(row[1]) > now:
                return False
            db.execute(
                sa.text(
                    "INSERT INTO client_leases (nit, holder, expires_at, taken_at) VALUES (:n, :h, :e, :t) "
                    "ON CONFLICT (nit) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, "
                    "taken_at = excluded.taken_at"
                ),
                {"n": self.nit, "h": self.holder, "e": now + self.ttl_s, "t": _iso(now_utc())},
            )
        self._stop.clear()
        self._thread = threading.Thread(target=self._keep, name=f"lease-{self.nit}", daemon=True)
        self._thread.start()
        return True

    def renew(self) -> bool:
        """Push the expiry forward; False when the lease was lost (expired and taken by another)."""
        with self.store.transaction(f"lease:{self.nit}") as db:
            now = self.store.clock(db)
            result = db.execute(
                sa.text("UPDATE client_leases SET expires_at = :e WHERE nit = :n AND holder = :h"),
                {"e": now + self.ttl_s, "n": self.nit, "h": self.holder},
            )
        if result.rowcount == 0:
            self.lost = True
            log.error("se perdió el bloqueo del cliente (otro proceso lo tomó)", client=self.nit)
        return not self.lost

    def _keep(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):  # wait-ok: the lease's own renewal clock
            try:
                if not self.renew():
                    return
            except sa.exc.OperationalError as exc:  # the database restarting: try again next period
                log.warning("no se pudo renovar el bloqueo del cliente", client=self.nit, error=type(exc).__name__)

    def release(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(10)
        self._thread = None
        with self.store.transaction(f"lease:{self.nit}") as db:
            db.execute(sa.text("DELETE FROM client_leases WHERE nit = :n AND holder = :h"),
                       {"n": self.nit, "h": self.holder})

    @property
    def held(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _step_row(row: Any) -> StepRow:
    return StepRow(
        nit=row["nit"], step=row["step"], status=row["status"], attempts=row["attempts"], total_runs=row["total_runs"],
        last_outcome=json.loads(row["last_outcome"]) if row["last_outcome"] else None,
        evidence=json.loads(row["evidence"] or "[]"), not_before=_dt(row["not_before"]),
        updated_at=_dt(row["updated_at"]),
    )
