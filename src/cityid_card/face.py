"""Printable card faces: the front of a CR80 card with its printed fields and a QR code.

The face shows exactly what the credential holds (name, date of birth, self-designated
gender when there is one, issue and expiry dates) beside the holder's photo, or a box
for it, and a QR code (:mod:`cityid_card.qr`, ``specs/qr.md``) whose text depends on the
card:

- a card without a chip: the same signed bytes (``CID1:``), so anyone with a camera can
  verify the card;
- a card with a sealed NFC tag (``seal_key``): the tag's key and the credential
  (``CIDS1:``), so a verifier who sees the card can open the tag;
- a generation-2 chip card (``can``): only its 6-digit Card Access Number (``CIDC1:``),
  also printed under the code, so a reader must see the card to open its chip.

Nothing else about the holder is printed: there is no field for it. The title (the
city's card name) is the same on every card.

Everything is rendered in memory and returned as bytes: PDF (vector, fonts embedded),
PNG (for card printer drivers that take a bitmap) or SVG. A supplied photo is
re-encoded, so its metadata (EXIF, GPS) never reaches the output. Needs the ``face``
extra (segno, ReportLab, Pillow)::

    face = CardFace.from_credential(blob, photo=Path("photo.jpg").read_bytes())
    Path("face.pdf").write_bytes(face.render("pdf"))

Text is drawn glyph by glyph, without a shaping engine: names in scripts that need one
(right to left, or with combining marks left after NFC) and characters the font lacks
are refused with :class:`FaceError` rather than printed wrong.
The default font is DejaVu Sans (Debian package fonts-dejavu-core), else the Bitstream
Vera that ReportLab ships; pass ``font`` and ``bold_font`` for another (a CJK font for
CJK names).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import math
import os
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, TypeAlias
from xml.sax.saxutils import escape, quoteattr

import segno
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from . import qr
from .credential import Credential
from .errors import FaceError
from .verifier import decode_unverified

__all__ = [
    "CARD_HEIGHT_MM",
    "CARD_WIDTH_MM",
    "DEFAULT_TITLE",
    "FORMATS",
    "QR_ERROR_LEVEL",
    "CardFace",
    "FaceError",
    "FaceFormat",
]

#: ISO/IEC 7810 ID-1 (CR80), the size of a bank card.
CARD_WIDTH_MM = 85.60
CARD_HEIGHT_MM = 53.98
DEFAULT_TITLE = "MUNICIPAL IDENTIFICATION CARD"
#: QR error correction: Q restores up to 25 % of a scratched or smudged code (specs/qr.md).
QR_ERROR_LEVEL = "Q"
FaceFormat: TypeAlias = Literal["pdf", "png", "svg"]
FORMATS: tuple[FaceFormat, ...] = ("pdf", "png", "svg")

_PT = 25.4 / 72  # millimetres per point
_QUIET_ZONE = 4  # modules of white around the QR code (ISO/IEC 18004)
_PHOTO_DPI = 600  # resolution the photo is embedded at in PDF and SVG
_MAX_PHOTO_PIXELS = 40_000_000

# The layout, in millimetres from the card's top-left corner.
_MARGIN = 4.0
_HEADER_HEIGHT = 9.0
_PHOTO = (_MARGIN, 12.5, 23.0, 30.67)  # x, y, width, height: 3:4
_COLUMN_X = _PHOTO[0] + _PHOTO[2] + 3.5
_NAME_TOP, _NAME_BOTTOM = 14.6, 23.4
_QR_SIZE = 28.0  # with its quiet zone
_QR = (CARD_WIDTH_MM - 2.0 - _QR_SIZE, CARD_HEIGHT_MM - 2.0 - _QR_SIZE)
#: A chip card's code holds 12 characters (version 1): smaller, with the CAN under it.
_CAN_QR_SIZE = 19.0
_CAN_BASELINE = CARD_HEIGHT_MM - 3.0
_CAN_QR = (CARD_WIDTH_MM - 2.0 - _CAN_QR_SIZE, _CAN_BASELINE - 4.2 - _CAN_QR_SIZE)
_CAN_SIZE = 9.0
_FIELDS_TOP = 24.6
_LOWEST_BASELINE = CARD_HEIGHT_MM - 2.5
#: A name (a gender) is kept on one line down to this size before it wraps.
_ONE_LINE_NAME = 8.5
_ONE_LINE_FIELD = 7.0
_FIELD_SIZE = 8.5
# A field row: its label's baseline, the top of its value, the gap after the value.
_LABEL_BASELINE, _VALUE_TOP, _ROW_GAP = 1.9, 2.5, 0.9
_ROW = _VALUE_TOP + _FIELD_SIZE * 0.76 * _PT + _ROW_GAP
#: The height left for a wrapped gender (top of its first line to its last baseline)
#: beside the three dates' rows: 3 rows + the gender's _VALUE_TOP fill the column.
_GENDER_HEIGHT = (_LOWEST_BASELINE - _FIELDS_TOP) - 3 * _ROW - _VALUE_TOP

_ACCENT = "#1d3557"
_LABEL = "#4b5563"
_INK = "#111111"
_PLACEHOLDER_FILL = "#eef1f5"
_PLACEHOLDER_LINE = "#9aa5b1"
_WHITE = "#ffffff"

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_REPORTLAB_FONTS = Path(pdfmetrics.__file__).resolve().parent.parent / "fonts"
_DEFAULT_FONTS = (
    (_DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"),
    (_REPORTLAB_FONTS / "Vera.ttf", _REPORTLAB_FONTS / "VeraBd.ttf"),
)
# Unicode categories a face cannot print right without a shaping engine, or at all.
_REFUSED_CATEGORIES = {"Mn", "Mc", "Me", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"}
_RTL = {"R", "AL", "RLE", "RLO", "RLI"}


@dataclass(frozen=True)
class _Font:
    """A TrueType font: measured and embedded by ReportLab, drawn by Pillow."""

    path: str
    name: str  # ReportLab's registered name
    family: str  # for SVG font-family
    bold: bool
    face: TTFont

    def width(self, text: str, size: float) -> float:
        """Width of ``text`` at ``size`` points, in millimetres."""
        return float(self.face.stringWidth(text, size)) * _PT

    def covers(self, text: str) -> bool:
        glyphs = self.face.face.charToGlyph
        return all(ord(char) in glyphs for char in text)

    @functools.lru_cache(maxsize=32)  # noqa: B019 - fonts live as long as the process
    def pillow(self, pixels: float) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(self.path, pixels, layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=8)
def _load_font(path: str, bold: bool) -> _Font:
    try:
        face = TTFont("CityID-" + hashlib.sha256(path.encode()).hexdigest()[:12], path)
    except Exception as error:  # ReportLab raises bare TTFError, IOError and others
        raise FaceError(f"{path} is not a TrueType font this library can use") from error
    pdfmetrics.registerFont(face)
    family = face.face.familyName
    family = family.decode("utf-8", "replace") if isinstance(family, bytes) else str(family)
    return _Font(path, face.fontName, family, bold, face)


def _fonts(
    font: str | os.PathLike[str] | None, bold_font: str | os.PathLike[str] | None
) -> tuple[_Font, _Font]:
    if font is not None:
        regular = _load_font(os.fspath(font), False)
        return regular, _load_font(os.fspath(bold_font), True) if bold_font else regular
    for regular_path, bold_path in _DEFAULT_FONTS:
        if regular_path.is_file() and bold_path.is_file():
            return (
                _load_font(str(regular_path), False),
                _load_font(os.fspath(bold_font or bold_path), True),
            )
    raise FaceError("no font found: install fonts-dejavu-core, or give a TrueType font")


@dataclass(frozen=True)
class _Text:
    x: float
    y: float  # baseline
    text: str
    size: float  # points
    font: _Font
    color: str
    #: Width the text was measured at, in millimetres: SVG stretches to it.
    width: float


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    width: float
    height: float
    fill: str | None
    line: str | None = None
    dashed: bool = False


@dataclass(frozen=True)
class _Photo:
    x: float
    y: float
    width: float
    height: float
    image: Image.Image


@dataclass(frozen=True)
class _Code:
    x: float
    y: float
    size: float
    #: Rows of modules with the quiet zone, True for dark.
    modules: tuple[tuple[bool, ...], ...]


class CardFace:
    """The front of one card, laid out and ready to render as PDF, PNG or SVG.

    Build it with :meth:`from_credential`; it keeps the credential's claims only as the
    drawn text, and nothing is written anywhere until the caller writes :meth:`render`'s
    bytes.
    """

    def __init__(
        self,
        credential: Credential,
        blob: bytes,
        *,
        photo: bytes | None = None,
        title: str = DEFAULT_TITLE,
        font: str | os.PathLike[str] | None = None,
        bold_font: str | os.PathLike[str] | None = None,
        seal_key: bytes | None = None,
        can: str | None = None,
    ) -> None:
        regular, bold = _fonts(font, bold_font)
        self._regular, self._bold = regular, bold
        self._can = can
        code = segno.make_qr(_qr_text(blob, seal_key, can), error=QR_ERROR_LEVEL, boost_error=True)
        #: The QR code's version (size: 17 + 4 * version modules) and error level.
        self.qr_version: int = int(code.version)
        self.qr_error: str = str(code.error)
        self._items: list[_Text | _Box | _Photo | _Code] = []
        self._layout(credential, code, photo, title)

    @classmethod
    def from_credential(
        cls,
        blob: bytes,
        *,
        photo: bytes | None = None,
        title: str = DEFAULT_TITLE,
        font: str | os.PathLike[str] | None = None,
        bold_font: str | os.PathLike[str] | None = None,
        seal_key: bytes | None = None,
        can: str | None = None,
    ) -> CardFace:
        """Lay out the face of the credential ``blob``.

        ``seal_key`` (the key its NFC tag is sealed under) or ``can`` (the Card Access
        Number of its generation-2 chip) picks the QR code's form; at most one. The
        encoding is checked as strictly as :func:`~cityid_card.verify` does, but the
        signature is not: verify it first unless it just came from the issuer key.
        """
        credential = decode_unverified(bytes(blob)).credential
        return cls(
            credential,
            bytes(blob),
            photo=photo,
            title=title,
            font=font,
            bold_font=bold_font,
            seal_key=seal_key,
            can=can,
        )

    @classmethod
    def for_chip_card(
        cls,
        *,
        name: str,
        date_of_birth: date,
        issued: date,
        expires: date,
        can: str,
        gender: str | None = None,
        photo: bytes | None = None,
        title: str = DEFAULT_TITLE,
        font: str | os.PathLike[str] | None = None,
        bold_font: str | os.PathLike[str] | None = None,
    ) -> CardFace:
        """Lay out the face of a generation-2 chip card from the holder's printed fields.

        Such a card carries no signed credential out of the station (the chip holds the
        data behind PACE), so the face is made from the fields themselves, checked as a
        credential's are (InvalidClaim), and its QR code holds only the ``can``.
        """
        credential = Credential(
            name=name,
            date_of_birth=date_of_birth,
            issued=issued,
            expires=expires,
            gender=gender,
            status_index=0,  # never printed, never encoded: the face has no field for it
        )
        return cls(
            credential, b"", photo=photo, title=title, font=font, bold_font=bold_font, can=can
        )

    def render(self, fmt: FaceFormat, *, dpi: int = 300) -> bytes:
        """The face as a one-page PDF, a PNG at ``dpi`` or an SVG, of CR80 size."""
        if fmt == "pdf":
            return self._pdf()
        if fmt == "png":
            if not 100 <= dpi <= 2400:
                raise FaceError("dpi must be 100 to 2400")
            return self._png(dpi)
        if fmt == "svg":
            return self._svg()
        raise FaceError("the face format must be pdf, png or svg")

    # -- layout ---------------------------------------------------------------------

    def _layout(
        self, credential: Credential, code: segno.QRCode, photo: bytes | None, title: str
    ) -> None:
        add = self._items.append
        add(_Box(0, 0, CARD_WIDTH_MM, _HEADER_HEIGHT, _ACCENT))
        title_size, title_lines = _fit_text(
            title, self._bold, CARD_WIDTH_MM - 2 * _MARGIN, 9.0, 6.0, 6.0, 0.0, "title"
        )
        add(self._text(_MARGIN, 6.1, title_lines[0], title_size, self._bold, _WHITE))

        x, y, width, height = _PHOTO
        if photo is None:
            add(_Box(x, y, width, height, _PLACEHOLDER_FILL, _PLACEHOLDER_LINE, dashed=True))
            label = "PHOTO"
            add(
                self._text(
                    x + (width - self._regular.width(label, 7)) / 2,
                    y + height / 2 + 1.2,
                    label,
                    7,
                    self._regular,
                    _PLACEHOLDER_LINE,
                )
            )
        else:
            add(_Photo(x, y, width, height, _fit_photo(photo, width, height)))

        right = CARD_WIDTH_MM - _MARGIN
        add(self._text(_COLUMN_X, 13.0, "NAME", 5.5, self._regular, _LABEL))
        size, lines = _fit_text(
            credential.name,
            self._bold,
            right - _COLUMN_X,
            10.0,
            _ONE_LINE_NAME,
            5.0,
            _NAME_BOTTOM - _NAME_TOP,
            "name",
        )
        baseline = _NAME_TOP + _ascent(size)
        for line in lines:
            add(self._text(_COLUMN_X, baseline, line, size, self._bold, _INK))
            baseline += _leading(size)

        fields = [("DATE OF BIRTH", credential.date_of_birth.isoformat())]
        if credential.gender is not None:
            fields.append(("GENDER", credential.gender))
        assert credential.issued is not None  # decoded credentials always carry it
        fields += [
            ("ISSUED", credential.issued.isoformat()),
            ("EXPIRES", credential.expires.isoformat()),
        ]
        qr_x, qr_y, qr_size = (*_CAN_QR, _CAN_QR_SIZE) if self._can else (*_QR, _QR_SIZE)
        # The column ends 2 mm before the QR code's dark modules begin.
        column = qr_x + _QUIET_ZONE * qr_size / _module_count(code) - 2.0 - _COLUMN_X
        top = _FIELDS_TOP
        for label, value in fields:  # only the gender is long enough to wrap
            add(self._text(_COLUMN_X, top + _LABEL_BASELINE, label, 5.5, self._regular, _LABEL))
            size, lines = _fit_text(
                value,
                self._bold,
                column,
                _FIELD_SIZE,
                _ONE_LINE_FIELD,
                5.0,
                _GENDER_HEIGHT,
                label.lower(),
            )
            baseline = top + _VALUE_TOP + _ascent(size)
            for line in lines:
                add(self._text(_COLUMN_X, baseline, line, size, self._bold, _INK))
                top = baseline + _ROW_GAP
                baseline += _leading(size)
        if top - _ROW_GAP > _LOWEST_BASELINE + 0.01:
            raise FaceError("the fields do not fit on the card face")

        border = _QUIET_ZONE
        rows = tuple(
            tuple(bool(module) for module in row) for row in code.matrix_iter(border=border)
        )
        add(_Code(qr_x, qr_y, qr_size, rows))
        if self._can:
            value_width = self._bold.width(self._can, _CAN_SIZE)
            value_x = CARD_WIDTH_MM - _MARGIN - value_width
            label_x = value_x - 1.2 - self._regular.width("CAN", 5.5)
            add(self._text(label_x, _CAN_BASELINE, "CAN", 5.5, self._regular, _LABEL))
            add(self._text(value_x, _CAN_BASELINE, self._can, _CAN_SIZE, self._bold, _INK))

    def _text(self, x: float, y: float, text: str, size: float, font: _Font, color: str) -> _Text:
        return _Text(x, y, text, size, font, color, font.width(text, size))

    # -- PDF ------------------------------------------------------------------------

    def _pdf(self) -> bytes:
        out = io.BytesIO()
        page = canvas.Canvas(
            out, pagesize=(CARD_WIDTH_MM / _PT, CARD_HEIGHT_MM / _PT), invariant=True
        )
        # Document metadata stays generic: never the holder's name.
        page.setTitle("cityid-card face")
        page.setAuthor("")
        page.setSubject("")
        page.setCreator("cityid-card")

        def at(x: float, y: float) -> tuple[float, float]:
            return x / _PT, (CARD_HEIGHT_MM - y) / _PT

        for item in self._items:
            if isinstance(item, _Box):
                left, bottom = at(item.x, item.y + item.height)
                if item.fill:
                    page.setFillColor(item.fill)
                if item.line:
                    page.setStrokeColor(item.line)
                    page.setLineWidth(0.3 / _PT)
                    if item.dashed:
                        page.setDash(1.2 / _PT, 0.8 / _PT)
                    else:
                        page.setDash()
                page.rect(
                    left,
                    bottom,
                    item.width / _PT,
                    item.height / _PT,
                    stroke=1 if item.line else 0,
                    fill=1 if item.fill else 0,
                )
            elif isinstance(item, _Text):
                page.setFillColor(item.color)
                page.setFont(item.font.name, item.size)
                page.drawString(*at(item.x, item.y), item.text)
            elif isinstance(item, _Photo):
                left, bottom = at(item.x, item.y + item.height)
                page.drawImage(
                    ImageReader(io.BytesIO(_jpeg(item.image))),
                    left,
                    bottom,
                    item.width / _PT,
                    item.height / _PT,
                )
            else:
                module = item.size / len(item.modules)
                page.setFillColor(_WHITE)
                left, bottom = at(item.x, item.y + item.size)
                page.rect(left, bottom, item.size / _PT, item.size / _PT, stroke=0, fill=1)
                page.setFillColor("#000000")
                for row, start, length in _runs(item.modules):
                    left, bottom = at(item.x + start * module, item.y + (row + 1) * module)
                    # A hair taller than a module, so no seam shows between rows.
                    page.rect(
                        left, bottom, length * module / _PT, module / _PT + 0.01, stroke=0, fill=1
                    )
        page.showPage()
        page.save()
        return out.getvalue()

    # -- PNG ------------------------------------------------------------------------

    def _png(self, dpi: int) -> bytes:
        scale = dpi / 25.4
        picture = Image.new(
            "RGB", (round(CARD_WIDTH_MM * scale), round(CARD_HEIGHT_MM * scale)), _WHITE
        )
        draw = ImageDraw.Draw(picture)
        for item in self._items:
            if isinstance(item, _Box):
                box = (
                    round(item.x * scale),
                    round(item.y * scale),
                    round((item.x + item.width) * scale) - 1,
                    round((item.y + item.height) * scale) - 1,
                )
                draw.rectangle(box, fill=item.fill)
                if item.line:
                    _dashed_rectangle(
                        draw,
                        box,
                        item.line,
                        max(1, round(0.3 * scale)),
                        round(1.2 * scale),
                        round(0.8 * scale),
                    )
            elif isinstance(item, _Text):
                font = item.font.pillow(item.size * _PT * scale)
                draw.text(
                    (item.x * scale, item.y * scale),
                    item.text,
                    fill=item.color,
                    font=font,
                    anchor="ls",
                )
            elif isinstance(item, _Photo):
                size = (round(item.width * scale), round(item.height * scale))
                photo = item.image.resize(size, Image.Resampling.LANCZOS)
                picture.paste(photo, (round(item.x * scale), round(item.y * scale)))
            else:
                # Whole pixels per module, so every module prints the same size.
                count = len(item.modules)
                module = max(1, math.floor(item.size * scale / count))
                left = round(item.x * scale + (item.size * scale - module * count) / 2)
                top = round(item.y * scale + (item.size * scale - module * count) / 2)
                for row, start, length in _runs(item.modules):
                    draw.rectangle(
                        (
                            left + start * module,
                            top + row * module,
                            left + (start + length) * module - 1,
                            top + (row + 1) * module - 1,
                        ),
                        fill="#000000",
                    )
        out = io.BytesIO()
        picture.save(out, "PNG", dpi=(dpi, dpi), optimize=True)
        return out.getvalue()

    # -- SVG ------------------------------------------------------------------------

    def _svg(self) -> bytes:
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{CARD_WIDTH_MM}mm" '
            f'height="{CARD_HEIGHT_MM}mm" viewBox="0 0 {CARD_WIDTH_MM} {CARD_HEIGHT_MM}">',
            "<title>cityid-card face</title>",
            f'<rect width="{CARD_WIDTH_MM}" height="{CARD_HEIGHT_MM}" fill="{_WHITE}"/>',
        ]
        for item in self._items:
            if isinstance(item, _Box):
                style = f'fill="{item.fill or "none"}"'
                if item.line:
                    style += f' stroke="{item.line}" stroke-width="0.3"'
                    style += ' stroke-dasharray="1.2 0.8"' if item.dashed else ""
                parts.append(f"<rect {_area(item.x, item.y, item.width, item.height)} {style}/>")
            elif isinstance(item, _Text):
                family = quoteattr(f"'{item.font.family}', sans-serif")
                weight = ' font-weight="bold"' if item.font.bold else ""
                parts.append(
                    f'<text x="{_n(item.x)}" y="{_n(item.y)}" font-family={family}{weight} '
                    f'font-size="{_n(item.size * _PT)}" fill="{item.color}" '
                    f'textLength="{_n(item.width)}" lengthAdjust="spacingAndGlyphs" '
                    f'xml:space="preserve">{escape(item.text)}</text>'
                )
            elif isinstance(item, _Photo):
                data = base64.b64encode(_jpeg(item.image)).decode("ascii")
                parts.append(
                    f"<image {_area(item.x, item.y, item.width, item.height)} "
                    f'preserveAspectRatio="none" href="data:image/jpeg;base64,{data}"/>'
                )
            else:
                module = item.size / len(item.modules)
                path = "".join(
                    f"M{_n(item.x + start * module)} {_n(item.y + row * module)}"
                    f"h{_n(length * module)}v{_n(module)}h-{_n(length * module)}z"
                    for row, start, length in _runs(item.modules)
                )
                area = _area(item.x, item.y, item.size, item.size)
                parts.append(f'<rect {area} fill="{_WHITE}"/>')
                parts.append(f'<path d="{path}" fill="#000000" shape-rendering="crispEdges"/>')
        parts.append("</svg>\n")
        return "\n".join(parts).encode("utf-8")


def _qr_text(blob: bytes, seal_key: bytes | None, can: str | None) -> str:
    """The QR code text of the face: ``CIDC1:`` with a CAN, ``CIDS1:`` with a key, else ``CID1:``."""
    if seal_key is not None and can is not None:
        raise FaceError("a card face has a sealed tag's key or a chip's CAN, not both")
    if can is not None:
        if not qr.is_can(can):
            raise FaceError("the Card Access Number must be 6 digits")
        return qr.encode_can(can)
    if not blob:
        raise FaceError("a face without a credential is a chip card's: it needs its CAN")
    if seal_key is not None:
        if len(seal_key) != 16:
            raise FaceError("a tag's seal key is 16 bytes")
        return qr.encode_sealed(blob, seal_key)
    return qr.encode(blob)


def _n(value: float) -> str:
    """A coordinate for SVG: millimetres to the micrometre, no trailing zeros."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _area(x: float, y: float, width: float, height: float) -> str:
    return f'x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}"'


