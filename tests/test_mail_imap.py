"""The robot's mail watcher against real IMAP servers (pymap and Dovecot): delivery, correlation,
junk folders, deadlines, reconnects, polling fallback and notification latency."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator

import pytest
import structlog

from bots.errors import ExitCode
from bots.mail import (
    DynamicKey,
    MailboxUnavailable,
    MailError,
    MailTimeout,
    MailUnreadable,
    MailWatchers,
    TokenLink,
    token_matcher,
)
from bots.mail.watcher import _junk_folders
from sandbox.mail import (
    DovecotServer,
    ImapAccount,
    ImapMailSink,
    ImapServer,
    PymapServer,
    build_dynamic_key_email,
    build_token_email,
)
from tests.fixtures_mail import Mailbox, access_for, new_mailbox

NIT = "900123456"
OTHER_NIT = "800111222"
HOST = "catalogo-vpfe-hab.dian.gov.co"


def token_mail(to: str, token: str, nit: str = NIT) -> bytes:
    return build_token_email(to, f"https://{HOST}/User/AuthToken?pk=10910094|1020304050&rk={nit}&token={token}")


def guid(n: int) -> str:
    return f"{n:08d}-aaaa-4bbb-8ccc-{n:012d}"


@pytest.fixture
def later() -> Iterator[list[threading.Timer]]:
    """Timers that deliver mail while the test waits; cancelled at teardown."""
    timers: list[threading.Timer] = []
    yield timers
    for timer in timers:
        timer.cancel()


def deliver_after(later: list[threading.Timer], delay: float, box: Mailbox, raw: bytes, folder: str = "INBOX") -> None:
    timer = threading.Timer(delay, box.deliver, args=(raw,), kwargs={"folder": folder})
    timer.daemon = True
    later.append(timer)
    timer.start()


def test_delivery_arrives_in_the_right_mailbox(imap_server: ImapServer) -> None:
    first, second = new_mailbox(imap_server), new_mailbox(imap_server)
    sink = ImapMailSink(imap_server, junk=[second.address])
    sink.deliver(first.address, token_mail(first.address, guid(1)))
    sink.deliver(second.address, token_mail(second.address, guid(2)))
    with imap_server.client(first.address) as imap:
        assert imap.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
        assert imap.select_folder("Junk", readonly=True)[b"EXISTS"] == 0
    with imap_server.client(second.address) as imap:
        assert imap.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0
        assert imap.select_folder("Junk", readonly=True)[b"EXISTS"] == 1
    # A shared mailbox may be added again (same password); another password is a mistake.
    assert imap_server.add_account(first.address, first.account.password) == first.account
    with pytest.raises(ValueError):
        imap_server.add_account(first.address, "otra-clave")
    # Unknown addresses get a mailbox (sandbox convenience).
    sink.deliver("nuevo-cliente@empresa-demo.test", token_mail("nuevo-cliente@empresa-demo.test", guid(3)))
    with imap_server.client("nuevo-cliente@empresa-demo.test") as imap:
        assert imap.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1


def test_back_to_back_mails_reach_both_waiters(mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    """A mail landing between the watcher's last SEARCH and IDLE is not pushed by the servers;
    the quick re-check after each new mail finds it."""
    with (
        mail_watchers.expect_token(mailbox.access, NIT) as mine,
        mail_watchers.expect_token(mailbox.access, OTHER_NIT) as theirs,
    ):
        pass
    began = time.monotonic()
    for n in range(3):
        mailbox.deliver(token_mail(mailbox.address, guid(30 + n), nit=OTHER_NIT))
    mailbox.deliver(token_mail(mailbox.address, guid(33)))
    assert mine.wait(timeout=10).token == guid(33)
    assert theirs.wait(timeout=10).token == guid(32)
    assert time.monotonic() - began < 6


def test_stale_mail_before_the_watermark_is_ignored(
    mailbox: Mailbox, mail_watchers: MailWatchers, later: list[threading.Timer]
) -> None:
    mailbox.deliver(token_mail(mailbox.address, guid(1)))  # from an earlier run: must not be used
    with mail_watchers.expect_token(mailbox.access, NIT) as pending:
        deliver_after(later, 0.2, mailbox, token_mail(mailbox.address, guid(2)))
    assert pending.wait(timeout=10).token == guid(2)


def test_watermark_is_per_waiter(mailbox: Mailbox, later: list[threading.Timer]) -> None:
    """The watermark layer: mail stored before a waiter registered is not its, even when the watcher
    first reads that mail in the very look that answers the registration (here: polling, so that
    nothing is pushed in between)."""
    with MailWatchers(use_idle=False, poll_interval=60, ready_timeout=10, settle_timeout=2) as watchers:
        first = watchers.watch(mailbox.access, token_matcher(NIT))  # the watcher is up and looking
        stale = mailbox.deliver(token_mail(mailbox.address, guid(50), nit=OTHER_NIT))
        with watchers.expect_token(mailbox.access, OTHER_NIT) as theirs:
            assert stale is None or theirs.watermarks["INBOX"] > stale
        with pytest.raises(MailTimeout):
            theirs.wait(timeout=1.0)
        first.close()


def test_only_stale_mail_times_out(mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    mailbox.deliver(token_mail(mailbox.address, guid(1)))
    with mail_watchers.expect_token(mailbox.access, NIT) as pending:
        pass
    with pytest.raises(MailTimeout):
        pending.wait(timeout=0.6)


def test_newest_of_two_matching_mails_wins(mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    with mail_watchers.expect_token(mailbox.access, NIT) as pending:
        mailbox.deliver(token_mail(mailbox.address, guid(1)))  # the robot clicked "Entrar" twice
        mailbox.deliver(token_mail(mailbox.address, guid(2)))
    assert pending.wait(timeout=10).token == guid(2)


def test_shared_mailbox_two_clients_one_connection_per_folder(
    mailbox: Mailbox, mail_watchers: MailWatchers, later: list[threading.Timer]
) -> None:
    with mail_watchers.expect_token(mailbox.access, NIT) as mine:
        pass
    with mail_watchers.expect_token(mailbox.access, OTHER_NIT) as theirs:
        pass
    watcher = mail_watchers.watcher(mailbox.access)
    assert watcher.waiting == 2
    assert set(watcher.folders) == {"INBOX", "Junk"}
    # The other client's token arrives first and must not satisfy my waiter.
    mailbox.deliver(token_mail(mailbox.address, guid(7), nit=OTHER_NIT))
    deliver_after(later, 0.3, mailbox, token_mail(mailbox.address, guid(8), nit=NIT))
    theirs_link = theirs.wait(timeout=10)
    mine_link = mine.wait(timeout=10)
    assert (theirs_link.nit, theirs_link.token) == (OTHER_NIT, guid(7))
    assert (mine_link.nit, mine_link.token) == (NIT, guid(8))
    # One IDLE connection per folder, shared: nobody reconnected or opened a second one.
    stats = watcher.stats()
    assert {f: (s["mode"], s["connects"]) for f, s in stats.items()} == {
        "INBOX": ("idle", 1),
        "Junk": ("idle", 1),
    }
    assert watcher.connections == 2
    assert mail_watchers.watcher(mailbox.access) is watcher
    assert watcher.waiting == 0


def test_mail_in_junk_is_found(mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    with mail_watchers.expect_token(mailbox.access, NIT) as pending:
        mailbox.deliver(token_mail(mailbox.address, guid(5)), folder="Junk")
    assert pending.wait(timeout=10).token == guid(5)


def test_delayed_mail_is_awaited(mailbox: Mailbox, mail_watchers: MailWatchers, later: list[threading.Timer]) -> None:
    with mail_watchers.expect_token(mailbox.access, NIT) as pending:
        deliver_after(later, 0.6, mailbox, token_mail(mailbox.address, guid(9)))
        began = time.monotonic()
    assert pending.wait(timeout=15).token == guid(9)
    assert time.monotonic() - began >= 0.55


def test_deadline_raises_mail_timeout_without_secrets(mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    with mail_watchers.expect_token(mailbox.access, NIT) as pending:
        mailbox.deliver(token_mail(mailbox.address, guid(4), nit=OTHER_NIT))  # not ours
    began = time.monotonic()
    with pytest.raises(MailTimeout) as caught:
        pending.wait(timeout=0.5)
    elapsed = time.monotonic() - began
    assert 0.45 <= elapsed < 2.0
    message = str(caught.value)
    assert mailbox.address in message
    assert guid(4) not in message and "clave-sandbox" not in message
    assert mail_watchers.watcher(mailbox.access).waiting == 0


def test_reconnects_after_the_server_drops_the_connection(
    imap_server: ImapServer, mailbox: Mailbox, mail_watchers: MailWatchers
) -> None:
    with mail_watchers.expect_token(mailbox.access, NIT) as pending:
        pass
    watcher = mail_watchers.watcher(mailbox.access)
    assert imap_server.drop_connections() >= 2
    mailbox.deliver(token_mail(mailbox.address, guid(6)))  # arrives while the watcher reconnects
    assert pending.wait(timeout=15).token == guid(6)
    stats = watcher.stats()
    assert stats["INBOX"]["drops"] >= 1 and stats["INBOX"]["connects"] >= 2
    # And it keeps working on the new connection.
    with mail_watchers.expect_token(mailbox.access, NIT) as again:
        mailbox.deliver(token_mail(mailbox.address, guid(16)))
    assert again.wait(timeout=10).token == guid(16)


def test_reconnects_after_a_server_restart(
    imap_server: ImapServer, mailbox: Mailbox, mail_watchers: MailWatchers
) -> None:
    with mail_watchers.expect_token(mailbox.access, NIT) as pending:
        pass
    imap_server.restart()  # same port, same accounts and mail; refused connections meanwhile
    mailbox.deliver(token_mail(mailbox.address, guid(17)))
    assert pending.wait(timeout=15).token == guid(17)
    assert mail_watchers.watcher(mailbox.access).stats()["INBOX"]["connects"] >= 2


def test_recreated_folder_new_uidvalidity(
    imap_server: ImapServer, mailbox: Mailbox, mail_watchers: MailWatchers
) -> None:
    """UIDs of a recreated folder start again: after the reconnect, arrival time decides instead."""
    mailbox.deliver(token_mail(mailbox.address, guid(20)), folder="Junk")  # stale
    with mail_watchers.expect_token(mailbox.access, NIT) as pending:
        pass
    assert pending.watermarks["Junk"] > 1
    with imap_server.client(mailbox.address) as imap:
        imap.delete_folder("Junk")
        imap.create_folder("Junk")
    imap_server.drop_connections()
    mailbox.deliver(token_mail(mailbox.address, guid(21)), folder="Junk")
    assert pending.wait(timeout=15).token == guid(21)
    assert mail_watchers.watcher(mailbox.access).stats()["Junk"]["connects"] >= 2


def test_polling_when_idle_is_disabled_in_the_client(mailbox: Mailbox, later: list[threading.Timer]) -> None:
    with MailWatchers(use_idle=False, poll_interval=0.2, ready_timeout=10) as watchers:
        with watchers.expect_token(mailbox.access, NIT) as pending:
            deliver_after(later, 0.3, mailbox, token_mail(mailbox.address, guid(11)))
        assert pending.wait(timeout=10).token == guid(11)
        assert {s["mode"] for s in watchers.watcher(mailbox.access).stats().values()} == {"poll"}


def test_polling_when_the_server_lacks_idle(later: list[threading.Timer]) -> None:
    with PymapServer(idle=False) as server, MailWatchers(poll_interval=0.2, ready_timeout=10) as watchers:
        box = new_mailbox(server)
        with watchers.expect_token(box.access, NIT) as pending:
            deliver_after(later, 0.3, box, token_mail(box.address, guid(12)))
        assert pending.wait(timeout=10).token == guid(12)
        assert watchers.watcher(box.access).stats()["INBOX"]["mode"] == "poll"


def test_idle_is_renewed(mailbox: Mailbox, later: list[threading.Timer]) -> None:
    with MailWatchers(idle_renew=0.1, ready_timeout=10) as watchers:
        with watchers.expect_token(mailbox.access, NIT) as pending:
            deliver_after(later, 0.5, mailbox, token_mail(mailbox.address, guid(13)))
        assert pending.wait(timeout=10).token == guid(13)
        inbox = watchers.watcher(mailbox.access).stats()["INBOX"]
        assert inbox["renewals"] >= 1 and inbox["connects"] == 1


def test_dynamic_key_arrives(mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    from datetime import datetime, timedelta

    start = datetime.now().replace(microsecond=0)
    with mail_watchers.expect_dynamic_key(mailbox.access) as pending:
        mailbox.deliver(token_mail(mailbox.address, guid(14)))  # a token mail is not a key
        mailbox.deliver(
            build_dynamic_key_email(
                mailbox.address, "EMPRESA DEMO S.A.S.", "Zk9PYmFy==", start, start + timedelta(minutes=10)
            )
        )
    found = pending.wait(timeout=10)
    assert isinstance(found, DynamicKey) and found.key == "Zk9PYmFy=="


def test_unreadable_dian_mail_ends_the_wait_at_once(mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    """DIAN's sender and subject but no readable link: exit 5 (portal changed) now, not a timeout;
    the log names the UID, never the content."""
    broken = build_token_email(
        mailbox.address, f"https://{HOST}/User/AuthToken?pk=10910094|1020304050&rk={NIT}&clave={guid(60)}"
    )
    with structlog.testing.capture_logs() as events:
        with mail_watchers.expect_token(mailbox.access, NIT) as pending:
            uid = mailbox.deliver(broken)
        began = time.monotonic()
        with pytest.raises(MailUnreadable) as caught:
            pending.wait(timeout=60)
    assert time.monotonic() - began < 10
    assert caught.value.exit_code == ExitCode.PORTAL and caught.value.status == "portal_cambio"
    assert "UID" in str(caught.value) and guid(60) not in str(caught.value)
    [logged] = [e for e in events if e["event"] == "mail.unreadable"]
    assert logged["folder"] == "INBOX" and (uid is None or logged["uid"] == uid)
    assert guid(60) not in repr(events)


def test_a_matcher_bug_ends_the_wait_not_the_watcher(mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    def broken(raw: bytes) -> str:
        raise KeyError("bug")

    with mail_watchers.expect(mailbox.access, broken) as pending:
        mailbox.deliver(token_mail(mailbox.address, guid(61)))
    with pytest.raises(KeyError):
        pending.wait(timeout=10)
    with mail_watchers.expect_token(mailbox.access, NIT) as again:
        mailbox.deliver(token_mail(mailbox.address, guid(62)))
    assert again.wait(timeout=10).token == guid(62)


def test_wrong_password_is_reported(imap_server: ImapServer, mail_watchers: MailWatchers) -> None:
    box = new_mailbox(imap_server)
    wrong = access_for(box.account, password="no-es-la-clave")
    began = time.monotonic()
    with pytest.raises(MailboxUnavailable) as caught, mail_watchers.expect_token(wrong, NIT):
        pass
    assert time.monotonic() - began < 5
    assert "no-es-la-clave" not in str(caught.value)


def test_logs_name_mailbox_folder_uid_only(mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    with structlog.testing.capture_logs() as events:
        with mail_watchers.expect_token(mailbox.access, NIT) as pending:
            mailbox.deliver(token_mail(mailbox.address, guid(15)))
        link = pending.wait(timeout=10)
        with pytest.raises(MailTimeout), mail_watchers.expect_token(mailbox.access, NIT) as nothing:
            nothing.wait(timeout=0.2)
    text = repr(events)
    assert "mail.matched" in text and "mail.timeout" in text
    for secret in (guid(15), link.url, "AuthToken", "clave-sandbox"):
        assert secret not in text


def test_close_from_another_thread_ends_the_wait(pymap_server: PymapServer, mail_watchers: MailWatchers) -> None:
    box = new_mailbox(pymap_server)
    pending = mail_watchers.watch(box.access, token_matcher(NIT))
    closer = threading.Timer(0.2, pending.close)
    closer.start()
    began = time.monotonic()
    with pytest.raises(MailError, match="canceló"):
        pending.wait(timeout=10)
    assert time.monotonic() - began < 5
    assert mail_watchers.watcher(box.access).waiting == 0


def test_plain_imap_is_refused_off_loopback(mail_watchers: MailWatchers) -> None:
    remote = access_for(ImapAccount("imap.empresa-demo.test", 143, "x@empresa-demo.test", "x"))
    with pytest.raises(MailboxUnavailable, match="sin TLS"), mail_watchers.expect_token(remote, NIT):
        pass


@pytest.mark.dovecot
def test_tls_imaps_and_starttls(dovecot_server: DovecotServer, mail_watchers: MailWatchers) -> None:
    cert = dovecot_server.tls_cert
    if cert is None:
        pytest.skip("needs openssl for the test certificate")
    box = new_mailbox(dovecot_server)
    imaps = access_for(box.account, port=dovecot_server.imaps_port, ssl=True, ca_file=cert)
    starttls = access_for(box.account, starttls=True, ca_file=cert)
    for n, access in enumerate((imaps, starttls)):
        with mail_watchers.expect_token(access, NIT) as pending:
            box.deliver(token_mail(box.address, guid(40 + n)))
        assert pending.wait(timeout=10).token == guid(40 + n)
        assert mail_watchers.watcher(access).stats()["INBOX"]["mode"] == "idle"
    untrusted = access_for(box.account, port=dovecot_server.imaps_port, ssl=True, folders=("INBOX", "Junk"))
    with pytest.raises(MailboxUnavailable, match="certificado"), mail_watchers.expect_token(untrusted, NIT):
        pass


def test_junk_folder_discovery() -> None:
    class FakeClient:
        def list_folders(self) -> list[tuple[tuple[bytes, ...], bytes, str]]:
            return [
                ((b"\\HasNoChildren",), b"/", "INBOX"),
                ((b"\\HasNoChildren", b"\\Junk"), b"/", "Basura"),
                ((b"\\HasNoChildren",), b".", "INBOX.Spam"),
                ((b"\\HasNoChildren",), b"/", "Correo no deseado"),
                ((b"\\Noselect", b"\\HasChildren"), b"/", "[Gmail]"),
                ((b"\\HasNoChildren",), b"/", "[Gmail]/Spam"),
                ((b"\\HasNoChildren",), b"/", "Junk Mail"),
                ((b"\\HasNoChildren",), b"/", "Sent"),
                ((b"\\HasNoChildren",), b"/", "Spammers list/Old"),
            ]

    access = access_for(ImapAccount("127.0.0.1", 1, "x@empresa-demo.test", "x"))
    assert _junk_folders(FakeClient(), access) == [  # type: ignore[arg-type]
        "Basura",
        "INBOX.Spam",
        "Correo no deseado",
        "[Gmail]/Spam",
        "Junk Mail",
    ]


def test_notification_latency(imap_server: ImapServer, mailbox: Mailbox, mail_watchers: MailWatchers) -> None:
    """APPEND done → first match (IDLE push) and → wait() return (after the final sync)."""
    to_match: list[float] = []
    to_return: list[float] = []
    for n in range(2):
        with mail_watchers.expect_token(mailbox.access, NIT) as pending:
            pass
        done: list[float] = []

        def send(n: int = n, done: list[float] = done) -> None:
            mailbox.deliver(token_mail(mailbox.address, guid(100 + n)))
            done.append(time.monotonic())

        sender = threading.Thread(target=send)
        sender.start()
        link: TokenLink = pending.wait(timeout=10)
        returned = time.monotonic()
        sender.join()
        assert link.token == guid(100 + n) and pending.matched_at is not None
        to_match.append(max(0.0, pending.matched_at - done[0]))
        to_return.append(max(0.0, returned - done[0]))
    name = type(imap_server).__name__
    print(
        f"\n{name}: APPEND→match median {statistics.median(to_match) * 1000:.0f} ms "
        f"(max {max(to_match) * 1000:.0f}); APPEND→wait() median {statistics.median(to_return) * 1000:.0f} ms "
        f"(max {max(to_return) * 1000:.0f})"
    )
    assert statistics.median(to_return) < 2.0
