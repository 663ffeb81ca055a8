"""Suite: wall time of `scripts/test` on this machine, with a breakdown per test file.

Runs `scripts/test --junitxml=<tmp> -p no:cacheprovider [files]` (lint, types and import contracts
first, then pytest on every core with xdist, as scripts/test does) and reads the JUnit XML: per test
file, how many tests, their summed duration and the slowest one. The summed durations add up the
workers, so on N workers they exceed the wall time up to N times; the checks before pytest (ruff,
mypy, lint-imports) are the wall time minus pytest's own.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from bench.common import REPO, Result, fmt, md_table

TARGET_S = 300.0
#: --rapido: a few quick files (no browser), to see the command still works.
RAPIDO = ["tests/test_text.py", "tests/test_nit_rules.py", "tests/test_mail_parsers.py"]


#: Areas of the suite: the first pattern a file's name contains names its area.
AREAS: tuple[tuple[str, str], ...] = (
    ("test_drift", "deriva del portal (8 flujos × 4 variantes)"),
    ("test_distribuido", "modo distribuido (Celery, Redis, PostgreSQL)"),
    ("test_nightly", "corrida nocturna"),
    ("test_flow", "flujos del robot contra el sandbox"),
    ("test_salida_produccion", "flujos del robot contra el sandbox"),
    ("test_irreversible", "pasos irreversibles y bitácora"),
    ("test_reconocer", "primer contacto: reconocer, grabar, HAR"),
    ("test_record", "primer contacto: reconocer, grabar, HAR"),
    ("test_har", "primer contacto: reconocer, grabar, HAR"),
    ("test_mail", "correo (IMAP, parsers)"),
    ("test_sandbox", "el sandbox por sí solo"),
    ("test_recordings", "grabaciones, selectores y fidelidad"),
    ("test_locators", "grabaciones, selectores y fidelidad"),
    ("test_fidelity", "grabaciones, selectores y fidelidad"),
    ("test_state", "estado y límites compartidos"),
    ("test_limits", "estado y límites compartidos"),
    ("test_bench", "benchmarks en miniatura"),
    ("test_secret", "secretos y registros"),
    ("test_log", "secretos y registros"),
)


def area_of(file: str) -> str:
    return next((name for pattern, name in AREAS if pattern in file), "unidades (config, textos, mensajes, NIT)")


def per_file(junit: Path) -> tuple[float, dict[str, dict[str, Any]]]:
    """pytest's own time and, per test file, tests, summed seconds and the slowest test."""
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    pytest_s = sum(float(s.get("time", 0)) for s in suites)
    files: dict[str, dict[str, Any]] = {}
    for case in root.iter("testcase"):
        module = (case.get("classname") or "").split(".")
        name = "/".join(module[:2]) + ".py" if len(module) >= 2 else (case.get("file") or "?")
        seconds = float(case.get("time", 0))
        entry = files.setdefault(name, {"tests": 0, "seconds": 0.0, "slowest_s": 0.0, "slowest": "",
                                        "failed": 0, "skipped": 0})
        entry["tests"] += 1
        entry["seconds"] += seconds
        if seconds > entry["slowest_s"]:
            entry["slowest_s"], entry["slowest"] = seconds, case.get("name", "")
        if case.find("failure") is not None or case.find("error") is not None:
            entry["failed"] += 1
        if case.find("skipped") is not None:
            entry["skipped"] += 1
    return pytest_s, files


def run(rapido: bool = False, *, archivos: list[str] | None = None, command: list[str] | None = None) -> Result:
    """`command` replaces scripts/test (tests/test_bench.py runs plain pytest, to skip mypy's half minute)."""
    files = archivos or (RAPIDO if rapido else [])
    base = command or ["scripts/test"]
    workers = os.environ.get("TEST_WORKERS", "auto")
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [*base, f"--junitxml={junit}", "-p", "no:cacheprovider", *files]
        started = time.monotonic()
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = time.monotonic() - started
        pytest_s, by_file = per_file(junit) if junit.exists() else (float("nan"), {})
    tail = [line for line in done.stdout.splitlines() if line.strip()][-1:]  # pytest's summary line
    scope = "los archivos " + ", ".join(files) if files else "la suite completa"
    result = Result(
        "suite",
        f"Suite: scripts/test en este equipo ({scope})",
        (
            f"wall = `{' '.join([*base, *files])}` from start to exit (ruff, mypy, lint-imports, then pytest -n "
            f"{workers} --dist loadgroup); per file = tests and summed durations from pytest's JUnit XML (summed "
            "over workers, so they can exceed the wall time); checks before pytest = wall - pytest's own time."
        ),
        config={"files": files or "all", "workers": workers, "target_s": TARGET_S, "cores": os.cpu_count()},
    )
    ordered = sorted(by_file.items(), key=lambda kv: -kv[1]["seconds"])
    result.figures = {"wall_s": wall, "pytest_s": pytest_s, "checks_before_pytest_s": wall - pytest_s,
                      "exit_code": done.returncode, "summary": tail[0] if tail else "", "files": dict(ordered)}
    rows = [[name, f["tests"], fmt(f["seconds"], 1), fmt(100 * f["seconds"] / max(wall, 1e-9), 0),
             f"{f['slowest']} ({fmt(f['slowest_s'], 1)} s)", f["failed"]] for name, f in ordered]
    result.tables.append(md_table(["total s", "pytest s", "verificaciones previas s", "código"],
                                  [[fmt(wall, 1), fmt(pytest_s, 1), fmt(wall - pytest_s, 1), done.returncode]]))
    areas: dict[str, list[float]] = {}
    for name, f in ordered:
        entry = areas.setdefault(area_of(name), [0, 0.0])
        entry[0] += f["tests"]
        entry[1] += f["seconds"]
    result.figures["areas"] = {a: {"tests": int(t), "seconds": sec} for a, (t, sec) in areas.items()}
    total = sum(sec for _, sec in areas.values()) or 1e-9
    result.tables.append(md_table(
        ["área", "pruebas", "suma s", "% de la suma"],
        [[a, int(t), fmt(sec, 1), fmt(100 * sec / total, 0)] for a, (t, sec) in
         sorted(areas.items(), key=lambda kv: -kv[1][1])]))
    result.tables.append(md_table(["archivo", "pruebas", "suma s", "% del total", "la más lenta", "fallidas"], rows))
    if done.returncode != 0:
        result.notes.append(f"scripts/test terminó con código {done.returncode}: {tail[0] if tail else ''}")
    if not files:
        verdict = "cumple" if wall <= TARGET_S else "NO cumple"
        result.notes.append(f"Suite completa en {wall / 60:.1f} min (meta < {TARGET_S / 60:.0f} min: {verdict}).")
    else:
        result.notes.append("Subconjunto de archivos: no es el tiempo de la suite completa (la meta no aplica).")
    return result
