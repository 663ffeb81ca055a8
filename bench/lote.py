"""Batch: N simulated clients through the nightly pipeline's prefix step at several concurrency levels,
300 ms per request (the method is in ``run``'s result text)."""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.common import Result, fmt, md_table, process_tree, pss_kb
from bench.env import BenchEnv, finished

TARGET_SPEEDUP_AT_8 = 5.0
TARGET_PSS_PER_CLIENT_MB = 150.0


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


def seed_prefix_clients(env: BenchEnv, clients: int, state_url: str) -> list[str]:
    """Fresh clients at the prefix step: DIAN's side synced with a resolution; the store says every
    earlier step is done, so the nightly pipeline runs only ``asociar_prefijo`` for them."""
    from bots.state import HECHO, PIPELINE, Store

    nits = [env.new_nit() for _ in range(clients)]
    for nit in nits:
        env.ready_for_prefix(nit)
    env.write_files()
    with Store(state_url) as store:
        for nit in nits:
            for step in PIPELINE[:-1]:
                store.record(nit, step, HECHO, ran=False)
    return nits


def count_done(data: dict[str, Any]) -> tuple[int, dict[str, int]]:
    """Clients the night left with nothing pending, and every result's count."""
    rows = data.get("clientes", [])
    results = [str(r.get("resultado")) for r in rows]
    return sum(1 for r in rows if r.get("paso_pendiente") is None), {x: results.count(x) for x in set(results)}


def one_level(env: BenchEnv, clients: int, concurrency: int) -> dict[str, Any]:
    env.profiles.clear()
    env.secrets.clear()
    state = str(env.root / f"estado-c{concurrency}.sqlite3")
    nits = seed_prefix_clients(env, clients, state)
    env.env["DIAN_STATE_URL"] = state
    args = ["--prefijo", "FE", "--desde", "1", "--hasta", "100", "--concurrencia", str(concurrency), "--json",
            "--solo", *nits]
    with PeakPss() as pss:
        started = time.monotonic()
        proc = env.popen("flows.lote", *args)
        pss.roots = [proc.pid]
        out, err = proc.communicate(timeout=7200)
        wall = time.monotonic() - started
    run = finished(proc.returncode, wall, out, err)
    ok, statuses = count_done(run.data)
    return {"concurrency": concurrency, "clients": clients, "processes": concurrency, "wall_s": wall, "ok": ok,
            "statuses": statuses, "clients_per_min": ok * 60 / wall if wall else float("nan"),
            "peak_pss_mb": pss.peak_kb / 1024, "pss_samples": pss.samples, "exit": proc.returncode}


def run(rapido: bool = False, *, clientes: int | None = None, concurrencias: list[int] | None = None,
        latencias_ms: list[float] | None = None, compartido: bool = False) -> Result:
    """``compartido``: run every level twice in the same run, with a browser per worker process and
    with one Chromium shared by all (``DIAN_NIGHTLY_SHARED_BROWSER``), alternating."""
    n = clientes or (5 if rapido else 100)
    levels = sorted(set(concurrencias or ([1, 2] if rapido else [1, 4, 8, 16])))
    latency_ms = (latencias_ms or [300])[0]
    result = Result(
        "lote",
        f"Lote: {n} clientes por el paso del prefijo de la corrida nocturna, latencia {latency_ms:g} ms por petición",
        (
            "python -m flows.lote --prefijo FE --concurrencia c --solo <the level's clients>: the nightly pipeline, "
            "fresh clients per level whose store says every step before asociar_prefijo is done (so each runs "
            "exactly the prefix step: login by mailed token, Rangos de numeración, Asociar); DIAN_RATE_PER_HOST_S=0 "
            "(the politeness limit would cap throughput by design; this measures the robot's own concurrency); "
            "wall = runner start to exit; clients/min counts clients left with nothing pending; speed-up = "
            "clients/min at c / clients/min at the lowest level; peak PSS = highest sum of "
            "/proc/<pid>/smaps_rollup Pss over the runner and all its descendants (worker processes and their "
            "Chromium; the sandbox and IMAP server run in the benchmark's process and are not counted), sampled "
            "every 0.5 s; PSS per extra client = (peak at c - peak at the lowest level) / (c - lowest)."
        ),
        config={"clients": n, "levels": levels, "latency_ms": latency_ms, "shared_browser_compared": compartido},
    )
    modes = ["propio", "compartido"] if compartido else ["propio"]
    per_mode: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    with BenchEnv() as env:
        env.world.faults.set_request_latency(latency_ms / 1000)
        env.env["DIAN_RATE_PER_HOST_S"] = "0"
        for c in levels:
            for mode in modes:
                env.env["DIAN_NIGHTLY_SHARED_BROWSER"] = str(mode == "compartido").lower()
                per_mode[mode].append({**one_level(env, n, c), "browser": mode})
        env.world.faults.set_request_latency(0.0)
    if compartido:
        result.method += (" Each level is run twice, alternating: 'propio' = one browser per worker process; "
                          "'compartido' = DIAN_NIGHTLY_SHARED_BROWSER=true, the workers attach over CDP to one "
                          "Chromium the runner starts (counted in its tree). Per-client PSS is per mode.")
    per_level: list[dict[str, Any]] = []
    rows = []
    for mode in modes:
        _rows_for(per_mode[mode], n, result, rows, mode if compartido else None)
        per_level += per_mode[mode]
    result.figures["levels"] = per_level
    header = ["concurrencia", "procesos", "ok", "total s", "clientes/min", "aceleración", "PSS pico MB",
              "PSS por cliente extra MB"]
    result.tables.append(md_table((["navegador"] if compartido else []) + header, rows))
    return result


def _rows_for(per_level: list[dict[str, Any]], n: int, result: Result, rows: list[list[Any]],
              mode: str | None) -> None:
    first = per_level[0]
    for level in per_level:
        c = level["concurrency"]
        speedup = level["clients_per_min"] / first["clients_per_min"] if first["clients_per_min"] else float("nan")
        extra = (level["peak_pss_mb"] - first["peak_pss_mb"]) / (c - first["concurrency"]) if c > first[
            "concurrency"] else float("nan")
        level["speedup"] = speedup
        level["pss_per_extra_client_mb"] = extra
        rows.append(([mode] if mode else []) + [
            c, level["processes"], f"{level['ok']}/{n}", fmt(level["wall_s"], 1), fmt(level["clients_per_min"], 2),
            fmt(speedup, 2) + "x", fmt(level["peak_pss_mb"], 0), fmt(extra, 0)])
        label = f" ({mode})" if mode else ""
        if level["ok"] < n:
            missing = n - level['ok']
            result.notes.append(f"Concurrencia {c}{label}: {missing} cliente(s) no terminaron ok: {level['statuses']}.")
        if c == 8 and speedup < TARGET_SPEEDUP_AT_8:
            result.notes.append(f"Aceleración a 8{label}: {speedup:.2f}x (meta ≥ {TARGET_SPEEDUP_AT_8:g}x) en "
                                "este equipo (núcleos en el JSON, compartido).")
        if extra == extra and extra > TARGET_PSS_PER_CLIENT_MB:
            result.notes.append(f"Concurrencia {c}{label}: {extra:.0f} MB de PSS por cliente concurrente extra "
                                f"(meta ≤ {TARGET_PSS_PER_CLIENT_MB:g} MB).")
