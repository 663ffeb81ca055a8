"""Signing sub-machine K (portal-spec P5): clave dinámica + firma electrónica on one M-09 visit.

Rules kept here:

- "Solicítala aquí" is clicked once per key, only when the page's countdown allows it, and the
  mailbox watermark is taken *before* the click, so only a key mailed after the request counts.
  "Mis comunicados" (second tab, same context) is the fallback source; it counts only a key that
  was not already the newest one there before the click.
- A key obtained earlier in this run and still inside its validity window is tried first.
- "Firmar documento(s)" is clicked once per attempt, with a step-journal record before the click and
  the portal's answer after it. A rejected firma electrónica password stops the run (``NeedsHuman``
  quoting DIAN, never retried); a rejected (expired, invalid, used) key is replaced at most once per
  signature, and only after the page's countdown allows a new request.
- The mailbox watermark is ``MailWatchers.watch`` (what ``MailWatchers.expect`` uses), taken before
  the click; the IMAP wait runs in a helper thread so "Mis comunicados" can be read meanwhile.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bots import mensajes
from bots.errors import BOGOTA, NeedsHuman, PortalError
from bots.log import get_logger, register_secret
from bots.mail import DynamicKey, MailError, MailTimeout, MailWatchers, dynamic_key_matcher
from bots.mensajes import Kind
from bots.portals.muisca.firma import Comunicados, Firma, FirmaMarco
from bots.portals.muisca.numeracion import Mensaje
from bots.steps import irreversible

if TYPE_CHECKING:
    from pydantic import SecretStr

    from bots.mail import MailboxAccess, PendingMail
    from bots.portals.muisca.base import Sesion

log = get_logger(__name__)

#: Seconds the mailbox has to itself before "Mis comunicados" is also read.
COMUNICADOS_TRAS_S = 10.0
#: Seconds between reads of "Mis comunicados" while no e-mail has come (a poll interval).
INTERVALO_COMUNICADOS_S = 3.0
#: Tolerance for clock differences when comparing DIAN's "vigente desde" with the request time.
DESFASE_RELOJ = timedelta(minutes=2)


@dataclass
class Clave:
    """A clave dinámica obtained in this run (the value never leaves memory)."""

    valor: str = field(repr=False)
    fuente: str  # correo | comunicados
    vigente_hasta: datetime | None
    vigente_desde: datetime | None

    def vigente(self, now: datetime) -> bool:
        """Inside its window (when the window is a real one; DIAN sometimes prints desde == hasta)."""
        if self.vigente_desde is None or self.vigente_hasta is None or self.vigente_hasta <= self.vigente_desde:
            return True
        return now <= self.vigente_hasta


class Firmador:
    """Signs MUISCA documents for one client run."""

    def __init__(
        self,
        sesion: Sesion,
        *,
        clave_firma: SecretStr,
        buzon: MailboxAccess | None,
        watchers: MailWatchers,
        espera_correo_s: float,
    ) -> None:
        self.sesion = sesion
        self.clave_firma = clave_firma
        self.buzon = buzon
        self.watchers = watchers
        self.espera_correo_s = espera_correo_s
        self.clave: Clave | None = None
        self.rechazadas: set[str] = set()
        self.solicitudes_de_clave = 0
        self.bandeja: Comunicados | None = None
        register_secret(clave_firma.get_secret_value())

    # -- public ------------------------------------------------------------------------------------
    def firmar(self, firma: Firma | FirmaMarco, *, paso: str, paso_clave: str, **detalles: Any) -> Mensaje:
        """Run K on this M-09 page and return the M-08 that confirms the signature.

        ``paso`` names the signature in the step journal and ``paso_clave`` the key requests;
        ``detalles`` (request numbers, no secrets) go into their records.
        """
        firma.preparar()
        firma.proteger()
        clave = self._reutilizable()
        reintentos = 0  # new keys requested because DIAN rejected one (at most one per signature)
        if clave is None:
            firma, clave = self._pedir_clave(firma, paso_clave, detalles)
        else:
            log.info("se reutiliza la clave dinámica de esta ejecución", fuente=clave.fuente)
        while True:
            firma.escribir(clave.valor, self.clave_firma)
            hecho = irreversible(
                self.sesion.pasos,
                paso,
                act=functools.partial(_firmado, firma),
                note=_nota_firma,
                **_protocolo("firmar documento"),
                **detalles,
                origen_codigo=clave.fuente,
            ).value
            assert hecho is not None
            mensaje, firma, texto, motivo = hecho
            if mensaje is not None:
                return mensaje
            firma.proteger()
            conocido = mensajes.mensajes().get(motivo)
            if conocido is not None and conocido.kind is Kind.HUMANO:  # the firma electrónica password
                raise mensajes.error_para(texto, "muisca_firma")
            if conocido is None or conocido.kind is not Kind.REINTENTABLE:  # not a rejected clave dinámica
                raise PortalError("MUISCA no firmó el documento", dian_text=texto or None)
            self.rechazadas.add(clave.valor)
            self.clave = None
            if reintentos >= 1:
                raise NeedsHuman(
                    "MUISCA rechazó también la nueva clave dinámica; no se pide otra. Revise una persona el correo "
                    "de la clave y «Mis comunicados»",
                    reason="clave_dinamica",
                    dian_text=texto or None,
                )
            log.warning("clave dinámica rechazada; se pedirá otra cuando el contador lo permita", motivo=motivo)
            firma, clave = self._pedir_clave(firma, paso_clave, detalles)
            reintentos += 1

    def cerrar(self) -> None:
        """Close the "Mis comunicados" tab, if open."""
        if self.bandeja is not None:
            self.bandeja.cerrar()
            self.bandeja = None

    # -- the key ---------------------------------------------------------------------------------
    def _reutilizable(self) -> Clave | None:
        clave = self.clave
        if clave is None or clave.valor in self.rechazadas or not clave.vigente(datetime.now(BOGOTA)):
            return None
        return clave

    def _pedir_clave(
        self, firma: Firma | FirmaMarco, paso_clave: str, detalles: dict[str, Any]
    ) -> tuple[Firma | FirmaMarco, Clave]:
        """Request one key (after the countdown) and wait for it; returns the reloaded M-09."""
        firma.esperar_fin_contador()
        vista = self._vista_previa_comunicados(firma)
        pending = self._vigilar_correo()
        solicitada = datetime.now(BOGOTA)
        try:
            pedida = irreversible(
                self.sesion.pasos,
                paso_clave,
                act=functools.partial(_clave_pedida, firma),
                note=lambda r: {"resultado": "ok" if r[2] and not r[1] else "rechazado"},
                **_protocolo("solicitar clave dinámica"),
                **detalles,
            ).value
            assert pedida is not None
            firma, error, enviada = pedida
            aviso = mensajes.clasificar(error, "muisca_firma")
            if aviso is not None and aviso.kind is Kind.ESPERA:
                raise mensajes.error_para(error, "muisca_firma")
            if not enviada:
                raise PortalError("MUISCA no confirmó el envío de la clave dinámica", dian_text=error or None)
            self.solicitudes_de_clave += 1
            firma.proteger()
            clave = self._esperar_clave(pending, solicitada, vista)
        finally:
            if pending is not None:
                pending.close()
        register_secret(clave.valor)
        self.clave = clave
        log.info("clave dinámica obtenida", fuente=clave.fuente)
        return firma, clave

    def _vigilar_correo(self) -> PendingMail[DynamicKey] | None:
        """Take the mailbox watermark now (before the click); None if the mailbox cannot be watched."""
        if self.buzon is None:
            return None
        try:
            return self.watchers.watch(self.buzon, dynamic_key_matcher())
        except MailError as exc:
            log.warning("no se puede vigilar el buzón de la clave; se usará Mis comunicados", error=exc.message)
            return None

    def _vista_previa_comunicados(self, firma: Firma | FirmaMarco) -> str | None:
        """Open (or reload) "Mis comunicados" in its tab and note the newest key already there."""
        try:
            if self.bandeja is None or self.bandeja.tab.is_closed():
                url = firma.url_bandeja()
                if url is None:
                    log.warning("M-09 sin enlace a Mis comunicados; solo se leerá el correo")
                    return None
                self.bandeja = Comunicados.abrir(self.sesion, url)
            else:
                self.bandeja = self.bandeja.recargar()
            previa = self.bandeja.clave_mas_reciente()
        except Exception as exc:  # the inbox is only a fallback: never let it stop the signature
            log.warning("no se pudo leer Mis comunicados antes de pedir la clave", error=type(exc).__name__)
            self.bandeja = None
            return None
        finally:
            self._volver_a_la_firma()
        return previa.clave if previa else ""

    def _volver_a_la_firma(self) -> None:
        """Bring the signing tab to the front (a background tab gets no animation frames, which slows clicks)."""
        page = self.sesion.page
        if not page.is_closed():
            page.bring_to_front()

    def _esperar_clave(self, pending: PendingMail[DynamicKey] | None, solicitada: datetime, vista: str | None) -> Clave:
        """The key from the mailbox (IMAP, in a helper thread) or, as a fallback, from Mis comunicados."""
        if pending is None and vista is None:
            raise NeedsHuman(
                "No hay cómo leer la clave dinámica: el buzón no se puede vigilar y «Mis comunicados» no abrió. "
                "La clave ya se pidió; revise el buzón del cliente antes de volver a ejecutar",
                reason="buzon_clave",
            )
        resultado: dict[str, Any] = {}
        listo = threading.Event()

        def esperar_correo() -> None:
            assert pending is not None
            try:
                resultado["clave"] = pending.wait(timeout=self.espera_correo_s)
            except BaseException as exc:
                resultado["error"] = exc
            finally:
                listo.set()

        if pending is not None:
            threading.Thread(target=esperar_correo, name="clave-dinamica-imap", daemon=True).start()
        else:
            listo.set()
        inicio = time.monotonic()
        fin = inicio + self.espera_correo_s
        usar_comunicados = vista is not None
        gracia = min(COMUNICADOS_TRAS_S, self.espera_correo_s / 3)
        while (restante := fin - time.monotonic()) > 0:
            if pending is not None and not listo.is_set():
                # Returns as soon as the e-mail arrives.
                listo.wait(timeout=min(INTERVALO_COMUNICADOS_S, restante) if usar_comunicados else restante)
            elif usar_comunicados:
                # The first read is at once; later ones when DIAN's inbox list changes (or the time is up).
                if time.monotonic() - inicio > 0.5 and not self._esperar_comunicado(restante):
                    break
            else:
                break
            key: DynamicKey | None = resultado.pop("clave", None)
            if key is not None and key.key not in self.rechazadas:
                return Clave(key.key, "correo", key.valid_to, key.valid_from)
            error = resultado.pop("error", None)
            if error is not None:
                log.warning("el buzón de la clave no entregó la clave", error=type(error).__name__)
                if not usar_comunicados and not isinstance(error, MailTimeout):
                    raise NeedsHuman(
                        "No se puede leer el buzón de la clave dinámica y tampoco «Mis comunicados»",
                        reason="buzon_clave",
                        dian_text=None,
                    ) from error
            correo_pendiente = pending is not None and not listo.is_set()
            if usar_comunicados and (not correo_pendiente or time.monotonic() - inicio >= gracia):
                clave = self._leer_comunicados(solicitada, vista)
                if clave is not None:
                    return clave
        raise PortalError(
            f"No llegó la clave dinámica en {self.espera_correo_s:g} s (ni al correo ni a Mis comunicados). "
            "La solicitud quedó guardada; vuelva a ejecutar para continuarla",
            retryable=True,
        )

    def _esperar_comunicado(self, restante: float) -> bool:
        """Wait (at most ``restante`` s) until "Mis comunicados" lists something new; False if it never did."""
        if self.bandeja is None:
            return False
        try:
            return self.bandeja.esperar_cambio(restante, INTERVALO_COMUNICADOS_S)
        except Exception as exc:  # the inbox is only a fallback: a failed wait falls back to reading it
            log.warning("no se pudo vigilar Mis comunicados", error=type(exc).__name__)
            return True

    def _leer_comunicados(self, solicitada: datetime, vista: str | None) -> Clave | None:
        if self.bandeja is None:
            return None
        try:
            self.bandeja = self.bandeja.recargar()
            comunicado = self.bandeja.clave_mas_reciente()
        except Exception as exc:
            log.warning("no se pudo leer Mis comunicados", error=type(exc).__name__)
            return None
        finally:
            self._volver_a_la_firma()
        if comunicado is None or comunicado.clave == vista or comunicado.clave in self.rechazadas:
            return None
        if comunicado.vigente_desde is not None and comunicado.vigente_desde < solicitada - DESFASE_RELOJ:
            return None  # issued before this request
        return Clave(comunicado.clave, "comunicados", comunicado.vigente_hasta, comunicado.vigente_desde)


def _protocolo(what: str) -> dict[str, Any]:
    """``bots.steps.irreversible`` options of the signing clicks.

    The flow read the request's state and settled every uncertain step before signing; a key is
    requested again (after the countdown) and a signature retried (after DIAN rejected the key) on
    purpose, so a ``despues`` already in the journal does not stop the click (``repeatable``).
    """
    return {"verify": lambda: None, "what": what, "verify_first": False, "verify_after": False, "repeatable": True}


def _clave_pedida(firma: Firma | FirmaMarco) -> tuple[Firma | FirmaMarco, str, bool]:
    """Click the key request once; the page after it, DIAN's error text and whether it says "sent"."""
    firma = firma.solicitar_clave()
    return firma, firma.error(), firma.clave_enviada()


def _firmado(firma: Firma | FirmaMarco) -> tuple[Mensaje | None, Firma | FirmaMarco, str, str]:
    """Click "Firmar" once; the M-08 (signed) or DIAN's error text and its class."""
    firma.firmar_documentos()
    mensaje, firma = firma.resultado_firma()
    if mensaje is not None:
        return mensaje, firma, "", ""
    texto = firma.error()
    return None, firma, texto, _motivo(texto)


def _motivo(texto: str) -> str:
    """The key of DIAN's message in the firma window (``bots/mensajes_dian.toml``), "otro" when unknown."""
    conocido = mensajes.clasificar(texto, "muisca_firma")
    return conocido.key if conocido else "otro"


def _nota_firma(hecho: tuple[Mensaje | None, Firma | FirmaMarco, str, str]) -> dict[str, Any]:
    mensaje, _firma, _texto, motivo = hecho
    if mensaje is not None:
        return {"resultado": "ok", "documento": mensaje.documento().split("-", 1)[0] or None}
    return {"resultado": "rechazado", "motivo": motivo}