def _module_count(code: segno.QRCode) -> int:
    return len(code.matrix) + 2 * _QUIET_ZONE


def _runs(modules: Sequence[Sequence[bool]]) -> Iterator[tuple[int, int, int]]:
    """(row, first column, length) of each horizontal run of dark modules."""
    for row, line in enumerate(modules):
        start = None
        for column, dark in enumerate((*line, False)):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                yield row, start, column - start
                start = None


def _check_printable(text: str, font: _Font, field: str) -> None:
    """Refuse text this renderer would print wrong; the message names the field only."""
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise FaceError(
                f"the {field} holds a character that needs complex text layout "
                "(a combining mark or an invisible format character): not printable yet"
            )
        if unicodedata.bidirectional(char) in _RTL:
            raise FaceError(f"the {field} is written right to left: card faces cannot print it yet")
    if not font.covers(text):
        raise FaceError(
            f"the font has no glyph for a character of the {field}: give a font that covers it"
        )


def _ascent(size: float) -> float:
    """From the top of a line of ``size`` points to its baseline, in millimetres."""
    return size * 0.76 * _PT


def _leading(size: float) -> float:
    """From one baseline to the next, in millimetres."""
    return size * 1.18 * _PT


def _fit_text(
    text: str,
    font: _Font,
    width: float,
    largest: float,
    one_line: float,
    smallest: float,
    height: float,
    field: str,
) -> tuple[float, list[str]]:
    """The size and lines ``text`` is printed in: one line from ``largest`` down to
    ``one_line`` points, else wrapped from ``one_line`` down, as large as fits
    ``height`` millimetres (from the top of the first line to the last baseline).

    Lines break at spaces, and inside a word only when the word alone is too wide.
    Text is never cut short: when it does not fit at ``smallest``, FaceError.
    """
    _check_printable(text, font, field)
    size = largest
    while size >= one_line:
        if font.width(text, size) <= width:
            return size, [text]
        size -= 0.5
    size = one_line
    while size >= smallest:
        lines = _wrap(text, font, size, width)
        if _ascent(size) + (len(lines) - 1) * _leading(size) <= height:
            return size, lines
        size -= 0.5
    raise FaceError(f"the {field} does not fit on the card face")


