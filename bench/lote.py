"""Batch: N simulated clients through the prefix step at several concurrency levels, 300 ms per request.

Each level gets N fresh clients (synced to production, resolution visible) and the clients file lists
only them. When `flows.lote` offers `--concurrencia`, one batch process runs them with it; otherwise
(today's sequential batch) level c runs c batch processes side by side, each `--solo` its share of
the clients, and the result says so. Measured per level: wall time from the first process start to
the last exit, clients/min (clients that ended "ok"), speed-up over level 1, and peak PSS of the
runner processes and all their children (Chromium included; the sandbox and the IMAP server, which run
in this benchmark's own process, are not counted), sampled from /proc/<pid>/smaps_rollup every 0.5 s.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.common import Result, fmt, md_table, process_tree, pss_kb
from bench.env import BenchEnv, finished

TARGET_SPEEDUP_AT_8 = 5.0
TARGET_PSS_PER_CLIENT_MB = 150.0


def has_concurrency_option() -> bool:
    """True when ``flows.lote <flow>`` (one flow over many clients) takes --concurrencia.

    Today only the whole nightly pipeline (no flow name) has worker processes; the prefix step alone is
    measured with c batch processes side by side, each with its share of the clients.
    """
    from flows.lote import build_parser

    return any("--concurrencia" in a.option_strings for a in build_parser()._actions)


class PeakPss:
    """Samples the PSS of the process trees of `roots` in a thread; `peak_kb` is the highest sum seen."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.roots: list[int] = []
        self.peak_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-pss", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [pid for root in list(self.roots) for pid in process_tree(root)]
            if pids:
                self.peak_kb = max(self.peak_kb, pss_kb(pids))
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def one_level(env: BenchEnv, clients: int, concurrency: int, native: bool) -> dict[str, Any]:
    env.profiles.clear()
    env.secrets.clear()
    nits = [env.new_nit() for _ in range(clients)]
    for nit in nits:
        env.ready_for_prefix(nit)
    env.write_files()
    base = ["asociar_prefijo", "--prefijo", "FE", "--json"]
    if native:
        commands = [[*base, "--concurrencia", str(concurrency)]]
    else:
        shares = [nits[i::concurrency] for i in range(concurrency)]
        commands = [[*base, "--solo", *share] for share in shares if share]
    with PeakPss() as pss:
        started = time.monotonic()
        procs = [env.popen("flows.lote", *args) for args in commands]
        pss.roots = [p.pid for p in procs]
        outputs = [p.communicate(timeout=3600) for p in procs]
        wall = time.monotonic() - started
    statuses: list[str] = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        run = finished(proc.returncode, wall, out, err)
        statuses += [str(r.get("status")) for r in run.data.get("resultados", [])]
    ok = sum(1 for s in statuses if s == "ok")
    return {"concurrency": concurrency, "clients": clients, "processes": len(commands), "wall_s": wall, "ok": ok,
            "statuses": {s: statuses.count(s) for s in set(statuses)},
            "clients_per_min": ok * 60 / wall if wall else float("nan"),
            "peak_pss_mb": pss.peak_kb / 1024, "pss_samples": pss.samples}


def run(rapido: bool = False, *, clientes: int | None = None, concurrencias: list[int] | None = None,
        latencias_ms: list[float] | None = None) -> Result:
    n = clientes or (5 if rapido else 100)
    levels = sorted(set(concurrencias or ([1, 2] if rapido else [1, 4, 8, 16])))
    latency_ms = (latencias_ms or [300])[0]
    native = has_concurrency_option()
    mode = ("flows.lote --concurrencia c (one batch process)" if native else
            "c batch processes side by side, each --solo its share (flows.lote has no --concurrencia yet: "
            "today's batch is sequential)")
    result = Result(
        "lote",
        f"Lote: {n} clientes por el paso del prefijo, latencia {latency_ms:g} ms por petición",
        (
            f"concurrency c = {mode}; fresh clients per level; wall = first process start to last exit; "
            "clients/min counts clients that ended ok; speed-up = clients/min at c / clients/min at the lowest "
            "level; peak PSS = highest sum of /proc/<pid>/smaps_rollup Pss over the runner processes and all "
            "their descendants (Chromium included; sandbox and IMAP server excluded), sampled every 0.5 s; PSS "
            "per extra client = (peak at c - peak at the lowest level) / (c - lowest)."
        ),
        config={"clients": n, "levels": levels, "latency_ms": latency_ms, "native_concurrency": native},
    )
    if not native:
        result.notes.append("flows.lote no tiene --concurrencia en esta rama: la concurrencia se mide con procesos "
                            "de lote en paralelo (cada uno con su Python y su Chromium, de ahí el PSS por cliente "
                            "extra), no con el pipeline nocturno.")
    per_level: list[dict[str, Any]] = []
    with BenchEnv() as env:
        env.world.faults.set_request_latency(latency_ms / 1000)
        for c in levels:
            per_level.append(one_level(env, n, c, native))
        env.world.faults.set_request_latency(0.0)
    first = per_level[0]
    rows = []
    for level in per_level:
        c = level["concurrency"]
        speedup = level["clients_per_min"] / first["clients_per_min"] if first["clients_per_min"] else float("nan")
        extra = (level["peak_pss_mb"] - first["peak_pss_mb"]) / (c - first["concurrency"]) if c > first[
            "concurrency"] else float("nan")
        level["speedup"] = speedup
        level["pss_per_extra_client_mb"] = extra
        rows.append([c, level["processes"], f"{level['ok']}/{n}", fmt(level["wall_s"], 1),
                     fmt(level["clients_per_min"], 2), fmt(speedup, 2) + "x", fmt(level["peak_pss_mb"], 0),
                     fmt(extra, 0)])
        if level["ok"] < n:
            missing = n - level['ok']
            result.notes.append(f"Concurrencia {c}: {missing} cliente(s) no terminaron ok: {level['statuses']}.")
        if c == 8 and speedup < TARGET_SPEEDUP_AT_8:
            result.notes.append(f"Aceleración a 8: {speedup:.2f}x (meta ≥ {TARGET_SPEEDUP_AT_8:g}x) en "
                                "este equipo (núcleos en el JSON, compartido).")
        if extra == extra and extra > TARGET_PSS_PER_CLIENT_MB:
            result.notes.append(f"Concurrencia {c}: {extra:.0f} MB de PSS por cliente concurrente extra "
                                f"(meta ≤ {TARGET_PSS_PER_CLIENT_MB:g} MB).")
    result.figures["levels"] = per_level
    result.tables.append(md_table(
        ["concurrencia", "procesos", "ok", "total s", "clientes/min", "aceleración", "PSS pico MB",
         "PSS por cliente extra MB"], rows))
    return result
