"""The habilitación processes on one signed-in session, each safe to run again.

- ``registrar_facturador`` (P1): reception e-mail → "Registrar" → "Aceptar", new login, verify.
- ``asociar_software`` (P2): provider software → "Asociar"; Software Id, PIN, TestSetId → hand-off file.
- ``verificar_habilitacion`` (P3): the operation mode "Aceptado", or ``Waiting``.
- ``salida_produccion`` (P4): H-08 date + H-09 RUT confirmation (with the client's approval only),
  then "Sincronizar Contribuyente a producción".

Every process reads the portal before acting and after. Irreversible clicks go through the local
step journal (``bots.steps``): a run that died between "about to click" and "clicked" is settled by
reading the portal on the next run, never by clicking again. ``exit_hook`` marks the reversible
clicks too, so tests can stop the process between any two clicks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from bots.cli import Outcome
from bots.errors import InvalidInput, NeedsHuman, PortalChanged, PortalError, Waiting
from bots.locators import Locators
from bots.log import get_logger
from bots.portals.catalogo.session import CatalogoSession
from bots.portals.habilitacion.base import FAMILY
from bots.portals.habilitacion.entrega import write_handoff
from bots.portals.habilitacion.facturador import Facturador, TiposDocumento
from bots.portals.habilitacion.inicio import FechaProduccion, Inicio, landing
from bots.portals.habilitacion.mensajes import Kind, classify, error_for
from bots.portals.habilitacion.modelos import (
    Aviso,
    EstadoFacturador,
    FechasProduccion,
    ModoOperacion,
    SetPruebas,
    format_dian_date,
    is_pin,
    is_uuid,
)
from bots.portals.habilitacion.modos import ModosOperacion, PaginaSetPruebas
from bots.steps import ActionResult, StepJournal, StepStatus, exit_hook, irreversible, step_journal
from bots.text import contains, same

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from bots.browser import ClientRun
    from bots.config import Client, ProductionApproval, Settings, Software
    from bots.mail import MailboxAccess, MailWatchers

log = get_logger(__name__)
T = TypeVar("T")

# Irreversible clicks (step journal names).
STEP_REGISTRO = "registrar_facturador.aceptar"
STEP_ASOCIAR = "asociar_software.asociar"
STEP_FECHA = "salida_produccion.confirmar_fecha"
STEP_SINCRONIZAR = "salida_produccion.sincronizar"
# Reversible clicks that only open a confirmation (test-hook points).
CLICK_REGISTRAR = "registrar_facturador.registrar"
CLICK_FECHA = "salida_produccion.aceptar_fecha"
CLICK_SINCRONIZAR = "salida_produccion.abrir_sincronizacion"

DASHBOARD_PATH = "/Home/Dashboard"
#: DIAN opens H-08 on document-ready, after the page has loaded and with a fade (Dashboard.cshtml:104-121).
DATE_DIALOG_WAIT_S = 5.0
#: How far ahead DIAN's datepicker lets the production date go (research §2.6: [habilitación, +1 año]).
MAX_PRODUCTION_AHEAD = timedelta(days=365)


def _path(href: str) -> str:
    """Path and query of a link (the session adds the portal's base URL)."""
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _fmt(value: date | None) -> str:
    return format_dian_date(value) if value else "(sin fecha)"


class PendingApproval(NeedsHuman):
    """H-08 is waiting and the client's approval of the date is missing (or does not fit): the
    question to put to the client travels in ``data``."""

    def __init__(self, message: str, *, data: dict[str, Any]) -> None:
        super().__init__(message, reason="aprobacion", data=data)


@dataclass
class Habilitacion:
    """A client's signed-in session on the habilitación site and what the processes share."""

    run: ClientRun
    client: Client
    settings: Settings
    session: CatalogoSession
    watchers: MailWatchers
    locators: Locators
    journal: StepJournal
    #: The dates of H-08 when it was open on the last landing on the dashboard (nothing is clicked in it).
    fecha_en_dialogo: FechasProduccion | None = None

    @classmethod
    def open(
        cls,
        run: ClientRun,
        client: Client,
        settings: Settings,
        watchers: MailWatchers,
        *,
        mailbox: MailboxAccess | None = None,
    ) -> Habilitacion:
        """Log in on the habilitación site (one token)."""
        session = CatalogoSession(run, client, "habilitacion", settings, watchers, mailbox=mailbox)
        hab = cls(
            run=run,
            client=client,
            settings=settings,
            session=session,
            watchers=watchers,
            locators=Locators(FAMILY, settings=settings),
            journal=step_journal(settings, client.nit),
        )
        session.login()
        return hab

    @property
    def page(self) -> Page:
        return self.session.page

    # --- navigation (read-only) ------------------------------------------------------------------
    def abrir_facturador(self, inicio: Inicio | None = None) -> Facturador:
        """Dashboard (unless ``inicio`` is already shown) → "Documentos electrónicos" → "Factura
        Electrónica" (H-03). H-08, if DIAN opens it on landing, is noted and left alone: the menu's
        links are followed instead."""
        if inicio is None:
            page = self.session.goto(DASHBOARD_PATH)
            inicio, dialogo = landing(page, self.locators)
            self.fecha_en_dialogo = dialogo.leer() if dialogo else None
        self.session.goto(_path(inicio.documentos_electronicos()))
        tipos = TiposDocumento.recognise(self.page, self.locators)
        self.session.goto(_path(tipos.factura_electronica()))
        return Facturador.recognise(self.page, self.locators)

    def abrir_modos(self, facturador: Facturador) -> ModosOperacion:
        """H-05/H-06 through "Configurar modos de operación" of H-03 (DIAN's route needs the contributor's id:
        without it DIAN answers HTTP 500). While pending registration DIAN's own message is read there."""
        href = facturador.modos_operacion()
        if not href:
            raise PortalChanged(
                "La pantalla del facturador no lleva a «Configurar modos de operación»",
                selector=facturador.name("configurar_modos"),
            )
        self.session.goto(_path(href))
        return ModosOperacion.recognise(self.page, self.locators)

    def leer_set(self, modo: ModoOperacion) -> SetPruebas:
        """H-07 through the row's "Detalles de set de pruebas"."""
        if not modo.detalles_href:
            raise PortalChanged("La fila del modo de operación no tiene «Detalles de set de pruebas»")
        self.session.goto(_path(modo.detalles_href))
        return PaginaSetPruebas.recognise(self.page, self.locators).leer()

    def evidencia(self, name: str, modos: ModosOperacion | None = None) -> None:
        """Save the current page as evidence (PIN cells masked)."""
        if modos is not None and modos.locs.get("filas").count():
            self.run.mask(modos.pin_cells())
        self.run.save_evidence(name)


_SETTLED_NOTE = " (una ejecución anterior se interrumpió tras «{click}»; se confirmó leyendo el portal)"


def _settle(hab: Habilitacion, step: str, verify: Callable[[], bool | None], what: str) -> tuple[StepStatus, bool]:
    """``journal.reconcile`` for one step; also whether an interrupted run's click was confirmed now."""
    before = hab.journal.status(step)
    status = hab.journal.reconcile(step, verify, what=what)
    return status, before is StepStatus.UNCERTAIN and status is StepStatus.DONE


def _software(client: Client) -> Software:
    if client.software is None:
        raise InvalidInput(
            f"El perfil del cliente {client.nit} no tiene [cliente.software] (proveedor y nombre del software)."
        )
    return client.software


def _fila(filas: list[ModoOperacion], software: Software) -> ModoOperacion | None:
    """The row of the client's software: by name (normalised) or by the provider's expected id."""
    for fila in filas:
        if same(fila.software, software.nombre) or (software.id_esperado and fila.software_id == software.id_esperado):
            return fila
    return None


# === P1: register as biller with the reception e-mail =================================================


def registrar_facturador(hab: Habilitacion, correo: str) -> Outcome:
    """Register the reception e-mail ("Registrar" → "Aceptar"); DIAN signs out; log in again; verify."""
    with hab.run.step("registro"):
        status, settled = _settle(
            hab, STEP_REGISTRO, lambda: hab.abrir_facturador().leer().registrado, "Aceptar el registro"
        )
        facturador = hab.abrir_facturador()
        estado = facturador.leer()
        if estado.registrado:
            return _registro_existente(estado, correo, confirmed_now=settled)
        if not estado.pendiente:
            raise NeedsHuman(
                f"El «Estado de aprobación» es «{estado.estado}», un estado que el robot no conoce; no se hizo clic",
                reason="estado_desconocido",
                dian_text=estado.estado,
            )
        if status is StepStatus.DONE:
            raise _contradiction("Aceptar el registro como facturador", estado.estado)
        facturador.escribir_correo(correo)
        dialogo = facturador.registrar()
        exit_hook(CLICK_REGISTRAR)
        if not contains(dialogo.texto(), "facturador"):
            dialogo.cancelar()
            raise PortalChanged("La confirmación del registro no dice lo esperado; se canceló sin registrar")

        def aceptar() -> None:
            _answered(hab, dialogo.aceptar(), "Aceptar el registro")
            if not hab.session.lost():  # DIAN stayed on the account page: a refusal
                refusal = Facturador.recognise(hab.page, hab.locators).error_correo()
                raise error_for(refusal or "(sin mensaje)", action="registrar el facturador")

        # DIAN signs the user out on success, so the state is verified below after logging in again.
        irreversible(
            hab.journal,
            STEP_REGISTRO,
            act=aceptar,
            verify=lambda: hab.abrir_facturador().leer().registrado,
            what="Aceptar el registro",
            confirm=dialogo.texto,
            expected="facturador",
            verify_first=False,
            verify_after=False,
            note=lambda _: {"resultado": "sesion_cerrada_por_la_dian"},
            correo=correo,
        )
        hab.session.relogin("la DIAN cierra la sesión al registrar el facturador")
        estado = hab.abrir_facturador().leer()
        if not estado.registrado or not same(estado.correo_recepcion, correo):
            raise PortalError(
                f"Después de registrar, la DIAN muestra el estado «{estado.estado}» con el correo "
                f"«{estado.correo_recepcion or ''}» en lugar de «Registrado» con {correo}",
                dian_text=estado.estado,
            )
        hab.evidencia("registro-facturador")
        return Outcome.ok(
            f"Facturador registrado con el correo de recepción {correo}. La DIAN cerró la sesión, el robot "
            "ingresó de nuevo con otro token y verificó el estado «Registrado».",
            estado=estado.estado,
            correo_recepcion=estado.correo_recepcion,
        )


def _registro_existente(estado: EstadoFacturador, correo: str, *, confirmed_now: bool) -> Outcome:
    if not same(estado.correo_recepcion, correo):
        # NeedsHuman, not PortalError: DIAN did nothing wrong; the reception address is the client's
        # legal consent, so a person decides whether to change it on the portal or fix the profile.
        raise NeedsHuman(
            f"El facturador ya está «{estado.estado}» con el correo de recepción "
            f"{estado.correo_recepcion or '(vacío)'}, distinto del esperado {correo}. Cambiarlo es una acción "
            "aparte (Configuración del usuario en el portal) que el robot no hace: confirme con el cliente cuál "
            "correo vale y corrija el perfil o el portal",
            reason="correo_distinto",
            dian_text=estado.correo_recepcion,
        )
    note = _SETTLED_NOTE.format(click="Aceptar") if confirmed_now else ""
    return Outcome.ya_hecho(
        f"El facturador ya estaba «{estado.estado}» con el correo de recepción {estado.correo_recepcion}{note}; "
        "no se hizo clic en nada.",
        estado=estado.estado,
        correo_recepcion=estado.correo_recepcion,
    )


def _answered(hab: Habilitacion, status: int | None, click: str) -> None:
    """After a form post: an HTTP error page is a ``PortalError`` quoting it (the step stays uncertain,
    so the next run reads the portal before anything else)."""
    if status is not None and status >= 500:
        shown = " ".join(hab.page.locator("body").inner_text().split())[:300]
        raise PortalError(
            f"La DIAN respondió con error HTTP {status} después de «{click}». Ejecute de nuevo: el robot "
            "verificará leyendo el portal si la DIAN alcanzó a registrarlo",
            dian_text=shown or None,
            retryable=True,
        )


def _clicked(done: ActionResult[T], step: str) -> T:
    """The value of a click the caller had settled as "not done" (the journal cannot say otherwise)."""
    if not done.done_now or done.value is None:
        raise _contradiction(step, "el paso ya figuraba hecho en la bitácora local")
    return done.value


def _contradiction(what: str, shown: str) -> NeedsHuman:
    return NeedsHuman(
        f"La bitácora local dice que el robot ya hizo «{what}», pero el portal muestra «{shown}». "
        "El robot no repite el clic: revise el portal y la bitácora (pasos.jsonl) antes de continuar",
        reason="contradiccion",
        dian_text=shown,
    )


# === P2: associate the provider's software; read Software Id, PIN, TestSetId ========================


def asociar_software(hab: Habilitacion) -> Outcome:
    """Associate the profile's provider software, read its row and test set, write the hand-off file."""
    software = _software(hab.client)
    with hab.run.step("asociacion"):
        status, settled = _settle(
            hab, STEP_ASOCIAR, lambda: _fila(hab.abrir_modos(hab.abrir_facturador()).filas(), software) is not None,
            "Asociar",
        )
        modos = hab.abrir_modos(hab.abrir_facturador())
        alerta = modos.alerta()
        if alerta:
            raise error_for(alerta, action="asociar el software")
        filas = modos.filas()
        propia = _fila(filas, software)
        done_now = propia is None
        if propia is None:
            if filas:
                otras = "; ".join(f"{f.software} ({f.software_id}, «{f.estado}»)" for f in filas)
                raise NeedsHuman(
                    f"Ya hay otro software asociado en modos de operación: {otras}. El perfil pide "
                    f"{software.proveedor} – {software.nombre}. Cambiar de proveedor es una decisión del cliente; "
                    "el robot no asocia otro",
                    reason="otro_software",
                    dian_text=otras,
                )
            if status is StepStatus.DONE:
                raise _contradiction("Asociar", "sin modos de operación asociados")
            propia, modos = _asociar(hab, modos, software)
            hab.evidencia("modos-operacion", modos)
        set_pruebas = hab.leer_set(propia)
        check_ids(propia, set_pruebas, software)
        proveedor = software.proveedor
        path = write_handoff(hab.settings, hab.client, proveedor, propia, set_pruebas)
        data = {
            **propia.public(),
            "test_set_id": set_pruebas.test_set_id,
            "estado_set_pruebas": set_pruebas.estado,
            "entrega": str(path),
        }
        summary = (
            f"Software Id {propia.software_id}, TestSetId {set_pruebas.test_set_id} (estado «{propia.estado}»). "
            f"Archivo para el proveedor: {path}"
        )
        if done_now:
            return Outcome.ok(f"Software {propia.software} de {proveedor} asociado. {summary}", **data)
        note = _SETTLED_NOTE.format(click="Asociar") if settled else ""
        return Outcome.ya_hecho(
            f"El software {propia.software} ya estaba asociado{note}; no se hizo clic. {summary}", **data
        )


def _asociar(hab: Habilitacion, modos: ModosOperacion, software: Software) -> tuple[ModoOperacion, ModosOperacion]:
    """Fill H-05 and click "Asociar" once (journaled); return the new row and the reloaded screen."""
    if not modos.asociar_habilitado():
        # DIAN leaves the button out while pending registration or while a mode is in test; its reason is
        # in the form's alert or in the floating notice, if any.
        aviso = modos.aviso()
        texto = modos.alerta() or (aviso.texto if aviso else None)
        if texto:
            raise error_for(texto, action="asociar el software")
        raise PortalError(
            "La DIAN no ofrece el botón «Asociar» (está bloqueado) y no dice por qué; no se hizo clic",
            dian_text=None,
        )
    modo = modos.elegir_modo_proveedor()
    proveedor = modos.elegir_proveedor(software.proveedor)
    nombre = modos.elegir_software(software.nombre)
    chosen = modos.seleccion()
    if chosen != {"modo": modo, "proveedor": proveedor, "software": nombre}:
        raise PortalChanged(f"La selección no quedó como se eligió ({chosen}); no se hizo clic en «Asociar»")

    def asociar() -> tuple[ModoOperacion, ModosOperacion, str | None]:
        _answered(hab, modos.asociar(), "Asociar")
        if hab.session.lost():
            raise PortalError(
                "La DIAN cerró la sesión justo después de «Asociar». Ejecute de nuevo: el robot verificará "
                "leyendo el portal antes de hacer cualquier otra cosa",
                retryable=True,
            )
        lista = ModosOperacion.recognise(hab.page, hab.locators)
        aviso = lista.aviso()
        known = classify(aviso.texto) if aviso else None
        if aviso and not aviso.exito and (known is None or known.kind is not Kind.ALREADY):
            raise error_for(aviso.texto, action="asociar el software")
        propia = _fila(lista.filas(), software)
        if propia is None:
            raise PortalError(
                "Después de «Asociar», el software no aparece en el listado de modos de operación",
                dian_text=aviso.texto if aviso else None,
            )
        return propia, lista, aviso.texto if aviso else None

    # The new row is read on the page DIAN answers with (inside ``asociar``): that is the verification.
    done = irreversible(
        hab.journal,
        STEP_ASOCIAR,
        act=asociar,
        verify=lambda: _fila(hab.abrir_modos(hab.abrir_facturador()).filas(), software) is not None,
        what="Asociar",
        verify_first=False,
        verify_after=False,
        note=lambda v: {"software_id": v[0].software_id, "estado": v[0].estado, "aviso": v[2]},
        proveedor=proveedor,
        software=nombre,
    )
    propia, modos, _ = _clicked(done, STEP_ASOCIAR)
    return propia, modos


def check_ids(modo: ModoOperacion, set_pruebas: SetPruebas, software: Software) -> None:
    """Software Id and TestSetId must be UUIDs and the PIN digits; the Software Id and the PIN shown on H-07
    must be those of the H-06 row; the Software Id must be the provider's, if known."""
    if not is_uuid(modo.software_id):
        raise PortalError("El «Id» del software que muestra la DIAN no es un UUID válido", dian_text=modo.software_id)
    if not is_uuid(set_pruebas.test_set_id):
        raise PortalError(
            "El TestSetId que muestra la DIAN no es un UUID válido; no se entrega al proveedor",
            dian_text=set_pruebas.test_set_id,
        )
    if not is_pin(modo.pin):
        raise PortalError("El «Pin» del software que muestra la DIAN no son solo dígitos; no se entrega al proveedor")
    if set_pruebas.software_id and set_pruebas.software_id != modo.software_id:
        raise PortalError(
            f"El set de pruebas es del software {set_pruebas.software_id}, no del {modo.software_id} del listado de "
            "modos de operación; no se entrega al proveedor",
            dian_text=set_pruebas.software_id,
        )
    if set_pruebas.pin and set_pruebas.pin != modo.pin:
        raise PortalError(
            "El PIN del set de pruebas no coincide con el del listado de modos de operación; no se entrega al proveedor"
        )
    if software.id_esperado and modo.software_id != software.id_esperado.lower():
        raise NeedsHuman(
            f"La DIAN muestra el Software Id {modo.software_id}, pero el proveedor informó {software.id_esperado}. "
            "No se escribe el archivo para el proveedor: confirme con él cuál es el correcto",
            reason="id_software_distinto",
            dian_text=modo.software_id,
        )


# === P3: has the provider's test set been accepted? ==================================================


def verificar_habilitacion(hab: Habilitacion, reintentar_en: timedelta) -> Outcome:
    """"Aceptado" → ok; still in tests → ``Waiting`` (look again after ``reintentar_en``)."""
    software = hab.client.software
    with hab.run.step("verificacion"):
        facturador = hab.abrir_facturador()
        estado = facturador.leer()
        if estado.pendiente:
            raise NeedsHuman(
                "El facturador está «Pendiente de registro»: no hay habilitación que verificar. "
                "Ejecute primero registrar_facturador",
                reason="falta_registro",
                dian_text=estado.estado,
            )
        modos = hab.abrir_modos(facturador)
        filas = modos.filas()
        propia = _fila(filas, software) if software else (filas[0] if len(filas) == 1 else None)
        if propia is None:
            raise NeedsHuman(
                "No hay un modo de operación asociado con el software del perfil. Ejecute primero asociar_software",
                reason="falta_asociacion",
            )
        if propia.aceptado:
            hab.evidencia("habilitacion-aceptada", modos)
            return Outcome.ok(
                f"Habilitación aceptada: el modo de operación con {propia.software} está «{propia.estado}» "
                f"(facturador «{estado.estado}»).",
                **propia.public(),
                estado_facturador=estado.estado,
                dialogo_fecha_produccion=hab.fecha_en_dialogo is not None,
            )
        if propia.en_pruebas:
            set_pruebas = hab.leer_set(propia)
            raise Waiting(
                f"El modo de operación sigue «{propia.estado}» (set de pruebas «{set_pruebas.estado}»): el "
                f"proveedor todavía debe enviar el set de pruebas con el TestSetId {set_pruebas.test_set_id}.",
                retry_at=datetime.now(UTC) + reintentar_en,
                dian_text=propia.estado,
            )
        raise NeedsHuman(
            f"El modo de operación está «{propia.estado}», un estado que el robot no conoce (¿rechazado?)",
            reason="estado_desconocido",
            dian_text=propia.estado,
        )


# === P4: production start date (H-08/H-09) and "Sincronizar Contribuyente a producción" ==============


def salida_produccion(hab: Habilitacion, aprobacion: ProductionApproval | None) -> Outcome:
    """Register the approved production date (irreversible) and synchronise with production."""
    with hab.run.step("salida_produccion"):
        fecha_status = hab.journal.reconcile(STEP_FECHA, lambda: _fecha_registrada(hab), what="Aceptar la fecha (S2)")
        sync_status = hab.journal.reconcile(STEP_SINCRONIZAR, lambda: _sincronizado(hab), what="Sincronizar")
        hab.session.goto(DASHBOARD_PATH)
        inicio, dialogo = landing(hab.page, hab.locators, esperar_dialogo_s=DATE_DIALOG_WAIT_S)
        respuesta_fecha: str | None = None
        if dialogo is not None:
            if fecha_status is StepStatus.DONE:
                raise _contradiction("Aceptar la fecha de inicio en producción", "el diálogo de la fecha otra vez")
            respuesta_fecha = _registrar_fecha(hab, dialogo, aprobacion, alertas=inicio.alertas())
        facturador = hab.abrir_facturador(inicio)
        estado = facturador.leer()
        if estado.fecha_produccion is None:
            if not estado.habilitado:
                raise Waiting(
                    f"El facturador está «{estado.estado}», todavía no «Habilitado»: el set de pruebas no ha sido "
                    "aceptado. Verifique con verificar_habilitacion.",
                    retry_at=datetime.now(UTC) + timedelta(hours=1),
                    dian_text=estado.estado,
                )
            raise NeedsHuman(
                "El facturador está «Habilitado» pero la DIAN no muestra la fecha de inicio en producción ni abre "
                "el diálogo para registrarla. Revise el portal (algunas guías indican entrar por «Participantes»)",
                reason="sin_dialogo_fecha",
                dian_text=estado.estado,
            )
        registered_now = respuesta_fecha is not None and _kind(respuesta_fecha) is not Kind.ALREADY
        if registered_now and aprobacion is not None and estado.fecha_produccion != aprobacion.fecha_inicio:
            raise PortalError(
                f"La DIAN muestra como fecha de inicio en producción el {_fmt(estado.fecha_produccion)}, no la "
                f"aprobada {_fmt(aprobacion.fecha_inicio)}; revise con el cliente (la fecha ya no se puede cambiar)",
                dian_text=_fmt(estado.fecha_produccion),
            )
        data: dict[str, Any] = {"fecha_produccion": estado.fecha_produccion.isoformat()}
        if aprobacion is not None:
            data |= {"aprobado_por": aprobacion.aprobado_por, "aprobado_en": aprobacion.aprobado_en.isoformat()}
        if respuesta_fecha:
            data["respuesta_fecha"] = respuesta_fecha
        fecha_text = f"Fecha de inicio en producción {_fmt(estado.fecha_produccion)}"
        if respuesta_fecha is None:
            fecha_text += " (ya registrada; no se tocó)"
        elif not registered_now:
            fecha_text += f" (la DIAN respondió: «{respuesta_fecha}»)"
        if sync_status is StepStatus.DONE:
            message = f"{fecha_text}; el contribuyente ya estaba sincronizado a producción."
            if respuesta_fecha is None:
                return Outcome.ya_hecho(message + " No se hizo clic en nada.", **data)
            return Outcome.ok(message, **data)
        data["respuesta_sincronizacion"] = _sincronizar(hab, facturador, estado)
        return Outcome.ok(f"{fecha_text}; contribuyente sincronizado a producción.", **data)


def _kind(text: str) -> Kind | None:
    known = classify(text)
    return known.kind if known else None


def _fecha_registrada(hab: Habilitacion) -> bool | None:
    """Read-only: is the production date on the portal? (None: the portal does not say)."""
    estado = hab.abrir_facturador().leer()
    if estado.fecha_produccion is not None:
        return True
    # DIAN opens the date dialog after the dashboard has loaded: give it time before concluding.
    hab.session.goto(DASHBOARD_PATH)
    _, dialogo = landing(hab.page, hab.locators, esperar_dialogo_s=DATE_DIALOG_WAIT_S)
    return False if dialogo is not None else None


def _sincronizado(hab: Habilitacion) -> bool | None:
    """Read-only: does the production site let the company in? (a token login there; research §2.6:
    the synchronisation is what opens "Facturando electrónicamente")."""
    produccion = CatalogoSession(
        hab.run, hab.client, "produccion", hab.settings, hab.watchers, mailbox=hab.session.mailbox
    )
    try:
        produccion.login()
    except PortalError as exc:
        known = classify(exc.dian_text)
        if known is not None and known.kind is Kind.NOT_SYNCED:
            return False
        if exc.retryable:
            raise
        return None
    return True


def _question(hab: Habilitacion, fechas: FechasProduccion) -> dict[str, Any]:
    client = hab.client
    propuesta = fechas.produccion or fechas.habilitacion
    limite = fechas.habilitacion + MAX_PRODUCTION_AHEAD if fechas.habilitacion else None
    pregunta = (
        f"¿Aprueba registrar el {_fmt(propuesta)} como fecha de inicio de la facturación electrónica en producción "
        f"de {client.razon_social} (NIT {client.nit_con_dv})? La DIAN propone esa fecha (fecha de habilitación: "
        f"{_fmt(fechas.habilitacion)}); se puede elegir otra entre el {_fmt(fechas.habilitacion)} y el "
        f"{_fmt(limite)}. Con esa fecha la DIAN actualiza la responsabilidad «52-Facturador Electrónico» del RUT "
        "y no se puede modificar después."
    )
    return {
        "pregunta": pregunta,
        "fecha_habilitacion": fechas.habilitacion.isoformat() if fechas.habilitacion else None,
        "fecha_propuesta": propuesta.isoformat() if propuesta else None,
        "fecha_maxima": limite.isoformat() if limite else None,
    }


def _registrar_fecha(
    hab: Habilitacion, dialogo: FechaProduccion, aprobacion: ProductionApproval | None, *, alertas: int
) -> str:
    """H-08 → H-09 with the approved date; returns DIAN's answer. Nothing irreversible without approval."""
    fechas = dialogo.leer()
    data = _question(hab, fechas)
    how = (
        "Registre la respuesta en aprobacion_produccion del perfil del cliente o ejecute con --aprobado-por y "
        "--fecha."
    )
    if aprobacion is None:
        raise PendingApproval(
            "Falta la aprobación explícita del cliente para la fecha de inicio en producción (paso irreversible; "
            f"no se hizo nada). Pregunta para el cliente: «{data['pregunta']}» {how}",
            data=data,
        )
    fecha = aprobacion.fecha_inicio
    low, high = fechas.habilitacion, (fechas.habilitacion + MAX_PRODUCTION_AHEAD) if fechas.habilitacion else None
    if low is None or high is None or not low <= fecha <= high:
        raise PendingApproval(
            f"La fecha aprobada {_fmt(fecha)} está fuera de lo que permite la DIAN ({_fmt(low)} a {_fmt(high)}); "
            f"no se hizo nada. Pregunta para el cliente: «{data['pregunta']}» {how}",
            data={**data, "fecha_aprobada": fecha.isoformat()},
        )
    log.info("fecha aprobada por el cliente", fecha=fecha.isoformat(), aprobado_por=aprobacion.aprobado_por)
    dialogo.escribir_fecha(fecha)

    def aceptar() -> Aviso:
        # H-08 "Aceptar" opens H-09; H-09 "Aceptar" sends the date. Both controls are flagged irreversible,
        # so both clicks run inside this one step: a run killed between them leaves it uncertain and the next
        # run reads the portal (the date dialog still open = not applied).
        confirmacion = dialogo.aceptar()
        exit_hook(CLICK_FECHA)
        texto = confirmacion.texto()
        expected = contains(texto, "RUT") and contains(texto, "Facturador Electrónico")
        if not expected or confirmacion.fecha() not in (None, fecha):
            confirmacion.cancelar()
            raise PortalChanged("La confirmación de la fecha (H-09) no dice lo esperado; se canceló sin confirmar")
        aviso = confirmacion.aceptar(alertas)
        known = classify(aviso.texto)
        accepted = known.kind in (Kind.SUCCESS, Kind.ALREADY) if known else aviso.exito
        if not accepted:
            raise error_for(aviso.texto, action="registrar la fecha de inicio en producción", retryable=known is None)
        return aviso

    # Verified by the caller on H-03 (#ProductionDate) right after; the answer is DIAN's notification (H-10).
    done = irreversible(
        hab.journal,
        STEP_FECHA,
        act=aceptar,
        verify=lambda: _fecha_registrada(hab),
        what="Aceptar la fecha (S2)",
        verify_first=False,
        verify_after=False,
        note=lambda aviso: {"respuesta": aviso.texto},
        fecha_produccion=fecha.isoformat(),
        aprobado_por=aprobacion.aprobado_por,
        aprobado_en=aprobacion.aprobado_en.isoformat(),
    )
    hab.evidencia("fecha-inicio-produccion")
    return _clicked(done, STEP_FECHA).texto


def _sincronizar(hab: Habilitacion, facturador: Facturador, estado: EstadoFacturador) -> str:
    """H-11: "Sincronizar Contribuyente a producción" → "Aceptar" once (journaled); DIAN's answer."""
    if not facturador.puede_sincronizar():
        raise NeedsHuman(
            "No aparece el botón «Sincronizar Contribuyente a producción» aunque hay fecha de inicio en producción",
            reason="sin_boton_sincronizar",
            dian_text=estado.estado,
        )
    alertas = facturador.alertas()
    dialogo = facturador.sincronizar()
    exit_hook(CLICK_SINCRONIZAR)
    if not contains(dialogo.texto(), "sincronizar contribuyente"):
        dialogo.cancelar()
        raise PortalChanged("La confirmación de la sincronización no dice lo esperado; se canceló")

    def aceptar() -> Aviso:
        aviso = dialogo.aceptar(alertas)
        known = classify(aviso.texto)
        if not (known.kind is Kind.SUCCESS if known else aviso.exito):
            raise error_for(aviso.texto, action="sincronizar el contribuyente a producción", retryable=known is None)
        return aviso

    # Verified by DIAN's notification (inside ``aceptar``); a later run verifies by logging in on production.
    done = irreversible(
        hab.journal,
        STEP_SINCRONIZAR,
        act=aceptar,
        verify=lambda: _sincronizado(hab),
        what="Sincronizar",
        confirm=dialogo.texto,
        expected="sincronizar contribuyente",
        verify_first=False,
        verify_after=False,
        note=lambda aviso: {"respuesta": aviso.texto},
        fecha_produccion=_fmt(estado.fecha_produccion),
    )
    hab.evidencia("sincronizacion-produccion")
    return _clicked(done, STEP_SINCRONIZAR).texto


__all__ = [
    "STEP_ASOCIAR",
    "STEP_FECHA",
    "STEP_REGISTRO",
    "STEP_SINCRONIZAR",
    "Habilitacion",
    "PendingApproval",
    "asociar_software",
    "check_ids",
    "registrar_facturador",
    "salida_produccion",
    "verificar_habilitacion",
]
