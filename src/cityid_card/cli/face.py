"""cityid-card face: render the printable front of a card (CR80) as PDF, PNG or SVG.

The face prints the credential's name, date of birth, self-designated gender (when it
has one), issue and expiry dates, the holder's photo (--photo) or a box for it, and a QR
code holding the same signed credential, which cityid-card verify --qr/--image checks.
Everything is rendered in memory; the only file written is --out, owner-only (0600),
and an existing file is replaced only with --force.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cityid_card.errors import FaceError
from cityid_card.verifier import verify

from ._common import EXIT_OK, add_force_flag, add_json_flag, print_json, whole_number
from ._io import PRIVATE, check_output, load_trust, read_credential, read_input, write_output

if TYPE_CHECKING:
    from cityid_card.face import FaceFormat

# The same as cityid_card.face's, which is imported only when a face is rendered
# (ReportLab and Pillow take a while to load, and are an optional extra).
_TITLE = "MUNICIPAL IDENTIFICATION CARD"
_FORMATS: tuple[FaceFormat, ...] = ("pdf", "png", "svg")
#: A photo from a camera is a few megabytes; the face re-encodes it small.
_MAX_PHOTO = 32 * 1024 * 1024


_EXAMPLES = """\
examples:
  cityid-card face card.cbor --out face.pdf --photo photo.jpg --trust trust.json
  cityid-card face card.cbor --out face.png --dpi 600 --force"""


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "face",
        help="render a printable card face with a QR code",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    parser.add_argument("credential", type=Path, help="credential file (as written by issue)")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="face file: its suffix picks .pdf, .png or .svg",
    )
    add_force_flag(parser)
    parser.add_argument("--photo", type=Path, metavar="FILE", help="the holder's photo (JPEG, PNG)")
    parser.add_argument("--title", default=_TITLE, help="the text of the card's title band")
    parser.add_argument("--font", type=Path, metavar="TTF", help="TrueType font for the text")
    parser.add_argument("--bold-font", type=Path, metavar="TTF", help="bold TrueType font")
    parser.add_argument(
        "--dpi",
        type=whole_number,
        default=300,
        help="PNG resolution in dots per inch (300 is card printers' own)",
    )
    parser.add_argument(
        "--trust",
        type=Path,
        metavar="FILE",
        help="verify the credential against this trust store first; refuse to print otherwise",
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from cityid_card.face import CardFace
    except ImportError:
        raise FaceError(
            "card faces need segno, ReportLab and Pillow: pip install 'cityid-card[face]'"
        ) from None
    fmt = _format(args.out.suffix.lower().lstrip("."))
    check_output(args.out, force=args.force)
    blob = read_credential(args.credential)
    if args.trust is not None:
        verify(blob, load_trust(args.trust), datetime.now().astimezone())
    photo = None
    if args.photo is not None:
        photo = read_input(args.photo, what="a photo", max_bytes=_MAX_PHOTO)
    face = CardFace.from_credential(
        blob, photo=photo, title=args.title, font=args.font, bold_font=args.bold_font
    )
    data = face.render(fmt, dpi=args.dpi)
    # Atomically and owner-only: the temporary file beside it is owner-only from its
    # creation (mkstemp), and a crash never leaves half a face behind.
    write_output(args.out, data, force=args.force, mode=PRIVATE)
    qr_code = f"{face.qr_version}-{face.qr_error}"
    if args.json:
        print_json(
            {
                "out": str(args.out),
                "format": fmt,
                "bytes": len(data),
                "qr": qr_code,
                "verified": args.trust is not None,
            }
        )
    else:
        checked = ", verified first" if args.trust is not None else ""
        print(f"wrote {args.out}: CR80 card face ({fmt}), QR code version {qr_code}{checked}")
    return EXIT_OK


def _format(name: str) -> FaceFormat:
    for fmt in _FORMATS:
        if fmt == name:
            return fmt
    raise FaceError("--out must end in .pdf, .png or .svg")
