"""M-01: the MUISCA login, in its two known versions, behind one ``iniciar_sesion()``.

- ``LoginAngular`` (version 2026, ``/WebIdentidadLogin/``): mode buttons, ``mat-select`` for the
  document type, the mandatory data-treatment checkbox, "Ingresar" disabled until the form is valid.
- ``LoginJsf`` (version legacy, ``DefLoginOld.faces``): ``vistaLogin:frmLogin:*`` fields.

The version is chosen by the page's fingerprint. The password is submitted at most once per run
and a password DIAN rejected is never sent again (its salted fingerprint is kept in the step
journal): DIAN locks the account after a few failures.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots import mensajes
from bots.errors import InvalidInput, NeedsHuman, PortalChanged, PortalError
from bots.log import get_logger, register_secret
from bots.portals.muisca.base import Pantalla, Sesion
from bots.portals.muisca.ingresos import IngresosRechazados
from bots.portals.muisca.tablero import Tablero
from bots.retry import navigate
from bots.text import same_folded, squash

if TYPE_CHECKING:
    from pydantic import SecretStr

    from bots.config import Client, MuiscaUser

log = get_logger(__name__)

ENTRADA = "/WebArquitectura/DefLogin.faces"

class LoginAngular(Pantalla):
    """M-01, current Angular Material form."""

    nombre = "login"

    def elegir_modo(self, *, tercero: bool) -> None:
        """Press "A nombre de un tercero" (a company) or "A nombre propio" (a person)."""
        self._control("modo_tercero" if tercero else "modo_propio").click()
        if tercero:
            self.loc.require("numero_organizacion")

    def escribir_organizacion(self, nit: str) -> None:
        """Type the organisation's NIT (without check digit)."""
        self.loc.require("numero_organizacion").first.fill(nit)

    def elegir_tipo_documento(self, etiqueta: str) -> None:
        """Open the document-type ``mat-select`` and click the option with this label."""
        self.loc.require("tipo_documento").first.click()
        wanted = re.compile(r"^\s*" + re.escape(etiqueta) + r"\s*$", re.IGNORECASE)
        opcion = self.loc.get("opcion_tipo_documento").filter(has_text=wanted)
        if opcion.count() == 0:
            opciones = self.loc.get("opcion_tipo_documento")
            for index in range(opciones.count()):
                if same_folded(opciones.nth(index).inner_text(), etiqueta):
                    opcion = opciones.nth(index)
                    break
            else:
                raise self._cambio(f"El tipo de documento «{etiqueta}» no está entre las opciones", "tipo_documento")
        opcion.first.click()

    def escribir_documento(self, numero: str) -> None:
        self.loc.require("numero_documento").first.fill(numero)

    def escribir_contrasena(self, password: SecretStr) -> None:
        self.loc.require("contrasena").first.fill(password.get_secret_value())

    def cerrar_aviso_notificaciones(self) -> None:
        """Close the browser-notifications notice (S8: "Continuar"); any other dialog stops the run."""
        dialogo = self.loc.get("dialogo")
        if dialogo.count() == 0 or not dialogo.first.is_visible():
            return
        continuar = self.loc.get("notificaciones_continuar")
        if continuar.count() != 1:
            texto = squash(dialogo.first.inner_text())[:200]
            raise self._cambio(f"Un diálogo desconocido cubre el ingreso a MUISCA («{texto}»)", "dialogo")
        log.info("aviso de notificaciones del navegador: Continuar")
        continuar.click()
        dialogo.first.wait_for(state="hidden", timeout=self.sesion.settings.page_timeout_s * 1000)

    def pide_tratamiento_datos(self) -> bool:
        """The form shows the data-treatment checkbox."""
        return self.loc.get("acepta_datos").count() > 0

    def aceptar_tratamiento_datos(self) -> None:
        """Tick the data-treatment checkbox (only with the client's recorded authorisation)."""
        casilla = self.loc.get("acepta_datos").first
        if not casilla.is_checked():
            self.loc.require("acepta_datos_casilla").first.click()
        if not casilla.is_checked():
            raise self._cambio("La casilla de tratamiento de datos no quedó marcada", "acepta_datos")

    def ingresar(self) -> None:
        """Click "Ingresar" once (Playwright waits until the form enables it)."""
        boton = self._control("ingresar")
        try:
            boton.click(timeout=self.sesion.settings.page_timeout_s * 1000)
        except PlaywrightTimeoutError:
            raise PortalError(
                "El botón «Ingresar» de MUISCA no se habilitó con los datos del cliente; no se envió la contraseña",
                selector=self.loc.qualified("ingresar"),
            ) from None

    def diligenciar(self, client: Client, user: MuiscaUser, password: SecretStr) -> None:
        """Fill the whole form as a person would (consent only with the client's authorisation)."""
        if self.pide_tratamiento_datos() and not user.acepta_tratamiento_datos:
            raise NeedsHuman(
                "El ingreso a MUISCA exige aceptar la política de tratamiento de datos personales y el perfil "
                "del cliente no registra esa autorización (muisca.acepta_tratamiento_datos = true en el archivo "
                "de clientes). Obtenga la autorización del cliente antes de continuar; no se envió la contraseña",
                reason="tratamiento_datos",
            )
        self.cerrar_aviso_notificaciones()
        empresa = client.tipo_ingreso == "empresa"
        self.elegir_modo(tercero=empresa)
        if empresa:
            self.escribir_organizacion(client.nit)
        self.elegir_tipo_documento(user.id_type.label)
        self.escribir_documento(user.numero_documento)
        self.escribir_contrasena(password)
        if self.pide_tratamiento_datos():
            self.aceptar_tratamiento_datos()


