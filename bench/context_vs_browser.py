"""One browser with a fresh context per client vs a fresh browser per client (the batch's choice).

    .venv/bin/python -m bench.context_vs_browser [--clients 10]

Each "client run" opens the sandbox's company login page and waits for its form, as the robot
does first for every client. Prints the time per client in both modes and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

from playwright.sync_api import Browser, Playwright, sync_playwright

from bots.browser import find_chromium
from sandbox.demo import DEMO_NIT, demo_client
from sandbox.server import SandboxServer
from sandbox.world import World


def one_client(browser: Browser, url: str) -> None:
    context = browser.new_context(locale="es-CO")
    page = context.new_page()
    page.goto(url)
    page.locator("#legalRepresentative").wait_for()
    context.close()


def per_context(p: Playwright, executable: str, url: str, clients: int) -> list[float]:
    browser = p.chromium.launch(executable_path=executable)
    times = []
    for _ in range(clients):
        started = time.perf_counter()
        one_client(browser, url)
        times.append(time.perf_counter() - started)
    browser.close()
    return times


def per_browser(p: Playwright, executable: str, url: str, clients: int) -> list[float]:
    times = []
    for _ in range(clients):
        started = time.perf_counter()
        browser = p.chromium.launch(executable_path=executable)
        one_client(browser, url)
        browser.close()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    args = parser.parse_args()
    executable = find_chromium()
    if executable is None:
        raise SystemExit("no hay Chromium (ejecute scripts/setup)")
    world = World()
    world.add_client(demo_client(DEMO_NIT))
    with SandboxServer(world) as server, sync_playwright() as p:
        url = f"{server.url('habilitacion')}/User/CompanyLogin"
        per_browser(p, executable, url, 1)  # warm-up: page cache, fonts
        ctx = per_context(p, executable, url, args.clients)
        brw = per_browser(p, executable, url, args.clients)
    print(f"{'modo':<28}{'mediana s':>10}{'total s':>9}")
    print(f"{'un navegador, contexto nuevo':<28}{statistics.median(ctx):>10.3f}{sum(ctx):>9.2f}")
    print(f"{'navegador nuevo por cliente':<28}{statistics.median(brw):>10.3f}{sum(brw):>9.2f}")
    print(f"razón navegador/contexto (medianas): {statistics.median(brw) / statistics.median(ctx):.2f}x")


if __name__ == "__main__":
    main()
