"""Parsing of DIAN's e-mails (E-01 token link, E-02 clave dinámica): recordings and sandbox-built mails.

Each filtering layer of `bots.mail.waiters` has a test here that fails without it: sender
(`test_sender_rule_*`), subject (`test_subject_rule_*`), client (`test_other_clients_nit_*`), host
(`test_look_alike_hosts_*`, `test_token_matcher_only_the_hosts_given`), date (`test_old_token_mail_*`).
The watermark layer is tested against IMAP servers (tests/test_mail_imap.py).
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from bots.errors import BOGOTA, PortalChanged
from bots.mail import (
    DynamicKey,
    MailUnreadable,
    TokenLink,
    from_dian,
    parse_dynamic_key,
    parse_dynamic_key_email,
    parse_token_email,
    token_matcher,
)
from sandbox.mail import RECORDINGS, build_dynamic_key_email, build_token_email

MANIFEST = tomllib.loads((RECORDINGS / "manifest.toml").read_text(encoding="utf-8"))
ENTRIES = {entry["screen"]: entry for entry in MANIFEST["mail"]}
E01 = (RECORDINGS / ENTRIES["E-01"]["file"]).read_bytes()
E02 = (RECORDINGS / ENTRIES["E-02"]["file"]).read_bytes()
TO = "facturacion@empresa-demo.test"
GUID = "6d0c1f4e-2b7a-4c59-9e8d-3a1b2c4d5e6f"
PROD = f"https://catalogo-vpfe.dian.gov.co/User/AuthToken?pk=10910094|1020304050&rk=900123456&token={GUID}"


def _headers(raw: bytes, **headers: str) -> bytes:
    msg: EmailMessage = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
    for name, value in headers.items():
        del msg[name.replace("_", "-")]
        msg[name.replace("_", "-")] = value
    return msg.as_bytes(policy=policy.SMTP)


def _bodies(raw: bytes) -> str:
    msg: EmailMessage = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
    parts = [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
    return str(msg["Subject"]) + "\n" + "\n".join(parts)


# --- recordings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("screen", ["E-01", "E-02"])
def test_recording_holds_the_expected_texts_and_slots(screen: str) -> None:
    entry = ENTRIES[screen]
    raw = (RECORDINGS / entry["file"]).read_bytes()
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text = _bodies(raw)
    for expected in entry["expect"]["texts"]:
        assert expected in text, expected
    for name, value in entry["slots"].items():
        if name != "date":
            assert value in text, name
    assert entry["provenance"]["facts"]


def test_recorded_token_email_parses() -> None:
    link = parse_token_email(E01)
    assert link == TokenLink(
        url=ENTRIES["E-01"]["slots"]["link"],
        host="catalogo-vpfe-hab.dian.gov.co",
        nit="900123456",
        id_type="10910094",
        user_code="1020304050",
        token="3f2b6c1e-8a4d-4e2f-9c7b-5d1a0e6f4b21",
    )


def test_href_amp_is_unescaped() -> None:
    html_part = message_from_bytes(E01, policy=policy.default).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&amp;rk=900123456&amp;token=" in html_part
    html_only = _html_only(E01)
    link = parse_token_email(html_only)
    assert link is not None
    assert "&amp;" not in link.url
    assert "&rk=900123456&token=" in link.url


def _html_only(raw: bytes) -> bytes:
    msg: EmailMessage = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    out = EmailMessage()
    for name in ("From", "To", "Subject", "Date"):
        out[name] = msg[name]
    out.set_content(html, subtype="html", cte="base64")
    return out.as_bytes()


def test_recorded_dynamic_key_email_parses() -> None:
    assert parse_dynamic_key_email(E02) == "AODU1Mzg="
    found = parse_dynamic_key(E02)
    stamp = datetime(2022, 11, 3, 16, 58, 56, tzinfo=BOGOTA)
    assert found == DynamicKey(key="AODU1Mzg=", valid_from=stamp, valid_to=stamp)


def test_reprs_hide_link_token_and_key() -> None:
    link = parse_token_email(E01)
    key = parse_dynamic_key(E02)
    assert link is not None and key is not None
    assert link.token not in repr(link) and "AuthToken" not in repr(link)
    assert "AODU1Mzg" not in repr(key)


# --- E-01 variants ------------------------------------------------------------------------------


def test_pipe_percent_encoded() -> None:
    raw = build_token_email(TO, PROD.replace("|", "%7C"))
    link = parse_token_email(raw)
    assert link is not None
    assert (link.host, link.id_type, link.user_code, link.nit, link.token) == (
        "catalogo-vpfe.dian.gov.co",
        "10910094",
        "1020304050",
        "900123456",
        GUID,
    )


@pytest.mark.parametrize(
    "subject", ["token acceso dian", "TOKEN ACCESO DIAN", "Token Acceso Dian", "RV: Token  Acceso DIAN"]
)
def test_subject_any_case_is_enough(subject: str) -> None:
    raw = _headers(build_token_email(TO, PROD), Subject=subject, From="Notificaciones <otro@dian.gov.co>")
    link = parse_token_email(raw)
    assert link is not None and link.token == GUID


def test_subject_rule_dian_sender_alone_is_not_enough() -> None:
    raw = _headers(build_token_email(TO, PROD), Subject="Estimado (a), facturacion@empresa-demo.test")
    assert parse_token_email(raw) is None
    key = _headers(_key_mail(), Subject="Comunicación de servicio")
    assert parse_dynamic_key(key) is None


@pytest.mark.parametrize(
    "sender",
    [
        "DIAN <facturacion@dian-gov.co>",
        "DIAN <facturacionelectronica@dian.gov.co.evil.test>",
        "DIAN <facturacionelectronica@evildian.gov.co>",
        "facturacionelectronica@dian.gov.co <avisos@tienda.test>",
        "DIAN <facturacionelectronica@dian.gov.co>, Otro <otro@tienda.test>",
    ],
)
def test_sender_rule_subject_alone_is_not_enough(sender: str) -> None:
    assert parse_token_email(_headers(build_token_email(TO, PROD), From=sender)) is None
    assert parse_dynamic_key(_headers(_key_mail(), From=sender)) is None


@pytest.mark.parametrize(
    "sender", ["DIAN <facturacionelectronica@dian.gov.co>", "Notificaciones <avisos@correo.dian.gov.co>"]
)
def test_sender_rule_accepts_dians_domain(sender: str) -> None:
    msg = message_from_bytes(_headers(build_token_email(TO, PROD), From=sender), policy=policy.default)
    assert from_dian(msg)
    assert parse_token_email(msg.as_bytes()) is not None


def _key_mail() -> bytes:
    start = datetime(2026, 5, 4, 15, 2, 3, tzinfo=BOGOTA)
    return build_dynamic_key_email(TO, "JUAN DEMO", "QWxhZGRpbg==", start, start)


def test_wrong_sender_and_wrong_subject() -> None:
    raw = _headers(build_token_email(TO, PROD), Subject="Su factura", From="DIAN <facturacion@dian-gov.co>")
    assert parse_token_email(raw) is None


@pytest.mark.parametrize(
    "url",
    [
        f"https://catalogo-vpfe.dian.gov.co.evil.test/User/AuthToken?pk=10910094|123&rk=900123456&token={GUID}",
        f"https://evil-catalogo-vpfe.dian.gov.co/User/AuthToken?pk=10910094|123&rk=900123456&token={GUID}",
        f"https://catalogo-vpfe.dian.gov.co@evil.test/User/AuthToken?pk=10910094|123&rk=900123456&token={GUID}",
        f"http://catalogo-vpfe.dian.gov.co/User/AuthToken?pk=10910094|123&rk=900123456&token={GUID}",
        f"https://catalogo-vpfe.dian.gov.co:8443/User/AuthToken?pk=10910094|123&rk=900123456&token={GUID}",
    ],
)
def test_look_alike_hosts_are_rejected(url: str) -> None:
    raw = build_token_email(TO, url)
    assert parse_token_email(raw) is None
    assert token_matcher("900123456")(raw) is None


@pytest.mark.parametrize(
    "url",
    [
        f"https://catalogo-vpfe.dian.gov.co/User/Login?pk=10910094|1&rk=900123456&token={GUID}",
        "https://catalogo-vpfe.dian.gov.co/User/AuthToken?pk=10910094|1&rk=900123456",
        f"https://catalogo-vpfe.dian.gov.co/User/AuthToken?pk=1020304050&rk=900123456&token={GUID}",
        f"https://catalogo-vpfe.dian.gov.co/User/AuthToken?pk=10910094|1020304050&rk=&token={GUID}",
    ],
)
def test_dian_token_mail_without_a_readable_link_is_unreadable(url: str) -> None:
    """DIAN's sender and subject, but no link of the known shape: DIAN changed its mail (exit 5)."""
    with pytest.raises(MailUnreadable) as caught:
        parse_token_email(build_token_email(TO, url))
    with pytest.raises(MailUnreadable):
        token_matcher("900123456")(build_token_email(TO, url))
    assert isinstance(caught.value, PortalChanged) and caught.value.exit_code == 5
    assert GUID not in str(caught.value) and "AuthToken?" not in str(caught.value)


