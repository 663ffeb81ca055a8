"""Throwaway PostgreSQL and Redis servers on loopback for the tests (Debian's packages, installed by
scripts/setup). Each runs in a temporary folder on a free port and is removed at the end. Where a
binary is missing the tests that need it are skipped, saying which."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # wait-ok: a server starting up; nothing to wait on but its port
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _pg_bin() -> Path | None:
    for folder in (PG_BIN, *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)):
        if (folder / "initdb").exists():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class Postgres:
    """A PostgreSQL cluster in a temporary folder (run as the ``postgres`` user when we are root)."""

    def __init__(self) -> None:
        bin_dir = _pg_bin()
        if bin_dir is None:
            pytest.skip("PostgreSQL no está instalado (scripts/setup instala el paquete postgresql de Debian)")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="dian-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o755)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        _wait_port(self.port)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = "t" + uuid.uuid4().hex[:12]
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A redis-server in a temporary folder (append-only file on, so a restart keeps the queue)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            pytest.skip("Redis no está instalado (scripts/setup instala el paquete redis-server de Debian)")
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="dian-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
             "--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", str(self.root / "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)

    def stop(self) -> None:
        """SHUTDOWN as ``systemctl stop`` does (the append-only file is flushed first)."""
        if self.proc is None:
            return
        import redis

        with contextlib.suppress(redis.exceptions.ConnectionError):  # it closes the connection as it exits
            redis.Redis.from_url(self.url).shutdown(save=False)
        self.proc.wait(30)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    server = Postgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: Postgres) -> str:
    """A fresh database on the session's PostgreSQL."""
    return postgres_server.create_database()


@pytest.fixture
def redis_server() -> Iterator[Redis]:
    server = Redis()
    try:
        yield server
    finally:
        server.close()
