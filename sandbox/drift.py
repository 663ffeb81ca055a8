"""Drift: change the portal's HTML the way real sites change, to prove the robot survives or stops safely.

Each transformation rewrites every HTML page the portal hosts serve (never the control API):

- ``envolver``: an extra ``<div>`` wrapped around the content of every form and of ``<body>``;
- ``sin_clases``: layout classes removed (grid, panels, buttons' colours, form groups, text helpers);
- ``opciones``: the ``<option>``s of every ``<select>`` in reverse order (a placeholder stays first);
- ``columna``: a column inserted as the second column of every table;
- ``etiquetas``: labels, headers, button and link texts upper-cased with doubled inner spaces (links
  inside table cells hold data and stay as they are);
- ``ids``: every ``id`` renamed; ``for``, ``data-id``, ``#id`` references and the page's inline scripts
  and styles follow (a site renaming its ids ships its scripts with them);
- ``boton``: DIAN's action buttons relabelled ("Entrar" → "Continuar al portal", …);
- ``superposicion``: an announcement modal injected over every signed-in page.

The first five must not change any flow's result; the last three must end in a safe stop
(or, for ``ids``, complete through fallback candidates). ``World.drift`` holds the active set.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import lxml.html
from lxml.html import HtmlElement

# Only classes that style: a button's colour/size classes go, its behaviour hooks stay (DIAN's own
# scripts bind "$('.btn-add-prefix')", ".btn-save", ".btn-sync-to-production"; removing those would break
# the page for a person too, which is not how a site drifts).
LAYOUT_CLASS = re.compile(
    r"^(col-\S+|row|container(-fluid)?|panel(-\S+)?|"
    r"btn-(default|primary|secondary|success|info|warning|danger|link|lg|sm|xs|block|hover-\S+|gosocket|radian-\S+)|"
    r"form-group|form-control|table-\S+|text-\S+|"
    r"pull-\S+|well|card-(body|header|footer|title)|media-body|clearfix|hidden-\S+|visible-\S+)$"
)
RELABEL = {
    "Entrar": "Continuar al portal",
    "Ingresar": "Continuar al portal",
    "Aceptar": "Confirmar",
    "Agregar": "Añadir",
    "Asociar": "Vincular",
    "Registrar": "Inscribir",
    "Firmar": "Suscribir",
}
_SIGNED_IN = ("logoutForm", "vistaDashboard", "frmDashboard")


def _wrap(root: HtmlElement) -> None:
    for parent in [*root.iter("form"), *root.iter("body")]:
        wrapper = lxml.html.Element("div", {"class": "drift-envoltura"})
        wrapper.text, parent.text = parent.text, None
        for child in list(parent):
            if child.tag == "script":
                continue
            wrapper.append(child)
        parent.insert(0, wrapper)


def _strip_classes(root: HtmlElement) -> None:
    for el in root.iter():
        if not isinstance(el.tag, str) or "class" not in el.attrib:
            continue
        kept = [c for c in el.get("class", "").split() if not LAYOUT_CLASS.match(c)]
        el.set("class", " ".join(kept))


def _reorder_options(root: HtmlElement) -> None:
    for select in root.iter("select"):
        options = [o for o in select if o.tag == "option"]
        placeholder = options[:1] if options and not (options[0].get("value") or "").strip() else []
        rest = options[len(placeholder) :]
        for option in rest:
            select.remove(option)
        for option in reversed(rest):
            select.append(option)


def _insert_column(root: HtmlElement) -> None:
    for table in root.iter("table"):
        for row in table.iter("tr"):
            cells = [c for c in row if c.tag in ("td", "th")]
            if not cells or (len(cells) == 1 and cells[0].get("colspan")):
                continue
            tag = "th" if cells[0].tag == "th" else "td"
            cell = lxml.html.Element(tag)
            cell.text = "Observaciones" if tag == "th" else "—"
            row.insert(row.index(cells[0]) + 1, cell)


def _recase(root: HtmlElement) -> None:
    # Links inside table cells are DIAN's data (a state word, a software name: _listOperationModes.cshtml
    # wraps every cell's value in an <a>), not labels: a restyle of the labels leaves them as they are.
    for el in root.iter("label", "th", "button", "a"):
        if el.tag == "a" and any(a.tag == "td" for a in el.iterancestors()):
            continue
        if el.text and el.text.strip():
            el.text = "  " + "  ".join(el.text.strip().upper().split()) + " "


#: Attributes that point at an element by id (``#id`` or a list of ids), besides ``for`` and ``data-id``.
_ID_REFERENCES = ("href", "data-target", "data-parent", "aria-controls", "aria-labelledby", "aria-describedby")


def _rename_ids(root: HtmlElement) -> None:
    """Every id renamed, and what points at it follows: ``for``, ``data-id``, ``#id`` references and the
    page's own inline scripts and styles (a site that renames its ids ships its scripts with them)."""
    renamed: dict[str, str] = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in ("script", "style"):
            continue
        value = el.get("id")
        if value:
            renamed[value] = f"{value}Nuevo"
            el.set("id", renamed[value])
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("for", "data-id"):  # data-id is also DIAN's data (a contributor number): only ids follow
            value = el.get(attr)
            if value and value in renamed:
                el.set(attr, renamed[value])
        for attr in _ID_REFERENCES:
            value = el.get(attr)
            if value and value.startswith("#") and value[1:] in renamed:
                el.set(attr, f"#{renamed[value[1:]]}")
            elif value and attr.startswith("aria-") and all(v in renamed for v in value.split()):
                el.set(attr, " ".join(renamed[v] for v in value.split()))
    if not renamed:
        return
    names = "|".join(re.escape(i) for i in sorted(renamed, key=len, reverse=True) if len(i) > 2)
    if not names:
        return
    # "#id" in selectors and CSS; 'id' / "id" as whole string literals (getElementById, jQuery).
    pattern = re.compile(rf"(?<=#)({names})(?![\w-])|(?<=['\"])({names})(?=['\"])")
    for el in root.iter("script", "style"):
        if el.text and not el.get("src"):
            el.text = pattern.sub(lambda m: renamed[m.group(0)], el.text)