def test_dian_key_mail_without_the_key_is_unreadable() -> None:
    body = "Se ha generado una clave dinámica\n\nSu clave es QWxhZGRpbg==\n"
    raw = _plain("Se informa clave dinámica - Proceso de firma electrónica", body, sender="DIAN <avisos@dian.gov.co>")
    with pytest.raises(MailUnreadable) as caught:
        parse_dynamic_key(raw)
    assert "QWxhZGRpbg" not in str(caught.value)


def test_token_matcher_only_the_hosts_given() -> None:
    """The session passes its own portal's host: a token for the other catalogue is not its."""
    hab = build_token_email(TO, PROD.replace("catalogo-vpfe.", "catalogo-vpfe-hab."))
    assert token_matcher("900123456")(hab) is not None  # both DIAN catalogues by default
    assert token_matcher("900123456", ["catalogo-vpfe.dian.gov.co"])(hab) is None
    assert token_matcher("900123456", ["catalogo-vpfe-hab.dian.gov.co"])(hab) is not None


def test_old_token_mail_is_ignored_by_the_token_matcher() -> None:
    sent = datetime(2026, 5, 4, 9, 30, tzinfo=BOGOTA)
    raw = build_token_email(TO, PROD, sent_at=sent)
    assert token_matcher("900123456", not_before=sent + timedelta(minutes=9))(raw) is not None
    assert token_matcher("900123456", not_before=sent + timedelta(minutes=11))(raw) is None


