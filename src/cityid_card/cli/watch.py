"""``cityid-card watch``: verify each card that comes into a reader, once, as it comes.

Prints a line when a card arrives (VALID with what the display policy allows, or
NOT ACCEPTED and why) and when it leaves; with --json one JSON object per event (JSON
Lines). The reader stays open while a card is on it: a card left there is verified
once. Ends with Ctrl+C, or after --count cards.

A sealed NFC tag (the default for tags) opens with the key printed in its card face's
QR code: scan the face with a USB scanner (it types CIDS1:... and Enter into this
command), before or after the tap. With --terminal (a generation-2 terminal's
directory, from cityid-card pki terminal) it also reads generation-2 chip cards, which
open with their CAN, the 6-digit number on the face: scan the face's QR code (CIDC1:...)
or type the 6 digits and Enter, before or after the tap. What a face scan gives is used
for one read and forgotten; it is never printed, and the terminal does not echo it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

from cityid_card.desk.faces import FaceBox, NotAFaceCode
from cityid_card.desk.loop import (
    DEFAULT_INTERVAL,
    Arrival,
    CanRequired,
    FaceScanRequired,
    SealKeyRequired,
    event_json,
    watch,
)

from ._common import EXIT_OK, add_json_flag, print_json
from .pki import load_terminal
from .serve import add_desk_flags, build_verifier, desk_policy, positive_int


def _interval(text: str) -> float:
    """argparse type: seconds between two polls, 0.01 to 60."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds") from None
    if not 0.01 <= seconds <= 60:
        raise argparse.ArgumentTypeError("the interval is 0.01 to 60 seconds")
    return seconds


_EXAMPLES = """\
examples:
  cityid-card watch --reader nfc --trust trust.json --policy library
  cityid-card watch --reader pcsc --trust trust.json --status-lists lists/ --json
  cityid-card watch --reader pcsc --trust trust.json --terminal museum-desk"""


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "watch",
        help="verify each card that comes into a reader",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    parser.add_argument(
        "--reader",
        required=True,
        metavar="URI",
        help="pcsc[:<index>|:<name part>], nfc[:<nfcpy path>], sim:card[:STATEFILE], "
        "sim:ntag213|ntag215|ntag216[:IMAGEFILE] or sim:isodep[:STATEFILE]",
    )
    add_desk_flags(parser)
    parser.add_argument(
        "--interval",
        type=_interval,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"how often to look for a card and check it is still there (default {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument(
        "--count",
        type=positive_int,
        metavar="N",
        help="stop after N cards read (a card waiting for its face to be scanned is not "
        "one yet; default: run until Ctrl+C)",
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def _line(shown: dict[str, Any]) -> str:
    reader = shown["reader"]
    if shown["event"] == "removal":
        return f"card off {reader}"
    if not shown["valid"] and shown["error"] == CanRequired.__name__:
        return (
            f"card on {reader}: a generation-2 card: scan the QR code on its face "
            "(or type its 6-digit CAN and Enter)"
        )
    if not shown["valid"] and shown["error"] == SealKeyRequired.__name__:
        return f"card on {reader}: a sealed tag: scan the QR code on its card face"
    if not shown["valid"]:
        return f"card on {reader}: NOT ACCEPTED ({shown['error']})"
    meta = {"event", "reader", "valid", "authenticity", "status_list_age_days"}
    fields = [f"{k.replace('_', ' ')} {v}" for k, v in shown.items() if k not in meta]
    return " ".join(
        [
            f"card on {reader}: VALID",
            *([", ".join(fields)] if fields else []),
            f"[{shown['authenticity']}]",
        ]
    )


def _feed(lines: Iterable[str], faces: FaceBox, errors: TextIO) -> None:
    """Give each line (a scanned card face's QR code, or 6 digits) to ``faces``; say so if
    it is not one. Ends at the end of ``lines``, or if they cannot be read."""
    try:
        for line in lines:
            if not line.strip():
                continue
            try:
                faces.give(line)
            except NotAFaceCode as error:
                print(f"error: {error}: ignored", file=errors, flush=True)
    except (OSError, ValueError, TypeError):  # no standard input to read (closed, or none)
        return


@contextlib.contextmanager
def quiet_terminal(stream: TextIO) -> Iterator[None]:
    """While inside, a terminal on ``stream`` does not echo what is typed (a scanned CAN).

    A scanner types the card face's code into the terminal window; without this it
    would stay on screen and in the scrollback. Nothing changes for a stream that is
    not a terminal (a pipe, a file) or on a system without termios.
    """
    try:
        import termios

        descriptor = stream.fileno()
        saved = termios.tcgetattr(descriptor)
    except (ImportError, OSError, ValueError, AttributeError):  # not a terminal
        yield
        return
    quiet = list(saved)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(descriptor, termios.TCSADRAIN, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)


def run(args: argparse.Namespace) -> int:
    terminal = None if args.terminal is None else load_terminal(args.terminal)
    policy = desk_policy(args.policy, terminal)
    faces = FaceBox()
    verifier, refresher = build_verifier(
        {
            "trust": args.trust,
            "status_lists": args.status_lists,
            "require_status": args.require_status,
            "seen": args.seen,
        }
    )
    stop = threading.Event()
    if refresher is not None:
        threading.Thread(target=refresher.run, args=(stop,), daemon=True).start()
    # A keyboard-wedge scanner types each card face's code here.
    threading.Thread(target=_feed, args=(sys.stdin, faces, sys.stderr), daemon=True).start()
    arrivals = 0
    try:
        with quiet_terminal(sys.stdin):
            for event in watch(
                args.reader, verifier, terminal=terminal, faces=faces, interval=args.interval
            ):
                now = datetime.now().astimezone()
                age = None if refresher is None else refresher.report(now)["age_days"]
                shown = event_json(event, policy, now.date(), age)
                if args.json:
                    print_json(shown)
                else:
                    print(_line(shown))
                sys.stdout.flush()
                if isinstance(event, Arrival) and not isinstance(event.error, FaceScanRequired):
                    arrivals += 1
                    if args.count is not None and arrivals >= args.count:
                        break
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
    return EXIT_OK
