"""The nightly run's lasting state: a SQLite or PostgreSQL store with Alembic migrations, per-client
locks (OS locks on one machine, leases in the store across machines), approvals."""

from bots.state.locks import ClientLock, lock_folder
from bots.state.store import (
    AGOTADO,
    ERROR_ENTRADA,
    ESPERANDO,
    FALLIDO,
    HECHO,
    PENDIENTE,
    PIPELINE,
    REQUIERE_HUMANO,
    Approval,
    Breaker,
    Lease,
    StepRow,
    Store,
    is_shared,
    state_url,
    store_path,
)

__all__ = [
    "AGOTADO",
    "ERROR_ENTRADA",
    "ESPERANDO",
    "FALLIDO",
    "HECHO",
    "PENDIENTE",
    "PIPELINE",
    "REQUIERE_HUMANO",
    "Approval",
    "Breaker",
    "ClientLock",
    "Lease",
    "StepRow",
    "Store",
    "is_shared",
    "lock_folder",
    "state_url",
    "store_path",
]
