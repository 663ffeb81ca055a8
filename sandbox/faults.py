"""Fault injection per client and step: latency, HTTP 500, dropped session, mail trouble, versions."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Fault:
    """What goes wrong. `times` is how many requests it hits (0 = every one until cleared)."""

    latency_s: float = 0.0
    http_500: bool = False
    drop_session: bool = False
    mail_delay_s: float = 0.0
    mail_lost: bool = False
    times: int = 1


@dataclass
class RequestLatency:
    """A latency added to every portal request (not the control API), and what it cost.

    `held_s` is the union of the intervals during which at least one request was held, so requests
    held at the same time count once (= requests x latency when they come one after another).
    """

    latency_s: float = 0.0
    requests: int = 0
    held_s: float = 0.0
    _busy_until: float = field(default=0.0, repr=False)

    def reset(self, latency_s: float | None = None) -> None:
        if latency_s is not None:
            self.latency_s = latency_s
        self.requests = 0
        self.held_s = 0.0
        self._busy_until = 0.0


class Faults:
    """Registry of armed faults keyed by (nit, step); `*` as nit arms it for every client."""

    def __init__(self) -> None:
        self._armed: dict[tuple[str, str], Fault] = {}
        self._versions: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        #: The global per-request latency (`set_request_latency`), applied by the sandbox's app.
        self.request_latency = RequestLatency()

    def set_request_latency(self, seconds: float) -> None:
        """Hold every portal request `seconds` before it is answered (0 turns it off); resets the counts."""
        with self._lock:
            self.request_latency.reset(max(0.0, seconds))

    async def delay_request(self) -> None:
        """Count one portal request and hold it for the global latency, if any."""
        with self._lock:
            gate = self.request_latency
            gate.requests += 1
            delay = gate.latency_s
            if delay <= 0:
                return
            start = time.monotonic()
            end = start + delay
            gate.held_s += max(0.0, end - max(start, gate._busy_until))
            gate._busy_until = max(gate._busy_until, end)
        await asyncio.sleep(delay)

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
