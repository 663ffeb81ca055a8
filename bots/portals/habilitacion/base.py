"""What every habilitación page object shares (on top of the catalogue's ``Screen``): small reads."""

from __future__ import annotations

from bots.portals.catalogo import Screen as CatalogoScreen
from bots.portals.habilitacion.modelos import Aviso

FAMILY = "habilitacion"


def squash(text: str | None) -> str:
    """Whitespace collapsed, trimmed (texts as a person reads them)."""
    return " ".join((text or "").split())


class Screen(CatalogoScreen):
    """A recognised habilitación screen (``Screen.recognise(page, locators)``)."""

    def _present(self, name: str) -> bool:
        return self.locs.get(name).count() > 0

    def _text(self, name: str) -> str:
        return squash(self.locs.require(name, state="attached").first.text_content())

    def _value(self, name: str) -> str:
        return self.locs.require(name, state="attached").first.input_value().strip()

    def _href(self, name: str) -> str | None:
        target = self.locs.get(name)
        return target.first.get_attribute("href") if target.count() else None

    def _notice(self, index: int, *, box: str, message: str, success: str, title: str | None = None) -> Aviso:
        """Wait for notification number ``index`` (0-based) of ``box`` and read it. ``message`` and
        ``title`` are locators inside the notification; ``success`` matches a successful one."""
        notice = self.locs.get(box).nth(index)
        notice.wait_for(state="attached")
        text = squash(notice.locator(self.locs.selector(message)).first.text_content())
        heading = ""
        if title is not None and notice.locator(self.locs.selector(title)).count():
            heading = squash(notice.locator(self.locs.selector(title)).first.text_content())
        return Aviso(texto=text, exito=notice.and_(self.locs.get(success)).count() > 0, titulo=heading)
