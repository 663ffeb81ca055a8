"""Record a client's approval of the production start date in the nightly run's state.

    python -m flows.aprobar --cliente 900123456 --fecha 2026-04-01 --aprobado-por "Ana Gómez (correo 2026-03-20)"
        [--evidencia /ruta/correo.pdf] [--clientes clients.toml] [--json]

No browser, no portal: it writes who approved which date, when it was recorded, by which operator (OS
user) and the evidence's path. The nightly run's ``fecha_produccion`` step passes the newest approval
to ``flows.salida_produccion`` (its ``--aprobado-por``/``--fecha``); a client waiting for this
approval is tried again on the next run, even the same night.
"""

from __future__ import annotations

import getpass
from pathlib import Path

from bots.cli import Outcome, SpanishArgumentParser, add_client_argument, add_common_arguments, help_text, run_flow
from bots.errors import InvalidInput
from bots.text import squash

FLOW = "aprobar"
DESCRIPTION = (
    "Registra en el estado del robot la aprobación escrita del cliente de su fecha de inicio en producción "
    "(quién aprobó, cuándo y con qué evidencia). La corrida nocturna la usa en el paso de la fecha de producción."
)


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog="python -m flows.aprobar",
        description=help_text(DESCRIPTION, "No abre el navegador ni entra a la DIAN."),
        epilog=help_text(
            "Códigos de salida: 0 registrada; 2 datos inválidos.",
            "Ejemplo:\n  python -m flows.aprobar --cliente 900123456 --fecha 2026-04-01 --aprobado-por \"Ana Gómez, "
            "representante legal (correo del 2026-03-20)\" --evidencia correo.pdf",
        ),
    )
    add_client_argument(parser)
    parser.add_argument("--fecha", required=True, metavar="AAAA-MM-DD", help="fecha de inicio en producción aprobada")
    parser.add_argument(
        "--aprobado-por", required=True, metavar="QUIÉN", help="quién del cliente la aprobó y cómo consta"
    )
    parser.add_argument("--evidencia", metavar="RUTA", help="archivo con la aprobación (correo, acta); debe existir")
    add_common_arguments(parser)
    return parser


def main() -> Outcome:
    from bots.config import get_client, load_settings
    from bots.state import Store
    from bots.validation import validate_nit
    from flows.salida_produccion import _parse_date

    args = build_parser().parse_args()
    settings = load_settings(clients_file=args.clientes) if args.clientes else load_settings()
    client = get_client(validate_nit(args.cliente), settings)
    fecha = _parse_date(args.fecha)
    por = squash(args.aprobado_por)
    if not por:
        raise InvalidInput("--aprobado-por no puede ir vacío.")
    evidencia = None
    if args.evidencia:
        path = Path(args.evidencia)
        if not path.is_file():
            raise InvalidInput(f"No existe el archivo de evidencia {path}.")
        evidencia = str(path.resolve())
    try:
        operador = getpass.getuser()
    except (KeyError, OSError):
        operador = None
    with Store.open(settings) as store:
        approval = store.add_approval(client.nit, fecha, por, evidencia=evidencia, registrado_por=operador)
    return Outcome.ok(
        f"Aprobación registrada para {client.nit_con_dv}: fecha de inicio en producción {fecha:%Y-%m-%d}, aprobada "
        f"por {por}. La próxima corrida nocturna la usará.",
        fecha_inicio=fecha.isoformat(), aprobado_por=por, aprobado_en=approval.aprobado_en.isoformat(),
        evidencia=evidencia, id=approval.id,
    )


if __name__ == "__main__":
    run_flow(main)
