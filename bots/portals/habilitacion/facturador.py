"""H-02 document types, H-03 "Facturador electrónico", H-04 registration and H-11 synchronisation."""

from __future__ import annotations

from bots.errors import PortalChanged
from bots.portals.habilitacion.base import Screen
from bots.portals.habilitacion.modelos import Aviso, EstadoFacturador, parse_dian_date


class TiposDocumento(Screen):
    """H-02 "Seleccione el tipo de documento electrónico"."""

    SCREEN = "tipos_documento"

    def factura_electronica(self) -> str:
        """Where the "Factura Electrónica" card leads."""
        href = self.enlace("factura_electronica")
        if not href:
            raise PortalChanged(
                "No aparece la opción «Factura Electrónica»", selector=self.name("factura_electronica")
            )
        return href


class Facturador(Screen):
    """H-03 account screen: a "Pendiente de registro", b "Registrado", c "Habilitado" (+ production date)."""

    SCREEN = "facturador"

    def leer(self) -> EstadoFacturador:
        fecha = self.valor("fecha_produccion", requerido=True) if self.presente("fecha_produccion") else ""
        return EstadoFacturador(
            nit=self.valor("nit", requerido=True),
            razon_social=self.valor("razon_social", requerido=True),
            estado=self.valor("estado", requerido=True),
            correo_recepcion=self.valor("correo_recepcion", requerido=True) or None,
            fecha_produccion=parse_dian_date(fecha),
        )

    def error_correo(self) -> str | None:
        """The validation message under the reception e-mail, if DIAN shows one."""
        text = self.texto("error_correo", requerido=True) if self.presente("error_correo") else ""
        return text or None

    def escribir_correo(self, email: str) -> None:
        """Type the reception e-mail and check the field kept it exactly (an unknown overlay stops first)."""
        self.sin_superposiciones()
        field = self.locs.require("correo_recepcion")
        field.fill(email)
        if field.input_value() != email:
            raise PortalChanged(
                "El campo del correo de recepción no aceptó el correo escrito; no se hizo clic",
                selector=self.name("correo_recepcion"),
            )

    def registrar(self) -> ConfirmarRegistro:
        """Click "Registrar": DIAN asks for confirmation (H-04); nothing is sent yet."""
        self.sin_superposiciones()
        self.pulsar("registrar")
        return ConfirmarRegistro.recognise(self.page, self.locators)

    def modos_operacion(self) -> str | None:
        """Where "Configurar modos de operación" leads. The pending screen (/Contributor/Register) has no such
        link: DIAN's route is then built from the contributor's hidden ``Id`` (the route needs it)."""
        href = self.enlace("configurar_modos")
        if href:
            return href
        ident = self.valor("id_contribuyente", requerido=True) if self.presente("id_contribuyente") else ""
        return f"/Contributor/ConfigureOperationModes/{ident}" if ident.isdigit() else None

    def puede_sincronizar(self) -> bool:
        """DIAN offers "Sincronizar" (an unknown overlay over the screen stops the run first)."""
        self.sin_superposiciones()
        return self.presente("sincronizar") and self.locs.get("sincronizar").first.is_visible()

    def alertas(self) -> int:
        """How many floating notifications are shown (the next H-11 result will be this index)."""
        return self.locs.get("notificacion").count()

    def sincronizar(self) -> ConfirmarSincronizacion:
        """Click "Sincronizar Contribuyente a producción": DIAN asks for confirmation; nothing is sent yet."""
        self.sin_superposiciones()
        self.pulsar("sincronizar")
        return ConfirmarSincronizacion.recognise(self.page, self.locators)


class ConfirmarRegistro(Screen):
    """H-04 "¿Está seguro que desea registrase como facturador?" (Aceptar/Cancelar)."""

    SCREEN = "confirmar_registro"

    def pregunta(self) -> str:
        """The dialog's question, as DIAN writes it."""
        return self.texto("texto", requerido=True)

    def aceptar(self) -> int | None:
        """IRREVERSIBLE: click "Aceptar"; the form is posted and DIAN answers with a new page (on
        success it signs the user out). Returns the HTTP status of that page."""
        self.sin_superposiciones(self.locs.get("texto"))  # the one dialog expected here: H-04 itself
        with self.page.expect_navigation(wait_until="load") as answer:
            self.pulsar("aceptar")
        return answer.value.status if answer.value else None

    def cancelar(self) -> None:
        self.sin_superposiciones(self.locs.get("texto"))
        self.pulsar("cancelar")


class ConfirmarSincronizacion(Screen):
    """H-11 "¿Está seguro que desea sincronizar contribuyente a producción?" (Aceptar/Cancelar)."""

    SCREEN = "confirmar_sincronizacion"

    def pregunta(self) -> str:
        """The dialog's question, as DIAN writes it."""
        return self.texto("texto", requerido=True)

    def aceptar(self, alertas_antes: int) -> Aviso:
        """IRREVERSIBLE (idempotency unknown): click "Aceptar" and wait for DIAN's notification."""
        self.sin_superposiciones(self.locs.get("texto"))  # the one dialog expected here: H-11 itself
        self.pulsar("aceptar")
        return ResultadoSincronizacion.recognise(self.page, self.locators).aviso(alertas_antes)

    def cancelar(self) -> None:
        self.sin_superposiciones(self.locs.get("texto"))
        self.pulsar("cancelar")


class ResultadoSincronizacion(Screen):
    """H-11 result: the floating notification ("Aviso" / "Error")."""

    SCREEN = "resultado_sincronizacion"

    def aviso(self, index: int = 0) -> Aviso:
        return self._notice(index, box="alerta", message="mensaje", success="exito", title="titulo")
