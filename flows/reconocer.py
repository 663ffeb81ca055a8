"""Read-only reconnaissance of DIAN's portals: look, record, check every locator; click nothing that changes state.

    python -m flows.reconocer --cliente 900123456 [--portal habilitacion|produccion|muisca ...]
        [--grabar] [--salida DIR] [--json]

Logs in as the flows do (the catalogue's token login, MUISCA's password login: the only requests it
makes) and walks every read-only screen the flows use, by URL where DIAN has a route:

- habilitación: the login form, the dashboard (H-01), "Documentos electrónicos" (H-02), the contributor
  page (H-03), the operation-mode list (H-05/H-06) and the test-set view (H-07);
- producción: the login form, the dashboard (P-01), the prefix page and its table (P-02/P-04);
- MUISCA: the login form, the dashboard (M-02), Numeración de Facturación (M-03), its consult screen
  before and after "Consultar" (M-06) and Mis comunicados (M-10).

What it clicks is data: ``bots/recon_permitidos.toml`` (reviewed by a test: no irreversible control on it).
On each screen it saves the page (scrubbed HTML without scripts + screenshot, laid out like recordings/
with a manifest) and runs every locator of the matching selector set, all candidates, then prints a table:
screen, version recognised, locators found, found only by a fallback, missing. A locator the recordings
show in every recorded state of that screen must be there; one that depends on the state is only reported.
Exit 0 when all hold, 5 when a screen is not recognised or a locator is missing (the saved pages are the
would-be recordings ``python -m bots.locators check --recordings DIR`` accepts). No operator approval needed.

``--grabar`` also records a minimal HAR of the portal hosts (bots/record.py) and writes the folder to
``--salida`` (default ``<output>/grabaciones/<NIT>/<fecha>``); without it the pages go to
``<output>/reconocimiento/<NIT>/<fecha>``. Files are promoted from a temporary folder only when the walk
ended (a crash leaves nothing half-written).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from bots.cli import (
    Outcome,
    SpanishArgumentParser,
    add_client_argument,
    add_common_arguments,
    help_text,
    run_flow,
)
from bots.errors import PortalChanged
from bots.locators import Locators, load_family
from bots.log import bind, get_logger, register_secret
from bots.recon import ALTERNATIVA, AUSENTE, FALTA, OK, InformePantalla, Permitidos, inspeccionar, tabla
from bots.record import Recorder, Scrubber

if TYPE_CHECKING:
    from bots.browser import ClientRun
    from bots.config import Client, Settings
    from bots.locators.model import SelectorSet
    from bots.mail import MailWatchers

__all__ = ["DESCRIPTION", "FLOW", "PORTALES", "build_parser", "main"]

log = get_logger(__name__)

FLOW = "reconocer"
DESCRIPTION = (
    "Reconocimiento de solo lectura de los portales de la DIAN: ingresa como los flujos, recorre las pantallas "
    "que ellos usan sin hacer clic en nada que cambie el estado, guarda cada página y prueba en ella todos los "
    "localizadores de los archivos de selectores."
)
PORTALES = ("habilitacion", "produccion", "muisca")
DASHBOARD_PATH = "/Home/Dashboard"


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog="python -m flows.reconocer",
        description=help_text(
            DESCRIPTION,
            "Solo hace clic en los controles de bots/recon_permitidos.toml (el ingreso y la navegación de MUISCA); "
            "el resto lo abre por su dirección. El ingreso pide un token por sitio del catálogo.",
        ),
        epilog=help_text(
            "Códigos de salida: 0 todas las pantallas y localizadores se hallaron; 5 alguna pantalla no se reconoce "
            "o le falta un localizador (la tabla dice cuál); 2 datos inválidos; 4 requiere una persona (p. ej. "
            "Captcha en el ingreso); 1 error inesperado.",
            "Ejemplo:\n  python -m flows.reconocer --cliente 900123456 --portal produccion --grabar",
        ),
    )
    add_client_argument(parser)
    parser.add_argument(
        "--portal", action="append", choices=PORTALES, default=[],
        help="portal a recorrer (repetible; por defecto los tres)",
    )
    parser.add_argument("--grabar", action="store_true", help="graba también el HAR de los portales para promoverlo")
    parser.add_argument("--salida", type=Path, metavar="CARPETA", help="dónde dejar las páginas guardadas")
    parser.add_argument(
        "--estricto", action="store_true",
        help="un localizador hallado solo por un candidato alternativo cuenta como roto (salida 5)",
    )
    add_common_arguments(parser)
    return parser


class Recorrido:
    """The walk of one client's portals: every screen inspected and saved; the reports kept."""

    def __init__(
        self,
        run: ClientRun,
        client: Client,
        settings: Settings,
        watchers: MailWatchers,
        recorder: Recorder,
        *,
        mailbox: Any = None,
    ) -> None:
        self.run = run
        self.client = client
        self.settings = settings
        self.watchers = watchers
        self.recorder = recorder
        self.mailbox = mailbox
        self.permitidos = Permitidos.load()
        self.recordings_dir = settings.selectors_dir.parent / "recordings"
        self.sets = {f: load_family(f, settings.selectors_dir) for f in ("catalogo", "habilitacion", "muisca")}
        self.informes: list[InformePantalla] = []
        self.paginas: dict[str, str] = {}
        self.timeout_s = min(settings.page_timeout_s, 10.0)

    @property
    def page(self) -> Any:
        return self.run.page

    def pantalla(self, portal: str, *screens: tuple[str, str], state: str | None = None) -> bool:
        """Inspect the current page as each (family, screen), save it once; True when the first is recognised."""
        reports = [
            inspeccionar(
                self.page, self.sets[family], screen, portal=portal, recordings_dir=self.recordings_dir,
                timeout_s=self.timeout_s,
            )
            for family, screen in screens
        ]  # fmt: skip
        first = reports[0]
        chosen = self._set(first)
        checks = {
            f"{r.family}/{r.version}/{r.screen}": [v.name for v in r.con(AUSENTE)] for r in reports if r.version
        }
        captura = self.recorder.capture(
            self.page, portal=portal, selector_set=chosen, screen=first.screen if chosen else None, state=state,
            checks=checks or None,
        )  # fmt: skip
        for report in reports:
            if captura is not None:
                report.archivos = captura.files
            self.informes.append(report)
            log.info(
                "pantalla reconocida" if report.version else "pantalla no reconocida",
                pantalla=report.nombre, version=report.version, hallados=len(report.con(OK)),
                alternativa=len(report.con(ALTERNATIVA)), faltan=len(report.con(FALTA)),
            )  # fmt: skip
        return first.version is not None

    def fallo(self, portal: str, exc: PortalChanged) -> None:
        """A page object met a page it does not know (nothing was clicked on it): save the page as an unknown
        screen, report it under the screen that was expected, and leave this portal."""
        from urllib.parse import urlsplit

        screen = (exc.selector or "desconocida").split(".")[0]
        captura = self.recorder.capture(self.page, portal=portal, selector_set=None, screen=None)
        report = InformePantalla(
            portal=portal,
            family="muisca" if portal == "muisca" else "catalogo",
            screen=screen,
            ruta=urlsplit(self.page.url).path,
            version=None,
            archivos=captura.files if captura else [],
            nota=exc.message,
        )
        self.informes.append(report)
        log.warning("pantalla no reconocida", pantalla=report.nombre, portal=portal)

    def _set(self, report: InformePantalla) -> SelectorSet | None:
        if report.version is None:
            return None
        return next(s for s in self.sets[report.family] if s.version == report.version)

    # -- the catalogue (habilitación and producción) ------------------------------------------------
    def catalogo(self, portal: str) -> None:
        from bots.portals.catalogo.session import COMPANY_LOGIN_PATH, PERSON_LOGIN_PATH, CatalogoSession
        from bots.retry import navigate

        session = CatalogoSession(self.run, self.client, portal, self.settings, self.watchers, mailbox=self.mailbox)  # type: ignore[arg-type]
        persona = self.client.tipo_ingreso == "persona"
        with self.run.step(f"{portal}-ingreso"):
            navigate(self.page, session.url(PERSON_LOGIN_PATH if persona else COMPANY_LOGIN_PATH))
            self.pantalla(portal, ("catalogo", "login_persona" if persona else "login_empresa"), state=portal)
            session.login()
        with self.run.step(f"{portal}-recorrido"):
            session.goto(DASHBOARD_PATH)
            if portal == "produccion":
                self._produccion(session)
            else:
                self._habilitacion(session)

    def _produccion(self, session: Any) -> None:
        from bots.portals.catalogo.produccion import NUMBER_RANGES_PATH

        self.pantalla("produccion", ("catalogo", "produccion_inicio"), ("catalogo", "sesion"), state="produccion")
        session.goto(NUMBER_RANGES_PATH)
        self.pantalla("produccion", ("catalogo", "prefijos"))

    def _habilitacion(self, session: Any) -> None:
        from bots.portals.habilitacion.facturador import Facturador, TiposDocumento
        from bots.portals.habilitacion.inicio import Inicio
        from bots.portals.habilitacion.modos import ModosOperacion
        from bots.portals.habilitacion.procesos import path_of

        locators = Locators("habilitacion", settings=self.settings)
        quick = 2.0
        if not self.pantalla("habilitacion", ("habilitacion", "inicio"), ("catalogo", "sesion"), state="habilitacion"):
            return
        session.goto(path_of(Inicio.recognise(self.page, locators, timeout_s=quick).documentos_electronicos()))
        if not self.pantalla("habilitacion", ("habilitacion", "tipos_documento")):
            return
        session.goto(path_of(TiposDocumento.recognise(self.page, locators, timeout_s=quick).factura_electronica()))
        if not self.pantalla("habilitacion", ("habilitacion", "facturador")):
            return
        href = Facturador.recognise(self.page, locators, timeout_s=quick).modos_operacion()
        if not href:
            log.info("sin «Configurar modos de operación» en este estado del facturador")
            return
        session.goto(path_of(href))
        if not self.pantalla("habilitacion", ("habilitacion", "modos_operacion")):
            return
        rows = ModosOperacion.recognise(self.page, locators, timeout_s=quick).filas()
        detalles = next((r.detalles_href for r in rows if r.detalles_href), None)
        if not detalles:
            log.info("sin «Detalles de set de pruebas» en la lista de modos de operación")
            return
        session.goto(path_of(detalles))
        self.pantalla("habilitacion", ("habilitacion", "set_pruebas"))

    # -- MUISCA --------------------------------------------------------------------------------------
    def muisca(self, password: Any) -> None:
        from bots.portals.muisca.base import Sesion
        from bots.portals.muisca.login import ENTRADA, iniciar_sesion
        from bots.retry import navigate
        from bots.steps import step_journal

        sesion = Sesion(self.run, Locators("muisca", settings=self.settings), self.settings,
                        step_journal(self.settings, self.client.nit))  # fmt: skip
        with self.run.step("muisca-ingreso"):
            navigate(self.page, self.settings.muisca_url + ENTRADA)
            self.pantalla("muisca", ("muisca", "login"))
            tablero = iniciar_sesion(sesion, self.client, password)
        with self.run.step("muisca-recorrido"):
            if not self.pantalla("muisca", ("muisca", "tablero")):
                return
            comunicados = tablero.locs.get("comunicados")
            href = comunicados.first.get_attribute("href") if comunicados.count() else None
            self.permitidos.exigir("muisca", "tablero", "numeracion")
            menu = tablero.abrir_numeracion()
            if not self.pantalla("muisca", ("muisca", "menu_numeracion")):
                return
            self.permitidos.exigir("muisca", "menu_numeracion", "consultas")
            consulta = menu.consultas()
            if not self.pantalla("muisca", ("muisca", "consulta"), state="inicial"):
                return
            self.permitidos.exigir("muisca", "consulta", "consultar")
            consulta.consultar()
            self.pantalla("muisca", ("muisca", "consulta"), state="resultados")
            if href and not href.startswith(("#", "javascript:")):
                navigate(self.page, urljoin(self.page.url, href))
                self.pantalla("muisca", ("muisca", "comunicados"))


