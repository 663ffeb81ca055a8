"""The robot's mail side: wait over IMAP for DIAN's e-mails and read them.

- `MailWatchers`: one watcher per mailbox, shared by every client waiting on it (IMAP IDLE, polling
  where IDLE is missing); `expect()` / `watch()` → `PendingMail.wait()`. Module `watcher`.
- `token_matcher`, `dynamic_key_matcher`: what a flow waits for, with its filters. Module `waiters`.
- `parse_token_email`, `parse_dynamic_key`, ...: pure parsers of E-01 and E-02. Module `parsers`.
- `MailboxAccess` (which mailbox) and `WatchOptions` (timings). Module `options`.
- Errors: `MailTimeout`, `MailboxUnavailable`, `MailUnreadable` (a `PortalChanged`). Module `errors`.
"""

from __future__ import annotations

from bots.mail.errors import MailboxUnavailable, MailError, MailTimeout, MailUnreadable
from bots.mail.options import JUNK_FOLDER_NAMES, MailboxAccess, WatchOptions
from bots.mail.parsers import (
    DEFAULT_TOKEN_HOSTS,
    DIAN_MAIL_DOMAIN,
    DIAN_TOKEN_SENDER,
    DynamicKey,
    TokenEmail,
    TokenLink,
    from_dian,
    host_allowed,
    parse_dynamic_key,
    parse_dynamic_key_email,
    parse_token_email,
    read_token_email,
)
from bots.mail.waiters import Matcher, PendingMail, dynamic_key_matcher, token_matcher
from bots.mail.watcher import MailboxWatcher, MailWatchers, default_watchers

__all__ = [
    "DEFAULT_TOKEN_HOSTS",
    "DIAN_MAIL_DOMAIN",
    "DIAN_TOKEN_SENDER",
    "JUNK_FOLDER_NAMES",
    "DynamicKey",
    "MailError",
    "MailTimeout",
    "MailUnreadable",
    "MailWatchers",
    "MailboxAccess",
    "MailboxUnavailable",
    "MailboxWatcher",
    "Matcher",
    "PendingMail",
    "TokenEmail",
    "TokenLink",
    "WatchOptions",
    "default_watchers",
    "dynamic_key_matcher",
    "from_dian",
    "host_allowed",
    "parse_dynamic_key",
    "parse_dynamic_key_email",
    "parse_token_email",
    "read_token_email",
    "token_matcher",
]
