"""Change detection: how long from an unknown page to the "portal changed" stop, and what a fallback costs.

1. Stop: Chromium loads a 2027 redesign recording (recordings/catalogo/2027-rediseno) and the robot asks
   `Locators.screen(page, <screen>, timeout_s=T)` for the 2026 screen it expected; measured from the start
   of the load to `PortalChanged` (page and screenshot saved). The stop cannot come before T (the robot
   waits that long for a slow page); the overhead over T is the figure that matters.
2. Fallback: on a 2026 recording, `bots.locators.runtime.resolve` of a control whose first candidate
   matches (first) vs the same candidates behind a first candidate that matches nothing (fallback);
   time per resolve (each candidate costs one `count()` round trip to the browser).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from bench.common import REPO, Result, fmt, md_table, summary
from bots.browser import find_chromium
from bots.errors import PortalChanged
from bots.locators import Locators
from bots.locators.runtime import resolve
from bots.log import configure_logging

RECORDINGS = REPO / "recordings" / "catalogo"
#: (2026 screen the robot expects, redesign recording it gets instead)
UNKNOWN = [("login_empresa", "2027-rediseno/s-02-empresa.html"), ("prefijos", "2027-rediseno/p-02-con-opciones.html")]
MISSING = "#bench-no-existe"


def time_stop(page: Page, locators: Locators, screen: str, recording: Path, timeout_s: float) -> float:
    started = time.perf_counter()
    page.goto(recording.as_uri())
    try:
        locators.screen(page, screen, timeout_s=timeout_s)
    except PortalChanged:
        return time.perf_counter() - started
    raise RuntimeError(f"la pantalla {screen} se reconoció en {recording.name}: no es una página desconocida")


def pick_control(page: Page, locators: Locators) -> tuple[str, str, object]:
    """The first control (in file order) of a 2026 screen whose first candidate finds one element there."""
    for selector_set in locators.sets:
        for screen_name, screen in selector_set.screens.items():
            for rel in screen.recordings:
                page.goto((RECORDINGS / rel).as_uri())
                for name, spec in screen.locators.items():
                    if not spec.many and page.locator(spec.primary).count() == 1:
                        return f"{screen_name}.{name}", rel, spec
    raise RuntimeError("ningún control se halla por su primer candidato en las grabaciones")


def run(rapido: bool = False, *, repeticiones: int | None = None, timeout_s: float | None = None) -> Result:
    configure_logging(fmt="console", level="CRITICAL")
    logging.getLogger().setLevel(logging.CRITICAL)
    reps_stop = repeticiones or (2 if rapido else 5)
    reps_resolve = repeticiones or (10 if rapido else 100)
    timeout = timeout_s if timeout_s is not None else (2.0 if rapido else 30.0)
    executable = find_chromium()
    if executable is None:
        raise RuntimeError("no hay Chromium (ejecute scripts/setup)")
    result = Result(
        "cambio",
        "Portal cambiado: de la página desconocida a la parada, y costo de los candidatos de respaldo",
        (
            "stop = from page.goto of a 2027 redesign recording to PortalChanged raised by Locators.screen(page, "
            f"<2026 screen>, timeout_s={timeout:g}) (page and screenshot saved to a temporary folder); overhead = "
            "stop - timeout. resolve = wall time of bots.locators.runtime.resolve on a 2026 recording, first = the "
            "control's own candidates (the first matches), fallback = the same candidates behind one that "
            "matches nothing (catalogo selector set, real Chromium headless, file:// pages)."
        ),
        config={"timeout_s": timeout, "stop_repetitions": reps_stop, "resolve_repetitions": reps_resolve},
    )
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=executable)
        page = browser.new_context(locale="es-CO").new_page()
        locators = Locators("catalogo", root=REPO / "selectors")
        locators._artifacts_dir = Path(tmp)  # unknown pages are saved there, not in the working tree
        stop_rows = []
        for screen, rel in UNKNOWN:
            times = [time_stop(page, locators, screen, RECORDINGS / rel, timeout) for _ in range(reps_stop)]
            s = summary(times)
            over = summary([t - timeout for t in times])
            result.figures[f"stop_{screen}"] = {"stop_s": s, "overhead_s": over, "recording": rel}
            stop_rows.append([screen, rel, s["n"], fmt(timeout, 1), fmt(s["p50"]), fmt(s["p95"]), fmt(over["p50"])])
        control, rel, spec = pick_control(page, locators)
        page.goto((RECORDINGS / rel).as_uri())
        own = spec if len(spec.candidates) > 1 else spec.model_copy(update={"candidates": (*spec.candidates, MISSING)})
        behind = own.model_copy(update={"candidates": (MISSING, *own.candidates)})
        resolve(page, own, control).count()  # warm-up
        timings: dict[str, list[float]] = {"first": [], "fallback": []}
        for _ in range(reps_resolve):
            for label, candidate_spec in (("first", own), ("fallback", behind)):
                started = time.perf_counter()
                found = resolve(page, candidate_spec, control)
                timings[label].append(time.perf_counter() - started)
                if found.count() != 1:
                    raise RuntimeError(f"resolve no halló {control} ({label})")
        first, fallback = summary(timings["first"]), summary(timings["fallback"])
        result.figures["resolve"] = {"control": control, "recording": rel, "first_s": first, "fallback_s": fallback,
                                     "extra_per_missed_candidate_s": fallback["p50"] - first["p50"],
                                     "ratio_p50": fallback["p50"] / first["p50"]}
        browser.close()
    result.tables.append(md_table(
        ["pantalla esperada", "página servida", "n", "espera s", "parada p50 s", "parada p95 s", "sobre la espera s"],
        stop_rows))
    result.tables.append(md_table(
        ["resolve", "n", "p50 ms", "p95 ms"],
        [[f"{label} ({control})", s["n"], fmt(s["p50"] * 1000, 2), fmt(s["p95"] * 1000, 2)]
         for label, s in (("primer candidato", first), ("respaldo (1 candidato fallido antes)", fallback))]))
    result.notes.append(
        f"Un candidato fallido cuesta {(fallback['p50'] - first['p50']) * 1000:.2f} ms por resolve (p50; "
        f"{fallback['p50'] / first['p50']:.2f}x el primero)."
    )
    result.notes.append(
        f"La parada no puede llegar antes de la espera de la página ({timeout:g} s aquí; DIAN_PAGE_TIMEOUT_S, 30 s "
        "por defecto): lo medible es lo que añade el robot sobre ella (guardar la página y la captura)."
    )
    return result
