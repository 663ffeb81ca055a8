"""What the habilitación page objects add to the one base (``bots.portals.base.Screen``): reading
the catalogue's Nifty notifications."""

from __future__ import annotations

from bots.portals.base import Screen as BaseScreen
from bots.portals.habilitacion.modelos import Aviso
from bots.text import squash

FAMILY = "habilitacion"


class Screen(BaseScreen):
    """A recognised habilitación screen (``Screen.recognise(page, locators)``)."""

    def _notice(self, index: int, *, box: str, message: str, success: str, title: str | None = None) -> Aviso:
        """Wait for notification number ``index`` (0-based) of ``box`` and read it. ``message`` and
        ``title`` are locators inside the notification; ``success`` matches a successful one."""
        notice = self.locs.get(box).nth(index)
        notice.wait_for(state="attached")
        text = squash(self.locs.within(notice, message).first.text_content())
        heading = ""
        if title is not None and self.locs.within(notice, title).count():
            heading = squash(self.locs.within(notice, title).first.text_content())
        return Aviso(texto=text, exito=notice.and_(self.locs.get(success)).count() > 0, titulo=heading)
