"""The sandbox's DIAN e-mails land in the right mailbox, on pymap and on Dovecot.

Two clients with their own mailboxes (the second one gets its clave dinámica at another address than its
token) in a World whose mail goes to a real IMAP server (`ImapMailSink`). A token request on the
habilitación catalogue and a clave dinámica request on MUISCA, both over plain HTTP through the sandbox
app, must each put one e-mail in the requesting client's mailbox only, with DIAN's sender and subject,
and readable by the robot's parsers. Also: the sink's `junk` option files the mail in "Junk", and a
`mail_lost` fault delivers nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import urlsplit

import httpx
import pytest

from bots.mail import DIAN_TOKEN_SENDER, parse_dynamic_key_email, parse_token_email
from sandbox import muisca
from sandbox.catalogo_state import state_of
from sandbox.faults import Fault
from sandbox.mail import ImapMailSink, ImapServer
from sandbox.muisca_state import state_of as muisca_state_of
from sandbox.server import SandboxServer
from sandbox.world import SandboxClient, World
from tests.fixtures_catalogo import CatalogoHttp
from tests.fixtures_muisca import MuiscaWalker
from tests.fixtures_sandbox import DEMO_NIT, demo_client

NIT_A, NIT_B = DEMO_NIT, "800197268"
PASSWORD = "buzon-entrega-1"
HAB = "habilitacion"
TOKEN_SUBJECT = "Token Acceso DIAN"
KEY_SENDER = "comunicaciones@dian.gov.co"  # the recording's (invented) sender of E-02
KEY_SUBJECT = "Se informa clave dinámica - Proceso de firma electrónica"
FOLDERS = ("INBOX", "Junk")


@pytest.fixture
def world(imap_server: ImapServer) -> World:
    """Overrides the shared `world`: two clients, fresh mailboxes on `imap_server`, mail delivered there.

    A receives token and clave at one address; B at two. The sink creates no mailbox: a mail sent to
    any other address fails the request instead of landing somewhere unseen.
    """
    run = uuid.uuid4().hex[:8]  # the IMAP servers live for the whole session
    w = World()
    w.add_client(demo_client(NIT_A, email_rut=f"facturacion-a-{run}@empresa-demo.test"))
    w.add_client(
        demo_client(
            NIT_B,
            razon_social="OTRA EMPRESA DEMO S.A.S.",
            nombre_usuario="OTRO USUARIO DEMO",
            email_rut=f"facturacion-b-{run}@otra-demo.test",
            email_clave=f"firma-b-{run}@otra-demo.test",
        )
    )
    for address in mailboxes(w):
        imap_server.add_account(address, PASSWORD)
    w.mail = ImapMailSink(imap_server, auto_create=False)
    return w


def mailboxes(world: World) -> list[str]:
    return sorted({a for c in world.clients.values() for a in (c.email_rut, c.key_mailbox)})


def fetch(server: ImapServer, address: str, folder: str = "INBOX") -> list[bytes]:
    """Every message in a folder, raw, oldest first (read-only: nothing is marked seen)."""
    with server.client(address) as imap:
        imap.select_folder(folder, readonly=True)
        uids = imap.search("ALL")
        if not uids:
            return []
        fetched = imap.fetch(uids, ["BODY.PEEK[]"])
        return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]


def census(server: ImapServer, world: World) -> dict[tuple[str, str], int]:
    """(address, folder) -> number of messages, for every mailbox of the world."""
    return {(a, f): len(fetch(server, a, f)) for a in mailboxes(world) for f in FOLDERS}


def expect_only(server: ImapServer, world: World, **where: tuple[str, str]) -> dict[str, bytes]:
    """Assert exactly one message in each named (address, folder) and none anywhere else; return them."""
    found = census(server, world)
    wanted = set(where.values())
    assert found == {place: int(place in wanted) for place in found}
    return {name: fetch(server, *place)[0] for name, place in where.items()}


def headers(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def hab_host(world: World) -> str:
    """The catalogue host as its links show it: `host:port` of the running sandbox."""
    return urlsplit(world.base_url(HAB)).netloc


def request_token(catalogo: CatalogoHttp, client: SandboxClient) -> None:
    reply = catalogo.request_token(client)
    assert reply.json() == {"Code": 200, "Message": "LoginConfirmed"}, reply.text


def request_key(walker: MuiscaWalker) -> None:
    """MUISCA: log in for the company, put a numbering request in DEFINITIVO, ask for the clave dinámica."""
    assert walker.login().status_code == 302
    walker.to_solicitud()
    walker.agregar()
    assert walker.boton("Definitivo").headers["location"] == muisca.FIRMA
    assert walker.solicitar_clave().status_code == 200


def assert_token_mail(raw: bytes, world: World, client: SandboxClient) -> None:
    msg = headers(raw)
    assert parseaddr(str(msg["From"]))[1] == DIAN_TOKEN_SENDER and str(msg["Subject"]) == TOKEN_SUBJECT
    assert parseaddr(str(msg["To"]))[1] == client.email_rut
    link = parse_token_email(raw, allowed_hosts=[hab_host(world)])
    assert link is not None
    assert (link.host, link.nit, link.user_code) == (hab_host(world), client.nit, client.rep_id_number)
    assert link.token == state_of(client).tokens[HAB].guid
    assert parse_token_email(raw) is None  # a sandbox host is only accepted when allowed explicitly
    assert parse_dynamic_key_email(raw) is None


def assert_key_mail(raw: bytes, client: SandboxClient) -> None:
    msg = headers(raw)
    assert parseaddr(str(msg["From"]))[1] == KEY_SENDER and str(msg["Subject"]) == KEY_SUBJECT
    assert parseaddr(str(msg["To"]))[1] == client.key_mailbox
    clave = muisca_state_of(client).clave
    assert clave is not None and parse_dynamic_key_email(raw) == clave.valor
    assert parse_token_email(raw, allowed_hosts=["catalogo-vpfe-hab.localhost"]) is None


def test_token_mail_reaches_only_the_requesting_clients_mailbox(
    world: World, sandbox: SandboxServer, catalogo_http: Callable[[str], CatalogoHttp], imap_server: ImapServer
) -> None:
    a, b = world.clients[NIT_A], world.clients[NIT_B]
    hab = catalogo_http(HAB)
    request_token(hab, a)
    request_token(hab, b)

    mails = expect_only(imap_server, world, a=(a.email_rut, "INBOX"), b=(b.email_rut, "INBOX"))
    assert_token_mail(mails["a"], world, a)
    assert_token_mail(mails["b"], world, b)
    assert state_of(b).tokens[HAB].guid.encode() not in mails["a"]
    assert state_of(a).tokens[HAB].guid.encode() not in mails["b"]
    assert [e.details["to"] for e in world.journal.entries(action="correo_enviado", kind="token")] == [
        a.email_rut,
        b.email_rut,
    ]


def test_clave_dinamica_reaches_only_the_clients_key_mailbox(
    world: World, sandbox: SandboxServer, portal_http: Callable[[str], httpx.Client], imap_server: ImapServer
) -> None:
    a, b = world.clients[NIT_A], world.clients[NIT_B]
    request_key(MuiscaWalker(portal_http("muisca"), world, NIT_A))
    request_key(MuiscaWalker(portal_http("muisca"), world, NIT_B))

    # B's clave goes to its clave mailbox, not to the one that receives its tokens.
    mails = expect_only(imap_server, world, a=(a.key_mailbox, "INBOX"), b=(b.key_mailbox, "INBOX"))
    assert a.key_mailbox == a.email_rut and b.key_mailbox != b.email_rut
    assert_key_mail(mails["a"], a)
    assert_key_mail(mails["b"], b)
    clave_a, clave_b = muisca_state_of(a).clave, muisca_state_of(b).clave
    assert clave_a is not None and clave_b is not None and clave_a.valor != clave_b.valor
    assert clave_b.valor.encode() not in mails["a"] and clave_a.valor.encode() not in mails["b"]


def test_junk_option_files_the_clients_mail_in_junk(
    world: World, sandbox: SandboxServer, catalogo_http: Callable[[str], CatalogoHttp], imap_server: ImapServer
) -> None:
    a, b = world.clients[NIT_A], world.clients[NIT_B]
    world.mail = ImapMailSink(imap_server, auto_create=False, junk=[a.email_rut.upper()])  # any letter case
    hab = catalogo_http(HAB)
    request_token(hab, a)
    request_token(hab, b)

    mails = expect_only(imap_server, world, a=(a.email_rut, "Junk"), b=(b.email_rut, "INBOX"))
    assert_token_mail(mails["a"], world, a)
    assert_token_mail(mails["b"], world, b)


@pytest.mark.parametrize("kind", ["token", "clave_dinamica"])
def test_mail_lost_fault_delivers_nothing(
    kind: str,
    world: World,
    sandbox: SandboxServer,
    catalogo_http: Callable[[str], CatalogoHttp],
    portal_http: Callable[[str], httpx.Client],
    imap_server: ImapServer,
) -> None:
    a = world.clients[NIT_A]
    world.faults.inject(NIT_A, kind, Fault(mail_lost=True))
    if kind == "token":
        request_token(catalogo_http(HAB), a)  # DIAN still says the mail went out
        assert state_of(a).tokens[HAB].guid
    else:
        request_key(MuiscaWalker(portal_http("muisca"), world, NIT_A))
        assert muisca_state_of(a).clave is not None

    assert set(census(imap_server, world).values()) == {0}
    assert world.journal.count(NIT_A, "correo_perdido", kind=kind, to=a.email_rut) == 1
    assert world.journal.count(action="correo_enviado") == 0