class LoginJsf(Pantalla):
    """M-01, legacy JSF form (``vistaLogin:frmLogin``)."""

    nombre = "login"

    def elegir_a_nombre_de(self, *, tercero: bool) -> None:
        """ "Ingresar a nombre de:" = "NIT" for a company, "A nombre propio" for a person."""
        self._seleccionar("a_nombre_de", "NIT" if tercero else "A nombre propio")
        if tercero:
            self.loc.require("numero_organizacion")

    def escribir_organizacion(self, nit: str) -> None:
        self.loc.require("numero_organizacion").first.fill(nit)

    def elegir_tipo_documento(self, codigo: str) -> None:
        """DIAN's numeric document code (13 = cédula de ciudadanía)."""
        select = self.loc.require("tipo_documento").first
        if select.locator(f"option[value='{codigo}']").count() == 0:
            raise self._cambio(f"El tipo de documento con código {codigo} no está entre las opciones", "tipo_documento")
        select.select_option(value=codigo)

    def escribir_documento(self, numero: str) -> None:
        self.loc.require("numero_documento").first.fill(numero)

    def escribir_contrasena(self, password: SecretStr) -> None:
        self.loc.require("contrasena").first.fill(password.get_secret_value())

    def dejar_teclado_virtual_en_no(self) -> None:
        """ "Activar teclado virtual" stays "No" (the robot types)."""
        if self.loc.get("teclado_virtual").count() and self._valor_select("teclado_virtual") not in ("", "N"):
            self._seleccionar("teclado_virtual", "No")

    def _valor_select(self, name: str) -> str:
        return self.loc.get(name).first.input_value()

    def ingresar(self) -> None:
        """Click "Ingresar" once."""
        self._control("ingresar").click()

    def diligenciar(self, client: Client, user: MuiscaUser, password: SecretStr) -> None:
        empresa = client.tipo_ingreso == "empresa"
        self.elegir_a_nombre_de(tercero=empresa)
        if empresa:
            self.escribir_organizacion(client.nit)
        self.elegir_tipo_documento(user.id_type.muisca)
        self.escribir_documento(user.numero_documento)
        self.escribir_contrasena(password)
        self.dejar_teclado_virtual_en_no()


def usuario_muisca(client: Client) -> MuiscaUser:
    """The client's MUISCA user, checked before any browser (``InvalidInput`` if unusable)."""
    user = client.muisca
    if user is None:
        raise InvalidInput(
            f"El cliente {client.nit} no tiene usuario de MUISCA: agregue la tabla [cliente.muisca] "
            "(tipo_documento, numero_documento, acepta_tratamiento_datos) al archivo de clientes."
        )
    if user.id_type.muisca_sigla is None:
        raise InvalidInput(
            f"El tipo de documento «{user.id_type.label}» del usuario de MUISCA del cliente {client.nit} no se "
            "puede usar para ingresar a MUISCA (se admite cédula de ciudadanía, cédula de extranjería, pasaporte "
            "o NIT)."
        )
    return user


