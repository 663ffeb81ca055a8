"""A chain of processes declared as data: each step names the function that runs it ("module:function").

A chaining flow (e.g. ``flows.habilitacion``) lists its steps by name and resolves them here, so it never
imports another flow's internals; each step is called with the shared session and the inputs it names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChainStep:
    """One step: its key (reports, messages), ``module:function`` and the inputs passed after the session."""

    key: str
    target: str
    inputs: tuple[str, ...] = ()

    def resolve(self) -> Callable[..., Any]:
        """The step's function, imported by name (a wrong name is a defect: it raises at once)."""
        module_name, _, function = self.target.partition(":")
        found = getattr(importlib.import_module(module_name), function, None)
        if not callable(found):
            raise LookupError(f"step {self.key!r}: {self.target!r} is not a function")
        return found

    def run(self, session: Any, options: Mapping[str, Any]) -> Any:
        """Call the step's function with ``session`` and the inputs it names, taken from ``options``."""
        return self.resolve()(session, *(options[name] for name in self.inputs))
