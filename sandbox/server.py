"""Run the sandbox on a loopback port in a background thread (tests) or in the foreground (demo)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from sandbox.app import create_app
from sandbox.world import World


class SandboxServer:
    """uvicorn serving `create_app(world)` on 127.0.0.1; `port=0` picks a free port."""

    def __init__(self, world: World, port: int = 0, host: str = "127.0.0.1") -> None:
        self.world = world
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        world.port = self.port
        config = uvicorn.Config(create_app(world), log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def url(self, portal: str) -> str:
        return self.world.base_url(portal)

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:  # uvicorn offers a flag, not an event
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("el sandbox no arrancó")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        self._server.run(sockets=[self._sock])

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
