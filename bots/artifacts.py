"""Failure artifacts: where they go, how they are written, and how secrets are scrubbed out of them.

Layout: ``<artifacts_dir>/<run_id>/<client>/<step>/``. Folders are created 0700 and files 0600:
traces and pages hold cookies and typed values (Playwright will not mask them, microsoft/playwright
#19992), so every text artifact is scrubbed (``bots.log.redact_bytes``) before the robot lets go of
it, and screenshots are taken with password fields and registered locators masked.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bots.log import current_context, get_logger, redact_bytes, redact_text

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

log = get_logger(__name__)

#: Always masked in screenshots.
ALWAYS_MASKED = "input[type=password]"


@dataclass
class ArtifactScope:
    """Where the artifacts of the current client run go, and what to mask (set by ``client_run``)."""

    base: Path
    run_id: str
    client: str
    masks: list[Locator] = field(default_factory=list)


_scope: ContextVar[ArtifactScope | None] = ContextVar("artifact_scope", default=None)


@contextmanager
def scope(value: ArtifactScope) -> Iterator[ArtifactScope]:
    """Make ``value`` the artifact scope of the enclosed code."""
    token = _scope.set(value)
    try:
        yield value
    finally:
        _scope.reset(token)


def current_scope() -> ArtifactScope | None:
    """The active client run's artifact scope, if any."""
    return _scope.get()


def safe_name(text: str | None, default: str = "general") -> str:
    """A file-system-safe folder name (letters, digits, ``.``, ``_``, ``-``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text or "")).strip("._")
    return cleaned[:80] or default


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and restrict it to its owner."""
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        path.chmod(0o700)
    return path


def append_line(path: Path, line: str) -> None:
    """Append one line to an owner-only file and fsync it before returning (journals that must be on
    disk before the action they announce)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def step_dir(step: str | None = None, *, base: Path | None = None) -> Path:
    """``<base>/<run_id>/<client>/<step>/`` for the current run (created, mode 0700).

    Run id, client and step come from the active ``client_run`` and the log context when not given.
    """
    ctx = current_context()
    active = current_scope()
    root = base or (active.base if active else Path("artifacts"))
    run_id = active.run_id if active else ctx.get("run_id") or "sin-run"
    client = active.client if active else ctx.get("client") or "sin-cliente"
    private_dir(root)
    private_dir(root / safe_name(run_id))
    private_dir(root / safe_name(run_id) / safe_name(client))
    return private_dir(root / safe_name(run_id) / safe_name(client) / safe_name(step or ctx.get("step")))


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` with mode 0600 (replacing any previous file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    if os.name == "posix":
        path.chmod(0o600)
    return path


def write_scrubbed(path: Path, data: bytes | str) -> Path:
    """Write a text artifact after removing every registered secret and token link."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return write_private(path, redact_bytes(raw))


def scrub_zip(path: Path) -> Path:
    """Rewrite a zip (a Playwright trace) with every entry scrubbed; same names and compression."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, redact_bytes(src.read(info)), compress_type=info.compress_type)
    os.replace(tmp, path)
    if os.name == "posix":
        path.chmod(0o600)
    return path


def masks_for(page: Page, extra: Iterable[Locator] = ()) -> list[Locator]:
    """Locators to mask in a screenshot of ``page``: password inputs + registered ones on that page."""
    active = current_scope()
    registered = [*(active.masks if active else []), *extra]
    return [page.locator(ALWAYS_MASKED), *[loc for loc in registered if loc.page == page]]


def save_page(
    page: Page, directory: Path, name: str = "pagina", *, mask: Iterable[Locator] = ()
) -> tuple[Path | None, Path | None]:
    """Save ``page`` as ``<name>.html`` (scrubbed) and ``<name>.png`` (masked). Never raises:
    returns ``None`` for what could not be saved (closed page, crashed renderer)."""
    html_path: Path | None = None
    png_path: Path | None = None
    try:
        html_path = write_scrubbed(directory / f"{name}.html", page.content())
    except Exception as exc:
        log.warning("no se pudo guardar el HTML", error=type(exc).__name__)
    try:
        png = page.screenshot(
            full_page=True, mask=masks_for(page, mask), mask_color="#000000", animations="disabled", timeout=10_000
        )
        png_path = write_private(directory / f"{name}.png", png)
    except Exception as exc:
        log.warning("no se pudo guardar la captura", error=type(exc).__name__)
    return html_path, png_path


def write_error_report(directory: Path, exc: BaseException, pages: Iterable[Page] = ()) -> Path:
    """``error.json``: exception class, redacted message, URLs of the open pages, time and context."""
    urls = []
    for page in pages:
        try:
            urls.append(page.url)
        except Exception:
            continue
    report: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(),
        "error_type": type(exc).__name__,
        "message": redact_text(str(exc)),
        "urls": [redact_text(u) for u in urls],
        **{k: current_context().get(k) for k in ("run_id", "client", "step")},
    }
    if hasattr(exc, "to_dict"):
        report["error"] = exc.to_dict()
    return write_scrubbed(directory / "error.json", json.dumps(report, ensure_ascii=False, indent=2, default=str))