def _wrap(text: str, font: _Font, size: float, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if font.width(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:  # a word wider than the line: break it where it must
            if font.width(current + char, size) > width and current:
                lines.append(current)
                current = ""
            current += char
    lines.append(current)
    return lines


def _fit_photo(data: bytes, width: float, height: float) -> Image.Image:
    """The photo cropped to the box's shape, at _PHOTO_DPI, without its metadata."""
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.width * source.height > _MAX_PHOTO_PIXELS:
                raise FaceError("the photo is larger than 40 megapixels")
            source.load()
            upright = ImageOps.exif_transpose(source)
            rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise FaceError("the photo is not an image this library can read") from None
    size = (round(width / 25.4 * _PHOTO_DPI), round(height / 25.4 * _PHOTO_DPI))
    # Cover the box; keep the upper part of a portrait, where the face is.
    return ImageOps.fit(rgb, size, Image.Resampling.LANCZOS, centering=(0.5, 0.35))


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, optimize=True)
    return out.getvalue()


def _dashed_rectangle(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    color: str,
    line: int,
    dash: int,
    gap: int,
) -> None:
    left, top, right, bottom = box
    step = max(1, dash + gap)
    for x in range(left, right + 1, step):
        end = min(x + dash, right)
        draw.rectangle((x, top, end, top + line - 1), fill=color)
        draw.rectangle((x, bottom - line + 1, end, bottom), fill=color)
    for y in range(top, bottom + 1, step):
        end = min(y + dash, bottom)
        draw.rectangle((left, y, left + line - 1, end), fill=color)
        draw.rectangle((right - line + 1, y, right, end), fill=color)
