"""The sandbox's ASGI application: one server, three DIAN portals told apart by the Host header.

    habilitación  catalogo-vpfe-hab.localhost   (sandbox.catalogo)
    producción    catalogo-vpfe.localhost       (sandbox.catalogo)
    MUISCA        muisca.localhost              (sandbox.muisca)
    control       any other host: /_sandbox/... (clock, journal, faults, clients)
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from sandbox import drift
from sandbox.faults import Fault
from sandbox.world import PORTALS, World


def _portal_routes(world: World, portal: str) -> list[Any]:
    """Routes of a portal module, if that module exists yet."""
    module_name = "sandbox.muisca" if portal == "muisca" else "sandbox.catalogo"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return []
    return module.routes(world) if portal == "muisca" else module.routes(world, portal)


def control_app(world: World) -> Starlette:
    """The sandbox's own control API and index page (never part of DIAN)."""

    async def index(request: Request) -> Response:
        rows = "".join(
            f"<tr><td>{c.nit}-{c.dv}</td><td>{c.razon_social}</td><td>{c.email_rut}</td></tr>"
            for c in world.clients.values()
        )
        links = "".join(f'<li><a href="{world.base_url(p)}/">{p}</a></li>' for p in PORTALS)
        return HTMLResponse(
            "<!DOCTYPE html><html lang='es'><head><meta charset='utf-8'><title>DIAN simulada</title></head>"
            f"<body><h1>DIAN simulada</h1><ul>{links}</ul>"
            f"<table><tr><th>NIT</th><th>Razón social</th><th>Correo RUT</th></tr>{rows}</table>"
            f"<p>Hora del sandbox: {world.clock.now():%d/%m/%Y %H:%M}</p></body></html>"
        )

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            world.clock.advance(timedelta(minutes=float(body.get("minutes", 0))))
        return JSONResponse({"now": world.clock.now().isoformat()})

    async def journal(request: Request) -> Response:
        nit = request.query_params.get("nit")
        action = request.query_params.get("action")
        entries = [e for e in world.journal.as_dicts() if (not nit or e["nit"] == nit)]
        return JSONResponse([e for e in entries if not action or e["action"] == action])

    async def faults(request: Request) -> Response:
        body = await request.json()
        nit, step = str(body.pop("nit")), str(body.pop("step"))
        if step == "drift":
            world.drift = set(body.get("transformaciones", []))
            return JSONResponse({"ok": True, "drift": sorted(world.drift)})
        if step == "version":
            world.faults.set_version(nit, str(body["family"]), str(body["version"]))
        else:
            world.faults.inject(nit, step, Fault(**body))
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
            Route("/_sandbox/journal", journal),
            Route("/_sandbox/faults", faults, methods=["POST"]),
        ]
    )


class HostDispatch:
    """Route each request to the portal app named by its Host header."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.apps = {portal: Starlette(routes=_portal_routes(world, portal)) for portal in PORTALS}
        self.control = control_app(world)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = ""
        if scope["type"] in ("http", "websocket"):
            host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        portal = self.world.hosts.portal_for(host)
        if not portal:
            await self.control(scope, receive, send)
            return
        if scope["type"] == "http":
            await self.world.faults.delay_request()  # the global latency (sandbox.faults), 0 by default
        if self.world.drift and scope["type"] == "http":
            await _drifted(self.apps[portal], frozenset(self.world.drift), scope, receive, send)
        else:
            await self.apps[portal](scope, receive, send)


async def _drifted(app: Starlette, names: frozenset[str], scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app`` and rewrite its HTML responses with the drift transformations (sandbox.drift)."""
    start: dict[str, Any] = {}
    body: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        headers = dict(start.get("headers", []))
        if b"text/html" not in headers.get(b"content-type", b""):
            if start:
                await send(dict(start))
                start.clear()
            await send(message)
            return
        body.append(message.get("body", b""))
        if message.get("more_body"):
            return
        page = drift.apply(b"".join(body), names)
        fixed = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        fixed.append((b"content-length", str(len(page)).encode()))
        await send({**start, "headers": fixed})
        await send({"type": "http.response.body", "body": page})

    await app(scope, receive, capture)


def create_app(world: World) -> HostDispatch:
    return HostDispatch(world)
