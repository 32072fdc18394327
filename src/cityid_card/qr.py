"""The credential as QR code text: ``CID1:`` followed by the credential in base45.

A verifier with only a camera reads the card face's QR code and checks the same signed
bytes the chip or tag holds (``specs/qr.md`` is the normative description):

    text = "CID1:" + base45(credential)        # RFC 9285; no compression

Base45 uses exactly the 45 characters of the QR code's alphanumeric mode, so the text
costs 5.5 bits per character, as little as binary mode, and survives any scanner app
that hands over text. Decoding is strict: one text per credential, anything else is
MalformedCredential. Reading a QR code from a photo (:func:`read_image`) needs the
``scan`` extra (zxing-cpp and Pillow).
"""

from __future__ import annotations

import io

from .errors import CityIDError, MalformedCredential

__all__ = [
    "BASE45_ALPHABET",
    "MAX_TEXT_LENGTH",
    "QR_PREFIX",
    "QRCodeError",
    "b45decode",
    "b45encode",
    "decode",
    "encode",
    "read_image",
]


class QRCodeError(CityIDError):
    """An image cannot be read, or holds no cityid-card QR code (or more than one)."""


#: What every cityid-card QR text starts with: the scheme ("CID") and its version (1).
QR_PREFIX = "CID1:"
#: RFC 9285 section 4: the QR code alphanumeric characters, in value order.
BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
#: The longest text a QR code holds (version 40-L, alphanumeric mode); longer is refused
#: before any decoding work.
MAX_TEXT_LENGTH = 4296
_VALUE = {char: value for value, char in enumerate(BASE45_ALPHABET)}


def b45encode(data: bytes) -> str:
    """Base45 (RFC 9285): each 2 bytes become 3 characters, a last single byte 2."""
    out = []
    for start in range(0, len(data) - 1, 2):
        number = data[start] * 256 + data[start + 1]
        high, rest = divmod(number, 45 * 45)
        middle, low = divmod(rest, 45)
        out.append(BASE45_ALPHABET[low] + BASE45_ALPHABET[middle] + BASE45_ALPHABET[high])
    if len(data) % 2:
        middle, low = divmod(data[-1], 45)
        out.append(BASE45_ALPHABET[low] + BASE45_ALPHABET[middle])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode base45 strictly; raise ValueError for any text :func:`b45encode` cannot produce.

    That is: a character outside the alphabet (lower case and white space included),
    a length of 3n + 1, a 3-character group above 65535 or a final pair above 255.
    """
    if len(text) % 3 == 1:
        raise ValueError("base45 text cannot have a length of 3n + 1")
    try:
        values = [_VALUE[char] for char in text]
    except KeyError:
        raise ValueError("base45 text holds a character outside the alphabet") from None
    out = bytearray()
    for start in range(0, len(values), 3):
        group = values[start : start + 3]
        if len(group) == 3:
            number = group[0] + group[1] * 45 + group[2] * 45 * 45
            if number > 0xFFFF:
                raise ValueError("a base45 group is larger than two bytes")
            out += number.to_bytes(2, "big")
        else:
            number = group[0] + group[1] * 45
            if number > 0xFF:
                raise ValueError("the final base45 pair is larger than one byte")
            out.append(number)
    return bytes(out)


def encode(credential: bytes) -> str:
    """The QR code text of a credential: ``CID1:`` and its base45 form."""
    return QR_PREFIX + b45encode(bytes(credential))


def decode(text: str) -> bytes:
    """The credential bytes in a QR code text; raise MalformedCredential if it is not one.

    The result still has to be verified (:func:`cityid_card.verify`). Messages never
    repeat the text: it holds the holder's name.
    """
    if not isinstance(text, str):
        raise MalformedCredential("a QR code text must be a string")
    if not text.startswith(QR_PREFIX):
        raise MalformedCredential(f"the QR code text does not start with {QR_PREFIX}")
    if len(text) > MAX_TEXT_LENGTH:
        raise MalformedCredential("the QR code text is longer than any QR code holds")
    try:
        return b45decode(text[len(QR_PREFIX) :])
    except ValueError as error:
        raise MalformedCredential(f"the QR code text is not valid base45: {error}") from None


def read_image(image: bytes) -> str:
    """The cityid-card QR code text in a picture (PNG, JPEG, ...) of a card face.

    The picture is decoded in memory. QR codes that are not cityid-card credentials are
    ignored; none, or more than one that is, raises QRCodeError.
    """
    try:
        import zxingcpp
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise QRCodeError(
            "reading pictures needs zxing-cpp and Pillow: pip install 'cityid-card[scan]'"
        ) from None

    try:
        with Image.open(io.BytesIO(image)) as picture:
            picture.load()
            gray = picture.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise QRCodeError("the file is not an image this library can read") from None
    barcodes = zxingcpp.read_barcodes(
        gray,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        text_mode=zxingcpp.TextMode.Plain,
    )
    found = {
        barcode.text for barcode in barcodes if barcode.valid and barcode.text.startswith(QR_PREFIX)
    }
    if not found:
        raise QRCodeError("no cityid-card QR code was found in the image")
    if len(found) > 1:
        raise QRCodeError("the image holds more than one cityid-card QR code")
    return found.pop()
