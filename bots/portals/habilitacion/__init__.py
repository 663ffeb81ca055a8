"""Page objects and the shared session of DIAN's habilitación site (catalogo-vpfe-hab), screens H-01..H-11.

- ``inicio``: H-01 dashboard; H-08 "Registrar fecha de inicio salida a producción", H-09 (RUT
  responsibility 52/S2 confirmation) and the H-10 answer, which DIAN shows on top of it.
- ``facturador``: H-02 document types, H-03 "Facturador electrónico", H-04 registration
  confirmation, H-11 "Sincronizar Contribuyente a producción" (confirmation and answer).
- ``modos``: H-05/H-06 "Configurar modos de operación" and its list, H-07 "Set de pruebas".
- ``modelos``: the typed data those screens show (``EstadoFacturador``, ``ModoOperacion``, ...).
- DIAN's messages on these screens are data in ``bots/mensajes_dian.toml`` (``bots.mensajes``).
- ``procesos``: the signed-in session and helpers the processes share (the processes P1–P4 are in flows/).
- ``entrega``: the hand-off file for the technology provider (Software Id, PIN, TestSetId).

Selectors: ``selectors/habilitacion/<version>.toml``; the token login is ``bots.portals.catalogo``.
"""
