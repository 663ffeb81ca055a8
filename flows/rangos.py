"""MUISCA numbering ranges: consult (read-only), enable ("Habilitar Rangos"), disable ("Inhabilitar Rangos").

    python -m flows.rangos consultar   --cliente NIT [--prefijo FE] [--json]
    python -m flows.rangos habilitar   --cliente NIT --prefijo FE --desde N --hasta N [--json]
    python -m flows.rangos inhabilitar --cliente NIT --prefijo FE --desde N --hasta N \\
                                       --confirmar --aprobacion "quién aprobó, cuándo y cómo" [--json]

``consultar`` logs in, opens Numeración de Facturación → Consultas (no AVISO, nothing is created)
and lists every request with its state, prefix, range and resolution, plus the requests waiting in
"Formaliza la Solicitud".

``habilitar`` and ``inhabilitar`` are NOT automated yet: DIAN's screens behind those buttons are not
in the recordings nor in the sandbox (portal-spec Q27), so the robot stops with ``NeedsHuman``
before any page is opened (a single run does not even start the browser) and says what a person
must do; nothing is clicked. ``inhabilitar`` is
irreversible (DIAN doctrine, Oficio 000478/2018): even to get that far it requires ``--confirmar``
and a human approval note, else it stops with ``NeedsHuman`` (reason ``aprobacion``).

Batch: ``python -m flows.lote rangos consultar`` (flow contract of ``flows.lote``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from bots.cli import (
    Outcome,
    SpanishArgumentParser,
    add_client_argument,
    add_common_arguments,
    help_text,
    run_client,
    run_flow,
)
from bots.config import MUISCA_PASSWORD, get_client, load_settings
from bots.errors import InvalidInput, NeedsHuman
from bots.log import bind, get_logger, register_secret
from bots.validation import validate_nit, validate_prefix, validate_range

if TYPE_CHECKING:
    import argparse

    from pydantic import SecretStr

    from bots.browser import ClientRun
    from bots.config import Client, Settings
    from bots.mail import MailWatchers

__all__ = ["DESCRIPTION", "FLOW", "add_options", "build_parser", "main", "prepare", "run_for_client"]

log = get_logger("flows.rangos")

FLOW = "rangos"
DESCRIPTION = (
    "Rangos de numeración en MUISCA: consultar las solicitudes (solo lectura); habilitar e inhabilitar "
    "rangos todavía no están automatizados."
)
ACCIONES = ("consultar", "habilitar", "inhabilitar")
BOTONES = {"habilitar": "Habilitar Rangos", "inhabilitar": "Inhabilitar Rangos"}
NO_MAPEADA = (
    "Las pantallas de «{boton}» de MUISCA todavía no están mapeadas (no hay grabaciones ni simulación de ellas), "
    "así que el robot no las usa y no abrió el navegador. Hágalo una persona en MUISCA: Numeración de "
    "Facturación → Solicitar Numeración de Facturación → Ingresar → «{boton}», para el prefijo {prefijo} del "
    "{desde} al {hasta}; después vienen Borrador, Definitivo y la firma con la clave dinámica"
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """This flow's own options (shared by the single run and the batch)."""
    parser.add_argument("accion", choices=ACCIONES, help="consultar | habilitar | inhabilitar")
    parser.add_argument("--prefijo", help="prefijo (para consultar: filtro opcional; obligatorio en los demás)")
    parser.add_argument("--desde", metavar="N", help="primer número del rango (habilitar / inhabilitar)")
    parser.add_argument("--hasta", metavar="N", help="último número del rango (habilitar / inhabilitar)")
    parser.add_argument(
        "--confirmar",
        action="store_true",
        help="inhabilitar: confirma que se quiere inhabilitar el rango (no se puede deshacer)",
    )
    parser.add_argument(
        "--aprobacion", metavar="NOTA", help="inhabilitar: quién aprobó la inhabilitación, cuándo y por qué medio"
    )


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog="python -m flows.rangos",
        description=help_text(
            DESCRIPTION,
            "  consultar    lista las solicitudes de numeración del cliente (solo lectura)\n"
            "  habilitar    «Habilitar Rangos»: aún no automatizado; se detiene y explica qué hacer\n"
            "  inhabilitar  «Inhabilitar Rangos» (IRREVERSIBLE): exige --confirmar y --aprobacion; aún no "
            "automatizado",
        ),
        epilog=help_text(
            "Códigos de salida: 0 listo; 2 datos de entrada inválidos; 4 requiere una persona; 5 error del portal.",
            "Ejemplos:\n  python -m flows.rangos consultar --cliente 900123456 --json\n"
            "  python -m flows.rangos inhabilitar --cliente 900123456 --prefijo FE --desde 4001 --hasta 5000 \\\n"
            '      --confirmar --aprobacion "Ana Gómez, representante legal, correo del 2026-03-20"',
        ),
    )
    add_client_argument(parser)
    add_options(parser)
    add_common_arguments(parser)
    return parser


def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
    """Validate the options for ``client`` (``InvalidInput``); no browser. → ``run_for_client`` kwargs."""
    if args.accion == "consultar":
        from bots.portals.muisca.login import usuario_muisca

        usuario_muisca(client)
        password = client.secret(MUISCA_PASSWORD, settings)
        register_secret(password.get_secret_value())
        return {
            "accion": "consultar",
            "prefijo": validate_prefix(args.prefijo) if args.prefijo else None,
            "password": password,
        }
    if not args.prefijo or args.desde is None or args.hasta is None:
        raise InvalidInput(f"«{args.accion}» necesita --prefijo, --desde y --hasta.")
    desde, hasta = validate_range(args.desde, args.hasta)
    return {
        "accion": args.accion,
        "prefijo": validate_prefix(args.prefijo),
        "desde": desde,
        "hasta": hasta,
        "confirmar": bool(getattr(args, "confirmar", False)),
        "aprobacion": (getattr(args, "aprobacion", None) or "").strip() or None,
    }


