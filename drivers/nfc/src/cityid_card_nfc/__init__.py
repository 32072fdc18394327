"""cityid-card-nfc: NFC readers, NTAG21x tags and ISO-DEP cards for cityid-card, on nfcpy.

Installed, it registers the reader URI scheme ``nfc`` (``nfc:usb``, ``nfc:tty:USB0:pn532``)
in the ``cityid_card.drivers`` entry-point group, and the emulated readers
``sim:ntag213``, ``sim:ntag215``, ``sim:ntag216`` and ``sim:isodep`` in
``cityid_card.simulators``. Modules: :mod:`.driver` (real readers), :mod:`.emulator`
(tags and a reader nfcpy drives), :mod:`.sim` (the emulated readers). Importing this
package does not import nfcpy.
"""

from __future__ import annotations

__version__ = "0.1.0"
