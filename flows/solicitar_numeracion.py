"""Request an invoice-numbering authorisation in MUISCA, signed twice, and read the formato 1876.

    python -m flows.solicitar_numeracion --cliente 900123456 --prefijo FE --desde 1 --hasta 5000 [--json]

Process P5 of the portal spec: login (current Angular form or legacy JSF, by fingerprint) →
Numeración de Facturación → Solicitar → AVISO → Información del Contribuyente (NIT = client) →
Consultar Numeración. Before creating anything the existing requests are read: a request for the
same prefix and range is continued (BORRADOR → Definitivo; DEFINITIVO → Firmar from "Formaliza la
Solicitud"; FORMALIZADO → only its 1876 is read). Otherwise: Autorizar Rangos → one row → Agregar
→ Borrador (the 1302 draft is checked) → Definitivo → sign (clave dinámica + firma electrónica) →
Formaliza la Solicitud → Firmar → sign → "Ver Documento": the formato 1876, parsed and stored
under ``<output_dir>/<nit>/<run_id>/``.

Every irreversible click is journaled before it happens and checked after (``bots.steps``, step
names ``muisca.numeracion.<PREFIJO>.<desde>-<hasta>.<paso>``); a re-run after any interruption reads
MUISCA first, settles the uncertain steps with what it shows (``StepJournal.reconcile``) and
continues from there, never repeating a click blindly.

Batch: ``python -m flows.lote solicitar_numeracion --prefijo FE --desde 1 --hasta 5000`` (this module
follows the flow contract of ``flows.lote``).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bots import artifacts
from bots.cli import (
    Outcome,
    SpanishArgumentParser,
    add_client_argument,
    add_common_arguments,
    help_text,
    run_flow,
    run_single_client,
)
from bots.config import FIRMA_PASSWORD, MUISCA_PASSWORD, Client, Settings
from bots.errors import InvalidInput, NeedsHuman, PortalError
from bots.formato1876 import Formato1876Error, Resolucion1876, parse_formato_1876, texto_pdf
from bots.log import get_logger, register_secret
from bots.portals.muisca.modelo import TIPOS_FACTURACION, Pedido, tipo_facturacion
from bots.steps import irreversible
from bots.text import fold, squash
from bots.validation import validate_nit, validate_prefix, validate_range

if TYPE_CHECKING:
    import argparse

    from pydantic import SecretStr

    from bots.browser import ClientRun
    from bots.mail import MailboxAccess, MailWatchers
    from bots.portals.muisca.base import Descarga, Sesion
    from bots.portals.muisca.firma import Firma, FirmaMarco
    from bots.portals.muisca.firmador import Firmador
    from bots.portals.muisca.numeracion import (
        Consulta,
        FilaFormaliza,
        FilaResultado,
        Mensaje,
        Resolucion,
        SolicitudRangos,
    )

__all__ = ["DESCRIPTION", "FLOW", "add_options", "build_parser", "main", "prepare", "run_for_client"]

log = get_logger("flows.solicitar_numeracion")

FLOW = "solicitar_numeracion"
DESCRIPTION = (
    "Solicita en MUISCA la autorización de numeración de facturación (formato 1876), firmada con la clave "
    "dinámica y la firma electrónica, y lee el formato 1876."
)

#: Prefixes of DIAN's habilitación test sets: never requested for real invoices.
PREFIJOS_DE_PRUEBA = frozenset({"SETT", "SETP"})

DETALLE = (
    "Primero busca una solicitud existente con el mismo prefijo y rango (en borrador, definitiva o ya "
    "firmada) y la continúa; si no hay, la crea (Agregar, Borrador, Definitivo). La firma dos veces con la "
    "clave dinámica (del correo o de «Mis comunicados») y la clave de la firma electrónica, descarga el "
    "formato 1876, lo lee y lo guarda con la evidencia del cliente. Nunca pulsa «Anular» y nunca repite un "
    "clic irreversible: si algo se interrumpe, vuelva a ejecutar el mismo comando."
)
CODIGOS = (
    "Códigos de salida: 0 listo o ya estaba hecho; 2 datos de entrada inválidos (antes de abrir el "
    "navegador); 3 en espera; 4 requiere una persona (contraseña rechazada, cuenta bloqueada, autorización "
    "de tratamiento de datos faltante, rango que se cruza, ...); 5 error del portal o el portal cambió; "
    "1 error inesperado."
)
EJEMPLOS = (
    "Ejemplos:\n"
    "  python -m flows.solicitar_numeracion --cliente 900123456 --prefijo FE --desde 1 --hasta 5000\n"
    "  python -m flows.solicitar_numeracion --cliente 900123456-8 --prefijo DS --desde 1 --hasta 1000 \\\n"
    '      --tipo "DOCUMENTO SOPORTE" --json'
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """This flow's own options (shared by the single run and the batch)."""
    parser.add_argument(
        "--prefijo", required=True, help="prefijo de 1 a 4 letras o dígitos que no termine en dígito, p. ej. FE"
    )
    parser.add_argument("--desde", required=True, metavar="N", help="primer número del rango (1 o mayor)")
    parser.add_argument(
        "--hasta", required=True, metavar="N", help="último número del rango (mayor o igual que --desde)"
    )
    parser.add_argument(
        "--tipo",
        default=TIPOS_FACTURACION[0],
        metavar="TIPO",
        help="tipo de facturación: "
        + "; ".join(f'"{t}"' for t in TIPOS_FACTURACION)
        + f' (por omisión "{TIPOS_FACTURACION[0]}"; mayúsculas y tildes no importan)',
    )


