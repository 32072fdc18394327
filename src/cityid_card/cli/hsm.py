"""``cityid-card hsm keygen|list``: issuer keys inside a PKCS#11 token (an HSM).

``hsm keygen`` makes the key pair inside the token, never outside it, and adds the
public key to a trust store like ``keygen`` does; every command that takes --key then
accepts the key's pkcs11: URI. ``hsm list`` shows the tokens a PKCS#11 module offers,
which of the format's algorithms each can sign with, and (with a PIN) their keys with
the URI naming each. PINs come from --passphrase-file (the same flag as for key files;
--pin-file is its old name), the URI or the environment, or a terminal asks for it;
never from the command line, and they are never printed. --valid-from and --valid-until
are stored on the key (CKA_START_DATE, CKA_END_DATE): signing outside them is refused.
``hsm keygen`` overwrites nothing, so it has no --force: a key in the token and a kid in
the trust store are never replaced.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from cityid_card.errors import MissingExtra, TrustStoreError
from cityid_card.keyfiles import MODULE_ENV, PIN_ENV, token_module, token_pin
from cityid_card.keys import IssuerKey
from cityid_card.pkcs11_uri import KeyUri, TokenPinError

from ._common import (
    EXIT_OK,
    add_json_flag,
    add_new_key_flags,
    add_passphrase_flag,
    print_json,
    read_passphrase,
    secret_prompt,
    trust_store_or_new,
    with_secret,
)

if TYPE_CHECKING:
    from cityid_card.hsm import TokenInfo

_NEEDS_PKCS11 = "keys in a token need python-pkcs11"


def register(commands: Any) -> None:
    group: argparse.ArgumentParser = commands.add_parser(
        "hsm", help="issuer keys in a hardware token (PKCS#11)", description=__doc__
    )
    actions = group.add_subparsers(
        dest="action", required=True, metavar="ACTION", help="what to do"
    )

    keygen = actions.add_parser("keygen", help="make an issuer key inside a token")
    keygen.add_argument(
        "--key",
        required=True,
        metavar="URI",
        help="pkcs11: URI of the new key; object= is its label (pkcs11:token=CITY;object=CHI-2026-1)",
    )
    keygen.add_argument(
        "--alg", choices=("ES256", "EdDSA"), default="ES256", help="signature algorithm"
    )
    keygen.add_argument("--kid", help="the key's label in the trust store (default: object=)")
    add_new_key_flags(keygen)
    add_passphrase_flag(keygen)
    add_json_flag(keygen)
    keygen.set_defaults(run=run_keygen)

    listing = actions.add_parser("list", help="list tokens and the keys in them")
    listing.add_argument(
        "--module",
        metavar="PATH",
        help=f"PKCS#11 module (default: ${MODULE_ENV}, else SoftHSM2's)",
    )
    listing.add_argument("--token", metavar="LABEL", help="only the token with this label")
    add_passphrase_flag(listing)
    add_json_flag(listing)
    listing.set_defaults(run=run_list)


def _pin(secret: bytes | None) -> str | None:
    try:
        return None if secret is None else secret.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenPinError("the token PIN is not valid UTF-8") from None


def run_keygen(args: argparse.Namespace) -> int:
    uri = KeyUri.parse(args.key)
    kid = args.kid or uri.object
    store = trust_store_or_new(args.trust)
    if any(key.kid == kid for key in store):
        # Checked before the token is touched, so no orphan key is left in it.
        raise TrustStoreError(f"the trust store already has a key {kid!r}")

    def generate(secret: bytes | None) -> IssuerKey:
        return IssuerKey.generate_in_token(
            args.key,
            args.alg,
            pin=token_pin(uri, _pin(secret)),
            module=token_module(uri.module_path),
            kid=kid,
            valid_from=args.valid_from,
            valid_until=args.valid_until,
        )

    with with_secret(
        generate, read_passphrase(args.passphrase_file), secret_prompt(args.key)
    ) as key:
        public = key.public()
        located = key.uri or str(uri)
    store.with_key(public).save(args.trust)
    if args.json:
        print_json(
            {
                "kid": public.kid,
                "alg": public.alg,
                "wire_kid": public.wire_kid.hex(),
                "key": located,
                "trust": str(args.trust),
            }
        )
    else:
        print(f"made {public.alg} key {public.kid} inside the token: {located}")
        print(f"added the public key to {args.trust}")
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    try:
        from cityid_card.hsm import DEFAULT_MODULE, list_tokens
    except ImportError:
        raise MissingExtra("hsm", _NEEDS_PKCS11) from None

    module = token_module(args.module) or DEFAULT_MODULE
    pin = _pin(read_passphrase(args.passphrase_file))
    if pin is None:
        pin = os.environ.get(PIN_ENV)
    tokens = list_tokens(module, token=args.token, pin=pin)
    if args.json:
        print_json(
            {
                "module": module,
                "tokens": [_token_json(token) for token in tokens],
            }
        )
        return EXIT_OK
    if not tokens:
        print("no initialised token found")
    for token in tokens:
        algorithms = ", ".join(token.algorithms) or "none of ES256, EdDSA"
        print(
            f"token {token.label!r} ({token.manufacturer} {token.model}, "
            f"serial {token.serial}): signs {algorithms}"
        )
        if token.keys is None:
            print(f"  keys: give --passphrase-file or set {PIN_ENV} to list them")
            continue
        if not token.keys:
            print("  no private keys")
        for key in token.keys:
            print(f"  {key.alg or '-':<6} {key.uri}")
            if key.problem:
                print(f"         cannot issue: {key.problem}")
    return EXIT_OK


def _token_json(token: TokenInfo) -> dict[str, Any]:
    keys = None
    if token.keys is not None:
        keys = [
            {
                "uri": key.uri,
                "label": key.label,
                "id": key.id.hex(),
                "alg": key.alg,
                "problem": key.problem,
            }
            for key in token.keys
        ]
    return {
        "label": token.label,
        "serial": token.serial,
        "manufacturer": token.manufacturer,
        "model": token.model,
        "algorithms": list(token.algorithms),
        "keys": keys,
    }
