"""HTTP helpers shared by the portal modules: fault gates and common responses."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sandbox.world import World


async def fault_gate(world: World, nit: str | None, step: str) -> tuple[Response | None, bool]:
    """Apply the fault armed for (client, step).

    Returns (response to send instead, or None; whether the session must be dropped).
    """
    fault = world.faults.take(nit, step)
    if fault is None:
        return None, False
    if fault.latency_s:
        await asyncio.sleep(fault.latency_s)
    if fault.http_500:
        world.record(nit or "?", "sandbox", "falla_inyectada", step=step, kind="http_500")
        return server_error(), fault.drop_session
    return None, fault.drop_session


def server_error() -> Response:
    """What an ASP.NET/IIS site shows on an unhandled error."""
    body = (
        "<!DOCTYPE html><html><head><title>Runtime Error</title></head><body>"
        "<h1>Server Error in '/' Application.</h1><h2><i>Runtime Error</i></h2></body></html>"
    )
    return HTMLResponse(body, status_code=500)


async def posted_form(request: Request) -> dict[str, str]:
    """Posted fields (application/x-www-form-urlencoded; the last value wins); {} unless POST."""
    if request.method != "POST":
        return {}
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))