def build_parser() -> SpanishArgumentParser:
    """The command line, in Spanish."""
    parser = SpanishArgumentParser(
        prog="python -m flows.solicitar_numeracion",
        description=help_text(DESCRIPTION, DETALLE),
        epilog=help_text(CODIGOS, EJEMPLOS),
    )
    add_client_argument(parser)
    add_options(parser)
    add_common_arguments(parser)
    return parser


def validar_pedido(prefijo: str, desde: str, hasta: str, tipo: str) -> Pedido:
    """Check the request before any browser (``InvalidInput`` → exit 2)."""
    prefijo = validate_prefix(prefijo)
    if prefijo in PREFIJOS_DE_PRUEBA:
        raise InvalidInput(f"El prefijo {prefijo} es de los sets de pruebas de habilitación; use otro (p. ej. FE).")
    low, high = validate_range(desde, hasta)
    try:
        canonical = tipo_facturacion(tipo)
    except ValueError:
        raise InvalidInput(
            f"Tipo de facturación desconocido: {tipo!r}. Use uno de: " + "; ".join(TIPOS_FACTURACION) + "."
        ) from None
    return Pedido(prefijo=prefijo, tipo=canonical, desde=low, hasta=high)


def buzon_clave(client: Client, settings: Settings) -> MailboxAccess:
    """Connection data of the clave dinámica mailbox (its password resolved and registered)."""
    return client.dynamic_key_mailbox.access(settings)


# --- the process --------------------------------------------------------------------------------


@dataclass
class Existente:
    """A request already in MUISCA, from the M-06 results (one entry per "Nro. de Solicitud")."""

    nro: str
    estado: str
    formulario: str
    filas: list[FilaResultado] = field(default_factory=list)

    @property
    def resolucion(self) -> str:
        return next((f.resolucion for f in self.filas if f.resolucion), "")