def detener_cambio_de_rango(
    accion: str, prefijo: str, desde: int, hasta: int, confirmar: bool, aprobacion: str | None
) -> None:
    """Habilitar / Inhabilitar always stop here, before any click (their screens are not mapped)."""
    if accion == "inhabilitar":
        if not confirmar or len(aprobacion or "") < 10:
            raise NeedsHuman(
                f"Inhabilitar el rango {prefijo} {desde}-{hasta} no se puede deshacer: se necesita --confirmar y una "
                "nota de aprobación humana en --aprobacion (quién aprobó, cuándo y por qué medio). No se hizo clic "
                "en nada",
                reason="aprobacion",
            )
        log.info("inhabilitación aprobada por una persona", prefijo=prefijo, desde=desde, hasta=hasta, nota=aprobacion)
    raise NeedsHuman(
        NO_MAPEADA.format(boton=BOTONES[accion], prefijo=prefijo, desde=desde, hasta=hasta),
        reason="pantalla_no_mapeada",
    )


def run_for_client(
    run: ClientRun,
    client: Client,
    settings: Settings,
    *,
    watchers: MailWatchers,
    accion: str,
    prefijo: str | None,
    password: SecretStr | None = None,
    desde: int = 0,
    hasta: int = 0,
    confirmar: bool = False,
    aprobacion: str | None = None,
) -> Outcome:
    """Consultar: every numbering request of the client (read-only). Habilitar/Inhabilitar: stop."""
    if accion != "consultar":
        detener_cambio_de_rango(accion, prefijo or "", desde, hasta, confirmar, aprobacion)
    assert password is not None
    from bots.locators import Locators
    from bots.portals.muisca.base import Sesion
    from bots.portals.muisca.login import iniciar_sesion
    from bots.steps import step_journal

    sesion = Sesion(run, Locators("muisca", settings=settings), settings, step_journal(settings, client.nit))
    with run.step("ingreso"):
        tablero = iniciar_sesion(sesion, client, password)
    with run.step("consultar"):
        consulta = tablero.abrir_numeracion().consultas()
        nit = consulta.nit()
        if nit and nit not in (client.nit, client.nit + str(client.dv)):
            raise NeedsHuman(
                f"La consulta muestra el NIT {nit} y no el del cliente {client.nit}", reason="contribuyente_distinto"
            )
        pendientes = [
            {
                "nro_solicitud": f.nro,
                "tipo_solicitud": f.tipo_solicitud,
                "estado": f.estado,
                "formulario_1302": f.formulario,
            }
            for f in consulta.pendientes()
        ]
        consulta = consulta.consultar()
        filas = [f.a_dict() for f in consulta.resultados() if prefijo is None or f.prefijo == prefijo]
        html, _png = run.save_evidence("rangos-consulta")
    filtro = f" con prefijo {prefijo}" if prefijo else ""
    outcome = Outcome.ok(
        f"{len(filas)} fila(s) de solicitudes de numeración{filtro}; {len(pendientes)} por formalizar",
        nit=client.nit,
        solicitudes=filas,
        por_formalizar=pendientes,
        evidencia=str(html) if html else None,
    )
    outcome.client = client.nit
    return outcome


def main(argv: list[str] | None = None) -> Outcome:
    args = build_parser().parse_args(argv)
    validate_nit(args.cliente)
    settings = load_settings(clients_file=args.clientes) if args.clientes else load_settings()
    client = get_client(args.cliente, settings)
    bind(client=client.nit)
    options = prepare(args, client, settings)
    if options["accion"] != "consultar":
        detener_cambio_de_rango(
            options["accion"],
            options["prefijo"],
            options["desde"],
            options["hasta"],
            options["confirmar"],
            options["aprobacion"],
        )
    outcome = run_client(run_for_client, client, settings, options)
    if not args.json:
        _imprimir(outcome.data["solicitudes"], outcome.data["por_formalizar"])
    return outcome


def _imprimir(solicitudes: list[dict[str, Any]], pendientes: list[dict[str, Any]]) -> None:
    """A readable table on stderr (stdout is kept for --json)."""
    columnas = ("nro_solicitud", "estado", "tipo_solicitud", "prefijo", "desde", "hasta", "resolucion")
    titulos = ("Nro. solicitud", "Estado", "Tipo", "Prefijo", "Desde", "Hasta", "Resolución")
    filas = [[str(s.get(c) or "") for c in columnas] for s in solicitudes]
    anchos = [max([len(t), *(len(f[i]) for f in filas)]) for i, t in enumerate(titulos)]
    print("  ".join(t.ljust(a) for t, a in zip(titulos, anchos, strict=True)), file=sys.stderr)
    for fila in filas:
        print("  ".join(v.ljust(a) for v, a in zip(fila, anchos, strict=True)), file=sys.stderr)
    if pendientes:
        lista = ", ".join(f"{p['nro_solicitud']} ({p['estado']})" for p in pendientes)
        print(f"Por formalizar: {lista}", file=sys.stderr)


if __name__ == "__main__":
    run_flow(main)
