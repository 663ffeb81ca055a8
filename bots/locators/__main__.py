"""``python -m bots.locators check|report``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from bots.locators.check import check
from bots.locators.report import report

REPO_ROOT = Path(__file__).resolve().parents[2]


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bots.locators", description="Conjuntos de selectores.")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("check", help="valida los conjuntos y los prueba en Chromium contra las grabaciones")
    cmd.add_argument("--selectors", type=Path, default=REPO_ROOT / "selectors", help="carpeta de selectores")
    cmd.add_argument("--recordings", type=Path, default=REPO_ROOT / "recordings", help="carpeta de grabaciones")
    cmd.add_argument("--familia", action="append", default=[], help="solo esta familia (repetible)")
    cmd.add_argument("--estricto", action="store_true", help="un control hallado solo por alternativa es una falla")
    rep = sub.add_parser("report", help="cuántos localizadores tienen fuente pública y cuántos son inventados")
    rep.add_argument("--selectors", type=Path, default=REPO_ROOT / "selectors", help="carpeta de selectores")
    rep.add_argument("--detalle", action="store_true", help="lista los localizadores inventados")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command == "report":
        print("\n".join(report(args.selectors, detail=args.detalle)))
        return 0
    result = check(args.selectors, args.recordings, args.familia, strict=args.estricto)
    print("\n".join([*result.lines, result.summary()]))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
