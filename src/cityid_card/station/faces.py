"""Card faces for a batch: checked before any card is touched, rendered from each card.

A face is laid out from the applicant's data and the credential's QR code
(:mod:`cityid_card.face`). What the renderer cannot print right (a name written right
to left, a character the font lacks, as CJK names in the default font) is known before
the card: :meth:`CardFaces.check` lays out the face of the largest credential the
applicant's card could hold (the highest status index, a chip's key or, for a sealed
NFC tag, the tag's key and UID, whichever makes the QR code larger: the QR code is then
at its largest and the text column at its narrowest), so a face that passes the check
prints for whatever card the batch then makes. The face of a sealed tag carries the
tag's key in its QR code (``CIDS1:``, ``specs/qr.md``): the only place the key is kept. Everything stays in memory; a batch
keeps each face through its ``face_sink`` before the card's record
(:class:`cityid_card.station.FaceFolder` writes the files).

Needs the ``face`` extra (segno, ReportLab, Pillow).
"""

from __future__ import annotations

import os

from cityid_card import qr
from cityid_card.credential import Credential
from cityid_card.errors import FaceError
from cityid_card.face import DEFAULT_TITLE, FORMATS, CardFace, FaceFormat, _fonts
from cityid_card.keys import PublicKey
from cityid_card.type2 import seal

from ._largest import largest_credential

__all__ = ["CardFaces"]

#: The stand-in for a sealed tag's key in the largest face's QR code.
_STAND_IN_SEAL_KEY = bytes(seal.KEY_SIZE)


class CardFaces:
    """The faces of a batch's cards, all with one title and font, in ``formats``.

    ``sealed_tags``: the batch seals the NFC tags it writes (the default, see
    :class:`~cityid_card.station.BatchOptions`), so a face may carry a tag's key. Fonts
    are loaded at once, so a missing font raises FaceError before the batch starts.
    """

    def __init__(
        self,
        issuer: PublicKey,
        *,
        formats: tuple[FaceFormat, ...] = ("pdf",),
        dpi: int = 300,
        title: str = DEFAULT_TITLE,
        font: str | os.PathLike[str] | None = None,
        bold_font: str | os.PathLike[str] | None = None,
        sealed_tags: bool = True,
    ) -> None:
        if not formats or any(fmt not in FORMATS for fmt in formats):
            raise FaceError("the face formats must be pdf, png or svg")
        if "png" in formats and not 100 <= dpi <= 2400:
            raise FaceError("dpi must be 100 to 2400")
        _fonts(font, bold_font)
        self._issuer = issuer
        self._sealed_tags = sealed_tags
        self.formats = formats
        self._dpi = dpi
        self._title = title
        self._font = font
        self._bold_font = bold_font

    def check(self, credential: Credential) -> None:
        """Raise FaceError if the face of any card issued with ``credential`` cannot print.

        ``credential`` must carry its issue date. The face is laid out with a stand-in
        for the QR code as large as the card's can be: a chip card's, or, when tags are
        sealed, a sealed tag's (its key and credential) if that is larger. The stand-in's
        bytes are never signed and never leave this method; the message names the field,
        never its value.
        """
        chip, chip_blob = largest_credential(self._issuer, credential, tag=False)
        faces: list[tuple[int, Credential, bytes, bytes | None]] = [
            (len(qr.encode(chip_blob)), chip, chip_blob, None)
        ]
        if self._sealed_tags:
            tag, tag_blob = largest_credential(self._issuer, credential, tag=True)
            text = qr.encode_sealed(tag_blob, _STAND_IN_SEAL_KEY)
            faces.append((len(text), tag, tag_blob, _STAND_IN_SEAL_KEY))
        _, largest, blob, seal_key = max(faces, key=lambda face: face[0])
        CardFace(
            largest,
            blob,
            title=self._title,
            font=self._font,
            bold_font=self._bold_font,
            seal_key=seal_key,
        )

    def render(self, blob: bytes, *, seal_key: bytes | None = None) -> dict[FaceFormat, bytes]:
        """The face of the credential ``blob`` just written to a card, in each format.

        ``seal_key``: the card is an NFC tag sealed under it; the key goes in the QR code.
        """
        face = CardFace.from_credential(
            blob,
            title=self._title,
            font=self._font,
            bold_font=self._bold_font,
            seal_key=seal_key,
        )
        return {fmt: face.render(fmt, dpi=self._dpi) for fmt in self.formats}
