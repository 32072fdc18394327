"""cityid-card-pcsc: contact smartcards in PC/SC readers, for cityid-card.

Installed, it registers the ``pcsc`` reader URI scheme in the ``cityid_card.drivers``
entry-point group; use it through :func:`cityid_card.drivers.connect`, e.g.
``connect("pcsc")`` or ``cityid-card verify --reader pcsc:0``. The driver itself is
:class:`cityid_card_pcsc.pcsc.PcscDriver` (importing it imports pyscard); the reader
kept open between taps (``open_reader("pcsc")``, ``cityid-card watch``) is
:class:`cityid_card_pcsc.pcsc.PcscReader`, one PC/SC context for its life.
"""

from __future__ import annotations

__version__ = "0.1.0"