def test_sandbox_host_only_when_passed() -> None:
    url = f"http://catalogo-vpfe-hab.localhost:8123/User/AuthToken?pk=10910094|1020304050&rk=900123456&token={GUID}"
    raw = build_token_email(TO, url)
    assert parse_token_email(raw) is None
    assert parse_token_email(raw, allowed_hosts=["catalogo-vpfe-hab.localhost:9999"]) is None
    link = parse_token_email(raw, allowed_hosts=["catalogo-vpfe-hab.localhost:8123"])
    assert link is not None and link.host == "catalogo-vpfe-hab.localhost:8123" and link.url == url
    # The real hosts stay allowed when extra hosts are passed.
    assert parse_token_email(build_token_email(TO, PROD), allowed_hosts=["x.localhost:1"]) is not None


def test_other_clients_nit_is_rejected_by_the_token_matcher() -> None:
    other = build_token_email(TO, PROD.replace("rk=900123456", "rk=800111222"))
    assert parse_token_email(other) is not None
    assert token_matcher("900123456")(other) is None
    mine = token_matcher("900123456-8")(build_token_email(TO, PROD))
    assert mine is not None and mine.nit == "900123456"


def test_sandbox_token_email_keeps_the_recorded_shape() -> None:
    raw = build_token_email("otra@empresa-demo.test", PROD, sent_at=datetime(2026, 5, 4, 9, 30, tzinfo=BOGOTA))
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["To"] == "otra@empresa-demo.test"
    assert msg["Subject"] == "Token Acceso DIAN"
    assert msg["Date"] == "Mon, 04 May 2026 09:30:00 -0500"
    text = _bodies(raw)
    assert "Estimado(a) otra@empresa-demo.test:" in text
    assert TO not in text and "3f2b6c1e" not in text
    assert PROD.replace("&", "&amp;") in text  # the HTML part keeps &amp; in the href
    link = parse_token_email(raw)
    assert link is not None and link.url == PROD


# --- E-02 variants ------------------------------------------------------------------------------


def test_sandbox_dynamic_key_with_window() -> None:
    start = datetime(2026, 5, 4, 15, 2, 3, tzinfo=BOGOTA)
    end = datetime(2026, 5, 4, 15, 12, 3, tzinfo=BOGOTA)
    raw = build_dynamic_key_email(TO, "JUAN DEMO", "QWxhZGRpbg==", start, end)
    assert "03:02:03 PM" in _bodies(raw)
    found = parse_dynamic_key(raw)
    assert found == DynamicKey(key="QWxhZGRpbg==", valid_from=start, valid_to=end)
    assert found.expired(datetime(2026, 5, 4, 15, 12, 4, tzinfo=BOGOTA))
    assert not found.expired(datetime(2026, 5, 4, 15, 5, tzinfo=BOGOTA))
    assert parse_dynamic_key_email(_html_only(raw)) == "QWxhZGRpbg=="


def test_morning_and_noon_stamps() -> None:
    raw = build_dynamic_key_email(TO, "X", "12345", datetime(2026, 1, 2, 0, 5, 0), datetime(2026, 1, 2, 12, 5, 0))
    assert "02/01/2026 12:05:00 AM" in _bodies(raw)
    found = parse_dynamic_key(raw)
    assert found is not None
    assert found.valid_from == datetime(2026, 1, 2, 0, 5, tzinfo=BOGOTA)
    assert found.valid_to == datetime(2026, 1, 2, 12, 5, tzinfo=BOGOTA)


# --- not DIAN mail ------------------------------------------------------------------------------


def _plain(subject: str, body: str, sender: str = "boletin@tienda.test") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, TO, subject
    msg.set_content(body)
    return msg.as_bytes()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff not a mail",
        _plain("Ofertas de la semana", "Visite https://tienda.test/?token=abc"),
        _plain("Clave", "A continuación, su clave: 1234"),
    ],
)
def test_not_a_dian_mail(raw: bytes) -> None:
    assert parse_token_email(raw) is None
    assert parse_dynamic_key_email(raw) is None


def test_each_parser_ignores_the_other_mail() -> None:
    assert parse_dynamic_key(E01) is None
    assert parse_token_email(E02) is None


def test_token_link_in_plain_text_only() -> None:
    body = f"Acceda a la plataforma:\n\nAcceder: {PROD.replace('&', '&amp;')}\n"
    raw = _plain("Token Acceso DIAN", body, sender="DIAN <facturacionelectronica@dian.gov.co>")
    link = parse_token_email(raw)
    assert link is not None and link.url == PROD
