"""Printable card faces: CR80 size, only the credential's fields, a QR code that verifies.

Every face is rendered, then read back the way a person or a verifier would: the PDF's
page size and text with pypdf, the PNG's QR code with zxing-cpp, the SVG's modules by
parsing its path. Nothing but the requested output may be written anywhere.
"""

from __future__ import annotations

import io
import re
import secrets
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from cityid_card import IssuerKey, TrustStore, qr, verify
from cityid_card.cli import main
from cityid_card.face import CARD_HEIGHT_MM, CARD_WIDTH_MM, FORMATS, CardFace, FaceError

from .conftest import NOW, sample_credential

NAME = "Ana Sofia Rivera Delgado"
MM_PER_POINT = 25.4 / 72
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def gendered(issuer_key: IssuerKey) -> bytes:
    return issuer_key.issue(sample_credential(gender="X"))


def _photo(marker: str = "GPS 41.8781 N 87.6298 W") -> bytes:
    """A portrait JPEG whose EXIF metadata carries ``marker``."""
    picture = Image.new("RGB", (600, 800), (200, 60, 40))
    exif = Image.Exif()
    exif[0x010E] = marker  # ImageDescription
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _pdf_text(pdf: bytes) -> list[str]:
    (page,) = PdfReader(io.BytesIO(pdf)).pages
    return [line.strip() for line in page.extract_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------
# What is printed


def test_pdf_is_one_cr80_page_with_only_the_credentials_fields(gendered: bytes) -> None:
    pdf = CardFace.from_credential(gendered).render("pdf")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) * MM_PER_POINT == pytest.approx(CARD_WIDTH_MM, abs=0.01)
    assert float(box.height) * MM_PER_POINT == pytest.approx(CARD_HEIGHT_MM, abs=0.01)
    # Everything the face says, in reading order: the title, the photo box, the fields.
    assert _pdf_text(pdf) == [
        "MUNICIPAL IDENTIFICATION CARD", "PHOTO", "NAME", NAME, "DATE OF BIRTH",
        "1990-04-12", "GENDER", "X", "ISSUED", "2026-11-21", "EXPIRES", "2031-11-20",
    ]  # fmt: skip
    metadata = reader.metadata
    assert metadata is not None and metadata.title == "cityid-card face"
    assert NAME not in str(dict(metadata))


def test_no_gender_no_gender_field(blob: bytes) -> None:
    text = _pdf_text(CardFace.from_credential(blob, title="CITYKEY").render("pdf"))
    assert "GENDER" not in text and text[0] == "CITYKEY"
    assert "4711" not in " ".join(text)  # the status index is never printed


def test_png_qr_code_scans_and_verifies(issuer_key: IssuerKey, gendered: bytes) -> None:
    png = CardFace.from_credential(gendered).render("png")
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (1011, 638)  # CR80 at 300 dpi
    assert picture.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    text = qr.read_image(png)
    assert qr.decode(text) == gendered
    verified = verify(qr.decode(text), TrustStore([issuer_key.public()]), now=NOW)
    assert verified.credential == sample_credential(gender="X")


def test_the_qr_code_is_big_enough_to_scan(gendered: bytes) -> None:
    face = CardFace.from_credential(gendered)
    assert (face.qr_version, face.qr_error) == (9, "Q")
    picture = Image.open(io.BytesIO(face.render("png", dpi=600))).convert("L")
    (code,) = zxingcpp.read_barcodes(picture)
    corners = [code.position.top_left, code.position.top_right, code.position.bottom_left]
    width = abs(corners[1].x - corners[0].x) / 600 * 25.4
    height = abs(corners[2].y - corners[0].y) / 600 * 25.4
    # At least 20 mm a side: over 0.35 mm a module for version 9, at 300 dpi 4 dots.
    assert width > 20 and height > 20
    assert code.text == qr.encode(gendered)


