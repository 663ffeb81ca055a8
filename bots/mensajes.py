"""DIAN's messages, as data, behind one classifier.

``bots/mensajes_dian.toml`` lists every DIAN text the robot knows (the file's header says its format):
where DIAN shows it, its verbatim words, the anchors to look for, what it means (``Kind``) and the Spanish
explanation for the operator. Two calls use it:

    clasificar(texto, "habilitacion")            # the known message inside ``texto``, or None
    error_para(texto, "habilitacion", "asociar el software")   # the RobotError for a reply that is not a success

Matching folds case, accents, spacing and dashes (``bots.text.fold``); when several messages match, the
longest anchor wins. The file is read and validated once, on first use.
"""

from __future__ import annotations

import re
import tomllib
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from bots.errors import NeedsHuman, PortalError, RobotError
from bots.text import fold

__all__ = [
    "DATA",
    "PORTALS",
    "Kind",
    "MensajeDian",
    "MensajesInvalidos",
    "cargar",
    "clasificar",
    "error_para",
    "mensajes",
]

DATA = Path(__file__).with_name("mensajes_dian.toml")

Portal = Literal["habilitacion", "produccion", "catalogo_ingreso", "muisca_ingreso", "muisca_firma"]
#: Where DIAN shows a message: a catalogue site's screens, the catalogue token login, MUISCA's login, the
#: firma electrónica window.
PORTALS: tuple[str, ...] = ("habilitacion", "produccion", "catalogo_ingreso", "muisca_ingreso", "muisca_firma")

#: The kinds of source a message may cite (the grammar of selector sources, docs/selectors-format.md).
SOURCE_KINDS = ("view", "code", "manual", "observed")
_KEY = re.compile(r"[a-z][a-z0-9_]*")
#: Separates the parts of an anchor that must all be present.
_AND = "…"


class Kind(StrEnum):
    """What a message means for the step that produced it."""

    EXITO = "exito"  # the action was done now
    YA_HECHO = "ya_hecho"  # the action had been done before: verify by reading and go on
    RECHAZO = "rechazo"  # DIAN refused: PortalError
    HUMANO = "humano"  # a person must decide: NeedsHuman
    ESPERA = "espera"  # DIAN asks to wait before trying again: retryable PortalError
    NO_SINCRONIZADO = "no_sincronizado"  # the production site does not let the company in yet
    REINTENTABLE = "reintentable"  # a transient failure on DIAN's side: retryable PortalError


class MensajesInvalidos(RobotError):
    """The messages file is missing or invalid (a defect of the robot: exit 1)."""


class MensajeDian(BaseModel):
    """One known DIAN text and what the robot does with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    portals: tuple[Portal, ...]
    text: str
    match: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    kind: Kind
    reason: str | None = None
    explanation: str
    source: tuple[str, ...]
    note: str = ""

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("source")
    @classmethod
    def _sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("falta la fuente (source)")
        for item in value:
            kind, sep, rest = item.partition(":")
            if item != "invented" and (kind not in SOURCE_KINDS or not sep or not rest.strip()):
                raise ValueError(
                    f"fuente inválida {item!r}: use view:<ruta>, code:<repo>/<ruta>, manual:<paso>, "
                    "observed:<quién fecha> o invented"
                )
        return value

    @field_validator("text", "explanation")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("no puede estar vacío")
        return value

    @field_validator("match", "unless")
    @classmethod
    def _anchors(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for anchor in value:
            if not all(fold(part) for part in anchor.split(_AND)):
                raise ValueError(f"ancla vacía en {anchor!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MensajeDian:
        if not self.portals:
            raise ValueError("falta portals")
        if (self.kind is Kind.HUMANO) != bool(self.reason):
            raise ValueError("reason va con kind = 'humano', y solo con él")
        if "invented" in self.source and not self.note.strip():
            raise ValueError("un texto inventado necesita una nota (note) que diga por qué")
        if not self.score(self.text):
            raise ValueError("ninguna ancla (match) aparece en el propio texto de la DIAN")
        return self

    @property
    def anchors(self) -> tuple[str, ...]:
        """What is looked for: the ``match`` anchors, or else DIAN's whole text."""
        return self.match or (self.text,)

    @property
    def retryable(self) -> bool:
        """Trying again later may succeed."""
        return self.kind in (Kind.ESPERA, Kind.REINTENTABLE)

    def score(self, texto: str | None) -> int:
        """How much of ``texto`` this message explains: the folded length of its longest anchor found
        in it (every part of an "a … b" anchor present), 0 when none is (or an ``unless`` text is)."""
        shown = fold(texto)
        if not shown or any(_found(shown, anchor) for anchor in self.unless):
            return 0
        return max((_size(anchor) for anchor in self.anchors if _found(shown, anchor)), default=0)