def _resumen(informes: list[InformePantalla]) -> list[dict[str, Any]]:
    return [
        {
            "portal": r.portal,
            "pantalla": r.nombre,
            "ruta": r.ruta,
            "version": r.version,
            "hallados": [v.name for v in r.con(OK)],
            "solo_alternativa": [{"localizador": v.name, "candidato": v.candidato} for v in r.con(ALTERNATIVA)],
            "faltan": [v.name for v in r.con(FALTA)],
            "ausentes_por_estado": [v.name for v in r.con(AUSENTE)],
            "archivos": r.archivos,
        }
        for r in informes
    ]


def main() -> Outcome:
    from bots.browser import client_run
    from bots.config import MUISCA_PASSWORD, get_client, load_settings
    from bots.mail import MailWatchers
    from bots.validation import validate_nit

    args = build_parser().parse_args()
    nit = validate_nit(args.cliente)
    settings = load_settings(clients_file=args.clientes) if args.clientes else load_settings()
    client = get_client(nit, settings)
    portales = [p for p in PORTALES if p in (args.portal or PORTALES)]
    # Secrets before any browser (as every flow's prepare): mailbox for the catalogue, password for MUISCA.
    mailbox = client.buzon_token.access(settings) if {"habilitacion", "produccion"} & set(portales) else None
    password = None
    if "muisca" in portales:
        from bots.portals.muisca.login import usuario_muisca

        usuario_muisca(client)
        password = client.secret(MUISCA_PASSWORD, settings)
        register_secret(password.get_secret_value())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    salida = args.salida or settings.output_dir / ("grabaciones" if args.grabar else "reconocimiento") / nit / stamp
    scrubber = Scrubber()
    scrubber.add_client(client)
    tool = "python -m flows.reconocer" + (" --grabar" if args.grabar else "")
    recorder = Recorder(salida, scrubber, settings, herramienta=tool)
    bind(client=nit)
    walk: Recorrido | None = None
    try:
        options = recorder.context_options() if args.grabar else None
        with MailWatchers(idle_renew=settings.idle_renew_s) as watchers, \
                client_run(client, settings=settings, context_options=options) as run:  # fmt: skip
            recorder.bind_context(run.context)
            walk = Recorrido(run, client, settings, watchers, recorder, mailbox=mailbox)
            for portal in portales:
                try:
                    if portal == "muisca":
                        walk.muisca(password)
                    else:
                        walk.catalogo(portal)
                except PortalChanged as exc:  # reported in the table; the other portals are still walked
                    walk.fallo(portal, exc)
    except BaseException:
        recorder.abort()
        raise
    folder = recorder.finish()
    assert walk is not None
    informes = walk.informes
    if "--json" not in sys.argv[1:]:
        print("\n".join(tabla(informes)))
        print(f"Páginas guardadas en {folder}")
    data = {"pantallas": _resumen(informes), "carpeta": str(folder)}
    rotas = [r for r in informes if not r.ok or (args.estricto and r.con(ALTERNATIVA))]
    if rotas:
        partes = []
        for r in rotas:
            faltan = ", ".join(v.name for v in r.con(FALTA))
            estado = "no reconocida" if r.version is None else f"versión {r.version}"
            parte = f"{r.portal} {r.nombre} ({estado}; faltan: {faltan or 'ninguno'}"
            if args.estricto and r.con(ALTERNATIVA):
                parte += "; solo por alternativa: " + ", ".join(v.name for v in r.con(ALTERNATIVA))
            partes.append(parte + ")")
        first = rotas[0]
        page_path = folder / first.archivos[0] if first.archivos else None
        raise PortalChanged(
            f"Reconocimiento: {len(rotas)} pantalla(s) no se sostienen: " + "; ".join(partes)
            + ". Las páginas guardadas son la grabación que se debe revisar",
            selector=first.nombre,
            page_path=page_path,
            data=data,
        )
    fallbacks = sum(len(r.con(ALTERNATIVA)) for r in informes)
    outcome = Outcome.ok(
        f"Reconocimiento completo: {len(informes)} pantallas reconocidas, todos los localizadores hallados"
        + (f" ({fallbacks} solo por un candidato alternativo)" if fallbacks else "") + f". Páginas en {folder}",
        **data,
    )
    outcome.client = nit
    return outcome


if __name__ == "__main__":
    run_flow(main)
