"""Colombia's time: the one Bogotá time zone of the robot.

DIAN's portals, mails and deadlines speak Colombian time (UTC−5, no daylight saving). Every module
that shows or parses a local time uses ``BOGOTA`` or ``now_bogota()`` from here.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["BOGOTA", "now_bogota"]

BOGOTA = ZoneInfo("America/Bogota")


def now_bogota() -> datetime:
    """The current time in Bogotá, timezone-aware."""
    return datetime.now(BOGOTA)
