"""The holder's credential that issue and personalize sign, and where its index comes from."""

from __future__ import annotations

import argparse

from cityid_card.credential import Credential
from cityid_card.keys import IssuerKey
from cityid_card.status import StatusRegistry
from cityid_card.type2.medium import NfcTag

from ._common import require_status_choice
from ._io import load_registry
from .registry import is_database, record_from_args

__all__ = ["holder_credential"]


def holder_credential(
    args: argparse.Namespace, key: IssuerKey, medium: str | None = None
) -> tuple[Credential, StatusRegistry | None]:
    """The credential the holder flags describe, and the registry its index came from.

    ``medium`` is what the credential goes on, as the medium names itself
    (:attr:`cityid_card.media.Medium.kind`: ``chip_card``, ``nfc_tag``), None for a
    credential file: the city's registry records it with the card. Save the registry
    before the credential leaves the station: an index taken but unused is harmless,
    one used twice is not.
    """
    require_status_choice(args)
    registry = None
    if args.registry and is_database(args.registry):
        # The city's registry (cli/registry.py): the card is recorded, index and holder.
        status_index = _record_in_registry(args, key, medium)
    elif args.registry:
        registry = load_registry(args.registry)
    if registry is not None:
        registry.check_key(key)
        status_index = registry.allocate()
    elif not args.registry:
        status_index = args.status_index
    credential = Credential(
        name=args.name,
        date_of_birth=args.dob,
        expires=args.expires,
        issued=args.issued,
        gender=args.gender,
        status_index=status_index,
        tag_uid=args.tag_uid,
    )
    return credential, registry


def _record_in_registry(args: argparse.Namespace, key: IssuerKey, medium: str | None) -> int:
    from cityid_card.registry import Medium  # the registry extra, only when a database is named

    if medium is None:
        recorded = Medium.FILE
    else:
        recorded = Medium.TAG if medium == NfcTag.kind else Medium.CARD
    return record_from_args(args, key, recorded).status_index
