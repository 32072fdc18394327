"""``cityid-card face``: render the printable front of a card (CR80) as PDF, PNG or SVG.

The face prints the credential's name, date of birth, self-designated gender (when it
has one), issue and expiry dates, the holder's photo (--photo) or a box for it, and a QR
code holding the same signed credential, which `cityid-card verify --qr/--image` checks.
Everything is rendered in memory; the only file written is --out (owner-only).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cityid_card.errors import MissingExtra
from cityid_card.trust import TrustStore
from cityid_card.verifier import verify

from ._common import EXIT_OK, add_json_flag, print_json

if TYPE_CHECKING:
    from cityid_card.face import FaceFormat

# The same as cityid_card.face's, which is imported only when a face is rendered
# (ReportLab and Pillow take a while to load, and are an optional extra).
_TITLE = "MUNICIPAL IDENTIFICATION CARD"
_FORMATS: tuple[FaceFormat, ...] = ("pdf", "png", "svg")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "face", help="render a printable card face with a QR code", description=__doc__
    )
    parser.add_argument("credential", type=Path, help="credential file (as written by issue)")
    parser.add_argument(
        "--out", type=Path, required=True, help="face file: its suffix picks .pdf, .png or .svg"
    )
    parser.add_argument("--photo", type=Path, metavar="FILE", help="the holder's photo (JPEG, PNG)")
    parser.add_argument(
        "--title", default=_TITLE, help=f"the card's title band (default {_TITLE!r})"
    )
    parser.add_argument("--font", type=Path, metavar="TTF", help="TrueType font for the text")
    parser.add_argument("--bold-font", type=Path, metavar="TTF", help="bold TrueType font")
    parser.add_argument(
        "--dpi", type=int, default=300, help="PNG resolution (default 300, card printers' own)"
    )
    parser.add_argument(
        "--trust",
        type=Path,
        help="verify the credential against this trust store first; refuse to print otherwise",
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from cityid_card.face import CardFace
    except ImportError:
        raise MissingExtra("face", "card faces need segno, ReportLab and Pillow") from None
    fmt = _format(args.out.suffix.lower().lstrip("."))
    blob = args.credential.read_bytes()
    if args.trust is not None:
        verify(blob, TrustStore.load(args.trust))
    photo = args.photo.read_bytes() if args.photo is not None else None
    face = CardFace.from_credential(
        blob, photo=photo, title=args.title, font=args.font, bold_font=args.bold_font
    )
    data = face.render(fmt, dpi=args.dpi)
    # Straight to the target, owner-only: no temporary file ever holds the face.
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
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
    from cityid_card.face import FaceError  # imported by run() already

    raise FaceError("--out must end in .pdf, .png or .svg")
