"""M-02: the MUISCA dashboard after login."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bots.errors import NeedsHuman
from bots.portals.muisca.base import Pantalla

if TYPE_CHECKING:
    from bots.portals.muisca.numeracion import MenuNumeracion


class Tablero(Pantalla):
    """M-02 "Mis actividades": tiles, "Comunicados", the "Atención inmediata" notice."""

    nombre = "tablero"

    def aviso_atencion(self) -> str | None:
        """Text of the "Atención inmediata" notice (expired password), if shown."""
        if not self._hay("atencion"):
            return None
        return self._texto("atencion_texto") or self._texto("atencion")

    def verificar_sin_avisos(self) -> None:
        """Stop if DIAN says the password expired: a person must change it."""
        aviso = self.aviso_atencion()
        if aviso:
            raise NeedsHuman(
                "MUISCA avisa que la contraseña del usuario caducó; una persona debe cambiarla antes de seguir",
                reason="clave_caducada",
                dian_text=aviso,
            )

    def a_nombre_de(self) -> str:
        """The session banner ("A nombre de: … (NIT …)")."""
        return self._texto("a_nombre_de")

    def abrir_numeracion(self) -> MenuNumeracion:
        """Click the "Numeración de Facturación" tile."""
        from bots.portals.muisca.numeracion import MenuNumeracion

        self._enviar("numeracion", dom=True)
        return MenuNumeracion(self.sesion)
