"""``cityid-card readers``: the card readers every installed driver sees."""

from __future__ import annotations

import argparse
from typing import Any

from cityid_card.drivers import list_readers

from ._common import EXIT_OK, add_json_flag, print_json


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "readers", help="list card readers", description=__doc__
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    seen = list_readers()
    if args.json:
        drivers: dict[str, Any] = {}
        for scheme, found in seen.items():
            if isinstance(found, Exception):
                drivers[scheme] = {"error": type(found).__name__, "message": str(found)}
            else:
                drivers[scheme] = {
                    "readers": [
                        {"uri": r.uri, "name": r.name, "card_present": r.card_present}
                        for r in found
                    ]
                }
        print_json({"drivers": drivers})
        return EXIT_OK
    for scheme, found in seen.items():
        if isinstance(found, Exception):
            print(f"{scheme + ':':<10} unavailable: {found} ({type(found).__name__})")
            continue
        if not found:
            print(f"{scheme + ':':<10} no readers")
        for reader in found:
            card = "card present" if reader.card_present else "empty"
            print(f"{reader.uri:<10} {reader.name}  [{card}]")
    return EXIT_OK
