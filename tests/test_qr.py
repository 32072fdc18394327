"""The QR code text of a credential: CID1: and strict base45 (RFC 9285)."""

from __future__ import annotations

import io
import json
import sys
import zlib

import base45
import pytest
import segno
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cityid_card import IssuerKey, MalformedCredential, TrustStore, qr, verify
from cityid_card.qr import QRCodeError

from .conftest import NOW, REPO, VECTORS, sample_credential

# RFC 9285 section 4.3 and 4.4.
RFC_9285 = [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0")]  # fmt: skip


@pytest.mark.parametrize(("data", "text"), RFC_9285)
def test_rfc_9285_examples(data: bytes, text: str) -> None:
    assert qr.b45encode(data) == text
    assert qr.b45decode(text) == data


@given(st.binary(max_size=400))
def test_base45_round_trip_and_agrees_with_the_pypi_package(data: bytes) -> None:
    text = qr.b45encode(data)
    assert text == base45.b45encode(data).decode("ascii")
    assert qr.b45decode(text) == data == base45.b45decode(text)
    assert set(text) <= set(qr.BASE45_ALPHABET)
    assert len(text) == 3 * (len(data) // 2) + 2 * (len(data) % 2)


@given(st.text(alphabet=qr.BASE45_ALPHABET + "abc\n=", max_size=60))
def test_base45_decoding_is_canonical(text: str) -> None:
    # Every text that decodes is the one encoding of its bytes: no second spelling.
    try:
        data = qr.b45decode(text)
    except ValueError:
        return
    assert qr.b45encode(data) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("A", "3n \\+ 1"),
        ("BB8B", "3n \\+ 1"),
        ("GGW", "larger than two bytes"),  # 16 + 16*45 + 32*2025 = 65536
        (":::", "larger than two bytes"),
        ("GG", "larger than one byte"),  # 16 + 16*45 = 736
        ("bb8", "outside the alphabet"),
        ("BB8AB\n", "outside the alphabet"),
        ("BB=", "outside the alphabet"),
    ],
)
def test_base45_refuses_what_no_encoder_makes(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        qr.b45decode(text)


def test_base45_is_stricter_than_the_pypi_package() -> None:
    # It strips a trailing newline; a second spelling of the same bytes is refused here.
    assert base45.b45decode("BB8\n") == b"AB"
    with pytest.raises(ValueError, match="3n"):
        qr.b45decode("BB8\n")


def test_qr_text_round_trip(issuer_key: IssuerKey, blob: bytes) -> None:
    text = qr.encode(blob)
    assert text.startswith("CID1:") and len(text) == 5 + len(blob) // 2 * 3 + len(blob) % 2 * 2
    assert qr.decode(text) == blob
    assert verify(qr.decode(text), TrustStore([issuer_key.public()]), now=NOW).credential == (
        sample_credential()
    )
    # The whole text is in the QR code's alphanumeric mode: 5.5 bits a character.
    assert segno.make_qr(text, error="q").mode == "alphanumeric"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("HC1:6BFOXN", "does not start with CID1:"),
        ("cid1:BB8", "does not start with CID1:"),
        (" CID1:BB8", "does not start with CID1:"),
        ("CID1:bb8", "not valid base45"),
        ("CID1:BB8 \n", "not valid base45"),
        ("CID1:" + "0" * 4300, "longer than any QR code holds"),
    ],
)
def test_qr_text_errors(text: str, reason: str) -> None:
    with pytest.raises(MalformedCredential, match=reason) as caught:
        qr.decode(text)
    assert text[5:] not in str(caught.value)


def test_qr_text_errors_never_repeat_the_text(blob: bytes) -> None:
    broken = qr.encode(blob)[:-1] + "a"
    with pytest.raises(MalformedCredential) as caught:
        qr.decode(broken)
    assert broken[5:] not in str(caught.value) and "Ana" not in str(caught.value)


def _png(*texts: str, size: int = 800) -> bytes:
    picture = Image.new("RGB", (size * len(texts), size), "white")
    for position, text in enumerate(texts):
        code = io.BytesIO()
        segno.make_qr(text, error="q").save(code, kind="png", scale=6, border=4)
        picture.paste(Image.open(code), (position * size + 20, 20))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def test_read_image_finds_the_credential_among_other_codes(blob: bytes) -> None:
    text = qr.encode(blob)
    assert qr.read_image(_png(text)) == text
    assert qr.read_image(_png("https://example.invalid/menu", text)) == text


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (b"not an image at all", "not an image"),
        (_png("HC1:NOT-OURS"), "no cityid-card QR code"),
        (_png("CID1:BB8", "CID1:QED8WEX0"), "more than one"),
    ],
)
def test_read_image_errors(image: bytes, reason: str) -> None:
    with pytest.raises(QRCodeError, match=reason):
        qr.read_image(image)


def test_a_blank_picture_holds_no_code() -> None:
    blank = io.BytesIO()
    Image.new("L", (400, 300), 255).save(blank, "JPEG")
    with pytest.raises(QRCodeError, match="no cityid-card QR code"):
        qr.read_image(blank.getvalue())


def _vector(identifier: str) -> bytes:
    vectors = json.loads((VECTORS / "credentials.json").read_text(encoding="utf-8"))["vectors"]
    (found,) = [vector["hex"] for vector in vectors if vector["id"] == identifier]
    return bytes.fromhex(found)


def test_the_spec_example_is_the_vectors_text() -> None:
    spec = (REPO / "specs" / "qr.md").read_text(encoding="utf-8")
    (example,) = [line for line in spec.splitlines() if line.startswith("CID1:")]
    assert example == qr.encode(_vector("es256-worst-case-size"))
    assert len(example) == 185


@pytest.mark.parametrize(
    ("identifier", "version"),
    [
        ("es256-worst-case-size", 9),
        ("es256-gender", 9),
        ("eddsa-unicode-name", 10),
        ("es256-extensions", 11),
    ],
)
def test_the_spec_version_table(identifier: str, version: int) -> None:
    blob = _vector(identifier)
    assert segno.make_qr(qr.encode(blob), error="q", boost_error=False).version == version
    # zlib never makes these shorter: the reason the format does not compress.
    assert len(zlib.compress(blob, 9)) == len(blob) + 11


def test_without_zxing_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zxingcpp", None)
    with pytest.raises(QRCodeError, match=r"cityid-card\[scan\]"):
        qr.read_image(_png("CID1:BB8"))
