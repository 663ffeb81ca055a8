"""Recorded pages, filled with per-client state.

The HTML of every screen comes from recordings/ (one source of truth). A portal module loads the
recording of a screen and state through the manifests, then patches it with lxml and CSS selectors:

    page = load_page("catalogo", "2026", "P-02", "con-opciones")
    page.set_value("#ContributorCode", client.nit)
    page.fill_options("select#SoftwareId", [(sw_id, "CADENA S. A. - 890930534efacturacadena")])
    return HTMLResponse(page.html())
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import html as lxml_html
from lxml.etree import _Element

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"


@dataclass(frozen=True)
class Recording:
    family: str
    file: Path
    version: str
    screen: str
    state: str
    portals: tuple[str, ...]
    route: str


class RecordingNotFound(LookupError):
    pass


@cache
def manifest(family: str) -> tuple[list[Recording], dict[str, str]]:
    """All recordings of a family, and each version's parent (`[versions.<v>] inherits = "<parent>"`)."""
    path = RECORDINGS / family / "manifest.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = [
        Recording(
            family=family,
            file=path.parent / item["file"],
            version=str(item["version"]),
            screen=str(item["screen"]).upper(),
            state=str(item.get("state", "")),
            portals=tuple(item.get("portal", ())),
            route=str(item.get("route", "")),
        )
        for item in data.get("screen", [])
    ]
    parents = {str(v): str(meta["inherits"]) for v, meta in data.get("versions", {}).items() if "inherits" in meta}
    return entries, parents


def find_recording(family: str, version: str, screen: str, state: str | None = None) -> Recording:
    """The recording of a screen (and state) in a version, or in the version it inherits from."""
    entries, parents = manifest(family)
    wanted = screen.upper()
    seen: set[str] = set()
    current: str | None = version
    while current is not None and current not in seen:
        seen.add(current)
        for entry in entries:
            if entry.version == current and entry.screen == wanted and (state is None or entry.state == state):
                return entry
        current = parents.get(current)
    raise RecordingNotFound(f"{family}/{version}: no recording of {screen} state={state!r}")


@cache
def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_page(family: str, version: str, screen: str, state: str | None = None) -> Page:
    """A fresh, patchable copy of the recorded page."""
    return Page(_source(find_recording(family, version, screen, state).file))


class Page:
    """A recorded HTML document that a portal module patches before serving it."""

    def __init__(self, source: str) -> None:
        self.doc = lxml_html.document_fromstring(source)

    # -- finding -------------------------------------------------------------------------------
    def select(self, css: str) -> list[_Element]:
        return self.doc.cssselect(css)

    def one(self, css: str) -> _Element:
        found = self.select(css)
        if not found:
            raise LookupError(f"recording has no element for {css!r}")
        return found[0]

    def has(self, css: str) -> bool:
        return bool(self.select(css))

    # -- patching ------------------------------------------------------------------------------
    def set_text(self, css: str, text: str) -> Page:
        """Replace the content of every matching element with plain text."""
        for el in self.select(css):
            for child in list(el):
                el.remove(child)
            el.text = text
        return self

    def set_value(self, css: str, value: str) -> Page:
        """Set a form control's value: input value, textarea text, or the selected option."""
        for el in self.select(css):
            if el.tag == "textarea":
                el.text = value
            elif el.tag == "select":
                for opt in el.iter("option"):
                    if opt.get("value", opt.text_content()) == value:
                        opt.set("selected", "selected")
                    elif "selected" in opt.attrib:
                        del opt.attrib["selected"]
            else:
                el.set("value", value)
        return self

    def set_attr(self, css: str, name: str, value: str | None) -> Page:
        """Set (or with None, remove) an attribute on every matching element."""
        for el in self.select(css):
            if value is None:
                el.attrib.pop(name, None)
            else:
                el.set(name, value)
        return self

    def remove(self, css: str) -> Page:
        for el in self.select(css):
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)
        return self

    def append_html(self, css: str, fragment: str) -> Page:
        """Append an HTML fragment inside the first matching element."""
        target = self.one(css)
        for el in lxml_html.fragments_fromstring(fragment):
            if isinstance(el, str):
                target.text = (target.text or "") + el
            else:
                target.append(el)
        return self

    def replace_text(self, old: str, new: str) -> Page:
        """Replace a recorded example value (e.g. the placeholder NIT) in all text and attributes."""
        for el in self.doc.iter():
            if not isinstance(el.tag, str):
                continue
            if el.text and old in el.text:
                el.text = el.text.replace(old, new)
            if el.tail and old in el.tail:
                el.tail = el.tail.replace(old, new)
            for key, val in el.attrib.items():
                if old in val:
                    el.set(key, val.replace(old, new))
        return self

    def fill_rows(
        self,
        row_css: str,
        rows: Iterable[Sequence[str | None]],
        customize: Callable[[_Element, int], None] | None = None,
    ) -> Page:
        """Replace the recorded example rows with one clone of the first per data row.

        A string replaces the text of the cell at that position; None keeps the recorded cell
        (links and buttons in "Acciones" columns). `customize(row, index)` can patch more.
        """
        template_rows = self.select(row_css)
        if not template_rows:
            raise LookupError(f"recording has no row for {row_css!r}")
        template = template_rows[0]
        parent = template.getparent()
        position = parent.index(template)
        for el in template_rows:
            el.getparent().remove(el)
        for i, values in enumerate(rows):
            row = copy.deepcopy(template)
            row.tail = template.tail
            cells = [c for c in row if c.tag in ("td", "th")]
            for cell, value in zip(cells, values, strict=False):
                if value is not None:
                    for child in list(cell):
                        cell.remove(child)
                    cell.text = value
            if customize is not None:
                customize(row, i)
            parent.insert(position + i, row)
        return self

    def fill_options(
        self, select_css: str, options: Iterable[tuple[str, str]], keep_first: bool = True
    ) -> Page:
        """Rebuild a native <select>'s options (keeping the "Seleccione..." placeholder).

        Pages that decorate selects (bootstrap-select, mat-select) must build their widget from the
        native options in their own script, so this stays the one place options come from.
        """
        for sel in self.select(select_css):
            existing = list(sel.iter("option"))
            for opt in existing[1 if keep_first and existing else 0 :]:
                opt.getparent().remove(opt)
            for value, text in options:
                opt = lxml_html.Element("option", value=value)
                opt.text = text
                sel.append(opt)
        return self

    def html(self) -> str:
        return "<!DOCTYPE html>\n" + lxml_html.tostring(self.doc, encoding="unicode")
