"""Fault injection per client and step: latency, HTTP 500, dropped session, mail trouble, versions."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """What goes wrong. `times` is how many requests it hits (0 = every one until cleared)."""

    latency_s: float = 0.0
    http_500: bool = False
    drop_session: bool = False
    mail_delay_s: float = 0.0
    mail_lost: bool = False
    times: int = 1


class Faults:
    """Registry of armed faults keyed by (nit, step); `*` as nit arms it for every client."""

    def __init__(self) -> None:
        self._armed: dict[tuple[str, str], Fault] = {}
        self._versions: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def inject(self, nit: str, step: str, fault: Fault) -> None:
        with self._lock:
            self._armed[(nit, step)] = fault

    def clear(self, nit: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._armed if nit is None or k[0] == nit]:
                del self._armed[key]
            for key in [k for k in self._versions if nit is None or k[0] == nit]:
                del self._versions[key]

    def take(self, nit: str | None, step: str) -> Fault | None:
        """The fault armed for this client and step, consuming one of its `times`."""
        with self._lock:
            for key in ((nit or "", step), ("*", step)):
                fault = self._armed.get(key)
                if fault is None:
                    continue
                if fault.times == 1:
                    del self._armed[key]
                elif fault.times > 1:
                    fault.times -= 1
                return fault
        return None

    def set_version(self, nit: str, family: str, version: str) -> None:
        """Serve this client another recorded version of a portal (e.g. an unknown redesign)."""
        with self._lock:
            self._versions[(nit, family)] = version

    def version_for(self, nit: str | None, family: str, default: str) -> str:
        with self._lock:
            return self._versions.get((nit or "", family), self._versions.get(("*", family), default))
