"""A controllable clock: the sandbox's "now", which tests can jump forward without waiting."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

BOGOTA = timezone(timedelta(hours=-5), "America/Bogota")


class Clock:
    """Wall time plus an offset that tests move with `advance()`."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The sandbox's current time, in Bogotá (DIAN's) time zone."""
        with self._lock:
            return datetime.now(BOGOTA) + self._offset

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Jump forward, e.g. `advance(minutes=61)`; returns the new now."""
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._offset += step
        return self.now()