class SolicitudNumeracion:
    """Process P5 for one client, on an open MUISCA session."""

    def __init__(
        self,
        sesion: Sesion,
        client: Client,
        pedido: Pedido,
        *,
        password: SecretStr,
        firmador: Firmador,
    ) -> None:
        self.sesion = sesion
        self.client = client
        self.pedido = pedido
        self.password = password
        self.firmador = firmador
        self.run = sesion.run
        self.formulario = ""
        self.nro = ""
        self.carpeta = artifacts.private_dir(
            artifacts.private_dir(sesion.settings.output_dir / artifacts.safe_name(client.nit))
            / artifacts.safe_name(self.run.run_id)
        )

    # -- entry --------------------------------------------------------------------------------------
    def ejecutar(self) -> Outcome:
        from bots.portals.muisca.login import iniciar_sesion

        inciertos = [r.step for r in self.sesion.pasos.uncertain() if r.step.startswith(self._paso(""))]
        if inciertos:
            log.warning("pasos inciertos de una ejecución anterior; se lee el portal antes de seguir", pasos=inciertos)
        with self.run.step("ingreso"):
            tablero = iniciar_sesion(self.sesion, self.client, self.password)
        with self.run.step("numeracion"):
            contribuyente = tablero.abrir_numeracion().solicitar()
            contribuyente.verificar_nit(self.client.nit)
            consulta = contribuyente.ingresar()
        with self.run.step("buscar_solicitud"):
            existente, consulta = self._buscar(consulta)
            self._conciliar(inciertos, existente)
        try:
            if existente is not None and existente.estado == "FORMALIZADO":
                with self.run.step("resolucion"):
                    return self._ya_formalizada(consulta, existente)
            if existente is None:
                with self.run.step("crear_solicitud"):
                    firma = self._crear(consulta)
            elif existente.estado == "BORRADOR":
                with self.run.step("continuar_borrador"):
                    self.formulario, self.nro = existente.formulario, existente.nro
                    solicitud = consulta.abrir_borrador(existente.filas[0])
                    solicitud.verificar_unica_fila(self.pedido)
                    firma = self._definitivo(solicitud)
            elif existente.estado == "DEFINITIVO":
                with self.run.step("continuar_definitivo"):
                    self.formulario, self.nro = existente.formulario, existente.nro
                    consulta = consulta.recargar()
                    fila = self._fila_pendiente(consulta, obligatoria=True)
                    assert fila is not None  # obligatoria: raises when there is none
                    firma = consulta.firmar(fila)
            else:
                raise NeedsHuman(
                    f"La solicitud {existente.nro} está en estado «{existente.estado}», que el robot no conoce",
                    reason="estado_desconocido",
                )
            return self._firmar_y_formalizar(firma)
        finally:
            self.firmador.cerrar()

    # -- 5.6: the guard ----------------------------------------------------------------------------
    def _buscar(self, consulta: Consulta) -> tuple[Existente | None, Consulta]:
        """Read every request (Consultar) and find one for this prefix and range."""
        nit = consulta.nit()
        if nit and nit not in (self.client.nit, self.client.nit + str(self.client.dv)):
            raise NeedsHuman(
                f"La consulta de numeración muestra el NIT {nit} y no el del cliente {self.client.nit}",
                reason="contribuyente_distinto",
            )
        log.info("solicitudes por formalizar", filas=len(consulta.pendientes()))
        consulta = consulta.consultar()
        solicitudes: dict[str, Existente] = {}
        grupos: dict[str, list[FilaResultado]] = defaultdict(list)
        for fila in consulta.resultados():
            grupos[fila.nro or fila.formulario].append(fila)
        for numero, filas in grupos.items():
            solicitudes[numero] = Existente(filas[0].nro, filas[0].estado, filas[0].formulario, filas)
        vigentes = [
            s
            for s in solicitudes.values()
            if s.estado != "ANULADO" and all(fold(f.tipo_solicitud) in ("", "autorizacion") for f in s.filas)
        ]
        p = self.pedido
        mias = [s for s in vigentes if any(p.es(f.prefijo, f.desde, f.hasta) for f in s.filas)]
        cruces = [
            s for s in vigentes if s not in mias and any(p.se_cruza(f.prefijo, f.desde, f.hasta) for f in s.filas)
        ]
        log.info("solicitudes existentes", total=len(solicitudes), iguales=len(mias), cruzadas=len(cruces))
        if cruces:
            otras = ", ".join(
                f"{s.nro} ({s.estado}: {f.prefijo} {f.desde}-{f.hasta})"
                for s in cruces
                for f in s.filas
                if p.se_cruza(f.prefijo, f.desde, f.hasta)
            )
            raise NeedsHuman(
                f"Ya hay solicitudes con el prefijo {p.prefijo} y un rango que se cruza con {p.desde}-{p.hasta}: "
                f"{otras}. Decida una persona (el robot no crea solicitudes que se crucen)",
                reason="rango_cruzado",
            )
        if len(mias) > 1:
            raise NeedsHuman(
                f"Hay {len(mias)} solicitudes para {p.prefijo} {p.desde}-{p.hasta} "
                f"({', '.join(f'{s.nro} {s.estado}' for s in mias)}); el robot no elige entre ellas",
                reason="solicitudes_duplicadas",
            )
        if mias and len(mias[0].filas) != 1:
            raise NeedsHuman(
                f"La solicitud {mias[0].nro} incluye otras filas además de {p.prefijo} {p.desde}-{p.hasta}; "
                "revísela una persona",
                reason="filas_inesperadas",
            )
        existente = mias[0] if mias else None
        if existente is not None:
            log.info("se continúa una solicitud existente", nro=existente.nro, estado=existente.estado)
        return existente, consulta

    def _paso(self, nombre: str) -> str:
        """Step-journal name of one click of this request (stable across runs)."""
        p = self.pedido
        return f"muisca.numeracion.{p.prefijo}.{p.desde}-{p.hasta}." + nombre

    def _conciliar(self, inciertos: list[str], existente: Existente | None) -> None:
        """Settle the steps an interrupted run left uncertain, from what the portal shows now.

        The request's state answers every click but the first signature: a DEFINITIVO request looks
        the same before and after it. That one is recorded as not applied, which is safe because the
        portal's "Firmar" only ever opens the next unsigned document (the next signature's record
        notes which document M-08 reports).
        """
        estado = existente.estado if existente else ""
        hechos = {
            "agregar_rango": bool(estado),
            "borrador": bool(estado),
            "definitivo": estado in ("DEFINITIVO", "FORMALIZADO"),
            "solicitar_clave": True,
            "firma.1": estado == "FORMALIZADO",
            "firma.2": estado == "FORMALIZADO",
        }
        for nombre, hecho in hechos.items():
            if self._paso(nombre) in inciertos:
                self.sesion.pasos.reconcile(self._paso(nombre), functools.partial(bool, hecho),
                                            what=nombre.replace("_", " "))

    # -- 5.7–5.10: a new request -----------------------------------------------------------------
    def _crear(self, consulta: Consulta) -> Firma | FirmaMarco:
        p = self.pedido
        detalle: dict[str, Any] = {"prefijo": p.prefijo, "tipo": p.tipo, "desde": p.desde, "hasta": p.hasta}
        solicitud = consulta.autorizar_rangos()
        solicitud.llenar(p)
        agregado = irreversible(
            self.sesion.pasos,
            self._paso("agregar_rango"),
            act=lambda: _con_errores(solicitud.agregar()),
            note=lambda r: {"resultado": "rechazado" if r[1] else "ok"},
            **self._protocolo("agregar rango"),
            **detalle,
        ).value
        assert agregado is not None
        solicitud, errores = agregado
        if errores:
            raise PortalError("MUISCA no aceptó la fila de numeración", dian_text=errores)
        solicitud.verificar_unica_fila(p)
        borrador = irreversible(
            self.sesion.pasos,
            self._paso("borrador"),
            act=lambda: _con_documento(solicitud.borrador()),
            note=lambda r: {"resultado": "ok", "documento": r[1] or None},
            **self._protocolo("borrador"),
            **detalle,
        ).value
        assert borrador is not None
        mensaje, documento = borrador
        if documento.startswith("1302-"):
            self.formulario = documento.split("-", 1)[1]
        self.run.save_evidence("borrador")
        self._revisar_1302(mensaje)
        mensaje.aceptar()
        from bots.portals.muisca.numeracion import SolicitudRangos

        solicitud = SolicitudRangos(self.sesion)
        solicitud.verificar_unica_fila(p)
        return self._definitivo(solicitud)

    def _definitivo(self, solicitud: SolicitudRangos) -> Firma | FirmaMarco:
        """ "Definitivo" once: the formal request; MUISCA opens the signing page."""
        firma = irreversible(
            self.sesion.pasos,
            self._paso("definitivo"),
            act=solicitud.definitivo,
            note=lambda _f: {"resultado": "ok"},
            **self._protocolo("definitivo"),
            formulario=self.formulario or None,
        ).value
        assert firma is not None
        return firma

    def _protocolo(self, what: str) -> dict[str, Any]:
        """The ``bots.steps.irreversible`` options of this flow's clicks.

        The portal was read before (``_buscar`` / ``_conciliar`` settle every uncertain step from the
        request's state, and choose the branch that needs this click), so ``irreversible`` neither reads
        first nor after: a step still uncertain here cannot be told from the portal → a human.
        """
        return {"verify": lambda: None, "what": what, "verify_first": False, "verify_after": False}

    def _revisar_1302(self, mensaje: Mensaje) -> None:
        """Download the 1302 draft, keep it, and stop before "Definitivo" if it says something else."""
        try:
            descarga = mensaje.ver_documento()
        except PortalError as exc:
            log.warning(
                "no se pudo descargar el borrador 1302; se sigue con la tabla de la solicitud", error=exc.message
            )
            return
        self._guardar(descarga, f"1302_{self.formulario or 'borrador'}.pdf")
        try:
            texto = squash(texto_pdf(descarga.datos)).upper()
        except Formato1876Error as exc:
            log.warning("el borrador 1302 no se pudo leer", error=str(exc))
            return
        p = self.pedido
        fila = rf"\b{re.escape(p.prefijo)}\s+{_numero(p.desde)}\s+{_numero(p.hasta)}\b"
        if not re.search(fila, texto):
            raise NeedsHuman(
                f"El borrador 1302 no muestra la fila {p.prefijo} {p.desde}-{p.hasta}; no se pulsó «Definitivo». "
                "Revíselo una persona (quedó guardado con la evidencia)",
                reason="borrador_distinto",
            )

    # -- 5.11–5.15: the signatures and the result ---------------------------------------------------
    def _firmar_y_formalizar(self, firma: Firma | FirmaMarco) -> Outcome:
        from bots.portals.muisca.numeracion import Consulta, Resolucion

        for intento in (1, 2):
            orden = self._siguiente_firma()
            with self.run.step(f"firma_{orden}"):
                mensaje = self.firmador.firmar(
                    firma,
                    paso=self._paso(f"firma.{orden}"),
                    paso_clave=self._paso("solicitar_clave"),
                    formulario=self.formulario or None,
                    nro_solicitud=self.nro or None,
                    intento=intento,
                )
                self.run.save_evidence(f"firma-{orden}")
                descarga = None
                if mensaje.documento().startswith("1876"):
                    descarga = mensaje.ver_documento()
                mensaje.aceptar()
                pantalla = self.sesion.locators.screen(self.sesion.page, "resolucion", "consulta")
                if pantalla.screen == "resolucion":
                    return self._resultado(Resolucion(self.sesion, loc=pantalla), descarga, ya_estaba=False)
                consulta = Consulta(self.sesion, loc=pantalla)
                fila = self._fila_pendiente(consulta, obligatoria=False)
                if fila is None:
                    return self._buscar_resultado(consulta, descarga)
                firma = consulta.firmar(fila)
        raise NeedsHuman(
            "MUISCA sigue pidiendo firmas después de dos firmas en esta ejecución; revise la solicitud una persona",
            reason="firmas_inesperadas",
        )

    def _siguiente_firma(self) -> int:
        """1 (the request, formato 1302) unless the journal holds a signature that went through."""
        firmada = any(
            r.phase.value in ("despues", "confirmado") and r.details.get("resultado", "ok") == "ok"
            for r in self.sesion.pasos.records(self._paso("firma.1"))
        )
        return 2 if firmada and self.sesion.pasos.status(self._paso("firma.1")).value == "hecho" else 1

    def _fila_pendiente(self, consulta: Consulta, *, obligatoria: bool) -> FilaFormaliza | None:
        """This request's row in "Formaliza la Solicitud" (by form number, else the only AUTORIZACIÓN row)."""
        filas = [f for f in consulta.pendientes() if f.estado == "DEFINITIVO"]
        propias = [
            f
            for f in filas
            if (self.formulario and f.formulario == self.formulario) or (self.nro and f.nro == self.nro)
        ]
        if not propias and not self.formulario and not self.nro:
            propias = [f for f in filas if fold(f.tipo_solicitud) == "autorizacion"]
        if len(propias) == 1:
            self.formulario = self.formulario or propias[0].formulario
            self.nro = self.nro or propias[0].nro
            return propias[0]
        if len(propias) > 1:
            raise NeedsHuman(
                "Hay varias filas por formalizar que podrían ser esta solicitud", reason="filas_inesperadas"
            )
        if obligatoria:
            raise NeedsHuman(
                f"La solicitud {self.nro or self.formulario} está en DEFINITIVO pero no aparece en «Formaliza la "
                "Solicitud Numeración de Facturación»",
                reason="sin_fila_formaliza",
            )
        return None

    def _buscar_resultado(self, consulta: Consulta, descarga: Descarga | None) -> Outcome:
        """After the last signature MUISCA went back to the consultation: find the resolution there."""
        consulta = consulta.consultar()
        for fila in consulta.resultados():
            if (fila.formulario == self.formulario or fila.nro == self.nro) and fila.resolucion:
                return self._resultado(consulta.abrir_resolucion(fila), descarga, ya_estaba=False)
        raise NeedsHuman(
            "La solicitud ya no está por formalizar pero MUISCA no muestra su resolución; revísela una persona",
            reason="sin_resolucion",
        )

    def _ya_formalizada(self, consulta: Consulta, existente: Existente) -> Outcome:
        fila = next((f for f in existente.filas if f.resolucion), None)
        if fila is None:
            raise NeedsHuman(
                f"La solicitud {existente.nro} está FORMALIZADO pero no muestra número de resolución",
                reason="sin_resolucion",
            )
        self.formulario, self.nro = existente.formulario, existente.nro
        return self._resultado(consulta.abrir_resolucion(fila), None, ya_estaba=True)

    def _resultado(self, resolucion: Resolucion, descarga: Descarga | None, *, ya_estaba: bool) -> Outcome:
        """Store and parse the formato 1876, check it against the request and report it."""
        pantalla = resolucion.datos()
        self.run.save_evidence("resolucion")
        if descarga is None:
            descarga = resolucion.ver_documento()
        try:
            leida = parse_formato_1876(descarga.datos)
        except Formato1876Error as exc:
            ruta = self._guardar(descarga, f"1876_{pantalla.get('numero') or 'sin-numero'}.pdf")
            raise PortalError(f"El formato 1876 descargado no se pudo leer ({exc}); quedó en {ruta}") from None
        ruta = self._guardar(descarga, f"1876_{leida.numero}.pdf")
        self._verificar_1876(leida, pantalla, ruta)
        datos = {
            **leida.a_dict(),
            "nit": self.client.nit,
            "formulario_1302": self.formulario or None,
            "nro_solicitud": leida.numero_solicitud or self.nro or pantalla.get("nro_solicitud") or None,
            "pdf": str(ruta),
            "evidencia": str(self.carpeta),
        }
        mensaje = (
            f"Numeración autorizada: resolución {leida.numero}, prefijo {leida.prefijo}, del {leida.desde} al "
            f"{leida.hasta}, vigencia {leida.vigencia_meses} meses"
            + (
                f" (del {leida.vigente_desde:%Y-%m-%d} al {leida.vigente_hasta:%Y-%m-%d})"
                if leida.vigente_hasta
                else ""
            )
            + f". Formato 1876 guardado en {ruta}"
        )
        log.info(
            "formato 1876 leído", resolucion=leida.numero, prefijo=leida.prefijo, desde=leida.desde, hasta=leida.hasta
        )
        if ya_estaba:
            return Outcome.ya_hecho("La solicitud ya estaba formalizada. " + mensaje, **datos)
        return Outcome.ok(mensaje, **datos)

    def _verificar_1876(self, leida: Resolucion1876, pantalla: dict[str, Any], ruta: Path) -> None:
        p = self.pedido
        if leida.nit and leida.nit != self.client.nit:
            raise NeedsHuman(
                f"El formato 1876 ({ruta}) es del NIT {leida.nit}, no del cliente {self.client.nit}",
                reason="formato_distinto",
            )
        if leida.rango(p.prefijo, p.desde, p.hasta) is None:
            autorizado = "; ".join(f"{r.prefijo} {r.desde}-{r.hasta}" for r in leida.rangos)
            raise NeedsHuman(
                f"La DIAN autorizó {autorizado} y no {p.prefijo} {p.desde}-{p.hasta} (formato 1876 en {ruta}); "
                "revíselo una persona",
                reason="rango_distinto",
            )
        if pantalla.get("numero") and pantalla["numero"] != leida.numero:
            log.warning("el número de resolución de la pantalla y el del PDF difieren", pantalla=pantalla["numero"])

    def _guardar(self, descarga: Descarga, nombre: str) -> Path:
        return artifacts.write_private(self.carpeta / artifacts.safe_name(nombre), descarga.datos)


