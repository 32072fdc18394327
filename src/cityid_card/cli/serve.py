"""``cityid-card serve``: the local verification service and the staff page.

Listens on 127.0.0.1:8600 unless --host and --port say otherwise; another address than
the loopback only when --host names it. ``POST /api/verify`` takes ``{"qr": "CID1:..."}``
or ``{"credential": "<base64>"}`` and answers with the fields the display policy allows;
``GET /`` is the staff page; ``GET /api/health`` reports the status lists' age;
``GET /api/events`` streams the taps of --reader. A sealed NFC tag opens with the key
on its card face: scan the face's QR code (CIDS1:) into the page, or ``POST
/api/verify`` it, and tap the tag; the result arrives on the event stream. With
--terminal (a generation-2 terminal's directory, from cityid-card pki terminal) the
reader also reads generation-2 chip cards, the same way with their face's code
(CIDC1:). Needs the ``desk`` extra.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from cityid_card.desk.faces import FaceBox, FaceSource
from cityid_card.desk.ils import koha_code
from cityid_card.desk.loop import event_json, watch
from cityid_card.desk.policy import DEFAULT_POLICY, POLICIES, Policy, get_policy, policy_for_role
from cityid_card.desk.refresh import StatusListRefresher, source_for
from cityid_card.errors import CityIDError, InputError
from cityid_card.iso7816.gen2 import TerminalAccess
from cityid_card.trust import TrustStore
from cityid_card.verifier import StatusPolicy, Verifier

from ._common import EXIT_OK, EXIT_USAGE
from ._io import load_seen, save_seen
from .pki import load_terminal
from .verify import add_seen_flag

#: The variable that hands the configuration to each worker process (--workers > 1).
_CONFIG_VARIABLE = "CITYID_CARD_SERVE_CONFIG"


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more."""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("expected a whole number of 1 or more")
    return int(text)


def port_number(text: str) -> int:
    """argparse type: a TCP port, 1 to 65535."""
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError("a port is 1 to 65535")
    return port


_EXAMPLES = """\
examples:
  cityid-card serve --trust trust.json --policy library
  cityid-card serve --trust trust.json --status-lists lists/ --reader nfc --port 8600
  cityid-card serve --trust trust.json --reader pcsc --terminal museum-desk"""


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="run the local verification service and the staff page",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    add_desk_flags(parser)
    parser.add_argument(
        "--host",
        default=None,
        help="address to listen on (default 127.0.0.1: this computer only)",
    )
    parser.add_argument(
        "--port", type=port_number, default=None, help="port to listen on (default 8600)"
    )
    parser.add_argument(
        "--reader",
        metavar="URI",
        help="also watch this reader and show its taps on the page (a sealed NFC tag opens "
        "with its card face's QR code, CIDS1:, scanned into the page)",
    )
    parser.add_argument(
        "--koha",
        nargs=2,
        metavar=("BRANCH", "CATEGORY"),
        help="offer the hand-off of a patron's registration to Koha (with the patron's "
        "consent), with this branch code and patron category",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="worker processes answering POST /api/verify (default 1; not with --reader)",
    )
    parser.add_argument(
        "--log-level",
        choices=("warning", "info", "debug"),
        default="info",
        help="how much to log (never request bodies or card data)",
    )
    parser.set_defaults(run=run)


def add_desk_flags(parser: argparse.ArgumentParser) -> None:
    """--trust, --status-lists, --require-status, --seen, --policy and --terminal: serve's
    and watch's."""
    parser.add_argument("--trust", type=Path, required=True, help="trust store (JWK Set)")
    parser.add_argument(
        "--status-lists",
        metavar="DIR|URL",
        help="a folder of signed status lists (*.cwt), or an https:// URL of one, "
        "reloaded as they change",
    )
    parser.add_argument(
        "--require-status",
        action="store_true",
        help="reject a card no current status list covers (default: accept, status unknown)",
    )
    add_seen_flag(parser)
    parser.add_argument(
        "--policy",
        default=None,
        metavar="POLICY",
        help=f"what to show of a card: {', '.join(POLICIES)} or age-check:N "
        f"(default: the --terminal's role, else {DEFAULT_POLICY})",
    )
    parser.add_argument(
        "--terminal",
        type=Path,
        metavar="DIR",
        help="read generation-2 chip cards as this terminal (a directory made by "
        "cityid-card pki terminal; its role must be the display policy's); each card's "
        "CAN comes from its face's QR code (CIDC1:)",
    )


def desk_policy(spec: str | None, terminal: TerminalAccess | None) -> Policy:
    """The display policy ``spec`` names; with a terminal, its role's (PolicyMismatch if not)."""
    if terminal is None:
        return get_policy(DEFAULT_POLICY if spec is None else spec)
    return policy_for_role(terminal.role, terminal.age, spec)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "trust": os.fspath(args.trust),
        "status_lists": args.status_lists,
        "require_status": args.require_status,
        "seen": None if args.seen is None else os.fspath(args.seen),
        "policy": args.policy,
        "terminal": None if args.terminal is None else os.fspath(args.terminal),
        "host": args.host or "127.0.0.1",
        "koha": args.koha,
    }


