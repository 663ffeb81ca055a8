"""The nightly run's lasting state: SQLite store with migrations, per-client OS locks, approvals."""

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
    StepRow,
    Store,
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
    "StepRow",
    "Store",
    "lock_folder",
    "store_path",
]
