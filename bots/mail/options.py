"""What the watchers connect to (`MailboxAccess`) and how they watch (`WatchOptions`).

`MailboxAccess` is one client's mailbox, built from the clients file (host, port, TLS, folders,
credentials); watchers are shared by its `key`. `WatchOptions` is the one set of timings of a
`MailWatchers` registry (IDLE renewal, polling fallback, timeouts); its defaults live here only.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from bots.log import register_secret

__all__ = ["JUNK_FOLDER_NAMES", "MAX_MESSAGE_BYTES", "MailboxAccess", "WatchOptions"]

#: Folder names (case-insensitive, full name or last path segment) watched besides `folders`.
JUNK_FOLDER_NAMES = frozenset(
    {
        "junk",
        "spam",
        "junk mail",
        "junk e-mail",
        "junk email",
        "bulk mail",
        "[gmail]/spam",
        "correo no deseado",
        "correo electrónico no deseado",
    }
)
#: Larger messages are never downloaded (DIAN's mails are a few kB).
MAX_MESSAGE_BYTES = 5_000_000


@dataclass(frozen=True)
class MailboxAccess:
    """How to reach one mailbox. `password` or `xoauth2_token` (plain strings become SecretStr)."""

    host: str
    port: int
    username: str
    password: SecretStr | None = None
    xoauth2_token: SecretStr | None = None
    ssl: bool = True
    starttls: bool = False
    ca_file: str | None = None
    folders: tuple[str, ...] = ("INBOX",)
    watch_junk: bool = True

    def __post_init__(self) -> None:
        for name in ("password", "xoauth2_token"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, SecretStr(value))
        object.__setattr__(self, "folders", tuple(self.folders))
        if (self.password is None) == (self.xoauth2_token is None):
            raise ValueError("MailboxAccess needs exactly one of password or xoauth2_token")
        if self.ssl and self.starttls:
            raise ValueError("MailboxAccess: ssl and starttls are exclusive")
        if not self.folders:
            raise ValueError("MailboxAccess: no folder to watch")
        register_secret(self.password)
        register_secret(self.xoauth2_token)

    @property
    def key(self) -> tuple[object, ...]:
        """Identity of the watched mailbox (what watchers are shared by)."""
        return (
            self.host.lower(),
            self.port,
            self.username.lower(),
            self.folders,
            self.ssl,
            self.starttls,
            self.watch_junk,
        )


@dataclass(frozen=True)
class WatchOptions:
    """Timings of the watchers, in seconds."""

    idle_renew: float = 540.0  # re-issue IDLE before 10 min (providers drop idle links near that)
    poll_interval: float = 5.0  # only where IDLE is missing or disabled
    use_idle: bool = True
    io_timeout: float = 30.0  # connect and per-command read timeout
    ready_timeout: float = 30.0  # how long expect() waits for the watcher to be connected
    settle_timeout: float = 5.0  # final look in wait(), so the newest match wins
    # While someone waits, look again this soon after a look that found mail or answered a sync, and
    # every `busy_recheck` seconds in any case: a notification read together with IDLE's "+ idling"
    # line stays in the IMAP library's buffer, out of sight of select() (see watcher._FolderWatch._idle).
    recheck_after_mail: float = 1.0
    busy_recheck: float = 10.0
    min_backoff: float = 0.1
    max_backoff: float = 30.0
