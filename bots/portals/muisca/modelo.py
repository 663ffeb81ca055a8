"""The numbering request as data (no Playwright: usable for input validation before any browser)."""

from __future__ import annotations

from dataclasses import dataclass

from bots.text import fold, same_folded

#: "* Tipo Facturación" options (M-07), as DIAN prints them.
TIPOS_FACTURACION = (
    "FACTURA ELECTRÓNICA DE VENTA",
    "FACTURA DE TALONARIO O DE PAPEL",
    "D.E. / P.O.S.",
    "DOCUMENTO SOPORTE",
)


def tipo_facturacion(texto: str) -> str:
    """The canonical "Tipo Facturación" for ``texto`` (case, accents and spaces ignored), or ``ValueError``."""
    for tipo in TIPOS_FACTURACION:
        if same_folded(tipo, texto) or fold(tipo).replace(" ", "") == fold(texto).replace(" ", ""):
            return tipo
    raise ValueError(texto)


@dataclass(frozen=True)
class Pedido:
    """What the client asks for: one row of M-07."""

    prefijo: str
    tipo: str
    desde: int
    hasta: int

    def es(self, prefijo: str, desde: int | None, hasta: int | None, tipo: str | None = None) -> bool:
        """Same prefix and range (and type, when the screen shows it)."""
        same = prefijo.strip().upper() == self.prefijo and desde == self.desde and hasta == self.hasta
        return same and (not tipo or same_folded(tipo, self.tipo))

    def se_cruza(self, prefijo: str, desde: int | None, hasta: int | None) -> bool:
        """Same prefix and an overlapping range."""
        if prefijo.strip().upper() != self.prefijo or desde is None or hasta is None:
            return False
        return desde <= self.hasta and self.desde <= hasta
