"""``cityid-card sim serve``: put an emulated contact card into vsmartcard's vpcd reader.

With pcscd and the Debian package vsmartcard-vpcd, the card then sits in the PC/SC
reader "Virtual PCD 00 00" for any PC/SC application (``--reader pcsc`` here). Its
state, keys and data included, is kept in --state FILE if given (blank card
otherwise). A blank card becomes a generation-2 card (``personalize`` by default) or a
version 1 card (``personalize --generation 1``), as ``sim:card:FILE`` does. Stop with
Ctrl-C, which removes the card.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cityid_card.drivers import SimDriver
from cityid_card.iso7816.vpcd import VPCD_PORT
from cityid_card.sim_io import serve

from ._common import EXIT_OK


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("expected HOST:PORT, e.g. 127.0.0.1:35963")
    return host, int(port)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "sim", help="the emulated contact card", description=__doc__
    )
    actions = parser.add_subparsers(
        dest="sim_command", required=True, metavar="ACTION", help="what to do"
    )
    serve_parser = actions.add_parser("serve", help="connect the card to vpcd", description=__doc__)
    serve_parser.add_argument(
        "--vpcd",
        type=_host_port,
        default=("127.0.0.1", VPCD_PORT),
        metavar="HOST:PORT",
        help=f"where vpcd listens, on this machine (default 127.0.0.1:{VPCD_PORT})",
    )
    serve_parser.add_argument("--state", type=Path, help="card state file (created if missing)")
    serve_parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    host, port = args.vpcd
    # The same emulated card as the reader sim:card[:STATEFILE] opens.
    application = SimDriver().card(str(args.state) if args.state else "").application
    state = f"state in {args.state}" if args.state else "blank, not saved"
    print(
        f"emulated card in the vpcd reader at {host}:{port} ({state}); Ctrl-C removes it",
        flush=True,
    )
    try:
        serve(application, host, port)
    except KeyboardInterrupt:
        print("card removed")
        return EXIT_OK
    print("vpcd closed the connection: card removed")
    return EXIT_OK
