"""The robot's mail side: parse DIAN's e-mails and wait for them over IMAP.

- `parse_token_email(raw, allowed_hosts=...)` → `TokenLink` (E-01, "Token Acceso DIAN").
- `parse_dynamic_key_email(raw)` → the clave dinámica; `parse_dynamic_key(raw)` → `DynamicKey`
  with its validity window (E-02).
- `MailWatchers` / `MailboxWatcher`: IMAP IDLE, one connection per watched folder shared by every
  client waiting on that mailbox; `expect()`, `expect_token()`, `expect_dynamic_key()`.

Implementation: `bots.mail_parse` (pure parsing) and `bots.mail_watch` (IMAP threads).
"""

from __future__ import annotations

from bots.mail_parse import (
    BOGOTA,
    DEFAULT_TOKEN_HOSTS,
    DIAN_TOKEN_SENDER,
    DynamicKey,
    TokenLink,
    parse_dynamic_key,
    parse_dynamic_key_email,
    parse_token_email,
)
from bots.mail_watch import (
    JUNK_FOLDER_NAMES,
    MailboxAccess,
    MailboxUnavailable,
    MailboxWatcher,
    MailError,
    MailTimeout,
    MailWatchers,
    PendingMail,
    WatchOptions,
    default_watchers,
    dynamic_key_matcher,
    token_matcher,
)

__all__ = [
    "BOGOTA",
    "DEFAULT_TOKEN_HOSTS",
    "DIAN_TOKEN_SENDER",
    "JUNK_FOLDER_NAMES",
    "DynamicKey",
    "MailError",
    "MailTimeout",
    "MailWatchers",
    "MailboxAccess",
    "MailboxUnavailable",
    "MailboxWatcher",
    "PendingMail",
    "TokenLink",
    "WatchOptions",
    "default_watchers",
    "dynamic_key_matcher",
    "parse_dynamic_key",
    "parse_dynamic_key_email",
    "parse_token_email",
    "token_matcher",
]
