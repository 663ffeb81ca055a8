"""What every benchmark shares: statistics, machine facts, and writing the JSON result and its table.

Each benchmark returns a `Result`: `figures` (named numbers, each with how it is measured), `tables`
(markdown rows README quotes) and `notes` (limits, missed targets). `write_result` stores
bench/results/<name>.json (with timestamp, machine facts and load average at start and end, the exact
command) and bench/results/<name>.md.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
NOT_AVAILABLE = "no disponible"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def p95(values: Sequence[float]) -> float:
    """The 95th percentile, nearest-rank (with fewer than 20 values it is the maximum)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summary(values: Sequence[float]) -> dict[str, Any]:
    """n, p50, p95, min and max of `values` (seconds or whatever unit they are in)."""
    return {
        "n": len(values),
        "p50": median(values),
        "p95": p95(values),
        "min": min(values) if values else math.nan,
        "max": max(values) if values else math.nan,
    }


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def md_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def chromium_version() -> str:
    """The version of the Chromium the robot uses (`bots.browser.find_chromium`), or why not."""
    try:
        from bots.browser import find_chromium

        exe = find_chromium()
        if exe is None:
            return NOT_AVAILABLE
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip() or NOT_AVAILABLE
    except Exception as exc:  # the facts must never stop a benchmark
        return f"{NOT_AVAILABLE} ({type(exc).__name__})"


def machine_facts() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_mb": round(mem_kb / 1024),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "chromium": chromium_version(),
    }


@dataclass
class Result:
    """One benchmark's outcome."""

    name: str
    title: str
    method: str  # how the figures are measured (one paragraph, in English)
    figures: dict[str, Any] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)  # markdown
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """Start facts of one benchmark run (load average and time at start)."""

    argv: list[str]
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    load_start: tuple[float, float, float] = field(default_factory=os.getloadavg)
    t0: float = field(default_factory=time.monotonic)


def write_result(result: Result, run: Run, out_dir: Path = RESULTS) -> tuple[Path, Path]:
    """Write <name>.json and <name>.md under `out_dir`; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = " ".join(shlex.quote(a) for a in run.argv)
    data = {
        "benchmark": result.name,
        "title": result.title,
        "timestamp": run.started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - run.t0, 2),
        "command": command,
        "machine": machine_facts(),
        "load_average_start": run.load_start,
        "load_average_end": os.getloadavg(),
        "method": result.method,
        "config": result.config,
        "figures": result.figures,
        "notes": result.notes,
    }
    json_path = out_dir / f"{result.name}.json"
    text = json.dumps(clean_nan(data), indent=2, ensure_ascii=False, default=_jsonable)
    json_path.write_text(text + "\n", encoding="utf-8")
    m = data["machine"]
    load = ", ".join(f"{x:.2f}" for x in data["load_average_start"])
    load_end = ", ".join(f"{x:.2f}" for x in data["load_average_end"])
    md = [
        f"### {result.title}",
        "",
        f"`{command}` — {data['timestamp']}, {m['cores_usable']} núcleos, Python {m['python']}, {m['chromium']}; "
        f"carga media al inicio {load}, al final {load_end}; duró {data['duration_s']:.0f} s.",
        "",
        *[block + "\n" for block in result.tables],
        f"Cómo se mide: {result.method}",
    ]
    if result.notes:
        md += ["", *[f"- {n}" for n in result.notes]]
    md_path = out_dir / f"{result.name}.md"
    md_path.write_text("\n".join(md).rstrip() + "\n", encoding="utf-8")
    return json_path, md_path


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


def clean_nan(value: Any) -> Any:
    """NaN → None everywhere (json.dumps writes NaN, which is not JSON)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: clean_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_nan(v) for v in value]
    return value


def pss_kb(pids: Iterable[int]) -> int:
    """Sum of the PSS (kB) of `pids` from /proc/<pid>/smaps_rollup (processes gone meanwhile count 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue
    return total


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (from /proc/*/stat)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out