def test_svg_is_cr80_and_its_modules_are_the_qr_code(gendered: bytes) -> None:
    svg = CardFace.from_credential(gendered).render("svg")
    root = ET.fromstring(svg)
    assert (root.get("width"), root.get("height")) == ("85.6mm", "53.98mm")
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert NAME in texts and "1990-04-12" in texts and "X" in texts
    (path,) = [element.get("d", "") for element in root.iter(f"{SVG}path")]
    runs = [tuple(map(float, run)) for run in re.findall(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)", path)]  # fmt: skip
    module = runs[0][3]
    expected = segno.make_qr(qr.encode(gendered), error="q")
    size = len(expected.matrix)
    left = min(run[0] for run in runs)
    top = min(run[1] for run in runs)
    grid = [[False] * size for _ in range(size)]
    for x, y, length, _ in runs:
        row, column = round((y - top) / module), round((x - left) / module)
        for offset in range(round(length / module)):
            grid[row][column + offset] = True
    assert grid == [[bool(module) for module in row] for row in expected.matrix]


@pytest.mark.parametrize("fmt", ["pdf", "png", "svg"])
def test_a_photo_is_printed_without_its_metadata(gendered: bytes, fmt: str) -> None:
    marker = "GPS 41.8781 N 87.6298 W"
    face = CardFace.from_credential(gendered, photo=_photo(marker))
    data = face.render(fmt)  # type: ignore[arg-type]
    assert marker.encode() not in data
    if fmt == "png":
        picture = Image.open(io.BytesIO(data)).convert("RGB")
        pixel = picture.getpixel((190, 330))  # the middle of the photo box
        assert isinstance(pixel, tuple)
        red, green, blue = pixel
        assert red > 150 and green < 100 and blue < 100
    if fmt == "pdf":
        assert "PHOTO" not in _pdf_text(data)


def test_a_bad_photo_is_refused(gendered: bytes) -> None:
    with pytest.raises(FaceError, match="photo is not an image"):
        CardFace.from_credential(gendered, photo=b"\xff\xd8 not really a JPEG")


def test_a_long_name_wraps_and_is_never_cut(issuer_key: IssuerKey) -> None:
    name = "María Guadalupe Hernández-Villanueva de la Cruz Montenegro y Santa Ana Ortíz Rodríguez"
    blob = issuer_key.issue(sample_credential(name=name, gender="Two-Spirit / non-binary"))
    face = CardFace.from_credential(blob)
    assert " ".join(_pdf_text(face.render("pdf"))).count("Rodríguez") == 1
    words = " ".join(_pdf_text(face.render("pdf")))
    assert all(word in words for word in name.split())
    assert qr.decode(qr.read_image(face.render("png"))) == blob


@pytest.mark.parametrize(
    ("name", "gender"),
    [
        ("W" * 100, "W" * 32),  # the widest Latin letters, at both limits
        ("Ш" * 50, "Ж" * 16),  # 2-byte letters: 100 and 32 bytes
        ("Zoë Nguyễn Thị Minh Khai-Øvergård Łukasiewicz Ångström", None),
    ],
)
def test_every_name_the_format_allows_in_these_scripts_fits(
    issuer_key: IssuerKey, name: str, gender: str | None
) -> None:
    blob = issuer_key.issue(sample_credential(name=name, gender=gender))
    face = CardFace.from_credential(blob)
    text = "".join(_pdf_text(face.render("pdf"))).replace(" ", "")
    assert name.replace(" ", "") in text
    assert gender is None or gender in text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ليلى حسن", "right to left"),
        ("דנה לוי", "right to left"),
        ("Ana n\u0308", "complex text layout"),  # a combining mark that NFC keeps
        ("Ana\u200dRivera", "complex text layout"),  # an invisible joiner
        ("王秀英", "no glyph"),  # DejaVu Sans has no CJK: give a CJK font
    ],
)
def test_names_it_cannot_print_right_are_refused(
    issuer_key: IssuerKey, name: str, reason: str
) -> None:
    blob = issuer_key.issue(sample_credential(name=name))
    with pytest.raises(FaceError, match=reason) as caught:
        CardFace.from_credential(blob)
    message = str(caught.value)
    assert "the name" in message and name not in message
    assert not {char for char in name if not char.isascii()} & set(message)


def test_another_font(gendered: bytes) -> None:
    serif = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
    face = CardFace.from_credential(gendered, font=serif)
    assert b"DejaVuSerif" in face.render("pdf")
    assert "DejaVu Serif" in face.render("svg").decode()
    with pytest.raises(FaceError, match="not a TrueType font"):
        CardFace.from_credential(gendered, font=Path(__file__))


def test_unknown_format(gendered: bytes) -> None:
    face = CardFace.from_credential(gendered)
    with pytest.raises(FaceError, match="pdf, png or svg"):
        face.render("jpeg")  # type: ignore[arg-type]
    with pytest.raises(FaceError, match="dpi"):
        face.render("png", dpi=30)


# ---------------------------------------------------------------------------------------
# The command line, and what it leaves behind


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def holder() -> str:
    """A name no other program on this machine writes: what a leak would show."""
    return f"Ana Holder {secrets.token_hex(6).upper()}"


@pytest.fixture
def station(tmp_path: Path, issuer_key: IssuerKey, holder: str) -> Path:
    """A folder with a trust store, a credential and a photo, as an issuing station has."""
    TrustStore([issuer_key.public()]).save(tmp_path / "trust.json")
    credential = sample_credential(name=holder, gender="X")
    (tmp_path / "card.cbor").write_bytes(issuer_key.issue(credential))
    (tmp_path / "photo.jpg").write_bytes(_photo())
    return tmp_path


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(path): path.stat().st_mtime for path in folder.rglob("*")}


