"""Flow overhead: asociar_prefijo and solicitar_numeracion with a fixed latency per request vs their floor.

Each run is `python -m flows.<flow> ... --json` for a fresh client (the whole flow, nothing "ya hecho"),
against the sandbox with `Faults.set_request_latency(L)` holding every portal request L seconds. The
floor of a run at latency L is what the flow cannot avoid:

    floor(L) = median wall time at 0 ms (browser page work, mail at zero latency, process start)
               + the time the sandbox held at least one of the run's requests (union of the
                 intervals; = requests x L when the requests come one after another)

Target: wall time / floor <= 1.10. Latencies are interleaved round by round, so drift in the
machine's load hits all of them alike.
"""

from __future__ import annotations

from typing import Any

from bench.common import Result, fmt, md_table, median, summary
from bench.env import BenchEnv, FlowRun

FLOWS = ("asociar_prefijo", "solicitar_numeracion")
TARGET = 1.10


def one_run(env: BenchEnv, flow: str, latency_s: float) -> tuple[FlowRun, int, float]:
    nit = env.new_nit()
    if flow == "asociar_prefijo":
        env.ready_for_prefix(nit)
        args = ["--cliente", nit, "--prefijo", "FE", "--json"]
    else:
        env.ready_for_numbering(nit)
        args = ["--cliente", nit, "--prefijo", "FE", "--desde", "1", "--hasta", "5000", "--json"]
    env.write_files()
    env.world.faults.set_request_latency(latency_s)
    run = env.run(f"flows.{flow}", *args)
    gate = env.world.faults.request_latency
    requests, held = gate.requests, gate.held_s
    env.world.faults.set_request_latency(0.0)
    return run, requests, held


def run(rapido: bool = False, *, rondas: int | None = None, latencias_ms: list[float] | None = None,
        flujos: list[str] | None = None) -> Result:
    n = rondas or (1 if rapido else 3)
    latencies = sorted({0.0, *(latencias_ms or [0, 100, 300])})
    flows = flujos or list(FLOWS)
    result = Result(
        "flujo",
        "Flujos con latencia por petición: tiempo total frente a su piso",
        (
            "wall = python -m flows.<flow> --json as a subprocess for a fresh client (process start to exit), "
            "sandbox latency L on every portal request (sandbox.faults.set_request_latency); floor(L) = median "
            "wall at 0 ms + time the sandbox held at least one of the run's requests (union of the latency "
            "intervals, = requests x L when they are sequential); ratio = wall / floor. One warm-up run per flow "
            "is not counted; rounds interleave the latencies, in an order rotated each round."
        ),
        config={"rounds": n, "latencies_ms": latencies, "flows": flows, "target_ratio": TARGET},
    )
    rows = []
    with BenchEnv() as env:
        for flow in flows:
            runs: dict[float, list[tuple[FlowRun, int, float]]] = {lat: [] for lat in latencies}
            if len(latencies) > 1:  # warm-up, not counted: the first Chromium start and page cache are cold
                one_run(env, flow, 0.0)
            for i in range(n):
                for lat in latencies[i % len(latencies):] + latencies[:i % len(latencies)]:  # rotate the order
                    runs[lat].append(one_run(env, flow, lat / 1000))
            bad = [(lat, r) for lat, rs in runs.items() for r, _, _ in rs if r.status not in ("ok", "ya_hecho")]
            for lat, r in bad:
                result.notes.append(f"{flow} a {lat:g} ms terminó con estado {r.status} (código {r.returncode}).")
            base = median([r.elapsed_s for r, _, _ in runs[0.0] if r.status == "ok"])
            figures: dict[str, Any] = {"wall_0ms_median_s": base}
            for lat in latencies:
                good = [(r, q, h) for r, q, h in runs[lat] if r.status == "ok"]
                walls = [r.elapsed_s for r, _, _ in good]
                floors = [base + h for _, _, h in good]
                ratios = [w / f for w, f in zip(walls, floors, strict=True)]
                requests = median([q for _, q, _ in good]) if good else float("nan")
                held = median([h for _, _, h in good]) if good else float("nan")
                figures[f"{lat:g}ms"] = {"wall_s": summary(walls), "floor_s": summary(floors), "ratio": summary(ratios),
                                         "requests": requests, "held_s": held,
                                         "requests_x_latency_s": requests * lat / 1000}
                ratio = median(ratios)
                rows.append([flow, f"{lat:g}", len(good), fmt(requests, 0), fmt(held, 2), fmt(median(walls), 2),
                             fmt(median(floors), 2), fmt(ratio, 3), "sí" if ratio <= TARGET else "no"])
                if lat and ratio > TARGET:
                    result.notes.append(
                        f"{flow} a {lat:g} ms: {ratio:.2f}x el piso (meta ≤ {TARGET:.2f}x); lo que sobra son "
                        f"{median(walls) - median(floors):.2f} s que no son ni latencia inyectada ni trabajo a 0 ms."
                    )
            result.figures[flow] = figures
    result.tables.append(md_table(
        ["flujo", "latencia ms", "n", "peticiones", "retenido s", "total p50 s", "piso p50 s", "total/piso",
         f"≤ {TARGET:.2f}"], rows))
    if n < 3:
        result.notes.append(f"Con {n} corrida(s) por latencia el piso a 0 ms es una sola medida: las razones son "
                            "ruidosas en un equipo compartido.")
    return result
