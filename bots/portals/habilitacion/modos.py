"""H-05 "Configurar modos de operación" (form), H-06 (list of associated modes) and H-07 "Set de pruebas"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bots.errors import NeedsHuman, PortalChanged
from bots.log import register_secret
from bots.portals.catalogo import choose_option, find_option, read_options
from bots.portals.habilitacion.base import Screen
from bots.portals.habilitacion.modelos import Aviso, ModoOperacion, SetPruebas, parse_dian_date
from bots.text import contains, normalize, squash

if TYPE_CHECKING:
    from playwright.sync_api import Locator

PROVIDER_MODE = "Software de un proveedor tecnológico"
# Column titles of "Listado de modos de operación asociados" → ModoOperacion fields.
COLUMNS = {
    "modo de operación": "modo",
    "registro": "registro",
    "estado": "estado",
    "software": "software",
    "id": "software_id",
    "pin": "pin",
    "url": "url",
}


class ModosOperacion(Screen):
    """H-05 form "Seleccione el modo de operación" + H-06 "Listado de modos de operación asociados"."""

    SCREEN = "modos_operacion"

    # --- reading ---------------------------------------------------------------------------------
    def _columns(self) -> dict[str, int]:
        titles = [normalize(t) for t in self.locs.get("encabezados").all_text_contents()]
        found = {COLUMNS[t]: i for i, t in enumerate(titles) if t in COLUMNS}
        missing = sorted(set(COLUMNS.values()) - set(found))
        if missing:
            raise PortalChanged(
                f"La tabla de modos de operación no tiene las columnas esperadas (faltan: {', '.join(missing)})",
                selector=self.name("encabezados"),
            )
        return found

    def pin_cells(self) -> Locator:
        """The "Pin" cells, to mask in screenshots."""
        index = self._columns()["pin"]
        return self.locs.get("filas").locator(f"{self.locs.selector('celdas')}:nth-child({index + 1})")

    def filas(self) -> list[ModoOperacion]:
        """The associated operation modes. Every PIN read is registered with the log redaction. An unknown
        overlay over the list stops the run before anything is read or acted on."""
        self.sin_superposiciones()
        rows = self.locs.get("filas")
        if rows.count() == 0:
            return []
        columns = self._columns()
        result = []
        for i in range(rows.count()):
            row = rows.nth(i)
            cells = [squash(t) for t in row.locator(self.locs.selector("celdas")).all_text_contents()]
            if len(cells) <= max(columns.values()):  # e.g. an "empty table" row
                continue
            values = {name: cells[index] for name, index in columns.items()}
            register_secret(values["pin"])
            link = row.locator(self.locs.selector("detalles_set"))
            result.append(
                ModoOperacion(
                    modo=values["modo"],
                    registro=parse_dian_date(values["registro"]),
                    estado=values["estado"],
                    software=values["software"],
                    software_id=values["software_id"].lower(),
                    pin=values["pin"],
                    url=values["url"],
                    detalles_href=link.first.get_attribute("href") if link.count() else None,
                )
            )
        return result

    def alerta(self) -> str | None:
        """The warning DIAN writes inside the form (e.g. pending registration)."""
        if not self.presente("alerta"):
            return None
        return self.texto("alerta", requerido=True) or None

    def aviso(self) -> Aviso | None:
        """The floating notification after "Asociar", if any."""
        if not self.presente("aviso"):
            return None
        return self._notice(0, box="aviso", message="aviso_mensaje", success="aviso_exito", title="aviso_titulo")

    def asociar_habilitado(self) -> bool:
        """Whether DIAN offers the save button ("Asociar"; "Adicionar" in 2022). DIAN leaves it out while the
        biller is pending registration or a mode is in test (ConfigureOperationModes.cshtml:123)."""
        button = self.locs.get("boton_asociar")  # the same element as "asociar", read only
        if button.count() == 0:
            return False
        return button.first.is_enabled() and "disabled" not in (button.first.get_attribute("class") or "").split()

    # --- choosing --------------------------------------------------------------------------------
    def _choose(self, name: str, wanted: str, label: str) -> str:
        """Select the single option whose text matches ``wanted`` (normalised); return DIAN's text."""
        select = self.locs.require(name, state="attached")
        options = [o for o in read_options(select) if o.value]
        option = find_option(options, wanted)
        if option is None:
            listed = "; ".join(o.text for o in options) or "(ninguna)"
            raise NeedsHuman(
                f"La lista «{label}» de la DIAN no tiene una única opción «{wanted}». Opciones: {listed}. "
                "Revise el perfil del cliente.",
                reason="opcion_no_encontrada",
                selector=self.name(name),
            )
        choose_option(select, option, name=self.name(name))
        return option.text

    def elegir_modo_proveedor(self) -> str:
        return self._choose("modo", PROVIDER_MODE, "Seleccione el modo de operación")

    def elegir_proveedor(self, proveedor: str) -> str:
        return self._choose("proveedor", proveedor, "Nombre empresa proveedora")

    def elegir_software(self, software: str) -> str:
        return self._choose("software", software, "Nombre del software")

    def seleccion(self) -> dict[str, str]:
        """The option texts currently selected (modo, proveedor, software)."""
        chosen = {}
        for name in ("modo", "proveedor", "software"):
            select = self.locs.require(name, state="attached")
            value = select.first.input_value()
            chosen[name] = next((o.text for o in read_options(select) if o.value == value), "")
        return chosen

    def asociar(self) -> int | None:
        """IRREVERSIBLE: click "Asociar"; the form is posted and DIAN answers with a new page (the
        list again, on success). Returns the HTTP status of that page."""
        self.sin_superposiciones()
        with self.page.expect_navigation(wait_until="load") as answer:
            self.pulsar("asociar")
        return answer.value.status if answer.value else None


class PaginaSetPruebas(Screen):
    """H-07 "Set de pruebas"."""

    SCREEN = "set_pruebas"

    def leer(self) -> SetPruebas:
        """TestSetId (hidden input), the state (the alert's first <strong>; the accepted alert has none) and the
        software's Id and PIN shown on the page. The PIN is registered with the log redaction."""
        self.sin_superposiciones()
        aviso = self.texto("aviso", requerido=True) if self.presente("aviso") else ""
        estado = self.texto("estado", requerido=True) if self.presente("estado") else ""
        if not estado and contains(aviso, "superado satisfactoriamente"):
            estado = "Aceptado"
        pin = self.valor("pin", requerido=True) if self.presente("pin") else ""
        if pin:
            register_secret(pin)
        return SetPruebas(
            test_set_id=self.valor("test_set_id", requerido=True).lower(),
            estado=estado,
            aviso=aviso,
            software_id=(self.valor("software_id", requerido=True) if self.presente("software_id") else "").lower(),
            pin=pin,
        )