@pytest.fixture
def watched_temp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A private, empty temporary folder that the process uses during the test.

    TMPDIR and tempfile point there, so whatever the face command or a library it
    calls writes as a temporary file lands in it; the test scans that folder, never the
    machine's shared one (where another program's files came and went mid-scan).
    """
    folder = tmp_path_factory.mktemp("private-temp")
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    assert tempfile.gettempdir() == str(folder)
    yield folder
    monkeypatch.undo()


def _files_mentioning(folder: Path, needles: list[bytes], since: float) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        try:
            if path.is_file() and path.stat().st_mtime >= since:
                data = path.read_bytes()
                if any(needle in data for needle in needles):
                    found.append(path)
        except OSError:
            continue  # another program's file, gone or unreadable
    return found


@pytest.mark.parametrize("fmt", ["pdf", "png", "svg"])
def test_face_command_writes_the_face_and_nothing_else(
    station: Path,
    watched_temp: Path,
    holder: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    monkeypatch.chdir(station)
    watched = watched_temp
    before, started = _snapshot(station), time.time()
    status, out, err = _run(capsys, "face", "card.cbor", "--out", f"face.{fmt}", "--photo",
                            "photo.jpg", "--trust", "trust.json")  # fmt: skip
    assert (status, err) == (0, "")
    assert out == f"wrote face.{fmt}: CR80 card face ({fmt}), QR code version 9-Q, verified first\n"
    after = _snapshot(station)
    assert set(after) - set(before) == {str(station / f"face.{fmt}")}
    assert all(after[path] == stamp for path, stamp in before.items())
    assert (station / f"face.{fmt}").stat().st_mode & 0o777 == 0o600
    # Nothing left in the temporary folder, and no file but the face mentions the holder.
    assert list(watched.iterdir()) == []
    text = qr.encode((station / "card.cbor").read_bytes())
    needles = [holder.encode(), holder.encode("utf-16-be"), text[5:40].encode()]
    leaks = _files_mentioning(station, needles, started)
    assert set(leaks) <= {station / f"face.{fmt}"}
    if fmt == "svg":  # the SVG holds the name as text: the scan does find what is there
        assert leaks == [station / "face.svg"]


def test_face_then_verify_from_the_picture_and_the_text(
    station: Path,
    holder: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(station)
    assert _run(capsys, "face", "card.cbor", "--out", "face.png", "--json")[0] == 0
    status, out, err = _run(capsys, "verify", "--image", "face.png", "--trust", "trust.json", "--at", "2027-01-01")  # fmt: skip
    assert (status, err) == (0, "")
    assert out.startswith("VALID  ") and holder in out
    text = qr.encode((station / "card.cbor").read_bytes())
    status, out, _ = _run(capsys, "verify", "--qr", text, "--trust", "trust.json", "--json")
    assert status == 0 and '"valid": true' in out
    monkeypatch.setattr(sys, "stdin", io.StringIO(text + "\n"))
    status, out, _ = _run(capsys, "verify", "--qr", "-", "--trust", "trust.json")
    assert status == 0 and out.startswith("VALID  ")


def test_verify_qr_rejections(
    station: Path, holder: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = str(station / "trust.json")
    text = qr.encode((station / "card.cbor").read_bytes())
    tampered = text[:-3] + ("000" if text[-3:] != "000" else "001")
    for bad, kind in ((tampered, "BadSignature"), ("HC1:NCFOXN", "MalformedCredential"),
                      (text.lower(), "MalformedCredential")):  # fmt: skip
        status, out, err = _run(capsys, "verify", "--qr", bad, "--trust", trust)
        assert status == 1 and out == ""
        assert err.startswith("INVALID: ") and err.endswith(f"({kind})\n")
        assert holder not in err and text[5:20] not in err
    (station / "blank.png").write_bytes(_photo())
    status, _, err = _run(capsys, "verify", "--image", str(station / "blank.png"), "--trust", trust)
    assert status == 2 and "no cityid-card QR code" in err and err.endswith("(QRCodeError)\n")


def test_one_credential_source_at_a_time(station: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["verify", str(station / "card.cbor"), "--qr", "CID1:BB8", "--trust", "x"])
    assert caught.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_face_command_errors(
    station: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(station)
    status, _, err = _run(capsys, "face", "card.cbor", "--out", "face.jpg")
    assert status == 2 and err.endswith("(FaceError)\n")
    other = IssuerKey.generate("EdDSA", "OTHER")
    TrustStore([other.public()]).save(station / "other.json")
    status, _, err = _run(capsys, "face", "card.cbor", "--out", "face.pdf", "--trust", "other.json")  # fmt: skip
    assert status == 1 and err.endswith("(UnknownIssuer)\n")
    assert not (station / "face.pdf").exists()  # nothing printed for a card that fails
    (station / "rtl.cbor").write_bytes(
        IssuerKey.generate("ES256").issue(sample_credential(name="ليلى حسن"))
    )
    status, _, err = _run(capsys, "face", "rtl.cbor", "--out", "rtl.pdf")
    assert status == 2 and "right to left" in err and "ليلى" not in err
    assert not (station / "rtl.pdf").exists()


def test_faces_are_reproducible(gendered: bytes) -> None:
    # The same credential gives the same bytes: a print job can be checked against its file.
    first, second = CardFace.from_credential(gendered), CardFace.from_credential(gendered)
    for fmt in FORMATS:
        assert first.render(fmt) == second.render(fmt)
