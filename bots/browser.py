"""Browser discovery and launch (placeholder: the full module is being written)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SYSTEM_CHROMIUM = Path("/usr/lib/chromium/chromium")


def find_chromium() -> str | None:
    """Return the Chromium executable to use: Playwright's bundled one, else the system one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        bundled = p.chromium.executable_path
    if bundled and os.path.exists(bundled):
        return bundled
    if SYSTEM_CHROMIUM.exists():
        return str(SYSTEM_CHROMIUM)
    return None


if __name__ == "__main__" and sys.argv[1:] == ["--which"]:
    found = find_chromium()
    if not found:
        sys.exit(1)
    print(found)
