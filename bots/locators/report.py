"""The provenance report: per portal, how many locators rest on a public source and how many are invented."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bots.locators.model import UNSOURCED, LocatorSpec, SelectorSet, load_family


@dataclass
class Provenance:
    """Counts for one selector set (fingerprint elements and locators together)."""

    label: str
    total: int = 0
    sourced: int = 0
    invented: int = 0
    unknown: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    invented_names: list[str] = field(default_factory=list)
    unknown_names: list[str] = field(default_factory=list)

    def add(self, name: str, spec: LocatorSpec) -> None:
        self.total += 1
        if spec.sourced:
            self.sourced += 1
            self.kinds.update({s.split(":", 1)[0] for s in spec.source if s not in (UNSOURCED, "invented")})
        elif spec.invented:
            self.invented += 1
            self.invented_names.append(name)
        else:
            self.unknown += 1
            self.unknown_names.append(name)


def provenance(selector_set: SelectorSet) -> Provenance:
    result = Provenance(selector_set.label)
    for screen, spec in selector_set.screens.items():
        for index, element in enumerate(spec.fingerprint):
            result.add(f"{screen}.huella[{index}]", element)
        for name, locator in spec.locators.items():
            result.add(f"{screen}.{name}", locator)
    return result


def report(selectors_dir: Path, *, detail: bool = False) -> list[str]:
    """Spanish lines: one per selector set, plus the invented ones with ``detail``."""
    lines = [f"{'conjunto':<24} {'total':>5} {'con fuente':>10} {'inventados':>10} {'sin fuente':>10}  fuentes"]
    families = sorted(p.name for p in selectors_dir.iterdir() if p.is_dir()) if selectors_dir.is_dir() else []
    for family in families:
        for selector_set in load_family(family, selectors_dir):
            p = provenance(selector_set)
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(p.kinds.items()))
            lines.append(f"{p.label:<24} {p.total:>5} {p.sourced:>10} {p.invented:>10} {p.unknown:>10}  {kinds}")
            if detail:
                lines += [f"    inventado: {name}" for name in p.invented_names]
                lines += [f"    sin fuente: {name}" for name in p.unknown_names]
    return lines
