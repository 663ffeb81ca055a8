"""Every benchmark in its tiniest configuration, so `python -m bench` keeps working (figures not judged).

Each writes its JSON and markdown table into a temporary folder; the test checks they are there and
say how they were measured. The suite benchmark runs plain pytest on one small file instead of
scripts/test (whose mypy pass alone takes half a minute).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

from bench import suite
from bench.__main__ import build_parser
from bench.__main__ import main as bench_main
from bench.common import Run, p95, summary, write_result
from sandbox.faults import Faults


def _result(out: Path, name: str) -> dict:
    data = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    assert data["benchmark"] == name and data["method"] and data["command"].startswith("python")
    assert data["machine"]["cores"] and len(data["load_average_start"]) == 3
    table = (out / f"{name}.md").read_text(encoding="utf-8")
    assert "| " in table and "Cómo se mide" in table
    return data


def test_percentiles_and_help() -> None:
    assert p95([float(i) for i in range(1, 101)]) == 95.0
    assert summary([0.2, 0.1, 0.3])["p50"] == 0.2
    assert "mail" in build_parser().format_help() and "--rapido" in build_parser().format_help()


def test_global_latency_counts_requests_and_held_time() -> None:
    faults = Faults()
    faults.set_request_latency(0.05)

    async def burst() -> None:
        await asyncio.gather(faults.delay_request(), faults.delay_request())  # held together: counted once
        await faults.delay_request()

    started = time.monotonic()
    asyncio.run(burst())
    elapsed = time.monotonic() - started
    gate = faults.request_latency
    # Held time is wall time with a request held: overlapping holds count once, so it never exceeds the
    # burst's wall time (counted twice it would be 0.15 s against ~0.10 s), whatever the machine's load.
    assert gate.requests == 3 and 0.09 <= gate.held_s <= elapsed + 0.005


@pytest.mark.robot
@pytest.mark.browser
@pytest.mark.slow
def test_mail_cambio_flujo_lote_tiny(tmp_path: Path) -> None:
    runs = [
        ["mail", "--rondas", "1", "--servidores", "pymap", "--sin-rpa", "--ventana", "0.5"],
        ["cambio", "--repeticiones", "1", "--espera", "0.5"],
        ["flujo", "--rondas", "1", "--latencias", "0", "--flujos", "asociar_prefijo"],
        ["lote", "--clientes", "1", "--concurrencias", "1", "--latencias", "0"],
        ["distribuido", "--clientes", "1", "--trabajadores", "1", "--latencias", "0"],
    ]
    for argv in runs:
        assert bench_main([*argv, "--salida", str(tmp_path)]) == 0, argv
    mail = _result(tmp_path, "mail")["figures"]["pymap"]
    assert mail["latency_s"]["robot"]["n"] == 1 and mail["twenty_clients"]["robot"]["got"] == 20
    assert _result(tmp_path, "cambio")["figures"]["resolve"]["fallback_s"]["n"] == 1
    flujo = _result(tmp_path, "flujo")["figures"]["asociar_prefijo"]["0ms"]
    assert flujo["wall_s"]["n"] == 1 and flujo["requests"] > 0
    [level] = _result(tmp_path, "lote")["figures"]["levels"]
    assert level["ok"] == 1 and level["peak_pss_mb"] > 0
    [level] = _result(tmp_path, "distribuido")["figures"]["levels"]
    assert level["ok"] == 1 and level["workers"] == 1


@pytest.mark.slow
def test_suite_tiny(tmp_path: Path) -> None:
    result = suite.run(archivos=["tests/test_text.py"], command=[sys.executable, "-m", "pytest", "-q"])
    write_result(result, Run(argv=["python", "-m", "bench", "suite"]), tmp_path)
    data = _result(tmp_path, "suite")
    assert data["figures"]["exit_code"] == 0 and "tests/test_text.py" in data["figures"]["files"]