def iniciar_sesion(sesion: Sesion, client: Client, password: SecretStr) -> Tablero:
    """Open MUISCA, recognise the login version, log in once and return the dashboard.

    Raises ``NeedsHuman`` for a rejected password (quoting DIAN, never retried), a locked account,
    a password DIAN already rejected in an earlier run, a missing data-treatment authorisation, or
    the "Atención inmediata" expired-password notice.
    """
    user = usuario_muisca(client)
    register_secret(password.get_secret_value())
    rechazos = IngresosRechazados.para(sesion.settings.output_dir, client.nit)
    anterior = rechazos.rechazo_de(password)
    if anterior is not None:
        raise NeedsHuman(
            f"La DIAN ya rechazó esta contraseña de MUISCA (el {str(anterior.get('at', ''))[:10]}); el robot no la "
            "vuelve a enviar para no bloquear la cuenta. Actualice el secreto muisca_password del cliente y vuelva "
            "a ejecutar",
            reason="clave_rechazada",
            dian_text=anterior.get("dian_text"),
        )
    page = sesion.page
    navigate(page, sesion.settings.muisca_url + ENTRADA)
    pantalla = sesion.locators.screen(page, "login")
    formulario: LoginAngular | LoginJsf
    formulario = LoginJsf(sesion, loc=pantalla) if pantalla.version == "legacy" else LoginAngular(sesion, loc=pantalla)
    log.info("formulario de ingreso", version=pantalla.version)
    formulario.diligenciar(client, user, password)
    formulario.ingresar()  # once: a failed login is never retried
    try:
        resultado = sesion.locators.screen(
            page, "tablero", "login_bloqueado", "login_error", timeout_s=sesion.settings.navigation_timeout_s
        )
    except PortalChanged as exc:
        # Not the dashboard and nothing the robot knows: the password counts as rejected, so that a
        # re-run never sends it again (DIAN locks the account after a few failures).
        rechazos.recordar(password, None)
        raise PortalChanged(
            "Después de enviar la contraseña, MUISCA no mostró el tablero ni un mensaje conocido. La contraseña se "
            "enviaba una sola vez y quedó registrada como rechazada: el robot no la volverá a enviar hasta que se "
            f"actualice el secreto muisca_password del cliente (o se borre {rechazos.path.name}). Revise la página "
            "guardada",
            selector=exc.selector,
            page_path=exc.page_path,
            screenshot_path=exc.screenshot_path,
        ) from None
    if resultado.screen == "tablero":
        log.info("ingreso a MUISCA", version=pantalla.version)
        tablero = Tablero(sesion, loc=resultado)
        tablero.verificar_sin_avisos()
        return tablero
    texto = ""
    for nombre in ("mensaje", "alerta"):
        if not texto and resultado.has(nombre) and resultado.get(nombre).count():
            texto = squash(resultado.get(nombre).first.inner_text())
    if resultado.screen == "login_bloqueado":
        raise NeedsHuman(
            "La cuenta de MUISCA del usuario está bloqueada; debe desbloquearla una persona "
            "(opción «¿Olvidó su contraseña?» o la DIAN)",
            reason="cuenta_bloqueada",
            dian_text=texto or None,
        )
    # DIAN's words that prove the failure was not a judgement on the password (maintenance).
    aviso = mensajes.clasificar(texto, "muisca_ingreso")
    if texto and aviso is not None and aviso.retryable:
        raise mensajes.error_para(texto, "muisca_ingreso")
    rechazos.recordar(password, texto or None)
    raise NeedsHuman(
        "MUISCA rechazó el ingreso. El robot no lo reintenta (la DIAN bloquea la cuenta tras varios intentos): "
        "revise el usuario y la contraseña del cliente",
        reason="clave_rechazada",
        dian_text=texto or None,
    )
