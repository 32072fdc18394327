"""Card faces for a batch: checked before any card is touched, rendered from each card.

A face is laid out from the applicant's data and the credential's QR code
(:mod:`cityid_card.face`). What the renderer cannot print right (a name written right
to left, a character the font lacks, as CJK names in the default font) is known before
the card: :meth:`CardFaces.check` lays out the face of the largest credential the
applicant's card could hold (the highest status index, a chip's key: the QR code is
then at its largest and the text column at its narrowest), so a face that passes the
check prints for whatever card the batch then makes. Everything stays in memory; the
command line writes the files (:func:`cityid_card.station.files.FaceFolder`).

Needs the ``face`` extra (segno, ReportLab, Pillow).
"""

from __future__ import annotations

import os
from dataclasses import replace

from cityid_card import _algorithms, _cbor, cose
from cityid_card.credential import MAX_STATUS_INDEX, Credential
from cityid_card.errors import FaceError
from cityid_card.face import DEFAULT_TITLE, FORMATS, CardFace, FaceFormat, _fonts
from cityid_card.keys import PublicKey

__all__ = ["CardFaces"]

#: The size of the largest key binding a card can carry: a chip's compressed P-256 key
#: (a tag's UID is 4 to 10 bytes).
_LARGEST_BINDING = b"\x02" + bytes(32)


class CardFaces:
    """The faces of a batch's cards, all with one title and font, in ``formats``.

    Fonts are loaded at once, so a missing font raises FaceError before the batch starts.
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
    ) -> None:
        if not formats or any(fmt not in FORMATS for fmt in formats):
            raise FaceError("the face formats must be pdf, png or svg")
        if "png" in formats and not 100 <= dpi <= 2400:
            raise FaceError("dpi must be 100 to 2400")
        _fonts(font, bold_font)
        self._protected = _cbor.dumps(
            {
                cose.HEADER_ALG: _algorithms.COSE_ALGORITHM[issuer.alg],
                cose.HEADER_KID: issuer.wire_kid,
            }
        )
        self.formats = formats
        self._dpi = dpi
        self._title = title
        self._font = font
        self._bold_font = bold_font

    def check(self, credential: Credential) -> None:
        """Raise FaceError if the face of any card issued with ``credential`` cannot print.

        ``credential`` must carry its issue date. The face is laid out with a stand-in
        for the QR code as large as the card's can be (its bytes are never signed, and
        never leave this method); the message names the field, never its value.
        """
        largest = replace(credential, status_index=MAX_STATUS_INDEX, card_key=_LARGEST_BINDING)
        payload = _cbor.dumps(largest.to_claims())
        stand_in = cose.Sign1(self._protected, payload, bytes(_algorithms.SIGNATURE_SIZE))
        CardFace(
            largest,
            stand_in.encode(),
            title=self._title,
            font=self._font,
            bold_font=self._bold_font,
        )

    def render(self, blob: bytes) -> dict[FaceFormat, bytes]:
        """The face of the credential ``blob`` just written to a card, in each format."""
        face = CardFace.from_credential(
            blob,
            title=self._title,
            font=self._font,
            bold_font=self._bold_font,
        )
        return {fmt: face.render(fmt, dpi=self._dpi) for fmt in self.formats}
