"""DIAN's messages on the habilitación site, recognised and classified.

Every text the spec and the research list for H-03..H-11 (and the production-login refusals used
to check a synchronisation) is here with what it means for the robot. ``classify(text)`` finds the
message inside whatever the page shows; ``error_for(text)`` turns a refusal into the right
``RobotError`` with DIAN's words in ``dian_text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bots.errors import NeedsHuman, PortalError, RobotError
from bots.text import contains


class Kind(StrEnum):
    """What a message means for the step that produced it."""

    SUCCESS = "exito"  # the action was done now
    ALREADY = "ya_hecho"  # the action had been done before: verify by reading and go on
    REFUSED = "rechazo"  # DIAN refused: PortalError
    HUMAN = "humano"  # a person must decide: NeedsHuman
    NOT_SYNCED = "no_sincronizado"  # the production site does not let the company in yet


@dataclass(frozen=True)
class DianMessage:
    """A known DIAN text and what the robot does with it."""

    key: str
    text: str  # DIAN's words, verbatim (typos included)
    kind: Kind
    explanation: str  # Spanish, for the operator
    match: str = ""  # a shorter stable part to look for (default: the whole text)

    @property
    def anchor(self) -> str:
        return self.match or self.text


MESSAGES: tuple[DianMessage, ...] = (
    # H-03 / H-04: registration.
    DianMessage(
        "correo_invalido",
        "Por favor registre un correo electrónico válido.",
        Kind.REFUSED,
        "La DIAN rechazó el correo de recepción. Corrija correo_recepcion en el perfil del cliente.",
    ),
    # H-05: "Asociar" (research §2.6).
    DianMessage(
        "pendiente_registro",
        "No puede agregar modo de operación si se encuentra pendiente de registro.",
        Kind.REFUSED,
        "La DIAN no permite asociar software mientras el facturador está «Pendiente de registro». "
        "Ejecute primero registrar_facturador.",
    ),
    DianMessage(
        "modo_en_pruebas",
        "No puede tener un modo de operación en pruebas.",
        Kind.HUMAN,
        "Ya hay otro modo de operación en pruebas. Una persona debe decidir si se espera su aceptación "
        "o se elimina antes de asociar otro software.",
    ),
    DianMessage(
        "falta_software",
        "Debe especificar un software para el proveedor.",
        Kind.REFUSED,
        "La DIAN no recibió el software elegido. Revise el proveedor y el software del perfil del cliente.",
    ),
    DianMessage(
        "set_duplicado",
        "Ya especificó un set de pruebas con estas características.",
        Kind.ALREADY,
        "El software ya estaba asociado.",
    ),
    # H-09 / H-10: production start date (POST /Contributor/SetHabilitationAndProductionDates).
    DianMessage(
        "s2_exito",
        "Responsabilidad 52-Facturador Electrónico fue ejecutada satisfactoriamente",
        Kind.SUCCESS,
        "La DIAN registró la fecha de inicio en producción y la responsabilidad 52 del RUT.",
        match="Facturador Electrónico fue ejecutada satisfactoriamente",
    ),
    DianMessage(
        "s2_ya_registrada",
        "Contribuyente ya registró fecha de inicio en producción.",
        Kind.ALREADY,
        "La fecha de inicio en producción ya estaba registrada; se continúa con la sincronización.",
    ),
    DianMessage(
        "sin_contribuyente",
        "No se encontró contribuyente.",
        Kind.REFUSED,
        "La DIAN no encontró al contribuyente habilitado para esta operación.",
    ),
    DianMessage(
        "fecha_invalida",
        "La fecha de inicio en producción no es válida.",
        Kind.HUMAN,
        "La DIAN no aceptó la fecha aprobada por el cliente; hay que pedirle otra fecha.",
    ),
    # H-11: "Sincronizar Contribuyente a producción".
    DianMessage(
        "sincronizado",
        "Contribuyente sincronizado a producción exitosamente.",
        Kind.SUCCESS,
        "El contribuyente quedó sincronizado con producción.",
        match="sincronizado a producción",
    ),
    DianMessage(
        "sync_no_habilitado",
        "El contribuyente no se encuentra habilitado.",
        Kind.REFUSED,
        "La DIAN no sincroniza a un contribuyente que no está habilitado.",
    ),
    # Production login refusals: the company is not (yet) synchronised with production.
    DianMessage(
        "prod_no_facturador",
        "Empresa no se encuentra habilitada como facturador electrónico.",
        Kind.NOT_SYNCED,
        "El sitio de producción aún no reconoce a la empresa como facturador electrónico.",
    ),
    DianMessage(
        "prod_no_habilitada",
        "Empresa no se encuentra habilitada.",
        Kind.NOT_SYNCED,
        "El sitio de producción aún no reconoce a la empresa como habilitada.",
    ),
    DianMessage(
        "prod_persona_no_facturador",
        "Usted no se encuentra habilitado como facturador electrónico.",
        Kind.NOT_SYNCED,
        "El sitio de producción aún no reconoce a la persona como facturador electrónico.",
    ),
    DianMessage(
        "prod_persona_no_habilitada",
        "Usted no se ecuentra habilitado.",  # sic
        Kind.NOT_SYNCED,
        "El sitio de producción aún no reconoce a la persona como habilitada.",
    ),
)


def classify(text: str | None) -> DianMessage | None:
    """The known message contained in ``text`` (longest anchor first), or None."""
    if not text:
        return None
    for message in sorted(MESSAGES, key=lambda m: len(m.anchor), reverse=True):
        if contains(text, message.anchor):
            return message
    return None


def error_for(text: str, *, action: str, retryable: bool = False) -> RobotError:
    """The error for a DIAN reply that is not a success: ``action`` says what the robot was doing
    (Spanish, e.g. "registrar la fecha de inicio en producción")."""
    message = classify(text)
    if message is not None and message.kind is Kind.HUMAN:
        return NeedsHuman(f"Al {action}: {message.explanation}", reason=message.key, dian_text=text)
    if message is not None:
        return PortalError(f"Al {action}: {message.explanation}", dian_text=text, retryable=retryable)
    return PortalError(
        f"Al {action} la DIAN respondió con un mensaje que el robot no conoce; revise la evidencia.",
        dian_text=text,
        retryable=retryable,
    )
