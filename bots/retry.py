"""Retry policies (tenacity) for IDEMPOTENT reads and navigations only.

Use ``@retry_read`` on a function that only reads (opens a page, reads a table, downloads a PDF)
and ``navigate(page, url)`` for ``page.goto``. They retry on Playwright timeouts, ``net::ERR_*``
network errors and HTTP 5xx pages, a bounded number of times, with exponential backoff and jitter,
and log every retry.

NEVER wrap a state-changing action in these: a click on "Entrar" (each one mails a new token and
voids the previous link), "Registrar", "Asociar", "Borrador", "Firmar", a login with a password
(DIAN locks the account after a few failures), or anything else that may have happened on the
server although the browser saw a timeout. Those steps check before and verify after, once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from bots.errors import PortalError
from bots.log import get_logger
from bots.text import squash

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

P = ParamSpec("P")
R = TypeVar("R")

log = get_logger(__name__)

DEFAULT_INITIAL_WAIT_S = 1.0
_defaults = {"attempts": 3, "max_wait": 20.0}


def configure(attempts: int, max_wait_s: float) -> None:
    """Set the default attempts and backoff cap (``bots.cli`` calls it with the settings)."""
    _defaults.update(attempts=attempts, max_wait=max_wait_s)


class TransientHTTPError(Exception):
    """A page answered with HTTP 5xx (raised by ``navigate``; retried)."""

    def __init__(self, status: int, url: str, text: str = "") -> None:
        self.status = status
        self.url = url
        self.text = text
        super().__init__(f"HTTP {status} en {urlsplit(url).path or '/'}")


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying on a read: timeouts, ``net::ERR_*``, HTTP 5xx."""
    if isinstance(exc, PlaywrightTimeoutError | TransientHTTPError):
        return True
    return isinstance(exc, PlaywrightError) and "net::ERR_" in str(exc)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    name = getattr(state.fn, "__qualname__", "lectura")
    log.warning(
        "reintento de lectura",
        function=name,
        attempt=state.attempt_number,
        wait_s=round(wait, 2),
        error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if exc else ''}",
    )


def _retrying(attempts: int | None, initial: float, max_wait: float | None) -> Retrying:
    attempts = attempts or int(_defaults["attempts"])
    max_wait = max_wait or float(_defaults["max_wait"])
    return Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=initial, max=max_wait) + wait_random(0, initial),
        before_sleep=_log_retry,
        reraise=True,
    )


@overload
def retry_read(func: Callable[P, R]) -> Callable[P, R]: ...
@overload
def retry_read(
    *, attempts: int | None = ..., initial_wait: float = ..., max_wait: float | None = ...
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def retry_read(
    func: Callable[P, R] | None = None,
    *,
    attempts: int | None = None,
    initial_wait: float = DEFAULT_INITIAL_WAIT_S,
    max_wait: float | None = None,
) -> Any:
    """Decorator: retry an idempotent read on transient failures (``@retry_read`` or
    ``@retry_read(attempts=5)``). The last failure is re-raised unchanged."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return _retrying(attempts, initial_wait, max_wait)(fn, *args, **kwargs)

        return wrapper

    return decorate(func) if func is not None else decorate


def navigate(
    page: Page,
    url: str,
    *,
    wait_until: str = "load",
    timeout_s: float | None = None,
    attempts: int | None = None,
    initial_wait: float = DEFAULT_INITIAL_WAIT_S,
    max_wait: float | None = None,
) -> Response | None:
    """``page.goto(url)`` retried on timeouts, network errors and HTTP 5xx.

    Only for URLs whose GET has no effect on the server. Never use it for the AuthToken link
    (a used or voided token cannot be opened twice). When every attempt got a 5xx page, raises
    ``PortalError`` quoting the page's text (retryable); timeouts and network errors are re-raised.
    """
    path = urlsplit(url).path or "/"

    def once() -> Response | None:
        options: dict[str, Any] = {"wait_until": wait_until}
        if timeout_s:
            options["timeout"] = timeout_s * 1000
        response = page.goto(url, **options)
        if response is not None and response.status >= 500:
            try:
                text = squash(page.locator("body").inner_text(timeout=2000))[:300]
            except PlaywrightError:
                text = ""
            raise TransientHTTPError(response.status, url, text)
        return response

    once.__qualname__ = f"navigate {path}"
    try:
        return _retrying(attempts, initial_wait, max_wait)(once)
    except TransientHTTPError as exc:
        raise PortalError(
            f"El portal respondió con error HTTP {exc.status} en {path} después de varios intentos",
            dian_text=exc.text or None,
            retryable=True,
        ) from None
