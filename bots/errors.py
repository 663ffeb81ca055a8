"""Failure classes of the robot and the exit codes they map to.

Every failure a flow can report is a ``RobotError`` subclass. The class says what the operator (or
the batch) should do next, and therefore the process exit code:

====================  ====  =================  ==================================================
class                 code  status             meaning
====================  ====  =================  ==================================================
(success)             0     ok / ya_hecho      done now, or found already done
(anything else)       1     error              a bug or an unforeseen failure
``InvalidInput``      2     error_entrada      bad arguments or configuration; before any browser
``Waiting``           3     esperando          a precondition is not met yet; retry at ``retry_at``
``NeedsHuman``        4     requiere_humano    CAPTCHA, missing approval, locked account, ...
``PortalError``       5     error_portal       DIAN refused or failed; quotes DIAN's own text
``PortalChanged``     5     portal_cambio      the page is not one we know; saved for the team
====================  ====  =================  ==================================================

Messages are in Spanish for the operator and pass through the log redaction, so a secret that
slipped into a message never reaches a log, a terminal or a JSON result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, ClassVar

from bots.clock import BOGOTA
from bots.log import redact_text

__all__ = [
    "BOGOTA",  # re-exported for the modules that still import it from here; new code: bots.clock
    "ExitCode",
    "InvalidInput",
    "NeedsHuman",
    "PortalChanged",
    "PortalError",
    "RobotError",
    "Waiting",
    "exit_code_for",
]


class ExitCode(IntEnum):
    """Process exit codes of every flow."""

    OK = 0
    UNEXPECTED = 1
    INVALID_INPUT = 2
    WAITING = 3
    NEEDS_HUMAN = 4
    PORTAL = 5


def _clean(text: str | None) -> str | None:
    """Redact secrets from operator-visible text (prose: the ``clave: x`` pattern is not applied)."""
    if text is None:
        return None
    return redact_text(str(text), key_values=False)


class RobotError(Exception):
    """Base class: a failure the robot understands.

    ``message`` is the Spanish sentence for the operator. ``client`` (NIT), ``step`` (flow step),
    ``selector`` (logical selector name such as ``login_empresa.entrar``) and ``dian_text`` (what
    the portal said, verbatim) are optional context; ``client``/``step`` are filled in from the log
    context when the error reaches ``bots.cli`` or ``bots.browser.client_run``.
    """

    exit_code: ClassVar[ExitCode] = ExitCode.UNEXPECTED
    status: ClassVar[str] = "error"
    #: True when re-running the same item later may succeed (APPLICATION failure in RPA terms).
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        client: str | None = None,
        step: str | None = None,
        selector: str | None = None,
        dian_text: str | None = None,
        retryable: bool | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.message: str = _clean(message) or ""
        #: JSON-ready facts for the flow's result (e.g. the question to put to the client).
        self.data: dict[str, Any] = dict(data or {})
        self.client = client
        self.step = step
        self.selector = selector
        self.dian_text = _clean(dian_text)
        self.artifacts: Path | None = None  # set by bots.browser when failure artifacts were saved
        if retryable is not None:
            self.retryable = retryable
        super().__init__(self.message)

    def fill_context(self, *, client: str | None = None, step: str | None = None) -> RobotError:
        """Set ``client``/``step`` where the raiser left them empty; returns self."""
        self.client = self.client or client
        self.step = self.step or step
        return self

    def details(self) -> str:
        """The Spanish context suffix: client, step, logical selector and DIAN's text."""
        parts = []
        if self.client:
            parts.append(f"cliente {self.client}")
        if self.step:
            parts.append(f"paso {self.step}")
        if self.selector:
            parts.append(f"elemento {self.selector}")
        text = f" ({', '.join(parts)})" if parts else ""
        if self.dian_text:
            text += f'. La DIAN dice: "{self.dian_text}"'
        return text

    def __str__(self) -> str:
        return f"{self.message}{self.details()}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no secrets: every text field was redacted on creation)."""
        return {
            "status": self.status,
            "exit_code": int(self.exit_code),
            "message": self.message,
            "client": self.client,
            "step": self.step,
            "selector": self.selector,
            "dian_text": self.dian_text,
            "retryable": self.retryable,
            "artifacts": str(self.artifacts) if self.artifacts else None,
        }


class InvalidInput(RobotError, ValueError):
    """Wrong arguments, clients file or configuration (exit 2). Raised before any browser or network.

    It is also a ``ValueError``, so the validators in ``bots.validation`` can raise it and pydantic
    models still report it as a validation error.
    """

    exit_code = ExitCode.INVALID_INPUT
    status = "error_entrada"


class Waiting(RobotError):
    """A precondition is not met yet (exit 3): try again at ``retry_at``.

    Example: the resolution signed in MUISCA is not visible yet in "Facturando electrónicamente".
    """

    exit_code = ExitCode.WAITING
    status = "esperando"
    retryable = True

    def __init__(self, message: str, *, retry_at: datetime, **context: Any) -> None:
        if retry_at.tzinfo is None:
            raise TypeError("retry_at must be timezone-aware")
        self.retry_at = retry_at
        super().__init__(message, **context)

    def details(self) -> str:
        local = self.retry_at.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M")
        return f"{super().details()}. Vuelva a intentar después de {local} (hora de Colombia)"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retry_at": self.retry_at.astimezone(UTC).isoformat()}


class NeedsHuman(RobotError):
    """A person must act (exit 4): interactive CAPTCHA, missing approval, locked account, a link
    scanner that consumed the token link, ...

    ``reason`` is a short stable code for the batch report, e.g. ``captcha``, ``aprobacion``,
    ``cuenta_bloqueada``, ``escaner_enlaces``.
    """

    exit_code = ExitCode.NEEDS_HUMAN
    status = "requiere_humano"

    def __init__(self, message: str, *, reason: str | None = None, **context: Any) -> None:
        self.reason = reason
        super().__init__(message, **context)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reason": self.reason}


class PortalError(RobotError):
    """DIAN answered with an error or failed (exit 5). ``dian_text`` quotes DIAN's own words."""

    exit_code = ExitCode.PORTAL
    status = "error_portal"


class PortalChanged(RobotError):
    """The live page matches none of the known selector sets (exit 5).

    ``page_path`` is the saved HTML of the page (and ``screenshot_path`` its screenshot) so the
    team can add a new selector set. The robot never clicks blind on an unknown page.
    """

    exit_code = ExitCode.PORTAL
    status = "portal_cambio"

    def __init__(
        self,
        message: str,
        *,
        page_path: Path | None = None,
        screenshot_path: Path | None = None,
        **context: Any,
    ) -> None:
        self.page_path = page_path
        self.screenshot_path = screenshot_path
        super().__init__(message, **context)

    def details(self) -> str:
        text = super().details()
        if self.page_path:
            text += f". Página guardada en {self.page_path}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "page_path": str(self.page_path) if self.page_path else None,
            "screenshot_path": str(self.screenshot_path) if self.screenshot_path else None,
        }


def exit_code_for(exc: BaseException | None) -> int:
    """Exit code for an exception leaving a flow (``None`` = success)."""
    if exc is None:
        return ExitCode.OK
    if isinstance(exc, RobotError):
        return int(exc.exit_code)
    return ExitCode.UNEXPECTED
