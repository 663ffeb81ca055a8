"""MUISCA (muisca.dian.gov.co) page objects: one class per screen, one human step per method.

- ``login``: M-01 in both known versions (``LoginAngular``, ``LoginJsf``) behind ``iniciar_sesion``.
- ``tablero``: M-02. ``numeracion``: M-03 … M-08, M-11, M-12. ``firma``: M-09 and M-10.
- ``firmador``: the signing sub-machine K (clave dinámica + firma electrónica).
- ``ingresos``: logins DIAN rejected (never resent). ``modelo``: the request, without Playwright.
- Irreversible clicks go through the shared step journal (``bots.steps``), held by ``base.Sesion``.

Selectors live in ``selectors/muisca/{2026,legacy}.toml``; nothing here holds raw CSS.
"""
