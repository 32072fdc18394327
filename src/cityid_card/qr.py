"""The card face's QR code text: the credential, the key of a sealed tag, or a chip's CAN.

A verifier with only a camera reads the card face's QR code and checks the same signed
bytes the chip or tag holds (``specs/qr.md`` is the normative description). Three forms:

    "CID1:"  + base45(credential)              # a card without a chip; RFC 9285
    "CIDS1:" + base45(seal key || credential)  # a card with a sealed NFC tag (16-byte key)
    "CIDC1:" + CAN                             # a generation-2 chip card: 6 digits, no data

The first two verify with a camera alone (:func:`decode`); the key of the second opens
the tag's sealed record (:func:`seal_key`); the third holds nothing personal, only the
Card Access Number a reader needs to open the chip (:func:`can`).

Base45 uses exactly the 45 characters of the QR code's alphanumeric mode, so the text
costs 5.5 bits per character, as little as binary mode, and survives any scanner app
that hands over text. Decoding is strict: one text per credential, anything else is
MalformedCredential. Reading a QR code from a photo (:func:`read_image`) needs the
``scan`` extra (zxing-cpp and Pillow).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from .errors import CityIDError, MalformedCredential

__all__ = [
    "BASE45_ALPHABET",
    "CAN_PREFIX",
    "MAX_TEXT_LENGTH",
    "PREFIXES",
    "QR_PREFIX",
    "SEALED_TAG_PREFIX",
    "FaceCode",
    "QRCodeError",
    "b45decode",
    "b45encode",
    "can",
    "decode",
    "decode_face",
    "encode",
    "encode_can",
    "encode_sealed",
    "is_can",
    "read_image",
    "seal_key",
]


class QRCodeError(CityIDError):
    """An image cannot be read, or holds no cityid-card QR code (or more than one)."""


#: What every cityid-card QR text starts with: the scheme ("CID") and its version (1).
QR_PREFIX = "CID1:"
#: The face of a card with a sealed NFC tag: the tag's 16-byte key, then the credential.
SEALED_TAG_PREFIX = "CIDS1:"
#: The face of a generation-2 chip card: its 6-digit Card Access Number, nothing else.
CAN_PREFIX = "CIDC1:"
#: Every prefix a cityid-card face's QR code starts with.
PREFIXES = (QR_PREFIX, SEALED_TAG_PREFIX, CAN_PREFIX)
_SEAL_KEY_SIZE = 16
_CAN_DIGITS = 6
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


@dataclass(frozen=True)
class FaceCode:
    """What a face's QR code holds: a credential, a sealed tag's key, a chip's CAN."""

    credential: bytes | None = None
    seal_key: bytes | None = None
    can: str | None = None


def encode(credential: bytes) -> str:
    """The QR code text of a credential: ``CID1:`` and its base45 form."""
    return QR_PREFIX + b45encode(bytes(credential))


def encode_sealed(credential: bytes, seal_key: bytes) -> str:
    """The QR code text of a card with a sealed tag: ``CIDS1:``, base45 of key and credential."""
    if len(seal_key) != _SEAL_KEY_SIZE:
        raise ValueError(f"a tag's sealing key is {_SEAL_KEY_SIZE} bytes")
    if not credential:
        raise ValueError("a credential is at least 1 byte")
    return SEALED_TAG_PREFIX + b45encode(bytes(seal_key) + bytes(credential))


def encode_can(can: str) -> str:
    """The QR code text of a generation-2 chip card: ``CIDC1:`` and its 6-digit CAN."""
    _check_can(can)
    return CAN_PREFIX + can


def is_can(text: object) -> bool:
    """Whether ``text`` is a Card Access Number as a card face prints it: 6 ASCII digits."""
    return isinstance(text, str) and len(text) == _CAN_DIGITS and text.isascii() and text.isdigit()


def _check_can(can: str) -> None:
    if not is_can(can):
        raise QRCodeError(f"a Card Access Number is {_CAN_DIGITS} digits")


def decode_face(text: str) -> FaceCode:
    """What a face's QR code text holds, in any of the three forms (``specs/qr.md``).

    Raises MalformedCredential for a text of none of them or one that breaks its form.
    Messages never repeat the text: it holds the holder's name (or the CAN).
    """
    if not isinstance(text, str):
        raise MalformedCredential("a QR code text must be a string")
    if len(text) > MAX_TEXT_LENGTH:
        raise MalformedCredential("the QR code text is longer than any QR code holds")
    if text.startswith(CAN_PREFIX):
        number = text[len(CAN_PREFIX) :]
        try:
            _check_can(number)
        except QRCodeError:
            raise MalformedCredential(
                f"the QR code text after {CAN_PREFIX} is not a 6-digit Card Access Number"
            ) from None
        return FaceCode(can=number)
    for prefix in (QR_PREFIX, SEALED_TAG_PREFIX):
        if text.startswith(prefix):
            break
    else:
        raise MalformedCredential(
            f"the QR code text does not start with {QR_PREFIX}, {SEALED_TAG_PREFIX} or {CAN_PREFIX}"
        )
    try:
        data = b45decode(text[len(prefix) :])
    except ValueError as error:
        raise MalformedCredential(f"the QR code text is not valid base45: {error}") from None
    if prefix == QR_PREFIX:
        return FaceCode(credential=data)
    if len(data) <= _SEAL_KEY_SIZE:
        raise MalformedCredential(
            f"a {SEALED_TAG_PREFIX} QR code text holds a {_SEAL_KEY_SIZE}-byte key and a credential"
        )
    return FaceCode(credential=data[_SEAL_KEY_SIZE:], seal_key=data[:_SEAL_KEY_SIZE])


def decode(text: str) -> bytes:
    """The credential bytes in a QR code text; raise MalformedCredential if it is not one.

    ``CID1:`` and ``CIDS1:`` texts hold one; a chip card's ``CIDC1:`` does not (its
    data is on the chip, behind the CAN). The result still has to be verified
    (:func:`cityid_card.verify`). Messages never repeat the text: it holds the
    holder's name.
    """
    code = decode_face(text)
    if code.credential is None:
        raise MalformedCredential(
            "the QR code is a chip card's: it holds the Card Access Number, not a credential "
            "(read the chip with it)"
        )
    return code.credential


def seal_key(text: str) -> bytes:
    """The sealed tag's key in a face's ``CIDS1:`` QR code text; MalformedCredential otherwise."""
    key = decode_face(text).seal_key
    if key is None:
        raise MalformedCredential(
            f"the QR code text holds no tag key: a card with a sealed tag has a {SEALED_TAG_PREFIX} code"
        )
    return key


def can(text: str) -> str:
    """The Card Access Number in a chip card face's ``CIDC1:`` QR code text."""
    number = decode_face(text).can
    if number is None:
        raise MalformedCredential(
            f"the QR code text holds no Card Access Number: a chip card has a {CAN_PREFIX} code"
        )
    return number


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
        barcode.text for barcode in barcodes if barcode.valid and barcode.text.startswith(PREFIXES)
    }
    if not found:
        raise QRCodeError("no cityid-card QR code was found in the image")
    if len(found) > 1:
        raise QRCodeError("the image holds more than one cityid-card QR code")
    return found.pop()
