"""cityid-card face: render the printable front of a card (CR80) as PDF, PNG or SVG.

The face prints the credential's name, date of birth, self-designated gender (when it
has one), issue and expiry dates, the holder's photo (--photo) or a box for it, and a QR
code. Its text is the signed credential (CID1:), which cityid-card verify --qr/--image
checks; with --seal-key (the card's NFC tag is sealed) the tag's key and the credential
(CIDS1:), which also opens the tag (verify --reader --seal-key-from-qr); with --can (a
generation-2 chip card) only the 6-digit Card Access Number (CIDC1:), printed beside it
too, which a reader needs to open the chip. A generation-2 card leaves no credential
file behind (personalize reports only its CAN): give its printed fields instead,
--can with --name, --dob, --expires (and --issued, --gender).
Everything is rendered in memory; the only file written is --out, owner-only (0600),
and an existing file is replaced only with --force.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cityid_card.errors import FaceError, InputError
from cityid_card.verifier import verify

from ._common import EXIT_OK, add_force_flag, add_json_flag, iso_date, print_json, whole_number
from ._io import PRIVATE, check_output, load_trust, read_credential, read_input, write_output
from ._seal import read_seal_key

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
  cityid-card face card.cbor --out face.png --dpi 600 --force
  cityid-card face card.cbor --out face.pdf --seal-key tag.key   # a card with a sealed tag
  cityid-card face --can 493817 --name "Ana Sofia Rivera Delgado" --dob 1990-04-12 \
      --expires 2031-11-20 --out face.pdf                       # a generation-2 chip card"""


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "face",
        help="render a printable card face with a QR code",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    parser.add_argument(
        "credential",
        type=Path,
        nargs="?",
        help="credential file (as written by issue); a generation-2 card's face takes "
        "--can and the holder's fields instead",
    )
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
    printed = parser.add_mutually_exclusive_group()
    printed.add_argument(
        "--seal-key",
        type=Path,
        metavar="FILE",
        help="the card's NFC tag is sealed: put the key from this file (written by "
        "personalize/write --seal-key) in the QR code with the credential",
    )
    printed.add_argument(
        "--can",
        metavar="NNNNNN",
        help="a generation-2 chip card: print its 6-digit Card Access Number, and put only "
        "the CAN in the QR code (the chip holds the data)",
    )
    fields = parser.add_argument_group(
        "a generation-2 chip card's printed fields (with --can, instead of a credential file)"
    )
    fields.add_argument("--name", help="the holder's name as printed")
    fields.add_argument("--dob", type=iso_date, metavar="DATE", help="date of birth, YYYY-MM-DD")
    fields.add_argument("--expires", type=iso_date, metavar="DATE", help="expiry, YYYY-MM-DD")
    fields.add_argument(
        "--issued", type=iso_date, metavar="DATE", help="issue date (default: today's local date)"
    )
    fields.add_argument("--gender", metavar="TEXT", help="self-designated gender (optional)")
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
    _check_source(args)
    check_output(args.out, force=args.force)
    photo = None
    if args.photo is not None:
        photo = read_input(args.photo, what="a photo", max_bytes=_MAX_PHOTO)
    fonts = {"title": args.title, "font": args.font, "bold_font": args.bold_font}
    if args.credential is None:
        face = CardFace.for_chip_card(
            name=args.name,
            date_of_birth=args.dob,
            issued=args.issued or date.today(),  # the issuing city's local date
            expires=args.expires,
            gender=args.gender,
            can=args.can,
            photo=photo,
            **fonts,
        )
    else:
        blob = read_credential(args.credential)
        if args.trust is not None:
            verify(blob, load_trust(args.trust), datetime.now().astimezone())
        seal_key = read_seal_key(args.seal_key) if args.seal_key is not None else None
        face = CardFace.from_credential(blob, photo=photo, seal_key=seal_key, can=args.can, **fonts)
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
                "qr_holds": _holds(args),
                "verified": args.trust is not None,
            }
        )
    else:
        checked = ", verified first" if args.trust is not None else ""
        holds = {"can": " holding the CAN", "seal_key_and_credential": " holding the tag key"}
        print(
            f"wrote {args.out}: CR80 card face ({fmt}), QR code version {qr_code}"
            f"{holds.get(_holds(args), '')}{checked}"
        )
    return EXIT_OK


_FIELDS = ("name", "dob", "expires", "issued", "gender")


def _check_source(args: argparse.Namespace) -> None:
    """A credential file, or --can with the holder's fields: one of them, before any work."""
    given = [f"--{field}" for field in _FIELDS if getattr(args, field) is not None]
    if args.credential is not None:
        if given:
            raise InputError(f"{given[0]} is for a face without a credential file (with --can)")
        return
    if args.can is None:
        raise InputError("give a credential file, or --can and the holder's fields")
    missing = [f"--{field}" for field in ("name", "dob", "expires") if getattr(args, field) is None]
    if missing:
        raise InputError(f"a generation-2 card's face without a credential file needs {missing[0]}")
    if args.trust is not None:
        raise InputError("--trust verifies a credential file; this face has none")


def _holds(args: argparse.Namespace) -> str:
    if args.can is not None:
        return "can"
    if args.seal_key is not None:
        return "seal_key_and_credential"
    return "credential"


def _format(name: str) -> FaceFormat:
    for fmt in _FORMATS:
        if fmt == name:
            return fmt
    raise FaceError("--out must end in .pdf, .png or .svg")
