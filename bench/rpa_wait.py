"""Runs inside bench/.venv-rpa: Robocorp's RPA.Email.ImapSmtp `wait_for_message`, driven over stdin.

    python rpa_wait.py HOST PORT USER INTERVAL TIMEOUT     (the password is the first stdin line)

Prints "ready" once logged in. Then for each stdin line "wait" it calls
`wait_for_message('FROM "dian.gov.co"', timeout, interval)` and prints "<time.monotonic()> <count>"
when it returns; "quit" logs out. Only the standard library and RPA Framework are imported here (the
project's own code is not installed in that environment).

The library opens IMAP with TLS only (`authorize_imap` uses IMAP4_SSL); the sandbox's servers speak
plain IMAP on loopback, so this script opens the same imaplib connection without TLS, logs in and
selects INBOX exactly as `authorize_imap` does, and hands it to the library as its `imap_conn`.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import sys
import time


def main() -> None:
    host, port, user, interval, timeout = sys.argv[1:6]
    password = sys.stdin.readline().rstrip("\n")
    logging.disable(logging.WARNING)  # "Can't find any messages" on every empty look
    from RPA.Email.ImapSmtp import ImapSmtp

    lib = ImapSmtp()
    conn = imaplib.IMAP4(host, int(port))
    conn.login(user, password)
    conn.select("INBOX")
    lib.imap_conn = conn
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command == "wait":
            found = lib.wait_for_message('FROM "dian.gov.co"', timeout=float(timeout), interval=float(interval))
            print(f"{time.monotonic()} {len(list(found))}", flush=True)
    with contextlib.suppress(Exception):
        conn.logout()


if __name__ == "__main__":
    main()