def _relabel(root: HtmlElement) -> None:
    for el in root.iter("button", "a", "input"):
        if el.tag == "input" and el.get("type") in ("submit", "button"):
            label = (el.get("value") or "").strip()
            if label in RELABEL:
                el.set("value", RELABEL[label])
            continue
        label = " ".join(el.text_content().split())
        if label in RELABEL:
            for child in list(el):
                if not isinstance(child.tag, str) or child.tag != "i":
                    el.remove(child)
                else:
                    child.tail = None  # the old label often follows an icon: <i></i> Entrar
            el.text = RELABEL[label]


def _overlay(root: HtmlElement) -> None:
    signed_in = " or ".join(f"contains(@id, '{i}')" for i in _SIGNED_IN)
    if not root.xpath(f"//*[{signed_in}]"):
        return
    bodies = root.xpath("//body")
    if not bodies:
        return
    modal = lxml.html.fragment_fromstring(
        '<div class="modal fade in" id="anuncio-drift" role="dialog" aria-modal="true" tabindex="-1" '
        'style="display:block;position:fixed;inset:0;z-index:20000;background:rgba(0,0,0,.5)">'
        '<div class="modal-dialog"><div class="modal-content" style="background:#fff;padding:2em">'
        "<h4>Anuncio importante</h4><p>Nueva versión del servicio informático electrónico. Lea las novedades.</p>"
        '<button type="button" class="btn btn-primary">Entendido</button></div></div></div>'
    )
    bodies[0].append(modal)


TRANSFORMS: dict[str, Callable[[HtmlElement], None]] = {
    "envolver": _wrap,
    "sin_clases": _strip_classes,
    "opciones": _reorder_options,
    "columna": _insert_column,
    "etiquetas": _recase,
    "ids": _rename_ids,
    "boton": _relabel,
    "superposicion": _overlay,
}
#: Transformations that must leave every flow's result and the sandbox journal unchanged.
BENIGN = ("envolver", "sin_clases", "opciones", "columna", "etiquetas")


def apply(html: bytes, names: set[str] | frozenset[str]) -> bytes:
    """``html`` with the named transformations applied, in the order of ``TRANSFORMS``."""
    unknown = set(names) - set(TRANSFORMS)
    if unknown:
        raise ValueError(f"unknown drift transformations: {sorted(unknown)}")
    if not names or not html.strip():
        return html
    root = lxml.html.document_fromstring(html.decode("utf-8", "replace"))
    for name, transform in TRANSFORMS.items():
        if name in names:
            transform(root)
    return b"<!DOCTYPE html>\n" + lxml.html.tostring(root, encoding="utf-8")
