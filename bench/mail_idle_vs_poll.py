"""How fast does the robot see a DIAN e-mail: IMAP IDLE vs polling, on pymap and on Dovecot.

    .venv/bin/python -m bench.mail_idle_vs_poll [--rounds 10] [--poll-interval 2]

For each server and mode, a watcher waits for a clave dinámica e-mail; the sandbox delivers it
(IMAP APPEND) and we measure from the end of the APPEND to the moment the watcher matched it.
Prints medians and the ratio polling/IDLE measured in this one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timedelta

from bots.log import configure_logging
from bots.mail import MailboxAccess, MailWatchers
from sandbox.mail import DovecotServer, ImapServer, PymapServer, build_dynamic_key_email, find_dovecot


def measure(server: ImapServer, *, use_idle: bool, rounds: int, poll_interval: float) -> list[float]:
    """Seconds from delivery to match, one value per round."""
    address = f"bench-{'idle' if use_idle else 'poll'}-{time.monotonic_ns()}@empresa-demo.test"
    account = server.add_account(address, "clave-bench")
    access = MailboxAccess(
        host=account.host, port=account.port, username=account.username, password=account.password, ssl=False
    )
    watchers = MailWatchers(poll_interval=poll_interval, use_idle=use_idle, settle_timeout=0.0)
    latencies: list[float] = []
    try:
        for i in range(rounds):
            start = datetime.now().astimezone()
            key = f"QkVOQ0g{i:02d}="
            raw = build_dynamic_key_email(address, "USUARIO DEMO", key, start, start + timedelta(minutes=5))
            with watchers.expect_dynamic_key(access) as pending:
                server.deliver(address, raw)
                delivered = time.monotonic()
                pending.wait(timeout=60)
                matched = pending.matched_at or time.monotonic()
            latencies.append(max(0.0, matched - delivered))
    finally:
        watchers.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    args = parser.parse_args()
    configure_logging(fmt="console", level="WARNING")

    servers: list[tuple[str, type[ImapServer]]] = [("pymap", PymapServer)]
    if find_dovecot():
        servers.append(("dovecot", DovecotServer))
    print(f"{'servidor':<10}{'modo':<10}{'mediana s':>10}{'máx s':>8}")
    for name, cls in servers:
        with cls() as server:
            idle = measure(server, use_idle=True, rounds=args.rounds, poll_interval=args.poll_interval)
            poll = measure(server, use_idle=False, rounds=args.rounds, poll_interval=args.poll_interval)
        for mode, values in (("IDLE", idle), (f"sondeo {args.poll_interval:g}s", poll)):
            print(f"{name:<10}{mode:<10}{statistics.median(values):>10.3f}{max(values):>8.3f}")
        ratio = statistics.median(poll) / max(statistics.median(idle), 1e-6)
        print(f"{name:<10}razón sondeo/IDLE (medianas): {ratio:.1f}x")


if __name__ == "__main__":
    main()
