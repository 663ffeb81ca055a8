"""The journal of every state-changing action, so tests can assert "done exactly once"."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Entry:
    at: datetime
    nit: str
    portal: str
    action: str
    details: dict[str, Any] = field(default_factory=dict)


class Journal:
    """Append-only, thread-safe list of entries."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._lock = threading.Lock()

    def record(self, at: datetime, nit: str, portal: str, action: str, **details: Any) -> Entry:
        entry = Entry(at, nit, portal, action, details)
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self, nit: str | None = None, action: str | None = None, **match: Any) -> list[Entry]:
        """Entries filtered by client, action and detail values."""
        with self._lock:
            found = list(self._entries)
        return [
            e
            for e in found
            if (nit is None or e.nit == nit)
            and (action is None or e.action == action)
            and all(e.details.get(k) == v for k, v in match.items())
        ]

    def count(self, nit: str | None = None, action: str | None = None, **match: Any) -> int:
        return len(self.entries(nit, action, **match))

    def as_dicts(self) -> list[dict[str, Any]]:
        return [
            {"at": e.at.isoformat(), "nit": e.nit, "portal": e.portal, "action": e.action, **e.details}
            for e in self.entries()
        ]