def build_verifier(settings: dict[str, Any]) -> tuple[Verifier, StatusListRefresher | None]:
    """The desk's verifier (no cache: a desk keeps nothing) and its status list refresher.

    With --status-lists the lists are fetched once here (a failure is logged and
    reported by /api/health, and the verifier starts without them), then refreshed by
    the refresher's ``run`` on its schedule. With --seen the newest list number seen
    for each key is read from that file and kept in it after each update: a list
    older than one seen before a restart is refused.
    """
    trust = TrustStore.load(settings["trust"])
    policy = (
        StatusPolicy.REJECT_UNKNOWN if settings["require_status"] else StatusPolicy.ACCEPT_UNKNOWN
    )
    seen = None if not settings.get("seen") else Path(settings["seen"])
    verifier = Verifier(
        trust,
        cache_size=0,
        status_policy=policy,
        seen_status_lists=None if seen is None else load_seen(seen),
    )
    location = settings["status_lists"]
    if not location:
        return verifier, None
    refresher = StatusListRefresher(
        verifier,
        source_for(location),
        keep_seen=None if seen is None else functools.partial(save_seen, seen),
    )
    refresher.refresh()
    return verifier, refresher


def build_app(settings: dict[str, Any], reader: str | None = None) -> Any:
    """The service's ASGI application for ``settings`` (see _settings)."""
    from cityid_card.desk.service import ServiceConfig, allowed_hosts, create_app

    verifier, refresher = build_verifier(settings)
    terminal = None if not settings.get("terminal") else load_terminal(Path(settings["terminal"]))
    policy = desk_policy(settings["policy"], terminal)
    config = ServiceConfig(
        verifier=verifier,
        policy=policy,
        hosts=allowed_hosts(settings["host"]),
        status_info=None if refresher is None else refresher.report,
        tasks=() if refresher is None else (refresher.run,),
        koha=None if not settings.get("koha") else (settings["koha"][0], settings["koha"][1]),
    )
    if reader is not None:
        config.faces = FaceBox()
        config.terminal_role = None if terminal is None else terminal.role
        config.events = reader_events(
            reader, verifier, policy, refresher, terminal=terminal, faces=config.faces
        )
    return create_app(config)


def reader_events(
    reader: str,
    verifier: Verifier,
    policy: Policy,
    refresher: StatusListRefresher | None,
    *,
    terminal: TerminalAccess | None = None,
    faces: FaceSource | None = None,
) -> Callable[[threading.Event], Iterator[dict[str, Any]]]:
    """The service's event source: the reader loop's events, as the policy allows them.

    Sealed tags are read with the keys ``faces`` hands out; with ``terminal``,
    generation-2 cards with its CANs.
    """

    def events(stop: threading.Event) -> Iterator[dict[str, Any]]:
        for event in watch(reader, verifier, terminal=terminal, faces=faces, stop=stop):
            now = datetime.now().astimezone()
            age = None if refresher is None else refresher.report(now)["age_days"]
            yield event_json(event, policy, now.date(), age)

    return events


def app_from_environment() -> Any:
    """The application of one worker process, configured through the environment."""
    return build_app(json.loads(os.environ[_CONFIG_VARIABLE]))


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        print(
            'error: cityid-card serve needs the desk extra: pip install "cityid-card[desk]"',
            file=sys.stderr,
        )
        return EXIT_USAGE
    from cityid_card.desk.service import DEFAULT_HOST, DEFAULT_PORT, UVICORN_OPTIONS

    if args.workers > 1 and args.reader:
        raise CityIDError("--reader needs --workers 1: one process watches the reader")
    if args.terminal is not None and not args.reader:
        raise InputError("--terminal reads chip cards on a reader: give --reader too")
    # A wrong --policy, terminal directory or role is a usage error before anything starts.
    desk_policy(args.policy, None if args.terminal is None else load_terminal(args.terminal))
    if args.koha:
        koha_code(args.koha[0], "branch code")
        koha_code(args.koha[1], "patron category code")
    settings = _settings(args)
    host = args.host or DEFAULT_HOST
    port = DEFAULT_PORT if args.port is None else args.port
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(message)s")
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": args.log_level,
        **UVICORN_OPTIONS,
    }
    print(f"cityid-card serve: the staff page is http://{_url_host(host)}:{port}/", file=sys.stderr)
    if args.workers == 1:
        uvicorn.run(build_app(settings, args.reader), **common)
    else:
        build_verifier(settings)  # fail here, once, rather than in every worker
        os.environ[_CONFIG_VARIABLE] = json.dumps(settings)
        uvicorn.run(
            "cityid_card.cli.serve:app_from_environment",
            factory=True,
            workers=args.workers,
            **common,
        )
    return EXIT_OK


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