def _parts(anchor: str) -> list[str]:
    return [fold(part) for part in anchor.split(_AND)]


def _found(folded: str, anchor: str) -> bool:
    return all(part in folded for part in _parts(anchor))


def _size(anchor: str) -> int:
    return sum(len(part) for part in _parts(anchor))


def cargar(path: Path = DATA) -> dict[str, MensajeDian]:
    """Read and validate a messages file: key → message, in the file's order."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MensajesInvalidos(f"No se pudo leer el archivo de mensajes de la DIAN {path.name}: {exc}") from None
    found: dict[str, MensajeDian] = {}
    for key, entry in data.items():
        if not isinstance(entry, dict):
            raise MensajesInvalidos(f"{path.name}: «{key}» no es una tabla de mensaje")
        if not _KEY.fullmatch(key):
            raise MensajesInvalidos(f"{path.name}: clave de mensaje inválida «{key}»")
        try:
            found[key] = MensajeDian(key=key, **entry)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or key}: {e['msg']}" for e in exc.errors())
            raise MensajesInvalidos(f"{path.name}: mensaje «{key}» inválido ({problems})") from None
    if not found:
        raise MensajesInvalidos(f"{path.name} no tiene mensajes")
    return found


@cache
def mensajes() -> dict[str, MensajeDian]:
    """The robot's messages file, read once."""
    return cargar(DATA)


def clasificar(texto: str | None, portal: str) -> MensajeDian | None:
    """The known message of ``portal`` contained in ``texto`` (longest anchor first), or None."""
    if portal not in PORTALS:
        raise ValueError(f"portal desconocido para los mensajes de la DIAN: {portal!r}")
    best: MensajeDian | None = None
    best_score = 0
    for message in mensajes().values():
        if portal in message.portals and (score := message.score(texto)) > best_score:
            best, best_score = message, score
    return best


def error_para(
    texto: str,
    portal: str,
    accion: str | None = None,
    *,
    retryable: bool = False,
    desconocido: str | None = None,
) -> RobotError:
    """The error for a DIAN reply that is not a success, with DIAN's words in ``dian_text``.

    ``accion`` says what the robot was doing (Spanish, e.g. "registrar el facturador"); it starts the
    message ("Al registrar el facturador: …"). A known message gives its kind's error (``humano``:
    NeedsHuman with its reason; ``espera``/``reintentable``: a retryable PortalError; otherwise a
    PortalError). An unknown text gives a PortalError (``desconocido`` as its message, if given) that is
    retryable when ``retryable`` says so.
    """
    known = clasificar(texto, portal)
    prefix = f"Al {accion}: " if accion else ""
    if known is None:
        if desconocido is None:
            desconocido = (
                f"Al {accion} la DIAN respondió con un mensaje que el robot no conoce; revise la evidencia."
                if accion
                else "La DIAN respondió con un mensaje que el robot no conoce; revise la evidencia."
            )
        return PortalError(desconocido, dian_text=texto, retryable=retryable)
    if known.kind is Kind.HUMANO:
        return NeedsHuman(prefix + known.explanation, reason=known.reason, dian_text=texto)
    return PortalError(prefix + known.explanation, dian_text=texto, retryable=known.retryable)
