"""Per-client locks that die with their holder: ``flock`` on ``<state folder>/bloqueos/<nit>.lock``.

The operating system releases an ``flock`` when its process ends, however it ends (kill -9
included), so a crashed run never leaves a client locked. Two runs at once (or two workers) never
hold the same client. The file keeps the holder's pid for the operator's eyes only.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bots.artifacts import safe_name


class ClientLock:
    """An exclusive, non-blocking lock on one client (``acquire()`` → False when someone holds it)."""

    def __init__(self, folder: Path, nit: str) -> None:
        self.path = Path(folder) / f"{safe_name(nit)}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> ClientLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_folder(store_path: Path) -> Path:
    """The locks live next to the database."""
    return store_path.parent / "bloqueos"
