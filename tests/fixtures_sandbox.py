"""Sandbox fixtures: a fresh simulated DIAN per test, served over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from sandbox import demo
from sandbox.app import create_app
from sandbox.server import SandboxServer
from sandbox.world import SandboxClient, World

DEMO_NIT = demo.DEMO_NIT


def demo_client(nit: str = DEMO_NIT, **overrides: object) -> SandboxClient:
    """A client company with the recordings' placeholder data (NIT 900123456-8)."""
    return demo.demo_client(nit, **overrides)


@pytest.fixture
def world() -> World:
    """A fresh simulated DIAN with one demo client and mail kept in memory."""
    w = World()
    w.add_client(demo_client())
    return w


@pytest.fixture
def sandbox(world: World) -> Iterator[SandboxServer]:
    """The world served by uvicorn on a free loopback port (for Chromium and the robot)."""
    with SandboxServer(world) as server:
        yield server


@pytest.fixture
def portal_http(world: World) -> Iterator[Callable[[str], httpx.Client]]:
    """In-process HTTP clients per portal: `portal_http("habilitacion").get("/User/Login")`."""
    app = create_app(world)
    opened: list[TestClient] = []

    def make(portal: str) -> httpx.Client:
        client = TestClient(app, base_url=f"http://{getattr(world.hosts, portal)}", follow_redirects=False)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()
