"""Associate the provider's software ("Configurar modos de operación") and hand its ids to the provider (P2).

    python -m flows.asociar_software --cliente 900123456 [--json]

Token login → H-03 → "Configurar modos de operación" (H-05/H-06):

- the profile's software is already in "Listado de modos de operación asociados": read it, nothing clicked;
- another software is associated: ``NeedsHuman`` (exit 4) naming both (changing provider is the client's call);
- otherwise "Software de un proveedor tecnológico", the provider company and the software of the
  profile's ``[cliente.software]`` (matched by text: case, dashes and "S. A." spacing do not matter),
  then "Asociar" once (journaled in ``<output>/<nit>/pasos.jsonl``).

Then the row's Software Id and PIN and, in "Detalles de set de pruebas" (H-07), the TestSetId are read;
both ids must be UUIDs and the Software Id must equal ``id_esperado`` when the profile has it. The
hand-off file for the provider's platform, ``<output>/<nit>/entrega-proveedor-habilitacion.json``
(mode 0600), is the only place where the PIN is written: logs, results and screenshots hide it.

Test hook: ``DIAN_TEST_EXIT_AFTER_CLICK=asociar_software.asociar`` (see ``bots.steps``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bots.cli import (
    Outcome,
    SpanishArgumentParser,
    add_client_argument,
    add_common_arguments,
    run_flow,
    run_single_client,
)
from bots.errors import InvalidInput, NeedsHuman, PortalChanged, PortalError
from bots.mensajes import Kind, clasificar, error_para
from bots.portals.habilitacion.entrega import write_handoff
from bots.portals.habilitacion.modelos import (
    ModoOperacion,
)
from bots.portals.habilitacion.modos import ModosOperacion
from bots.portals.habilitacion.procesos import (
    SETTLED_NOTE,
    STEP_ASOCIAR,
    Habilitacion,
    answered,
    check_ids,
    clicked,
    contradiction,
    fila_de,
    settle,
    software_of,
)
from bots.steps import StepStatus, irreversible

if TYPE_CHECKING:
    from bots.browser import ClientRun
    from bots.config import Client, Settings, Software
    from bots.mail import MailboxAccess, MailWatchers

__all__ = [
    "DESCRIPTION",
    "FLOW",
    "add_options",
    "asociar_software",
    "build_parser",
    "main",
    "prepare",
    "run_for_client",
]

FLOW = "asociar_software"
DESCRIPTION = (
    "Asocia el software del proveedor tecnológico del cliente en «Configurar modos de operación» del portal "
    "de habilitación y entrega al proveedor el Software Id, el PIN y el TestSetId."
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """No options of its own: provider and software come from the client's profile."""


def build_parser() -> SpanishArgumentParser:
    parser = SpanishArgumentParser(
        prog=f"python -m flows.{FLOW}",
        description=DESCRIPTION + "\n\nEl proveedor y el software salen de [cliente.software] del archivo de "
        "clientes (proveedor, nombre e id_esperado opcional). Si el software ya está asociado solo lee los datos; "
        "si hay otro software asociado se detiene e informa.",
        epilog=(
            "Resultado: <salida>/<NIT>/entrega-proveedor-habilitacion.json (con el PIN; permisos 600).\n"
            "Códigos de salida: 0 listo o ya estaba hecho; 2 datos inválidos (antes de abrir el navegador); "
            "4 requiere una persona (otro software asociado, Software Id distinto del informado por el "
            "proveedor, Captcha); 5 error o cambio del portal (p. ej. facturador pendiente de registro); "
            "1 error inesperado.\n"
            "Ejemplo: python -m flows.asociar_software --cliente 900123456 --json"
        ),
    )
    add_client_argument(parser)
    add_options(parser)
    add_common_arguments(parser)
    return parser


def prepare(args: argparse.Namespace, client: Client, settings: Settings) -> dict[str, Any]:
    """The profile must name the provider's software; the token mailbox must be reachable."""
    if client.software is None:
        raise InvalidInput(
            f"El perfil del cliente {client.nit} no tiene [cliente.software]: agregue proveedor y nombre del "
            "software (y, si el proveedor lo informó, id_esperado)."
        )
    return {"mailbox": client.buzon_token.access(settings)}


def run_for_client(
    run: ClientRun,
    client: Client,
    settings: Settings,
    *,
    watchers: MailWatchers,
    mailbox: MailboxAccess | None = None,
) -> Outcome:
    hab = Habilitacion.open(run, client, settings, watchers, mailbox=mailbox)
    return asociar_software(hab)


def asociar_software(hab: Habilitacion) -> Outcome:
    """Associate the profile's provider software, read its row and test set, write the hand-off file."""
    software = software_of(hab.client)
    with hab.run.step("asociacion"):
        status, settled = settle(
            hab, STEP_ASOCIAR, lambda: fila_de(hab.abrir_modos(hab.abrir_facturador()).filas(), software) is not None,
            "Asociar",
        )
        modos = hab.abrir_modos(hab.abrir_facturador())
        alerta = modos.alerta()
        if alerta:
            raise error_para(alerta, "habilitacion", "asociar el software")
        filas = modos.filas()
        propia = fila_de(filas, software)
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
                raise contradiction("Asociar", "sin modos de operación asociados")
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
        note = SETTLED_NOTE.format(click="Asociar") if settled else ""
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
            raise error_para(texto, "habilitacion", "asociar el software")
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
        answered(hab, modos.asociar(), "Asociar")
        if hab.session.lost():
            raise PortalError(
                "La DIAN cerró la sesión justo después de «Asociar». Ejecute de nuevo: el robot verificará "
                "leyendo el portal antes de hacer cualquier otra cosa",
                retryable=True,
            )
        lista = ModosOperacion.recognise(hab.page, hab.locators)
        aviso = lista.aviso()
        known = clasificar(aviso.texto, "habilitacion") if aviso else None
        if aviso and not aviso.exito and (known is None or known.kind is not Kind.YA_HECHO):
            raise error_para(aviso.texto, "habilitacion", "asociar el software")
        propia = fila_de(lista.filas(), software)
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
        verify=lambda: fila_de(hab.abrir_modos(hab.abrir_facturador()).filas(), software) is not None,
        what="Asociar",
        verify_first=False,
        verify_after=False,
        note=lambda v: {"software_id": v[0].software_id, "estado": v[0].estado, "aviso": v[2]},
        proveedor=proveedor,
        software=nombre,
    )
    propia, modos, _ = clicked(done, STEP_ASOCIAR)
    return propia, modos



def main() -> Outcome:
    return run_single_client(build_parser().parse_args(), prepare, run_for_client)


if __name__ == "__main__":
    run_flow(main)
