"""Errors of the mail package. Messages name the mailbox, folder and UID only, never a secret."""

from __future__ import annotations

from bots.errors import PortalChanged, RobotError

__all__ = ["MailError", "MailTimeout", "MailUnreadable", "MailboxUnavailable"]


class MailError(RobotError):
    """Base of the mail package's errors."""


class MailTimeout(MailError, TimeoutError):
    """The expected e-mail did not arrive before the deadline (asking DIAN again may help)."""

    retryable = True


class MailboxUnavailable(MailError):
    """The mailbox cannot be watched (login refused, server unreachable, folder missing)."""


class MailUnreadable(MailError, PortalChanged):
    """A DIAN e-mail of the expected kind (sender and subject) whose content has not the known shape.

    Exit code 5 (``portal_cambio``): DIAN changed its e-mail; the wait ends at once instead of timing out.
    """
