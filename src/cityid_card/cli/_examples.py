"""Examples for the commands whose modules do not carry their own epilog yet.

Every command's --help ends with examples. A command module may set its own
(``add_parser(..., epilog=...)``, as issue and verify do); :func:`add_missing` gives
the others the ones below, so that no command is left without.
"""

from __future__ import annotations

import argparse

__all__ = ["add_missing"]

_EXAMPLES = {
    "cityid-card demo": [
        "cityid-card demo",
        "cityid-card demo --json",
        "cityid-card demo --open-record",
    ],
    "cityid-card readers": [
        "cityid-card readers",
        "cityid-card readers --json",
    ],
    "cityid-card personalize": [
        "cityid-card personalize --reader pcsc --key issuer.pem --registry registry.json \\\n"
        '      --name "Ana Sofia Rivera Delgado" --dob 1990-04-12 --expires 2031-11-20 --lock',
        "cityid-card personalize --reader sim:card:card.json --key issuer.pem --status-index 7 \\\n"
        '      --name "Ana Rivera" --dob 1990-04-12 --expires 2031-11-20 --out card.cbor',
        "cityid-card personalize --reader nfc --key issuer.pem --status-index 8 --seal-key tag.key \\\n"
        '      --name "Ana Rivera" --dob 1990-04-12 --expires 2031-11-20 --out card.cbor',
    ],
    "cityid-card write": [
        "cityid-card write --reader nfc card.cbor --trust trust.json --seal-key tag.key --lock",
        "cityid-card write --reader sim:ntag213:tag.bin card.cbor --open-record",
    ],
    "cityid-card read": [
        "cityid-card read --reader pcsc:0 --out card.cbor",
        "cityid-card read --reader nfc --uid",
        "cityid-card read --reader nfc --seal-key-from-qr - --out card.cbor",
    ],
    "cityid-card sim": [
        "cityid-card sim serve --vpcd 127.0.0.1:35963 --state card.json",
    ],
    "cityid-card sim serve": [
        "cityid-card sim serve --vpcd 127.0.0.1:35963 --state card.json",
    ],
    "cityid-card batch": [
        'cityid-card batch applicants.csv --key "pkcs11:token=CITY;object=CHI-2026-1" \\\n'
        "      --reader pcsc --registry registry.json --records issued.jsonl --valid-years 5 --lock",
        "cityid-card batch applicants.jsonl --key issuer.pem --reader sim:ntag215 \\\n"
        "      --records issued.jsonl --expires 2031-11-20 --faces faces --json",
    ],
    "cityid-card hsm": [
        'cityid-card hsm keygen --key "pkcs11:token=CITY;object=CHI-2026-1" --trust trust.json '
        "--pin-file pin",
        "cityid-card hsm list --pin-file pin",
    ],
    "cityid-card hsm keygen": [
        'cityid-card hsm keygen --key "pkcs11:token=CITY;object=CHI-2026-1" --trust trust.json '
        "--pin-file pin",
    ],
    "cityid-card serve": [
        "cityid-card serve --trust trust.json --status-lists lists/ --policy library",
        "cityid-card serve --trust trust.json --reader nfc --policy age-check:21",
    ],
    "cityid-card hsm list": [
        "cityid-card hsm list",
        "cityid-card hsm list --token CITY --pin-file pin --json",
    ],
}


def add_missing(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and its subcommands without an epilog the examples above."""
    if parser.epilog is None and parser.prog in _EXAMPLES:
        lines = "\n".join(f"  {example}" for example in _EXAMPLES[parser.prog])
        parser.epilog = f"examples:\n{lines}"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                add_missing(child)