def _con_errores(solicitud: SolicitudRangos) -> tuple[SolicitudRangos, str]:
    """The M-07 after "Agregar" and DIAN's validation text on it ("" when none), read at once."""
    return solicitud, solicitud.errores()


def _con_documento(mensaje: Mensaje) -> tuple[Mensaje, str]:
    """The M-08 after "Borrador" and the document number it reports."""
    return mensaje, mensaje.documento()


def _numero(value: int) -> str:
    """A regex for ``value`` printed with or without thousands separators."""
    digits = str(value)
    groups: list[str] = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return "[.,]?".join(groups)


# --- command ------------------------------------------------------------------------------------


def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
    """Validate the options for ``client`` and resolve its secrets (``InvalidInput``); no browser."""
    from bots.portals.muisca.login import usuario_muisca

    pedido = validar_pedido(args.prefijo, args.desde, args.hasta, args.tipo)
    usuario_muisca(client)
    password = client.secret(MUISCA_PASSWORD, settings)
    clave_firma = client.secret(FIRMA_PASSWORD, settings)
    register_secret(password.get_secret_value())
    register_secret(clave_firma.get_secret_value())
    return {"pedido": pedido, "password": password, "clave_firma": clave_firma, "buzon": buzon_clave(client, settings)}


def run_for_client(
    run: ClientRun,
    client: Client,
    settings: Settings,
    *,
    watchers: MailWatchers,
    pedido: Pedido,
    password: SecretStr,
    clave_firma: SecretStr,
    buzon: MailboxAccess | None,
) -> Outcome:
    """Process P5 for one client in the given browser context."""
    from bots.locators import Locators
    from bots.portals.muisca.base import Sesion
    from bots.portals.muisca.firmador import Firmador
    from bots.steps import step_journal

    log.info(
        "solicitud de numeración", prefijo=pedido.prefijo, tipo=pedido.tipo, desde=pedido.desde, hasta=pedido.hasta
    )
    sesion = Sesion(run, Locators("muisca", settings=settings), settings, step_journal(settings, client.nit))
    firmador = Firmador(
        sesion,
        clave_firma=clave_firma,
        buzon=buzon,
        watchers=watchers,
        espera_correo_s=settings.dynamic_key_mail_timeout_s,
    )
    outcome = SolicitudNumeracion(sesion, client, pedido, password=password, firmador=firmador).ejecutar()
    outcome.client = client.nit
    return outcome


def main(argv: list[str] | None = None) -> Outcome:
    """Validate (exit 2 before any browser), then run P5 for the client in a fresh browser context."""
    args = build_parser().parse_args(argv)
    validate_nit(args.cliente)
    validar_pedido(args.prefijo, args.desde, args.hasta, args.tipo)  # cheapest checks before reading files
    return run_single_client(args, prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
