"""The selector data model: ``selectors/<family>/<version>.toml`` (format: docs/selectors-format.md).

A locator is a list of candidate Playwright selectors in order of preference plus the source that
justifies it (DIAN's view, public code that drives the live portal, the manual, or ``invented``).
A plain string is still accepted as one candidate of unknown source.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from bots.errors import RobotError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: The kinds of source a locator may cite (docs/selectors-format.md).
SOURCE_KINDS = ("view", "code", "manual", "observed", "invented")
UNSOURCED = "unknown"


class SelectorSetError(RobotError):
    """A selector file is missing or invalid (a defect of the robot: exit 1)."""


def _check_source(value: str) -> str:
    kind = value.split(":", 1)[0].strip()
    if value.strip() != "invented" and (kind not in SOURCE_KINDS or ":" not in value):
        raise ValueError(
            f"fuente inválida {value!r}: use view:<ruta>, code:<repo>/<ruta>, manual:<paso>, observed:<quién fecha> "
            "o invented"
        )
    return value.strip()


class LocatorSpec(BaseModel):
    """One logical control (or one fingerprint element): candidates in order, and their source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidates: tuple[str, ...] = Field(min_length=1)
    source: tuple[str, ...] = (UNSOURCED,)
    note: str | None = None
    many: bool = False
    irreversible: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"candidates": [value]}
        if isinstance(value, dict) and isinstance(value.get("source"), str):
            return {**value, "source": [value["source"]]}
        return value

    @field_validator("candidates")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not c.strip() for c in value):
            raise ValueError("un candidato está vacío")
        return tuple(c.strip() for c in value)

    @field_validator("source")
    @classmethod
    def _sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value == (UNSOURCED,):
            return value
        if not value:
            raise ValueError("la fuente está vacía")
        return tuple(_check_source(v) for v in value)

    @property
    def primary(self) -> str:
        return self.candidates[0]

    @property
    def sourced(self) -> bool:
        """Backed by a public source (not invented, not unknown)."""
        return any(s not in (UNSOURCED, "invented") for s in self.source)

    @property
    def invented(self) -> bool:
        return "invented" in self.source and not self.sourced


class ScreenSpec(BaseModel):
    """One screen of one portal version: fingerprint, logical locators, recordings to check against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fingerprint: tuple[LocatorSpec, ...] = Field(min_length=1)
    locators: dict[str, LocatorSpec] = Field(default_factory=dict)
    recordings: tuple[str, ...] = ()
    runtime_only: tuple[str, ...] = ()
    route: str | tuple[str, ...] | None = None

    @field_validator("locators")
    @classmethod
    def _names(cls, value: dict[str, LocatorSpec]) -> dict[str, LocatorSpec]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"nombre lógico inválido {name!r}: use minúsculas, dígitos y _")
        return value

    @model_validator(mode="after")
    def _runtime_only_known(self) -> ScreenSpec:
        unknown = sorted(set(self.runtime_only) - set(self.locators))
        if unknown:
            raise ValueError(f"runtime_only nombra localizadores que no existen: {', '.join(unknown)}")
        return self


class SetMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    portal: str
    version: str
    notes: str | None = None


class SelectorSet(BaseModel):
    """A whole ``selectors/<family>/<version>.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meta: SetMeta
    screens: dict[str, ScreenSpec] = Field(min_length=1)
    _path: Path | None = PrivateAttr(default=None)

    @field_validator("screens")
    @classmethod
    def _screen_names(cls, value: dict[str, ScreenSpec]) -> dict[str, ScreenSpec]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"nombre de pantalla inválido {name!r}: use minúsculas, dígitos y _")
        return value

    @property
    def family(self) -> str:
        return self.meta.portal

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def label(self) -> str:
        return f"{self.family}/{self.version}"


def _spanish(exc: ValidationError) -> list[str]:
    """Pydantic's errors as short Spanish lines (``screens.login.locators.Entrar: …``)."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "campo desconocido"
        lines.append(f"{where}: {message}")
    return lines


def load_set(path: Path) -> SelectorSet:
    """Load and validate one selector file; its ``[meta]`` must match ``<family>/<version>.toml``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SelectorSetError(f"No se pudo leer el archivo de selectores {path}: {exc}") from None
    try:
        selector_set = SelectorSet.model_validate(data)
    except ValidationError as exc:
        raise SelectorSetError(f"Archivo de selectores {path} inválido:\n  " + "\n  ".join(_spanish(exc))) from None
    if selector_set.meta.portal != path.parent.name or selector_set.meta.version != path.stem:
        raise SelectorSetError(
            f"{path}: [meta] dice {selector_set.label!r} pero el archivo debe llamarse "
            f"{selector_set.meta.portal}/{selector_set.meta.version}.toml"
        )
    selector_set._path = path
    return selector_set


def load_family(family: str, root: Path) -> list[SelectorSet]:
    """All versions of a family, newest name first."""
    folder = root / family
    files = sorted(folder.glob("*.toml"), key=lambda p: p.stem, reverse=True) if folder.is_dir() else []
    if not files:
        raise SelectorSetError(f"No hay conjuntos de selectores para «{family}» en {folder}.")
    return [load_set(p) for p in files]
