"""Helpers and fixtures for the simulated DIAN catalogue (habilitación and production hosts).

The helpers are plain functions and classes, so test modules can import them directly; the fixtures
become available everywhere once this module is listed in conftest's `pytest_plugins`.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from sandbox.catalogo import AUTH_COOKIE
from sandbox.catalogo_state import set_stage
from sandbox.world import MemoryMailSink, SandboxClient, World

LINK_RE = re.compile(r"https?://[^\s\"'<>]+/User/AuthToken\?[^\s\"'<>]+")


def token_links(world: World, address: str) -> list[str]:
    """Every "Acceder" link mailed to an address (oldest first), unescaped."""
    assert isinstance(world.mail, MemoryMailSink), "these helpers read the in-memory mail sink"
    links = []
    for raw in world.mail.to(address):
        msg = message_from_bytes(raw, policy=policy.default)
        for part in msg.walk():
            if part.get_content_type() in ("text/html", "text/plain"):
                found = LINK_RE.search(html.unescape(part.get_content()))
                if found:
                    links.append(found.group(0))
                    break
    return links


def link_path(link: str) -> str:
    """The path and query of a token link (for an HTTP client bound to its host)."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def captcha(kind: str = "a") -> str:
    """A Turnstile response as the stand-in widget makes it ("a." passed by itself, "i." by a person)."""
    return f"{kind}.{uuid.uuid4().hex}.sandbox-turnstile"


class CatalogoHttp:
    """Drives one catalogue host over plain HTTP, as a browser would (cookies kept per host)."""

    def __init__(self, world: World, http: httpx.Client) -> None:
        self.world = world
        self.http = http

    def request_token(self, client: SandboxClient, **overrides: str) -> httpx.Response:
        """POST the Empresa form (Ajax); overrides replace form fields."""
        data = {
            "IdentificationType": client.rep_id_type,
            "UserCode": client.rep_id_number,
            "CompanyCode": client.nit,
            "cf-turnstile-response": captcha(),
            **overrides,
        }
        return self.http.post("/User/CompanyAuthentication", data=data, headers={"X-Requested-With": "XMLHttpRequest"})

    def last_link(self, client: SandboxClient) -> str:
        links = token_links(self.world, client.email_rut)
        assert links, f"no token e-mail for {client.email_rut}"
        return links[-1]

    def open_link(self, link: str) -> httpx.Response:
        return self.http.get(link_path(link))

    def login(self, client: SandboxClient) -> None:
        """Token login: request, read the mail, open the link; leaves a session cookie."""
        reply = self.request_token(client)
        assert reply.json() == {"Code": 200, "Message": "LoginConfirmed"}, reply.text
        opened = self.open_link(self.last_link(client))
        assert opened.status_code == 302 and opened.headers["location"] == "/Home/Dashboard", opened.text
        assert self.http.cookies.get(AUTH_COOKIE)

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.http.get(path, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(path, data=data or {}, headers={"X-Requested-With": "XMLHttpRequest"})


def browser_login(page: Page, world: World, base_url: str, client: SandboxClient) -> None:
    """Token login through the real pages in Chromium (Empresa form, Turnstile stand-in, mail link)."""
    page.goto(f"{base_url}/User/CompanyLogin")
    page.get_by_role("button", name="Representante legal").click()
    form = page.locator("#form0")
    form.get_by_label("Tipo de identificación").select_option(client.rep_id_type)
    form.get_by_label("NIT Representante Legal").fill(client.rep_id_number)
    form.get_by_label("NIT Empresa").fill(client.nit)
    expect(form.locator("input[name='cf-turnstile-response']")).not_to_have_value("")
    before = len(token_links(world, client.email_rut))
    form.get_by_role("button", name="Entrar").click()
    page.wait_for_url("**/User/LoginConfirmed")
    expect(page.get_by_text("El acceso estará disponible por 60 minutos.")).to_be_visible()
    links = token_links(world, client.email_rut)
    assert len(links) == before + 1
    page.goto(links[-1])
    page.wait_for_url("**/Home/Dashboard")


@pytest.fixture
def catalogo_http(world: World, portal_http: Callable[[str], httpx.Client]) -> Callable[[str], CatalogoHttp]:
    """`catalogo_http("habilitacion")`: an HTTP driver for one catalogue host of the test's world."""
    return lambda portal: CatalogoHttp(world, portal_http(portal))


@pytest.fixture
def catalogo_stage(world: World) -> Iterator[Callable[..., object]]:
    """`catalogo_stage(nit, "aceptado")`: put a client at a catalogue stage (see sandbox.catalogo_state)."""
    yield lambda nit, stage, **kw: set_stage(world, nit, stage, **kw)
