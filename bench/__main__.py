"""`python -m bench [mail|flujo|lote|distribuido|cambio|suite] [--rapido]`: the benchmarks, their JSON and tables."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.common import RESULTS, Result, Run, write_result
from bots.cli import SpanishArgumentParser
from bots.errors import InvalidInput

BENCHMARKS = {
    "mail": "correo: del APPEND a la clave leída; robot, piso IDLE, sondeo 5 s y RPA Framework; 20 clientes",
    "flujo": "asociar_prefijo y solicitar_numeracion con latencia inyectada 0/100/300 ms frente a su piso",
    "lote": "lote de clientes por el paso del prefijo con concurrencia 1/4/8/16: clientes/min, aceleración, PSS",
    "distribuido": "los mismos clientes con 1/2/4 trabajadores Celery (Redis + PostgreSQL): clientes/min, aceleración",
    "cambio": "detección de portal cambiado y costo de los candidatos de respaldo de los localizadores",
    "suite": "tiempo de scripts/test en este equipo, desglosado por archivo de pruebas",
}


def build_parser() -> argparse.ArgumentParser:
    parser = SpanishArgumentParser(
        prog="python -m bench",
        description="Mide el robot frente a su piso y a sus pares. Sin nombre corre todos, en orden. Cada uno "
        "escribe bench/results/<nombre>.json y bench/results/<nombre>.md.",
        epilog="Benchmarks: " + "; ".join(f"{k}: {v}" for k, v in BENCHMARKS.items()) + ".",
    )
    parser.add_argument("nombre", nargs="?", choices=list(BENCHMARKS), help="el benchmark a correr (todos si se omite)")
    parser.add_argument("--rapido", action="store_true", help="configuración corta, para equipos compartidos")
    parser.add_argument("--salida", type=Path, default=RESULTS, help="carpeta de resultados (bench/results)")
    parser.add_argument("--rondas", type=int, help="mail: entregas por servidor; flujo: corridas por latencia")
    parser.add_argument("--servidores", nargs="+", choices=["pymap", "dovecot"], help="mail: servidores IMAP")
    parser.add_argument("--sin-rpa", action="store_true", help="mail: no instalar ni medir RPA Framework")
    parser.add_argument("--ventana", type=float, help="mail: segundos de la ventana con 20 clientes esperando")
    parser.add_argument("--latencias", type=float, nargs="+", help="flujo/lote: latencias por petición en ms")
    parser.add_argument("--flujos", nargs="+", choices=["asociar_prefijo", "solicitar_numeracion"], help="flujo")
    parser.add_argument("--clientes", type=int, help="lote/distribuido: cuántos clientes simulados")
    parser.add_argument("--concurrencias", type=int, nargs="+", help="lote: niveles de concurrencia")
    parser.add_argument("--navegador-compartido", action="store_true",
                        help="lote: cada nivel también con un solo Chromium para todos los procesos (por CDP)")
    parser.add_argument("--trabajadores", type=int, nargs="+", help="distribuido: cuántos trabajadores Celery")
    parser.add_argument("--repeticiones", type=int, help="cambio: mediciones por caso")
    parser.add_argument("--espera", type=float, help="cambio: segundos que el robot espera la pantalla")
    parser.add_argument("--archivos", nargs="+", help="suite: archivos de prueba a correr (por defecto todos)")
    parser.add_argument("--semilla", type=int, help="mail: semilla de los momentos de entrega")
    return parser


def options_for(name: str, args: argparse.Namespace) -> dict[str, object]:
    """The keyword options of `bench.<name>.run` that were given on the command line."""
    wanted = {
        "mail": {"rondas": args.rondas, "servidores": args.servidores, "sin_rpa": args.sin_rpa or None,
                 "ventana": args.ventana, "seed": args.semilla},
        "flujo": {"rondas": args.rondas, "latencias_ms": args.latencias, "flujos": args.flujos},
        "lote": {"clientes": args.clientes, "concurrencias": args.concurrencias, "latencias_ms": args.latencias,
                 "compartido": args.navegador_compartido or None},
        "distribuido": {"clientes": args.clientes, "trabajadores": args.trabajadores, "latencias_ms": args.latencias},
        "cambio": {"repeticiones": args.repeticiones, "timeout_s": args.espera},
        "suite": {"archivos": args.archivos},
    }[name]
    return {k: v for k, v in wanted.items() if v is not None}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except InvalidInput as exc:
        print(exc.message, file=sys.stderr)
        return 2
    names = [args.nombre] if args.nombre else list(BENCHMARKS)
    failed = 0
    for name in names:
        run = Run(argv=[Path(sys.executable).name, "-m", "bench", *(argv if argv is not None else sys.argv[1:])])
        module = importlib.import_module(f"bench.{name}")
        print(f"bench {name}: {BENCHMARKS[name]}…", file=sys.stderr, flush=True)
        try:
            result: Result = module.run(args.rapido, **options_for(name, args))
        except Exception as exc:  # one benchmark failing does not stop the others
            failed += 1
            print(f"bench {name}: falló: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            continue
        json_path, md_path = write_result(result, run, args.salida)
        print(md_path.read_text(encoding="utf-8"))
        print(f"→ {json_path}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
